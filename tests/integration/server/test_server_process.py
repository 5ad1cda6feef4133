"""`python -m quota_sidecar serve` as a real process: system Redis or embedded Redis, SIGTERM
during calls and streams (exit code 0), several workers on one port, and start-up errors."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.redis_servers import RedisProcess, free_port
from tests.support.sidecar import ADMIN_METADATA, ADMIN_TOKEN, SidecarProcess

ALICE = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="alice")
ENV = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_REDIS_URL": ""}


def serving(channel: grpc.Channel) -> bool:
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def test_serve_on_a_redis_url_then_sigterm_exits_0(redis_url: str) -> None:
    with SidecarProcess("--redis-url", redis_url, env=ENV) as process:
        with grpc.insecure_channel(process.target) as channel:
            assert serving(channel)
            quota = quota_pb2_grpc.QuotaServiceStub(channel)
            assert quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[ALICE])).allowed
        assert process.terminate() == 0
        assert "stopped" in process.output()


def test_serve_without_a_redis_url_starts_the_embedded_redis(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with SidecarProcess("--data-dir", str(data_dir), env=ENV) as process:
        with grpc.insecure_channel(process.target) as channel:
            assert serving(channel)
            admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
            request = admin_pb2.PutQuotaRequest(
                config=types_pb2.QuotaConfig(subject=ALICE), actor="t"
            )
            assert admin.PutQuota(request, metadata=ADMIN_METADATA).created
        assert process.terminate() == 0
    assert (data_dir / "redis.log").exists()
    # The embedded Redis persisted the quota in the data dir: a new sidecar sees it.
    with SidecarProcess("--data-dir", str(data_dir), env=ENV) as process:
        with grpc.insecure_channel(process.target) as channel:
            admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
            got = admin.GetQuota(admin_pb2.GetQuotaRequest(subject=ALICE), metadata=ADMIN_METADATA)
            assert got.config.subject == ALICE
        assert process.terminate() == 0


def test_sigterm_lets_an_in_flight_call_finish(disposable_redis: RedisProcess) -> None:
    args = (
        "--redis-url",
        disposable_redis.url,
        "--store-timeout-ms",
        "20000",
        "--grace-seconds",
        "20",
    )
    with (
        SidecarProcess(*args, env=ENV) as process,
        grpc.insecure_channel(process.target) as channel,
    ):
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        config = types_pb2.QuotaConfig(
            subject=ALICE, rate_limits=types_pb2.RateLimits(requests_per_minute=10)
        )
        admin.PutQuota(admin_pb2.PutQuotaRequest(config=config, actor="t"), metadata=ADMIN_METADATA)
        quota = quota_pb2_grpc.QuotaServiceStub(channel)
        assert disposable_redis.process is not None
        # Freeze Redis, so the next call hangs inside the server until Redis thaws.
        disposable_redis.process.send_signal(signal.SIGSTOP)
        try:
            in_flight = quota.CheckQuota.future(
                quota_pb2.CheckQuotaRequest(subjects=[ALICE]), timeout=30
            )
            time.sleep(0.5)  # let the request reach the server (async delivery, not time passing)
            assert not in_flight.done()
            assert process.process is not None
            process.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert process.process.poll() is None, "the server must wait for the call in flight"
        finally:
            disposable_redis.process.send_signal(signal.SIGCONT)
        reply = in_flight.result(timeout=30)
        assert reply.allowed
        assert process.process.wait(timeout=30) == 0, process.output()


def test_sigterm_ends_an_open_alert_stream_with_a_status(redis_url: str) -> None:
    with SidecarProcess("--redis-url", redis_url, env=ENV) as process:
        with grpc.insecure_channel(process.target) as channel:
            admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
            request = admin_pb2.PutQuotaRequest(
                config=types_pb2.QuotaConfig(subject=ALICE), actor="t"
            )
            admin.PutQuota(request, metadata=ADMIN_METADATA)  # raises a QUOTA_CHANGED alert
            quota = quota_pb2_grpc.QuotaServiceStub(channel)
            stream = quota.StreamAlerts(quota_pb2.StreamAlertsRequest(cursor="0"), timeout=30)
            first = next(stream)
            assert first.HasField("alert")  # the stream is open and delivering
            assert process.process is not None
            process.process.send_signal(signal.SIGTERM)
            remaining = list(stream)  # ends (rather than hanging) once the server drains
            assert all(
                event.HasField("alert") or event.HasField("heartbeat") for event in remaining
            )
            assert stream.code() in (grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE)
        assert process.process.wait(timeout=30) == 0


def test_two_workers_share_one_port_and_one_redis(redis_url: str) -> None:
    port = free_port()
    args = ("--redis-url", redis_url, "--listen", f"127.0.0.1:{port}", "--workers", "2")
    with SidecarProcess(*args, env=ENV) as process:
        assert process.port == port
        with grpc.insecure_channel(process.target) as channel:
            assert serving(channel)
            admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
            request = admin_pb2.PutQuotaRequest(
                config=types_pb2.QuotaConfig(subject=ALICE), actor="t"
            )
            admin.PutQuota(request, metadata=ADMIN_METADATA)
        # Many fresh connections land on both workers; every one sees the same quota.
        for _ in range(8):
            with grpc.insecure_channel(process.target) as channel:
                admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
                got = admin.GetQuota(
                    admin_pb2.GetQuotaRequest(subject=ALICE), metadata=ADMIN_METADATA
                )
                assert got.config.subject == ALICE
        assert process.terminate() == 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; it only waits for its new parent to reap it


def test_workers_end_when_their_parent_is_killed(redis_url: str) -> None:
    """A supervisor's SIGKILL of the `--workers` parent, which can forward nothing, still
    ends its workers: each asked the kernel for SIGTERM when its parent dies."""
    port = free_port()
    args = ("--redis-url", redis_url, "--listen", f"127.0.0.1:{port}", "--workers", "2")
    with SidecarProcess(*args, env=ENV) as process:
        assert process.process is not None
        workers = _children(process.process.pid)
        assert len(workers) == 2
        process.process.kill()
        process.process.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [w for w in workers if _alive(w)]


def test_a_bad_quota_file_stops_the_start_with_the_line_and_field(
    redis_url: str, tmp_path: Path
) -> None:
    quota_file = tmp_path / "quotas.yaml"
    quota_file.write_text(
        "quotas:\n  - scope: user\n    identifier: a\n    cost_quota: {daily: 1}\n"
    )
    process = SidecarProcess("--redis-url", redis_url, "--config", str(quota_file), env=ENV)
    with pytest.raises(RuntimeError, match="exited early"):
        process.start()
    assert process.process is not None and process.process.wait(timeout=10) == 2
    assert f"{quota_file}:4: quotas[0].cost_quota.daily" in process.output()
    process.__exit__()


def test_an_occupied_port_is_an_error_not_a_silent_share(redis_url: str) -> None:
    with SidecarProcess("--redis-url", redis_url, env=ENV) as first:
        second = SidecarProcess("--redis-url", redis_url, "--listen", first.target, env=ENV)
        with pytest.raises(RuntimeError, match="exited early"):
            second.start()
        assert "cannot listen" in second.output()
        second.__exit__()
        assert first.terminate() == 0


def test_the_environment_configures_serve(redis_url: str) -> None:
    env = {**ENV, "QUOTA_SIDECAR_REDIS_URL": redis_url, "QUOTA_SIDECAR_LOG_FORMAT": "json"}
    with SidecarProcess(env=env) as process:
        with grpc.insecure_channel(process.target) as channel:
            assert serving(channel)
        assert process.terminate() == 0
        lines = [line for line in process.output().splitlines() if line.startswith("{")]
        assert any('"message": "listening on' in line for line in lines)
    assert os.environ.get("QUOTA_SIDECAR_LOG_FORMAT") is None
