"""Every process the tests start ends with them.

    process = start([...], stdout=...)   # subprocess.Popen, in a session (so a process group) of
                                         # its own, its environment marked with the test session
    stop(process)                        # it, its group and every descendant: SIGTERM, up to
                                         # `grace` seconds to exit, then SIGKILL (grace=0: SIGKILL)
    completed = run([...], timeout=60)   # subprocess.run whose end (timeout included) ends the
                                         # whole tree, not only the direct child

Stdlib only: the same file runs as the session's reaper (`python -I processes.py reap ID`),
which tests/support/process_session.py starts and which outlives a hard exit of pytest.

How a process is known to be the session's (never another engineer's):
  - SESSION_VARIABLE=<id> in its environment, inherited by every child and grandchild (the
    test redis-servers run with `set-proc-title no`, which keeps their environment readable);
  - or its working directory is in the session's temporary folder (an embedded redis-server,
    which rewrites its environment with its title, chdirs into its data dir there);
  - or, while pytest runs, it descends from pytest: pytest is the child subreaper, so a process
    whose parent dies is re-parented to pytest instead of init.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "SESSION_VARIABLE",
    "STARTED_DURING_VARIABLE",
    "ProcessEntry",
    "become_subreaper",
    "end",
    "run",
    "session_processes",
    "start",
    "stop",
]

SESSION_VARIABLE = "QS_TEST_SESSION"
STARTED_DURING_VARIABLE = "QS_TEST_STARTED_DURING"  # the test that was running: for reports
STOP_GRACE = 5.0
_PR_SET_CHILD_SUBREAPER = 36
# Started by start() and not stopped yet: what the session's end stops before anything else.
STARTED: list[subprocess.Popen[Any]] = []


def start(argv: Sequence[str], **options: Any) -> subprocess.Popen[Any]:
    """subprocess.Popen(argv, **options) in a new session, marked as this test session's."""
    env = options.pop("env", None)
    env = dict(os.environ if env is None else env)
    for name in (SESSION_VARIABLE, STARTED_DURING_VARIABLE):  # an explicit env keeps the mark
        if name in os.environ:
            env[name] = os.environ[name]
    process: subprocess.Popen[Any] = subprocess.Popen(
        argv, env=env, start_new_session=True, **options
    )
    STARTED.append(process)
    return process


def stop(process: subprocess.Popen[Any], grace: float = STOP_GRACE) -> None:
    """End `process`, its process group and its descendants in other groups (a server that
    runs in a session of its own): SIGTERM to the group, then to the rest once the group is
    gone, each with up to `grace` seconds to exit; SIGKILL for whatever is left."""
    with contextlib.suppress(ValueError):
        STARTED.remove(process)
    if process.returncode is not None:
        # Reaped already: its pid (so its group's id) may be another process's by now. What is
        # left of its group is found by the session's mark.
        end(_marked_members(process.pid), grace)
        return
    # Not reaped: until process.wait() below, its pid and its group's id stay this process's.
    outside = [p for p in _descendants(process.pid) if p.group != process.pid]
    if grace > 0:
        _signal_group(process, signal.SIGTERM)
        _wait_until(lambda: not _group_alive(process.pid), grace)
        end(outside, grace)
    _signal_group(process, signal.SIGKILL)
    end([*outside, *_descendants(process.pid)], grace=0)
    process.wait()


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    input: str | bytes | None = None,  # subprocess.run's name
    capture_output: bool = False,
    check: bool = False,
    **options: Any,
) -> subprocess.CompletedProcess[Any]:
    """subprocess.run with start() and stop(): a timeout (or any exception, pytest-timeout's
    included) ends the whole tree; on return nothing it started is left running."""
    if capture_output:
        options.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if input is not None:
        options["stdin"] = subprocess.PIPE
    process = start(argv, **options)
    try:
        stdout, stderr = process.communicate(input, timeout=timeout)
    finally:
        stop(process)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    if check and process.returncode:
        raise subprocess.CalledProcessError(process.returncode, argv, stdout, stderr)
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


# --- the processes of a session, from /proc ------------------------------------------------


class _Stat(NamedTuple):
    """A process as /proc/PID/stat has it; (pid, started) names it even after a pid reuse."""

    pid: int
    state: str
    parent: int
    group: int
    started: int  # clock ticks after boot


@dataclass(frozen=True)
class ProcessEntry:
    stat: _Stat
    command: str
    cwd: str
    started_during: str

    @property
    def pid(self) -> int:
        return self.stat.pid

    def describe(self) -> str:
        during = f" (started during {self.started_during})" if self.started_during else ""
        return f"pid {self.pid}: {self.command} [in {self.cwd}]{during}"


