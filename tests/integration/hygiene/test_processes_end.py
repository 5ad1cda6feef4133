"""Every process a test session starts ends with it, however the session ends.

Each case runs a tiny test module in its own `python -m pytest` (with the suite's conftest, so
with the real support code and the real session hooks) under a watcher that is the child
subreaper of that run: every process the run leaves behind, however deep and whatever session
or environment it has, is re-parented to the watcher, which lists what is still alive after the
run (and a few seconds of grace) and then kills it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# The watcher: PR_SET_CHILD_SUBREAPER (36), run the command, then report (and end) whatever
# is still alive below it: orphans are re-parented to it, not to init.
_WATCHER = r"""
import ctypes, json, os, signal, subprocess, sys, time

ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
grace = float(sys.argv[1])
try:
    code = subprocess.run(sys.argv[2:], timeout=240).returncode
except subprocess.TimeoutExpired:
    code = None

def children():
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                state, parent = stat.read().rpartition(")")[2].split()[:2]
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(parent) != os.getpid():
            continue
        if state == "Z":
            os.waitpid(int(entry), os.WNOHANG)
        else:
            found[int(entry)] = command.strip()
    return found

deadline = time.monotonic() + grace
while children() and time.monotonic() < deadline:
    time.sleep(0.1)
survivors = children()
left = dict(survivors)
while survivors:  # end them, and then whatever they leave to us in turn
    for pid in survivors:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.2)
    survivors = children()
    left.update(survivors)
print("WATCHER", json.dumps({"exit": code, "left": left}), flush=True)
"""


@dataclass
class Run:
    exit_code: int | None
    output: str
    left: dict[str, str]  # pid: command line of every process alive after the run


def run_session(tmp_path: Path, module: str, *options: str, grace: float = 10.0) -> Run:
    """`python -m pytest` on `module` (the suite's conftest loaded as a plugin) under the
    watcher; what it printed, its exit code and what it left running."""
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(module))
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\ntimeout = 30\ntimeout_func_only = true\n"
        "asyncio_default_fixture_loop_scope = function\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("QUOTA_SIDECAR_TEST_REDIS_URL", "PYTEST_ADDOPTS", "PYTEST_TIMEOUT"):
        env.pop(name, None)
    pytest_argv = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p",
                   "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"), "--rootdir",
                   str(tmp_path), "-q", "--tb=short", *options,
                   str(tmp_path / "test_inner.py")]  # fmt: skip
    completed = subprocess.run(
        [sys.executable, "-c", _WATCHER, str(grace), *pytest_argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = completed.stdout + completed.stderr
    report = [line for line in completed.stdout.splitlines() if line.startswith("WATCHER ")]
    assert report, f"the watcher did not report:\n{output}"
    result = json.loads(report[-1].removeprefix("WATCHER "))
    return Run(result["exit"], output, result["left"])


_HANGS_WITH_A_SIDECAR_AND_CLIENTS = """
    import os
    import signal
    import threading

    from tests.support.burst_client import burst
    from tests.support.redis_servers import free_port
    from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess

    ENV = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_REDIS_URL": ""}


    def test_hangs(redis_url, disposable_redis):
        port = free_port()
        args = ("--redis-url", redis_url, "--listen", f"127.0.0.1:{port}", "--workers", "2")
        with SidecarProcess(*args, env=ENV):
            if os.environ.get("INNER_INTERRUPT"):  # Ctrl-C, a moment after the clients start
                main = threading.main_thread().ident
                threading.Timer(2, signal.pthread_kill, (main, signal.SIGINT)).start()
            # Clients of a port nobody listens on: they wait for it forever.
            burst(f"127.0.0.1:{free_port()}", "check", clients=2, in_flight=1)
"""


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "ending",
    ["timeout-signal", "timeout-thread", "keyboard-interrupt"],
)
def test_a_hung_test_leaves_no_sidecar_worker_client_or_redis_running(
    tmp_path: Path, ending: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = {
        "timeout-signal": ["-o", "timeout_method=signal"],
        "timeout-thread": ["-o", "timeout_method=thread"],
        "keyboard-interrupt": ["-o", "timeout=0", "--full-trace"],
    }[ending]
    if ending == "keyboard-interrupt":
        monkeypatch.setenv("INNER_INTERRUPT", "1")
    run = run_session(tmp_path, _HANGS_WITH_A_SIDECAR_AND_CLIENTS, *options)
    assert run.exit_code != 0, run.output
    assert "burst_client.py" in run.output, run.output  # it hung where meant to: in burst()
    assert run.left == {}, run.output
    if ending == "timeout-thread":  # os._exit: only the reaper is left to end them
        assert "pytest ended without ending these processes" in run.output, run.output
    else:  # the helpers ended their processes themselves: nothing was left for the session
        assert "processes left running" not in run.output, run.output


_REDIS_TOO_SLOW_TO_START = """
    import time

    import redis

    # Every redis-server these tests start is slow to answer: the timeout comes first.
    redis.Redis.ping = lambda self, **kwargs: time.sleep(60)


    def test_a_disposable_redis(disposable_redis):
        pass


    def test_the_session_redis(redis_url):
        pass
"""


@pytest.mark.timeout(300)
def test_a_redis_server_timed_out_while_starting_is_not_left_running(tmp_path: Path) -> None:
    run = run_session(tmp_path, _REDIS_TOO_SLOW_TO_START, "-o", "timeout=3", "-o",
                      "timeout_func_only=false")  # fmt: skip
    assert "2 errors" in run.output, run.output
    assert run.left == {}, run.output


_LEAKS = """
    import subprocess


    def test_leaves_a_child_running():
        subprocess.Popen(["sleep", "301"])


    def test_leaves_a_daemon_running():
        # Its own session, no environment, its parent gone: only its ancestry says whose it is.
        subprocess.run(["sh", "-c", "sleep 302 &"], env={}, cwd="/", start_new_session=True)
"""


@pytest.mark.timeout(120)
def test_a_process_left_running_fails_the_session_and_is_ended(tmp_path: Path) -> None:
    run = run_session(tmp_path, _LEAKS)
    assert run.exit_code == 1, run.output
    assert "2 passed" in run.output, run.output
    assert "the tests left 2 processes running (now ended)" in run.output, run.output
    assert "sleep 301 [in " in run.output, run.output
    assert "(started during test_inner.py::test_leaves_a_child_running)" in run.output
    assert "sleep 302 [in /]" in run.output, run.output
    assert run.left == {}, run.output


_CLEAN = """
    from tests.support.redis_servers import free_port
    from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess

    ENV = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_REDIS_URL": ""}


    def test_a_sidecar_with_workers(redis_url, disposable_redis):
        port = free_port()
        args = ("--redis-url", redis_url, "--listen", f"127.0.0.1:{port}", "--workers", "2")
        with SidecarProcess(*args, env=ENV) as sidecar:
            assert sidecar.terminate() == 0


    def test_a_sidecar_on_its_embedded_redis(tmp_path):
        with SidecarProcess("--data-dir", str(tmp_path), env=ENV):
            pass  # stopped by the helper, not by the test
"""


@pytest.mark.timeout(120)
def test_a_session_that_ends_what_it_started_passes(tmp_path: Path) -> None:
    run = run_session(tmp_path, _CLEAN, grace=3.0)
    assert run.exit_code == 0, run.output
    assert run.left == {}, run.output
