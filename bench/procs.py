"""The processes a bench run drives: a private redis-server, sidecar and no-op servers, and the
CPU seconds (user + sys, from /proc) that each of them spends."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CpuMeter",
    "ServerProcess",
    "free_port",
    "process_tree_cpu",
    "python_module",
    "start_private_redis",
]

_TICKS = os.sysconf("SC_CLK_TCK")
_LISTENING = re.compile(r"listening on (\S+):(\d+)")
REPO = Path(__file__).resolve().parent.parent


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces; the fields after its closing parenthesis do not.
    return text[text.rindex(")") + 2 :].split()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.extend(int(p) for p in task.read_text().split())
        except OSError:
            continue
    return found


def process_tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and all its live descendants (workers)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        fields = _stat_fields(current)
        if fields is None:
            continue
        # utime, stime (own) and cutime, cstime (reaped children): fields 14-17 of stat(5).
        total += sum(int(v) for v in fields[11:15]) / _TICKS
        pending.extend(_children(current))
    return total


@dataclass
class CpuMeter:
    """CPU seconds spent by some processes between start() and stop()."""

    pids: Sequence[int]
    before: float = 0.0
    seconds: float = 0.0
    _started: float = field(default=0.0, repr=False)

    def start(self) -> CpuMeter:
        self.before = sum(process_tree_cpu(p) for p in self.pids)
        return self

    def stop(self) -> float:
        self.seconds = sum(process_tree_cpu(p) for p in self.pids) - self.before
        return self.seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_private_redis() -> object:
    """A redis-server of our own on a free port: the bench never touches the machine's Redis."""
    sys.path.insert(0, str(REPO))
    from tests.support.redis_servers import RedisProcess

    return RedisProcess().start()


class ServerProcess:
    """A gRPC server child process that announces `listening on HOST:PORT`."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self.target = ""
        self.output: list[str] = []

    def start(self, timeout: float = 30.0, listeners: int = 1) -> ServerProcess:
        """Start and wait for `listeners` announcements (one per worker process)."""
        self.process = subprocess.Popen(
            self.argv,
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # so stop() can signal the workers too
        )
        found = threading.Event()
        announced = 0

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                if len(self.output) < 200:
                    self.output.append(line.rstrip())
                match = _LISTENING.search(line)
                if match and not found.is_set():
                    nonlocal announced
                    announced += 1
                    self.target = f"{match.group(1)}:{match.group(2)}"
                    if announced >= listeners:
                        found.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = "\n".join(self.output[-30:])
                raise RuntimeError(f"{self.name} did not start ({' '.join(self.argv)}):\n{log}")
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
