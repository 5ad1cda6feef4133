"""The test session's end is the end of every process it started (tests/support/processes.py).

Registered by tests/conftest.py (`pytest_configure`). At the start of the session it
  - marks os.environ with SESSION_VARIABLE=<a new id>, so every child and grandchild carries it
    (a nested `python -m pytest` gets an id of its own: its end never touches this session's);
  - makes pytest the child subreaper, so no process of the session leaves pytest's tree;
  - starts the reaper, in a session of its own, which waits for pytest to be gone, however
    (pytest-timeout's thread method ends pytest with os._exit; a kill -9 gives no notice), and
    then ends what is left of the session.
Before each test it records the test's id in os.environ (for the report). At the end of the
session, after every fixture's teardown, it stops what processes.start() started and is still
running, then ends every other process of the session (below pytest, marked, or working in the
session's temporary folder), lists them all, and fails the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import IO

import pytest

from tests.support import processes

__all__ = ["ProcessSession"]


class ProcessSession:
    def __init__(self) -> None:
        self.session = uuid.uuid4().hex
        os.environ[processes.SESSION_VARIABLE] = self.session
        os.environ.pop(processes.STARTED_DURING_VARIABLE, None)  # a parent session's
        self.subreaper = processes.become_subreaper()
        self.folders: list[str] = []
        self._reaper, self._to_reaper = self._start_reaper()

    def _start_reaper(self) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
        marks = (processes.SESSION_VARIABLE, processes.STARTED_DURING_VARIABLE)
        env = {name: value for name, value in os.environ.items() if name not in marks}
        reaper = subprocess.Popen(
            [sys.executable, "-I", processes.__file__, "reap", self.session],
            stdin=subprocess.PIPE,  # its end of the pipe reads EOF once pytest is gone
            cwd="/",
            env=env,
            start_new_session=True,  # a Ctrl-C or a kill of pytest's group leaves it running
        )
        assert reaper.stdin is not None
        return reaper, reaper.stdin

    def watch_folder(self, folder: Path) -> None:
        """A process working in `folder` (an embedded Redis's data dir) is the session's."""
        self.folders.append(str(folder.resolve()))
        self._to_reaper.write(f"{self.folders[-1]}\n".encode())
        self._to_reaper.flush()

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        os.environ[processes.STARTED_DURING_VARIABLE] = nodeid

    @pytest.hookimpl(trylast=True)  # after the fixtures' teardown (the runner's sessionfinish)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        os.environ.pop(processes.STARTED_DURING_VARIABLE, None)
        left = self._left()
        for process in list(processes.STARTED):
            processes.stop(process)
        processes.end(self._left())  # what stopping them did not end
        if not left:
            return
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"the tests left {len(left)} processes running (now ended):"]
        lines += [f"  {entry.describe()}" for entry in left]
        if reporter is not None:
            reporter.write_sep("=", "processes left running", red=True)
            for line in lines:
                reporter.write_line(line)
        else:
            print("\n".join(lines), file=sys.stderr)
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _left(self) -> list[processes.ProcessEntry]:
        root = os.getpid() if self.subreaper else None
        found = processes.session_processes(self.session, self.folders, root, self._reaper.pid)
        return found

    def pytest_unconfigure(self) -> None:
        """Let the reaper go: it finds nothing left (the session's end ended it all)."""
        self._to_reaper.close()
        try:
            self._reaper.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._reaper.kill()
            self._reaper.wait()
