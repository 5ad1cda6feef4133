"""Torn spool files: a crash mid-append (or mid-anything) leaves a line that is not a whole
record. Replay must lose only that line, set it aside for an operator, and record every whole
line exactly once, including from a file taken over from a process that died holding it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.errors import StoreUnavailable
from quota_sidecar.engine.durability.spool import RecordSpool, SpooledRecord
from quota_sidecar.engine.service import EngineSettings, QuotaService
from tests.support import processes


def _engine(url: str, spool: Path) -> QuotaService:
    settings = EngineSettings(store_timeout=0.5, spool_dir=spool)
    return QuotaService(url, clock=ManualClock(), settings=settings)


def _line(key: str, dollars: int, who: str = "alice") -> bytes:
    entry: SpooledRecord = {
        "subjects": [f"user:{who}"],
        "cost_nanos": dollars * 10**9,
        "provider": "",
        "tool_name": "",
        "input_tokens": 0,
        "output_tokens": 0,
        "idempotency_key": key,
        "reservation_id": None,
    }
    return json.dumps(entry, sort_keys=True).encode() + b"\n"


def _set_aside(spool: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((spool / "set-aside").glob("*")))


async def test_a_torn_line_loses_only_itself(redis_url: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    torn_middle = _line("t-mid", 100)[:40]  # a crash mid-append, then more appends after it
    torn_end = _line("t-end", 100)[:-9]  # the last append, cut short: no newline
    (spool / "records-1-dead.jsonl").write_bytes(
        _line("a", 1)
        + _line("b", 2)
        + torn_middle
        + b"\n"
        + b'{"cut": "mid-character \xe2\x82\n'  # not even UTF-8 any more
        + b'["valid JSON", "not a record"]\n'
        + _line("c", 4)
        + _line("a", 1)  # a retried record: counted once
        + torn_end
    )
    engine = _engine(redis_url, spool)
    assert await engine.replay_spool() == 4
    usage = await engine.get_quota_usage("user", "alice")
    assert usage.cost_today == Decimal(7)
    assert await engine.replay_spool() == 0  # nothing left, nothing counted twice
    assert (await engine.get_quota_usage("user", "alice")).cost_today == Decimal(7)
    # The torn and malformed lines are kept, byte for byte, for an operator to look at.
    aside = _set_aside(spool)
    assert torn_middle in aside
    assert torn_end in aside
    assert b"\xe2\x82" in aside
    assert b"not a record" in aside
    assert list(spool.glob("records-*.jsonl")) == []
    await engine.close()


async def test_a_whole_last_line_without_its_newline_still_counts(
    redis_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    # Everything but the newline reached the disk: the record is whole, so it counts.
    (spool / "records-2-dead.jsonl").write_bytes(_line("x", 3) + _line("y", 5)[:-1])
    engine = _engine(redis_url, spool)
    assert await engine.replay_spool() == 2
    assert (await engine.get_quota_usage("user", "alice")).cost_today == Decimal(8)
    assert not (spool / "set-aside").exists()
    await engine.close()


_DYING_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from quota_sidecar.engine.durability.spool import RecordSpool

    spool = RecordSpool(Path(sys.argv[1]))
    for n in range(3):
        spool.append({
            "subjects": ["user:dora"], "cost_nanos": 10**9, "provider": "", "tool_name": "",
            "input_tokens": 0, "output_tokens": 0, "idempotency_key": f"d{n}",
            "reservation_id": None,
        })
    print(spool.own_path, flush=True)
    sys.stdin.read()  # hold the file (and its lock) until killed
    """
)


def _start_writer(spool: Path) -> tuple[subprocess.Popen[str], Path]:
    writer = processes.start(
        [sys.executable, "-c", _DYING_WRITER, str(spool)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    return writer, Path(writer.stdout.readline().strip())


def _tear_and_kill(writer: subprocess.Popen[str], path: Path, torn: bytes) -> None:
    """The writer's last append is cut short by its death (kill -9)."""
    with path.open("ab") as file:
        file.write(torn)
    _kill(writer)


def _kill(writer: subprocess.Popen[str]) -> None:
    processes.stop(writer, grace=0)  # kill -9
    for stream in (writer.stdin, writer.stdout):
        if stream is not None:
            stream.close()


async def test_a_dead_processes_torn_spool_is_taken_over(redis_url: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    torn = _line("d3", 1, "dora")[:25]
    writer, path = _start_writer(spool)
    try:
        engine = _engine(redis_url, spool)
        assert await engine.replay_spool() == 0  # alive: its owner replays it, not us
        _tear_and_kill(writer, path, torn)
    finally:
        _kill(writer)
    assert await engine.replay_spool() == 3
    assert (await engine.get_quota_usage("user", "dora")).cost_today == Decimal(3)
    assert list(spool.glob("records-*.jsonl")) == []
    assert torn in _set_aside(spool)
    await engine.close()


async def test_an_append_is_one_whole_line_that_a_failed_write_never_leaves_half_of(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = RecordSpool(tmp_path / "spool")
    spool.append(json.loads(_line("w1", 1)))
    # The disk fills up mid-write: the kernel writes part of the line, then refuses the rest.
    real_write = os.write

    def short_write(fd: int, data: bytes) -> int:
        return real_write(fd, data[: len(data) // 2])

    monkeypatch.setattr(os, "write", short_write)
    with pytest.raises(StoreUnavailable):  # neither the store nor the spool has it: retry
        spool.append(json.loads(_line("w2", 2)))
    monkeypatch.setattr(os, "write", real_write)
    spool.append(json.loads(_line("w3", 4)))
    # What the caller was told matches the file: w1 and w3 spooled, w2 not (it was refused).
    assert spool.own_path.read_bytes() == _line("w1", 1) + _line("w3", 4)
    engine = _engine(redis_url, tmp_path / "spool")
    spool.close()
    assert await engine.replay_spool() == 2
    assert (await engine.get_quota_usage("user", "alice")).cost_today == Decimal(5)
    await engine.close()
