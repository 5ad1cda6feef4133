"""Exact money: integer nano-dollars inside, `Decimal` at the Python edge, never float arithmetic.

A float is approximate by nature: `15 / 1e6 * 1000` is 0.015000000000000001 and `0.1 + 0.2` is
0.30000000000000004, and prices computed as floats are normal in the seed's API. So a float is
taken to the nearest nano-dollar: its exact binary value (`Decimal(float)`, every digit) rounded
half to even, by integer arithmetic. `0.1` is 100_000_000 nanos, `0.1 + 0.2` 300_000_000, `1e-10`
zero. This is the one place where a float becomes money, so the seed facade, the remote client
and the guard agree. A float that is not finite (nan, inf) or is negative is InvalidInput.

Text, `Decimal` and `int` are exact or refused: an amount finer than one nano-dollar
(`"0.0000000001"`, `Decimal("1.0000000005")`) is InvalidInput, never rounded; so are NaN, sNaN,
infinities, negatives, booleans and amounts past the maximum, however far past (`"1e999999"`
is refused before any Decimal arithmetic could raise decimal.Overflow). The conversion reads
the Decimal's digits and exponent and never uses a Decimal context, so no precision or exponent
limit can round or trap on the way.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from quota_sidecar.domain.errors import InvalidInput

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
_NANO_PLACES = 9
_SHOWN = 40  # characters of a bad amount quoted back in an error message

Money = Decimal | int | float | str


def to_nanos(amount: Money, field: str, *, maximum: int = MAX_AMOUNT_NANOS) -> int:
    """Convert dollars to nanos, rejecting what cannot be money with the field's name: exactly
    for text, Decimal and int; to the nearest nano (half to even) for a float."""
    if isinstance(amount, bool):
        raise InvalidInput(field, "must be a number of dollars, not a boolean")
    if isinstance(amount, float):
        return check_nanos(_float_nanos(amount, field, maximum), field, maximum=maximum)
    try:
        dollars = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError, ArithmeticError):
        raise InvalidInput(field, f"is not a number of dollars: {_shown(amount)}") from None
    if not dollars.is_finite():
        raise InvalidInput(field, f"must be finite, got {_shown(amount)}")
    return check_nanos(_exact_nanos(dollars, field, amount, maximum), field, maximum=maximum)


def _float_nanos(amount: float, field: str, maximum: int) -> int:
    """The float's exact binary value in nanos, rounded half to even (integer arithmetic)."""
    if not math.isfinite(amount):
        raise InvalidInput(field, f"must be finite, got {_shown(amount)}")
    if amount < 0:
        raise InvalidInput(field, f"must not be negative, got {_shown(amount)}")
    if amount > maximum:  # in dollars: far past the maximum, before building a huge integer
        raise InvalidInput(field, f"is absurdly large ({_shown(amount)} dollars)")
    numerator, denominator = amount.as_integer_ratio()  # exact: Decimal(amount) == n / d
    quotient, remainder = divmod(numerator * NANOS_PER_DOLLAR, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
        quotient += 1
    return quotient


def _exact_nanos(dollars: Decimal, field: str, amount: Money, maximum: int) -> int:
    """coefficient * 10**(exponent + 9), computed from the digits without a Decimal context."""
    sign, digit_tuple, exponent = dollars.as_tuple()
    assert isinstance(exponent, int)  # finite, checked by the caller
    digits = "".join(map(str, digit_tuple))
    significant = digits.rstrip("0")
    if not significant:
        return 0  # 0, -0, 0e999999: zero at any exponent
    exponent += len(digits) - len(significant)  # trailing zeros are exact: drop them
    if sign:
        raise InvalidInput(field, f"must not be negative, got {_shown(amount)}")
    shift = exponent + _NANO_PLACES
    if shift < 0:
        raise InvalidInput(
            field,
            f"has more than {_NANO_PLACES} decimal places (finer than one nano-dollar), "
            f"got {_shown(amount)}; money is exact, never rounded",
        )
    # More digits than the maximum has: refused before building a huge integer.
    if len(significant) + shift > len(str(maximum)):
        raise InvalidInput(field, f"is absurdly large ({_shown(amount)} dollars)")
    return int(significant + "0" * shift)


def _shown(amount: object) -> str:
    text = repr(amount)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(text)} characters)"


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
