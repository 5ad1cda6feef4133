"""Exact money: integer nano-dollars inside, `Decimal` at the Python edge, never float arithmetic.

A float from a caller (the seed API passes `0.05`) is converted through the Decimal of its
shortest decimal string, so `0.1` means exactly 100_000_000 nanos, not 0.1000000000000000055.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from quota_sidecar.errors import InvalidInput

__all__ = [
    "MAX_AMOUNT_NANOS",
    "MAX_LIMIT_NANOS",
    "NANOS_PER_DOLLAR",
    "Money",
    "check_nanos",
    "format_dollars",
    "from_nanos",
    "to_nanos",
]

NANOS_PER_DOLLAR = 1_000_000_000
# One million dollars. Larger amounts are a bug in the caller, not a real LLM or tool call, and
# keeping amounts this small leaves every sum far inside Lua's exact integer range (2**53).
MAX_AMOUNT_NANOS = 1_000_000 * NANOS_PER_DOLLAR
# Nine million dollars: budgets and totals stay below 2**53 nanos, where the Lua scripts'
# double-precision numbers are still exact integers.
MAX_LIMIT_NANOS = 9_000_000 * NANOS_PER_DOLLAR
_ONE_NANO = Decimal("1e-9")

Money = Decimal | int | float | str


def to_nanos(amount: Money, field: str, *, maximum: int = MAX_AMOUNT_NANOS) -> int:
    """Convert dollars to nanos exactly, rejecting what cannot be money with the field's name."""
    if isinstance(amount, bool):
        raise InvalidInput(field, "must be a number of dollars, not a boolean")
    try:
        # repr(float) is the shortest string that round-trips, so Decimal sees what was typed.
        dollars = Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInput(field, f"is not a number of dollars: {amount!r}") from None
    if not dollars.is_finite():
        raise InvalidInput(field, f"must be finite, got {amount!r}")
    nanos = int((dollars / _ONE_NANO).to_integral_value(rounding=ROUND_HALF_EVEN))
    return check_nanos(nanos, field, maximum=maximum)


def check_nanos(nanos: int, field: str, *, maximum: int = MAX_AMOUNT_NANOS) -> int:
    """Validate an amount already in nanos (as it arrives over gRPC)."""
    if nanos < 0:
        raise InvalidInput(field, f"must not be negative, got {nanos}")
    if nanos > maximum:
        raise InvalidInput(field, f"is absurdly large ({nanos} nanos > {maximum})")
    return nanos


def from_nanos(nanos: int) -> Decimal:
    """Nanos to exact dollars."""
    return Decimal(nanos).scaleb(-9)


def format_dollars(nanos: int) -> str:
    """ "$85.00", "$0.05", "$0.000001": at least cents, and every digit that is not zero."""
    whole, frac = divmod(abs(nanos), NANOS_PER_DOLLAR)
    digits = f"{frac:09d}".rstrip("0").ljust(2, "0")
    return f"{'-' if nanos < 0 else ''}${whole}.{digits}"
