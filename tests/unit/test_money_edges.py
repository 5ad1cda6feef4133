"""Money at its edges: exact or refused. Amounts that overflow Decimal, are not finite, or are
finer than one nano-dollar are InvalidInput naming the field; nothing is rounded
but a float, which is approximate by nature and taken to the nearest nano."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import CostQuota
from quota_sidecar.domain.money import MAX_AMOUNT_NANOS, to_nanos

HUGE = ["1e999999", "-1e999999", "9e999999999999999999", "1e1000000", Decimal("1e999999")]


@pytest.mark.parametrize("amount", HUGE)
def test_amounts_past_decimal_range_are_refused_naming_the_field(amount: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        to_nanos(amount, "estimated_cost")  # type: ignore[arg-type]
    assert caught.value.field == "estimated_cost"


@pytest.mark.parametrize(
    "amount",
    ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", Decimal("sNaN"), Decimal("-inf")],
)
def test_non_finite_amounts_are_refused(amount: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        to_nanos(amount, "cost")  # type: ignore[arg-type]
    assert caught.value.field == "cost"


@pytest.mark.parametrize(
    "amount",
    [
        "0.0000000001",
        "0.0000000015",
        "1.0000000005",
        Decimal("1e-10"),
        Decimal("1.0000000005"),
        "1e-999999",
        "0." + "0" * 100 + "1",
    ],
)
def test_amounts_finer_than_one_nano_are_refused_not_rounded(amount: object) -> None:
    with pytest.raises(InvalidInput, match="nano") as caught:
        to_nanos(amount, "cost")  # type: ignore[arg-type]
    assert caught.value.field == "cost"


@pytest.mark.parametrize(
    ("amount", "nanos"),
    [
        ("0.000000001", 1),
        ("1.000000000000000000000000000000000000", 1_000_000_000),  # zeros are exact
        ("1e-9", 1),
        ("1000000", MAX_AMOUNT_NANOS),
        ("1e6", MAX_AMOUNT_NANOS),
        ("-0", 0),
        ("0e-999999", 0),
        ("0e999999", 0),
        (Decimal("12.34E+2"), 1_234_000_000_000),
        (0.1, 100_000_000),  # floats go through their shortest repr, so 0.1 is one tenth
        (123456.789012345, 123_456_789_012_345),
    ],
)
def test_exact_amounts_at_the_edges_are_kept_exactly(amount: object, nanos: int) -> None:
    assert to_nanos(amount, "cost") == nanos  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "nanos"),
    [
        # Floats are approximate: their exact binary value, to the nearest nano (issue 20).
        (1.0000000005, 1_000_000_001),  # 1.00000000050000004137... is above the half
        (1e-10, 0),
        (15 / 1e6 * 1000, 15_000_000),  # 0.015000000000000001
        (0.1 + 0.2, 300_000_000),  # 0.30000000000000004
        (2**-31, 0),  # 0.4656... nanos
        (2**-30, 1),  # 0.9313... nanos
        (-0.0, 0),
        (1e6, MAX_AMOUNT_NANOS),
    ],
)
def test_floats_are_taken_to_the_nearest_nano(amount: float, nanos: int) -> None:
    assert to_nanos(amount, "cost") == nanos


@pytest.mark.parametrize("amount", [1e6 + 0.01, 1e300, float("nan"), -1e-12])
def test_floats_past_the_maximum_not_finite_or_negative_are_refused(amount: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        to_nanos(amount, "cost")
    assert caught.value.field == "cost"


def test_one_nano_past_the_maximum_is_refused() -> None:
    with pytest.raises(InvalidInput, match="absurdly large"):
        to_nanos("1000000.000000001", "cost")


def test_a_huge_amount_in_a_cost_quota_names_its_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        CostQuota(daily_limit="1e999999")  # type: ignore[arg-type]
    assert caught.value.field == "cost_quota.daily_limit"
    with pytest.raises(InvalidInput, match="nano") as caught:
        CostQuota(monthly_limit=Decimal("0.0000000001"))
    assert caught.value.field == "cost_quota.monthly_limit"


def test_a_very_long_amount_is_refused_with_a_short_message() -> None:
    with pytest.raises(InvalidInput) as caught:
        to_nanos("1" * 100_000, "cost")
    assert len(str(caught.value)) < 200
