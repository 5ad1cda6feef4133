"""The record spool: usage that could not reach the store is kept on local disk and recorded
when the store returns, so recorded usage is never lost to a Redis outage.

Each process appends to its own file (`records-<pid>-<random>.jsonl` under the spool folder),
holding an exclusive flock on it for as long as it may append there. The file is locked under a
hidden name and only then renamed into view, so no other process can take over (and delete) a
file its live owner is about to write. An entry is one `write()` of one whole line, then
fsynced, before the caller hears "spooled"; a write that fails part-way is cut back off the file
and the caller hears StoreUnavailable instead (nothing spooled, so a retry counts once). A crash
can therefore tear at most the last line of a file.

Replay first seals the process's own file (new appends go to a fresh one), so a file is never
rewritten in place; a sealed file is deleted once every line of it is recorded. Every entry is
recorded with its idempotency key, so an entry replayed twice (a crash between recording and
deleting the file, a pass cut short by another outage, or a record whose reply was lost before
it was spooled) still counts once. A file whose process died is unlocked, and the next replay of
any process on the same data dir takes it over.

A line that is not a whole record (torn by a crash, or damaged on disk) loses only itself: it is
logged and copied byte for byte to `set-aside/<file name>` for an operator, and the lines after
it replay as usual. So is an entry the store refuses for good (InvalidInput).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from quota_sidecar.domain.errors import InvalidInput, StoreUnavailable

__all__ = ["RecordSpool", "SpooledRecord"]

log = logging.getLogger(__name__)
SpooledRecord = dict[str, Any]
Recorder = Callable[[SpooledRecord], Awaitable[object]]
SET_ASIDE = "set-aside"
_PATTERN = "records-*.jsonl"
# What a whole record holds, and the types each field must have (bool is not an int here).
_FIELDS: dict[str, tuple[type, ...]] = {
    "subjects": (list,),
    "cost_nanos": (int,),
    "provider": (str,),
    "tool_name": (str,),
    "input_tokens": (int,),
    "output_tokens": (int,),
    "idempotency_key": (str,),
    "reservation_id": (str, type(None)),
}


class RecordSpool:
    """Append-only local files of records waiting for the store."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._own = self._new_name()
        self._fd: int | None = None
        self._size = 0  # bytes of whole lines in our file; a failed append is cut back to it
        self._sealed: list[tuple[Path, int]] = []  # our files being replayed, still locked
        self._replaying = asyncio.Lock()

    @property
    def own_path(self) -> Path:
        """The file this process appends to now."""
        return self._own

    def _new_name(self) -> Path:
        return self.folder / f"records-{os.getpid()}-{secrets.token_hex(4)}.jsonl"

    def append(self, entry: SpooledRecord) -> None:
        """Write one record durably (one write of a whole line, fsynced) before returning.
        Raises StoreUnavailable, with nothing written, when the disk does not take it."""
        data = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
        try:
            fd = self._open_own()
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write: {written} of {len(data)} bytes")
            os.fsync(fd)
        except OSError as exc:
            self._cut_back()
            raise StoreUnavailable(f"the store is away and the spool cannot write: {exc}") from exc
        self._size += len(data)

    def _open_own(self) -> int:
        if self._fd is not None:
            return self._fd
        self.folder.mkdir(parents=True, exist_ok=True)
        hidden = self._own.with_name("." + self._own.name)
        fd = os.open(hidden, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # ours while we may append; before anyone sees it
            os.rename(hidden, self._own)
            _fsync_folder(self.folder)  # the file's name is as durable as its lines
        except OSError:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                hidden.unlink()
            raise
        self._fd, self._size = fd, 0
        return fd

    def _cut_back(self) -> None:
        # Whatever part of the line reached the file must go, or the next append would be glued
        # to it and both lines lost. With O_APPEND the next write lands at the new end.
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                log.exception("cannot cut a failed append off %s", self._own)

    def waiting(self) -> bool:
        """Whether any spool file (ours or a dead process's) may hold records."""
        for path in self.folder.glob(_PATTERN):
            with contextlib.suppress(FileNotFoundError):  # replayed and removed meanwhile
                if path.stat().st_size > 0:
                    return True
        return False

    def waiting_bytes(self) -> int:
        """Bytes in the spool files (ours and dead processes'), torn lines included."""
        total = 0
        for path in self.folder.glob(_PATTERN):
            with contextlib.suppress(FileNotFoundError):  # replayed and removed meanwhile
                total += path.stat().st_size
        return total

    async def replay(self, record: Recorder) -> int:
        """Record what the spool files hold; returns how many entries were recorded. Stops at
        the first StoreUnavailable (the rest waits for the next pass)."""
        async with self._replaying:  # one pass at a time per process
            self._seal_own()
            done = 0
            while self._sealed:
                path, fd = self._sealed[0]
                done += await _replay_file(path, fd, record)
                self._sealed.pop(0)
                _remove(path)
                os.close(fd)  # also releases the lock
            for path in sorted(self.folder.glob(_PATTERN)):
                if path != self._own:
                    done += await self._replay_orphan(path, record)
            return done

    def _seal_own(self) -> None:
        # Runs without an await: no append can land between the size check and the switch.
        if self._fd is None or self._size == 0:
            return
        self._sealed.append((self._own, self._fd))
        self._own, self._fd, self._size = self._new_name(), None, 0

    async def _replay_orphan(self, path: Path, record: Recorder) -> int:
        fd = _take_over(path)
        if fd is None:
            return 0  # a live process owns it and replays it itself
        try:
            done = await _replay_file(path, fd, record)
            _remove(path)
            return done
        finally:
            os.close(fd)  # also releases the lock

    def close(self) -> None:
        for _path, fd in self._sealed:
            os.close(fd)  # unreplayed: left for the next process, unlocked
        self._sealed.clear()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            if self._size == 0:
                _remove(self._own)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _take_over(path: Path) -> int | None:
    """A descriptor of the file, locked, when no live process holds it; else None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None  # replayed and removed by another process since we listed it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino != os.stat(path).st_ino:
            raise FileNotFoundError(path)  # removed (and perhaps reused) before we locked it
    except (BlockingIOError, FileNotFoundError):
        os.close(fd)
        return None
    return fd


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _read_all(fd: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _parse(raw: bytes) -> SpooledRecord | None:
    """The record a line holds, or None when it is not a whole, well-formed one."""
    try:
        entry = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(entry, dict) or not _FIELDS.keys() <= entry.keys():
        return None
    for name, types in _FIELDS.items():
        value = entry[name]
        if isinstance(value, bool) or not isinstance(value, types):
            return None
    subjects = entry["subjects"]
    if not subjects or not all(isinstance(s, str) for s in subjects):
        return None
    return entry if entry["idempotency_key"] else None


async def _replay_file(path: Path, fd: int, record: Recorder) -> int:
    """Record each whole line of the file; raise StoreUnavailable (leaving the file for later)
    if the store goes away again. A line that is not a record, or that the store refuses for
    good, is set aside (logged and copied out), never allowed to stop the lines after it."""
    done = 0
    # Bytes, split on newlines: a torn line can end mid-character, and must not take the whole
    # file's decoding down with it. A last line without its newline is torn unless it parses.
    for number, raw in enumerate(_read_all(fd).split(b"\n"), start=1):
        if not raw.strip():
            continue
        entry = _parse(raw)
        if entry is None:
            _set_aside(path, number, raw, "not a whole record (torn by a crash, or damaged)")
            continue
        try:
            await record(entry)
        except StoreUnavailable:
            raise
        except InvalidInput as exc:
            _set_aside(path, number, raw, f"the store refuses it: {exc}")
            continue
        done += 1
    return done


def _set_aside(path: Path, number: int, raw: bytes, why: str) -> None:
    folder = path.parent / SET_ASIDE
    target = folder / path.name
    log.error("spool %s line %d set aside in %s, %s: %r", path, number, target, why, raw[:200])
    try:
        folder.mkdir(exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, raw + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        # The log line above already holds it; replay goes on either way.
        log.exception("cannot copy spool %s line %d aside", path, number)
