"""The run fields of the wire: what the client writes is what the server reads, exactly, and
each half refuses bad run fields naming the same field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from quota_sidecar.client.requests import check_message, record_message
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.domain.requests import NO_RUN, CheckRequest, RecordRequest
from quota_sidecar.domain.results import RunEnd, RunUsage
from quota_sidecar.domain.validation import run_limits
from quota_sidecar.v1 import quota_pb2
from quota_sidecar.wire import requests as wire
from quota_sidecar.wire import runs
from quota_sidecar.wire.fields import subject_to_proto

ALICE = Subject(QuotaScope.USER, "alice")


def test_a_checks_run_fields_round_trip_exactly() -> None:
    asked = run_limits(
        "child", "root", max_cost=Decimal("0.123456789"),
        ttl=timedelta(minutes=90, microseconds=5), max_requests=0, max_tokens=10**12,
    )  # fmt: skip
    assert asked.max_cost_nanos == 123_456_789  # dollars become nanos once, at the edge
    request = quota_pb2.CheckQuotaRequest()
    wire.run_to_proto(request, asked)
    assert request.run_max_cost_nanos == 123_456_789
    read = wire.run_from_proto(request)
    assert read == asked  # 0 requests stays a cap of 0, not "no cap"
    assert wire.run_from_proto(quota_pb2.CheckQuotaRequest()) is NO_RUN


@pytest.mark.parametrize(
    ("run", "field"),
    [
        ({"parent_run_id": "p"}, "parent_run_id"),
        ({"max_cost": 1}, "run_max_cost_nanos"),  # as the server names it
        ({"run_id": "r", "max_cost": "0.0000000001"}, "run_max_cost"),
        ({"run_id": "r", "max_cost": -1}, "run_max_cost"),
        ({"run_id": "r", "ttl": timedelta(0)}, "run_ttl"),
        ({"run_id": "r", "max_tokens": -1}, "run_max_tokens"),
        ({"run_id": "tab\there"}, "run_id"),
    ],
)
def test_the_client_refuses_bad_run_fields_before_sending(run: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {"max_cost": None, "ttl": None, "max_requests": None}
    fields.update({"max_tokens": None, **run})
    with pytest.raises(InvalidInput) as failed:
        limits = run_limits(fields.pop("run_id", ""), fields.pop("parent_run_id", ""), **fields)
        check_message(CheckRequest((ALICE,), run=limits))
    assert failed.value.field == field


def test_a_records_run_fields() -> None:
    sent = record_message(RecordRequest((ALICE,), run_id="r", parent_run_id="p", end_run=True))
    read = wire.record_from_proto(sent)
    assert (read.run_id, read.parent_run_id, read.end_run) == ("r", "p", True)
    for run_id, parent, end, field in (
        ("", "p", False, "parent_run_id"),
        ("", "", True, "end_run"),
    ):
        asked = RecordRequest((ALICE,), run_id=run_id, parent_run_id=parent, end_run=end)
        with pytest.raises(InvalidInput) as failed:
            record_message(asked)
        assert failed.value.field == field
        message = quota_pb2.RecordUsageRequest(
            subjects=[subject_to_proto(ALICE)], run_id=run_id, parent_run_id=parent, end_run=end
        )
        with pytest.raises(InvalidInput) as failed:
            wire.record_from_proto(message)
        assert failed.value.field == field


def test_a_run_tree_and_an_end_round_trip() -> None:
    leaf = RunUsage(
        run_id="leaf", parent_run_id="mid", ends_at=datetime(2026, 12, 1, 12, 0, 1, 500, UTC),
        ended=True, cost_nanos=7, held_nanos=0, requests=1, tokens=0, max_cost_nanos=0,
        max_requests=None, max_tokens=None,
    )  # fmt: skip
    tree = RunUsage(
        run_id="top", parent_run_id="", ends_at=None, ended=False, cost_nanos=9_000_000 * 10**9,
        held_nanos=3, requests=5, tokens=11, max_cost_nanos=None, max_requests=0, max_tokens=99,
        children=(
            RunUsage(
                run_id="mid", parent_run_id="top", ends_at=None, ended=False, cost_nanos=7,
                held_nanos=0, requests=1, tokens=0, max_cost_nanos=None, max_requests=None,
                max_tokens=None, children=(leaf,),
            ),
        ),
    )  # fmt: skip
    message = runs.run_usage_to_proto(tree)
    assert not message.HasField("max_cost_nanos") and message.HasField("max_requests")
    assert runs.run_usage_from_proto(message) == tree
    end = RunEnd("top", was_open=True, released_holds=4)
    assert runs.run_end_from_proto(runs.run_end_to_proto(end)) == end
