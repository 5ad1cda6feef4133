"""Command packing in C: redis-py's asyncio connections pack every command in pure Python (its
synchronous client uses hiredis' packer, the asyncio one does not, as of redis-py 8). A check
sends 30-odd arguments, and packing them was the largest single cost of a check on the client
(about 100 µs of 200). hiredis' `pack_command` writes the same bytes in about a sixth of that.

`use_c_packer(pool)` makes a connection pool build connections that pack with hiredis. The bytes
are the same as redis-py's (str as UTF-8, int and float by repr, bytes as is), and the errors are
its too: an argument of another type (None, bool, an object) raises redis-py's DataError, never
a different request. Without hiredis, or with an encoding other than strict UTF-8 (where the two
would differ), the pool is left as it is.
"""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import DataError
from redis.utils import HIREDIS_AVAILABLE

__all__ = ["c_packing_class", "use_c_packer"]


_PLAIN = frozenset((str, int, bytes, float))


def _pack(args: tuple[Any, ...]) -> list[bytes]:
    import hiredis

    # As redis-py does: a command name with spaces ("CLIENT SETINFO") is several words on the
    # wire.
    first = args[0]
    if isinstance(first, str):
        if " " in first:
            args = tuple(first.encode().split()) + args[1:]
    elif b" " in first:
        args = tuple(first.split()) + args[1:]
    if not _PLAIN.issuperset(map(type, args)):  # in C: the common case costs no Python loop
        args = tuple(_plain(a) for a in args)
    try:
        return [hiredis.pack_command(args)]
    except TypeError as exc:
        raise DataError(str(exc)) from exc


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        # hiredis would pack a bool as an int; redis-py refuses it, and so do we.
        raise DataError("Invalid input of type: 'bool'. Convert to a bytes, string, int or float.")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)  # what hiredis takes
    return value  # str/int/float subclasses pack as their values; anything else: TypeError


_classes: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def c_packing_class(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """`base` (a redis-py asyncio connection class) packing its commands with hiredis; one
    class per base, and a class that already packs in C is its own."""
    if base in _classes.values():
        return base
    found = _classes.get(base)
    if found is None:

        def pack_command(self: AbstractConnection, *args: Any) -> list[bytes]:
            return _pack(args)

        found = cast(
            "type[AbstractConnection]",
            type(f"CPacked{base.__name__}", (base,), {"pack_command": pack_command}),
        )
        _classes[base] = found
    return found


def _utf8_strict(pool: ConnectionPool) -> bool:
    kwargs = pool.connection_kwargs
    encoding = str(kwargs.get("encoding", "utf-8")).lower().replace("_", "-")
    return encoding in ("utf-8", "utf8") and kwargs.get("encoding_errors", "strict") == "strict"


def use_c_packer(pool: ConnectionPool) -> bool:
    """Make `pool` build connections that pack with hiredis; False when it cannot (see above).
    Call it before the pool has made a connection."""
    if not HIREDIS_AVAILABLE or not _utf8_strict(pool):
        return False
    pool.connection_class = c_packing_class(pool.connection_class)
    return True
