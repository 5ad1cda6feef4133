"""Start the real sidecar for a test, on port 0, against a real Redis.

In-process (shares the test's event loop; fast; gives direct access to the engine):

    async with running_sidecar(redis_url) as s:          # s is a quota_sidecar Sidecar
        channel = grpc.aio.insecure_channel(s.target)    # s.port, s.service, s.metrics
        ... admin calls: metadata=ADMIN_METADATA ...

    Any ServerOptions field can be overridden: running_sidecar(url, config_path=p, data_token="t").
    The admin token defaults to ADMIN_TOKEN; the store probe and file watcher poll quickly.

As a subprocess (`python -m quota_sidecar serve --listen 127.0.0.1:0 …`), for signals and exit
codes:

    with SidecarProcess("--redis-url", redis_url) as p:  # waits for "listening on HOST:PORT"
        ... p.target, p.port ...
        assert p.terminate() == 0                        # SIGTERM, then the exit code
    p.output()                                           # what it logged (stderr)

On leaving the block (an exception or a timeout included) the process ends with everything it
started: its workers, its embedded redis-server (tests/support/processes.py stop()).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from quota_sidecar.server.app import Sidecar
from quota_sidecar.server.options import ServerOptions
from tests.support import processes

__all__ = ["ADMIN_METADATA", "ADMIN_TOKEN", "SidecarProcess", "running_sidecar"]

ADMIN_TOKEN = "test-admin-token"
ADMIN_METADATA = (("authorization", f"Bearer {ADMIN_TOKEN}"),)


@contextlib.asynccontextmanager
async def running_sidecar(redis_url: str | None, **options: Any) -> AsyncIterator[Sidecar]:
    """A started in-process sidecar on 127.0.0.1:<free port>; stopped (grace 1s) on exit."""
    settings: dict[str, Any] = {
        "listen": "127.0.0.1:0",
        "redis_url": redis_url,
        "admin_token": ADMIN_TOKEN,
        "health_interval": 0.05,
        "config_interval": 0.05,
        "grace": 1.0,
    }
    settings.update(options)
    sidecar = Sidecar(ServerOptions(**settings))
    await sidecar.start()
    try:
        yield sidecar
    finally:
        await sidecar.stop()


class SidecarProcess:
    """`python -m quota_sidecar serve --listen 127.0.0.1:0 *args` in a child process."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, command: list[str] | None = None
    ) -> None:
        """`command` replaces `python -m quota_sidecar serve` (tests/support/image.py: the
        image's entrypoint); the args follow it."""
        self.command = command or [sys.executable, "-m", "quota_sidecar", "serve"]
        self.args = ["--listen", "127.0.0.1:0", *args]
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self.target = ""
        self.port = 0
        # Closed in __exit__; a file, not a pipe, so a chatty server never blocks on stderr.
        self._stderr = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="sidecar-", suffix=".log", delete=False
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> SidecarProcess:
        self.process = processes.start(
            [*self.command, *self.args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=self.env,
        )
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                output = self.output()
                self._release()  # its pipe and log too, not left open for the next test
                raise RuntimeError(f"sidecar exited early:\n{output}")
            if line.startswith("listening on "):
                self.target = line.removeprefix("listening on ").strip()
                self.port = int(self.target.rsplit(":", 1)[1])
                return self
        output = self.output()
        self._release()
        raise RuntimeError(f"sidecar did not announce its port:\n{output}")

    def next_line(self, timeout: float = 10.0) -> str:
        """The next line the process printed after "listening on" ("" once it exited)."""
        return self._lines.get(timeout=timeout) or ""

    def _read_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait for the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """kill -9 of the process and of everything it started."""
        if self.process is not None:
            processes.stop(self.process, grace=0)

    def output(self) -> str:
        """Everything the process logged so far (stderr)."""
        return Path(self._stderr.name).read_text(errors="replace")

    def __enter__(self) -> SidecarProcess:
        return self.start()

    def _release(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL), and whatever it started, and close its pipe
        and log; the log stays readable (output())."""
        if self.process is not None:
            processes.stop(self.process)
        if self._reader is not None:
            self._reader.join(timeout=10)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()

    def __exit__(self, *exc: object) -> None:
        self._release()
        with contextlib.suppress(OSError):
            os.unlink(self._stderr.name)
