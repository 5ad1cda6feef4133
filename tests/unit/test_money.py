"""Exact money: dollars to integer nanos and back, never through float arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.money import MAX_AMOUNT_NANOS, format_dollars, from_nanos, to_nanos


@pytest.mark.parametrize(
    ("amount", "nanos"),
    [
        (0.1, 100_000_000),
        (0.05, 50_000_000),
        (100.0, 100_000_000_000),
        ("0.000000001", 1),
        (Decimal("1.5"), 1_500_000_000),
        (3, 3_000_000_000),
    ],
)
def test_to_nanos_is_exact(amount: object, nanos: int) -> None:
    assert to_nanos(amount, "cost") == nanos  # type: ignore[arg-type]


def test_a_million_micro_dollars_are_exactly_one_dollar() -> None:
    total = sum(to_nanos(0.000001, "cost") for _ in range(1_000_000))
    assert total == 1_000_000_000 and from_nanos(total) == Decimal(1)
    assert sum(0.000001 for _ in range(1_000_000)) != 1.0  # what floats would have done


@pytest.mark.parametrize("bad", [-0.01, float("nan"), float("inf"), "abc", True, None])
def test_bad_amounts_name_the_field(bad: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        to_nanos(bad, "estimated_cost")  # type: ignore[arg-type]
    assert caught.value.field == "estimated_cost"


def test_absurd_amounts_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="absurdly large"):
        to_nanos(Decimal(MAX_AMOUNT_NANOS) + 1, "cost")


@pytest.mark.parametrize(
    ("nanos", "text"),
    [(85_000_000_000, "$85.00"), (50_000_000, "$0.05"), (1000, "$0.000001"), (0, "$0.00")],
)
def test_format_dollars(nanos: int, text: str) -> None:
    assert format_dollars(nanos) == text