def session_processes(
    session: str, folders: Iterable[str] = (), root: int | None = None, exclude: int = 0
) -> list[ProcessEntry]:
    """Live processes of the test session: marked with `session`, working in one of `folders`,
    or descending from `root`. Never this process, nor `exclude`, nor another user's."""
    stats = _stats()
    below = {p.pid for p in _descendants(root, stats)} if root is not None else set()
    found = []
    for stat in sorted(stats.values()):
        if stat.pid in (os.getpid(), exclude) or stat.state == "Z":
            continue
        environment, cwd = _environment(stat.pid), _cwd(stat.pid)
        in_folder = any(cwd == folder or cwd.startswith(folder + "/") for folder in folders)
        if stat.pid in below or _marked(environment, session) or in_folder:
            during = _variable(environment, STARTED_DURING_VARIABLE)
            found.append(ProcessEntry(stat, _command(stat.pid), cwd, during))
    return found


def end(processes: Iterable[_Stat | ProcessEntry], grace: float = STOP_GRACE) -> None:
    """SIGTERM each, up to `grace` seconds for all to exit, then SIGKILL (grace=0: SIGKILL).
    A process is signalled only while its pid still names it (same start time)."""
    stats = [p.stat if isinstance(p, ProcessEntry) else p for p in processes]
    if grace > 0:
        _signal_each(stats, signal.SIGTERM)
        _wait_until(lambda: not any(_alive(stat) for stat in stats), grace)
    _signal_each(stats, signal.SIGKILL)


def become_subreaper() -> bool:
    """Orphans below this process are re-parented to it instead of init (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


def _stat(pid: int) -> _Stat | None:
    try:
        # The command in stat may hold spaces and parentheses: the fields follow the last ")".
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return _Stat(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[19]))
    except (OSError, ValueError, IndexError):
        return None  # gone meanwhile


def _stats() -> dict[int, _Stat]:
    found = (_stat(int(entry.name)) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return {stat.pid: stat for stat in found if stat is not None}


def _descendants(root: int | None, stats: dict[int, _Stat] | None = None) -> list[_Stat]:
    """The live descendants of `root`, children before their children."""
    stats = _stats() if stats is None else stats
    children: dict[int, list[_Stat]] = {}
    for stat in stats.values():
        children.setdefault(stat.parent, []).append(stat)
    found: list[_Stat] = []
    todo = list(children.get(root, [])) if root is not None else []
    while todo:
        stat = todo.pop(0)
        found.append(stat)
        todo += children.get(stat.pid, [])
    return [stat for stat in found if stat.state != "Z"]


def _marked_members(group: int) -> list[_Stat]:
    """Live members of process group `group` that carry this session's mark."""
    session = os.environ.get(SESSION_VARIABLE)
    if not session:
        return []
    return [
        stat
        for stat in _stats().values()
        if stat.group == group and stat.state != "Z" and _marked(_environment(stat.pid), session)
    ]


def _group_alive(group: int) -> bool:
    """Whether anyone in the process group still runs (zombies do not count)."""
    return any(stat.group == group and stat.state != "Z" for stat in _stats().values())


def _signal_group(process: subprocess.Popen[Any], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _signal_each(stats: Iterable[_Stat], signum: int) -> None:
    for stat in stats:
        if _alive(stat):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(stat.pid, signum)


def _alive(stat: _Stat) -> bool:
    """Whether the process still runs: same pid, same start time, not a zombie."""
    now = _stat(stat.pid)
    return now is not None and now.started == stat.started and now.state != "Z"


def _wait_until(done: Callable[[], bool], limit: float) -> None:
    deadline = time.monotonic() + limit
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling processes that are exiting


def _environment(pid: int) -> bytes:
    """The environment a process started with, each entry between NUL bytes."""
    with contextlib.suppress(OSError):
        return b"\0" + Path(f"/proc/{pid}/environ").read_bytes() + b"\0"
    return b""


def _marked(environment: bytes, session: str) -> bool:
    return f"\0{SESSION_VARIABLE}={session}\0".encode() in environment


def _variable(environment: bytes, name: str) -> str:
    for entry in environment.split(b"\0"):
        if entry.startswith(name.encode() + b"="):
            return entry.split(b"=", 1)[1].decode(errors="replace")
    return ""


def _cwd(pid: int) -> str:
    with contextlib.suppress(OSError):
        return os.readlink(f"/proc/{pid}/cwd")
    return ""


def _command(pid: int) -> str:
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return ""


# --- the reaper: what a hard exit of pytest leaves -------------------------------------------


def _reap(session: str) -> None:
    """Read folder lines from stdin until pytest is gone (EOF, however it ended), then end
    every process of the session that is still alive, and say so on stderr."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is pytest's to handle
    folders = [line.strip() for line in sys.stdin if line.strip()]
    left = session_processes(session, folders)
    if left:
        lines = "\n".join(f"  {entry.describe()}" for entry in left)
        print(f"pytest ended without ending these processes; ending them now:\n{lines}",
              file=sys.stderr, flush=True)  # fmt: skip
        end(left)


if __name__ == "__main__" and sys.argv[1:2] == ["reap"]:
    _reap(sys.argv[2])
