"""SIGTERM on a real `quota-sidecar serve` process: every call already sent runs to completion,
and shutdown finishes within the grace period whatever is running (a quota-file reload too)."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import redis

from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2
from tests.support import processes
from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess

ALICE = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="alice")
CHECK = quota_pb2.CheckQuotaRequest(subjects=[ALICE])
ENV = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_REDIS_URL": ""}


async def outcome(call: object) -> str:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        return exc.code().name
    return "OK"


def test_every_call_in_flight_at_sigterm_completes_ok(redis_url: str) -> None:
    args = ("--redis-url", redis_url, "--grace-seconds", "30")
    with SidecarProcess(*args, env=ENV) as process:
        assert process.process is not None

        async def flood() -> collections.Counter[str]:
            async with grpc.aio.insecure_channel(process.target) as channel:
                quota = quota_pb2_grpc.QuotaServiceStub(channel)
                assert await outcome(quota.CheckQuota(CHECK, timeout=30)) == "OK"
                calls = [
                    asyncio.ensure_future(outcome(quota.CheckQuota(CHECK, timeout=60)))
                    for _ in range(800)  # under --max-concurrent-rpcs: none may be shed
                ]
                await asyncio.wait(calls, return_when=asyncio.FIRST_COMPLETED)
                assert process.process is not None
                process.process.send_signal(signal.SIGTERM)  # the rest are in flight
                return collections.Counter(await asyncio.gather(*calls))

        codes = asyncio.run(flood())
        assert codes == {"OK": 800}, codes
        assert process.process.wait(timeout=60) == 0, process.output()


def quotas_yaml(count: int, per_minute: int) -> str:
    entries = (
        f"  - {{scope: user, identifier: u{i}, rate_limits: {{requests_per_minute: {per_minute}}}}}"
        for i in range(count)
    )
    return "quotas:\n" + "\n".join(entries) + "\n"


def test_sigterm_during_a_reload_of_3000_quotas_exits_within_the_grace(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text(quotas_yaml(1, 5))
    args = ("--redis-url", redis_url, "--config", str(path), "--grace-seconds", "2")
    client = redis.Redis.from_url(redis_url)
    with SidecarProcess(*args, env=ENV) as process:
        assert process.process is not None
        before = client.dbsize()
        path.write_text(quotas_yaml(3000, 7))
        deadline = time.monotonic() + 60
        while client.dbsize() < before + 10:  # the reload is under way, far from done
            assert time.monotonic() < deadline, "the reload never started"
            time.sleep(0.02)
        process.process.send_signal(signal.SIGTERM)
        # A hang guard, not a speed test: the 2 s grace plus the close steps, generously.
        assert process.process.wait(timeout=30) == 0, process.output()
    client.close()


def test_sigterm_during_the_initial_load_exits_cleanly(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text(quotas_yaml(3000, 7))
    log = tmp_path / "sidecar.log"
    argv = [sys.executable, "-m", "quota_sidecar", "serve", "--listen", "127.0.0.1:0"]
    argv += ["--redis-url", redis_url, "--config", str(path), "--grace-seconds", "2"]
    client = redis.Redis.from_url(redis_url)
    with log.open("w") as stderr:
        child = processes.start(
            argv, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL, stderr=stderr
        )
        try:
            deadline = time.monotonic() + 60
            while client.dbsize() < 10:  # the file is being applied; the port is not open yet
                assert time.monotonic() < deadline, "the initial load never started"
                time.sleep(0.02)
            child.send_signal(signal.SIGTERM)
            code = child.wait(timeout=30)  # a hang guard: 2 s grace plus the close steps
        finally:
            processes.stop(child, grace=0)
    client.close()
    assert code == 0, log.read_text()
