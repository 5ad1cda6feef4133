"""The embedded Redis shared by every sidecar on one data dir: one redis-server however many
start at once, alive until the last of them stops, and brought back when it dies (or, when it
cannot be, the sidecar gives up and exits non-zero so its supervisor can act)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
import redis

from quota_sidecar.store.embedded import EXIT_EMBEDDED_REDIS_LOST, EmbeddedRedis
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess

ALICE = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="alice")
ENV = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_REDIS_URL": ""}


def redis_servers_on(data_dir: Path) -> list[int]:
    """Live (not zombie) redis-server processes working in the data dir, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            comm = (entry / "comm").read_text().strip()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if comm == "redis-server" and state != "Z" and cwd == str(data_dir.resolve()):
            found.append(int(entry.name))
    return found


def the_one_server(data_dir: Path) -> int:
    """The pid of the only redis-server on the data dir (also the one redis.pid records)."""
    servers = redis_servers_on(data_dir)
    assert len(servers) == 1, f"redis-servers on {data_dir}: {servers}"
    assert (data_dir / "redis.pid").read_text().strip() == str(servers[0])
    return servers[0]


def eventually(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    yield path
    for pid in redis_servers_on(path):  # whatever a failed test left behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def start_together(*embedded: EmbeddedRedis) -> list[str]:
    barrier = threading.Barrier(len(embedded))
    urls: list[str] = [""] * len(embedded)

    def start(k: int) -> None:
        barrier.wait()
        urls[k] = embedded[k].start()

    threads = [threading.Thread(target=start, args=(k,)) for k in range(len(embedded))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return urls


def test_two_started_at_once_share_one_server_until_the_last_stops(data_dir: Path) -> None:
    first, second = EmbeddedRedis(data_dir), EmbeddedRedis(data_dir)
    urls = start_together(first, second)
    assert urls[0] == urls[1] != ""
    the_one_server(data_dir)
    redis.Redis.from_url(urls[0]).set("k", "v")
    first.stop()
    assert answers(urls[1])  # the second still has its Redis
    the_one_server(data_dir)
    second.stop()  # the last one out shuts it down
    assert redis_servers_on(data_dir) == []
    third = EmbeddedRedis(data_dir)
    url = third.start()
    assert redis.Redis.from_url(url).get("k") == b"v"  # it had saved on its way down
    third.stop()


def test_a_killed_server_is_restarted_and_reaped(data_dir: Path) -> None:
    embedded = EmbeddedRedis(data_dir, watch_interval=0.05)
    url = embedded.start()
    old = redis_servers_on(data_dir)[0]
    os.kill(old, signal.SIGKILL)
    eventually(lambda: answers(url), "the embedded Redis did not come back")
    assert the_one_server(data_dir) != old
    # Reaped: the dead server is not left as a zombie of this process.
    eventually(lambda: not Path(f"/proc/{old}").exists(), f"pid {old} left a zombie")
    embedded.stop()
    assert redis_servers_on(data_dir) == []


def test_a_server_that_cannot_come_back_is_given_up_after_bounded_attempts(
    data_dir: Path,
) -> None:
    gave_up = threading.Event()
    embedded = EmbeddedRedis(data_dir, watch_interval=0.05, restart_limit=3, on_give_up=gave_up.set)
    embedded.start()
    _break_and_kill(data_dir)
    assert gave_up.wait(timeout=60), "it never gave up"
    assert embedded.restart_attempts == 3
    assert redis_servers_on(data_dir) == []
    embedded.stop()


def _break_and_kill(data_dir: Path) -> None:
    # A damaged append-only file: every redis-server started on this dir exits at once.
    (data_dir / "appendonly.aof").write_bytes(b"not an append-only file\n")
    os.kill(redis_servers_on(data_dir)[0], signal.SIGKILL)


def allowed_by_redis(target: str) -> bool:
    """A CheckQuota that Redis itself answered (not one decided without the store)."""
    with grpc.insecure_channel(target) as channel:
        stub = quota_pb2_grpc.QuotaServiceStub(channel)
        try:
            reply = stub.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[ALICE]), timeout=5)
        except grpc.RpcError:
            return False
    return bool(reply.allowed and not reply.decided_without_store)


def start_sidecars_together(*processes: SidecarProcess) -> None:
    errors: list[BaseException] = []

    def start(process: SidecarProcess) -> None:
        try:
            process.start()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(p,)) for p in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_two_serve_processes_on_one_data_dir(data_dir: Path) -> None:
    args = ("--data-dir", str(data_dir))
    first, second = SidecarProcess(*args, env=ENV), SidecarProcess(*args, env=ENV)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(first.__exit__)
        cleanup.callback(second.__exit__)
        start_sidecars_together(first, second)
        the_one_server(data_dir)
        assert allowed_by_redis(first.target)
        assert allowed_by_redis(second.target)
        # The first one stopping leaves the second its Redis.
        assert first.terminate() == 0, first.output()
        assert allowed_by_redis(second.target)
        the_one_server(data_dir)
        # Its redis-server killed: it comes back, and the sidecar serves again.
        old = redis_servers_on(data_dir)[0]
        os.kill(old, signal.SIGKILL)
        eventually(lambda: redis_servers_on(data_dir) not in ([], [old]), "no restart")
        eventually(lambda: allowed_by_redis(second.target), "the sidecar did not serve again")
        the_one_server(data_dir)
        assert second.terminate() == 0, second.output()
        assert redis_servers_on(data_dir) == []  # the last one out shut it down


def test_serve_exits_non_zero_when_its_redis_cannot_come_back(data_dir: Path) -> None:
    with SidecarProcess("--data-dir", str(data_dir), env=ENV) as process:
        assert allowed_by_redis(process.target)
        _break_and_kill(data_dir)
        assert process.process is not None
        code = process.process.wait(timeout=60)
        assert code == EXIT_EMBEDDED_REDIS_LOST, process.output()
        assert "giving up" in process.output()
