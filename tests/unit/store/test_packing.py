"""The C packer writes exactly the bytes redis-py's own packer writes, and refuses what it
refuses, with the same DataError."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError

from quota_sidecar.store.packing import c_packing_class

PYTHON = Connection(decode_responses=True)
PACKED = c_packing_class(Connection)(decode_responses=True)

COMMANDS: list[tuple[Any, ...]] = [
    ("EVALSHA", "a" * 40, 2, "qs:{user:bob}:rw", "qs:{user:bob}:cfg", 1733, 0, -5, ""),
    ("SET", "k", 1.5),
    ("SET", "k", 1e20),
    ("SET", "k", 2**70),
    ("SET", "clé", "värde ✓"),
    ("SET", b"k", b"\x00\xff\r\n"),
    ("SET", "k", memoryview(b"view")),
    ("SET", "k", bytearray(b"array")),
    ("CLIENT SETINFO", "LIB-NAME", "x"),
    (b"CONFIG GET", "maxmemory"),
    ("PING",),
    ("SET", "k", "x" * 100_000),  # past redis-py's buffer cutoff: it chunks, the bytes agree
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: repr(c)[:40])
def test_the_bytes_are_redis_pys(command: tuple[Any, ...]) -> None:
    assert b"".join(PACKED.pack_command(*command)) == b"".join(PYTHON.pack_command(*command))


def test_pipelines_pack_the_same_bytes() -> None:
    commands = [c for c in COMMANDS if not isinstance(c[-1], memoryview)]
    assert b"".join(PACKED.pack_commands(commands)) == b"".join(PYTHON.pack_commands(commands))


@pytest.mark.parametrize("value", [None, True, False, object(), [1], {"a": 1}])
def test_what_redis_py_refuses_is_refused_alike(value: object) -> None:
    with pytest.raises(DataError):
        PYTHON.pack_command("SET", "k", value)
    with pytest.raises(DataError):
        PACKED.pack_command("SET", "k", value)


def test_each_connection_class_keeps_its_kind() -> None:
    packed = c_packing_class(UnixDomainSocketConnection)
    assert issubclass(packed, UnixDomainSocketConnection)
    assert c_packing_class(UnixDomainSocketConnection) is packed  # one class per base
