"""Decoding of plain Redis replies (hash fields, sorted-set scores) into exact integers.

Owns: the rule that an integer read back from Redis is an integer reply or integer text, never
a float rounded into one, for plain replies and the Lua scripts' alike (engine/replies.py
re-exports it).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

__all__ = ["exact_int", "exact_score"]

_INTEGER = re.compile(r"-?[0-9]+")


def exact_int(value: Any) -> int:
    """An integer reply, or integer text ("123", "-4"). Never through float: "1.7e+14" or 1.5
    is a bug to surface, not a number to round."""
    if type(value) is int:  # the common case first: most of a script's reply is integers
        return value
    if isinstance(value, bool):
        raise ValueError(f"not an integer reply: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    raise ValueError(f"not an integer reply: {value!r}")


def exact_score(raw: str | bytes) -> int:
    """A sorted set's score as the integer it was written as (scripts write the exact text of
    an integer; Redis keeps doubles, exact below 2**53, as amounts are)."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    value = Decimal(text)
    if value != value.to_integral_value():
        raise ValueError(f"not an integer score: {text!r}")
    return int(value)
