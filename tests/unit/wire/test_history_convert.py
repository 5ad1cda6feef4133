"""Usage history and top spenders, proto ⇄ domain: a round trip keeps everything, and bad
request fields raise InvalidInput naming them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.history import TopSpender, UsageDay, UsageHistory, UsageMonth
from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.domain.results import BreakdownEntry
from quota_sidecar.v1 import admin_pb2
from quota_sidecar.wire import history


def test_history_round_trips() -> None:
    start, end = datetime(2026, 11, 1, 11, tzinfo=UTC), datetime(2026, 11, 2, 11, tzinfo=UTC)
    found = UsageHistory(
        subject=Subject(QuotaScope.USER, "alice"),
        days=(
            UsageDay(
                date(2026, 11, 1), start, end, 2**62, 3, 4,
                by_provider=(BreakdownEntry("openai", 5, 1),),
                by_tool=(BreakdownEntry("search", 6, 2),),
                by_model=(BreakdownEntry("openai/gpt-4o", 7, 3),),
            ),
        ),
        months=(UsageMonth("2026-11", start, end, 9, 1, 2),),
    )  # fmt: skip
    assert history.history_from_proto(history.history_to_proto(found)) == found


@pytest.mark.parametrize("limit", [None, 0, 10**15])
def test_top_spender_round_trips(limit: int | None) -> None:
    spender = TopSpender(Subject(QuotaScope.TOOL, "search"), 12, limit)
    assert history.top_spender_from_proto(history.top_spender_to_proto(spender)) == spender


@pytest.mark.parametrize("text", ["2026-1-01", "20261101", "2026-11-31", "x" * 100, " 2026-11-01"])
def test_bad_dates_name_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        history.date_from_proto(text, "start_date")
    assert raised.value.field == "start_date"


def test_dates_periods_and_limits() -> None:
    assert history.date_from_proto("", "end_date") is None
    assert history.date_from_proto("2026-11-30", "end_date") == date(2026, 11, 30)
    assert history.period_from_proto(admin_pb2.SPEND_PERIOD_UNSPECIFIED) == "today"
    assert history.period_from_proto(admin_pb2.SPEND_PERIOD_MONTH) == "month"
    assert history.top_limit_from_proto(0) == 10 and history.top_limit_from_proto(1000) == 1000
    for bad in (-1, 1001):
        with pytest.raises(InvalidInput) as raised:
            history.top_limit_from_proto(bad)
        assert raised.value.field == "limit"
    with pytest.raises(InvalidInput) as raised:
        history.period_from_proto(3)
    assert raised.value.field == "period"
