"""The record spool: usage that could not reach the store is kept on local disk and recorded
when the store returns, so recorded usage is never lost to a Redis outage.

Each process appends to its own file (`records-<pid>-<random>.jsonl` under the spool folder),
holding an exclusive flock on it for its lifetime; an entry is flushed and fsynced before the
caller hears "spooled". Replay records every entry with its idempotency key, so an entry
replayed twice (a crash between recording and trimming the file, or a record whose reply was
lost before it was spooled) still counts once. A file whose process died is unlocked, and the
next replay of any process on the same data dir takes it over.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from quota_sidecar.errors import InvalidInput, StoreUnavailable

__all__ = ["RecordSpool", "SpooledRecord"]

log = logging.getLogger(__name__)
SpooledRecord = dict[str, Any]


class RecordSpool:
    """Append-only local files of records waiting for the store."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._own = folder / f"records-{os.getpid()}-{secrets.token_hex(4)}.jsonl"
        self._file: IO[str] | None = None

    def append(self, entry: SpooledRecord) -> None:
        """Write one record durably (flushed and fsynced) before returning."""
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = self._own.open("a", encoding="utf-8")
            fcntl.flock(self._file, fcntl.LOCK_EX)  # ours while we live
        self._file.write(json.dumps(entry, sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def waiting(self) -> bool:
        """Whether any spool file (ours or a dead process's) may hold records."""
        return any(p.stat().st_size > 0 for p in self.folder.glob("records-*.jsonl"))

    async def replay(self, record: Callable[[SpooledRecord], Awaitable[object]]) -> int:
        """Record what the spool files hold; returns how many entries were recorded. Stops at
        the first StoreUnavailable (the rest waits for the next pass)."""
        done = 0
        for path in sorted(self.folder.glob("records-*.jsonl")):
            if path == self._own:
                done += await self._replay_own(record)
            else:
                done += await self._replay_orphan(path, record)
        return done

    async def _replay_own(self, record: Callable[[SpooledRecord], Awaitable[object]]) -> int:
        text = self._own.read_text(encoding="utf-8")
        done = await _replay_lines(text, record)
        self._trim_own(len(text.encode("utf-8")))
        return done

    def _trim_own(self, replayed_bytes: int) -> None:
        # Appends may have come in while the replay awaited: keep whatever follows what was
        # replayed. This runs without an await, so nothing can slip in meanwhile.
        with self._own.open("r+", encoding="utf-8") as file:
            file.seek(replayed_bytes)
            rest = file.read()
            file.seek(0)
            file.write(rest)
            file.truncate()

    async def _replay_orphan(
        self, path: Path, record: Callable[[SpooledRecord], Awaitable[object]]
    ) -> int:
        file = _take_over(path)
        if file is None:
            return 0  # a live process owns it and replays it itself
        try:
            done = await _replay_lines(file.read(), record)
            _remove(path)
            return done
        finally:
            file.close()  # also releases the lock

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            if self._own.stat().st_size == 0:
                self._own.unlink()


def _take_over(path: Path) -> IO[str] | None:
    """The file, locked, when no live process holds it; else None."""
    file = path.open("r", encoding="utf-8")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        return None
    return file


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def _replay_lines(text: str, record: Callable[[SpooledRecord], Awaitable[object]]) -> int:
    """Record each line; raise StoreUnavailable (leaving the file for later) if the store goes
    away again, and drop (with an error log) an entry the store can never accept."""
    done = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        entry: SpooledRecord = json.loads(line)
        try:
            await record(entry)
        except StoreUnavailable:
            raise
        except InvalidInput as exc:
            log.error("dropping a spooled record the store refuses (%s): %s", exc, line)
        done += 1
    return done
