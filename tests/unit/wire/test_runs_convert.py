"""The run fields of the wire: what the client writes is what the server reads, exactly, and
each half refuses bad run fields naming the same field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.results import RunEnd, RunUsage
from quota_sidecar.v1 import quota_pb2
from quota_sidecar.wire import runs


def test_a_checks_run_fields_round_trip_exactly() -> None:
    asked = runs.RunCheck(
        run_id="child", parent_run_id="root", max_cost=Decimal("0.123456789"),
        ttl=timedelta(minutes=90, microseconds=5), max_requests=0, max_tokens=10**12,
    )  # fmt: skip
    request = quota_pb2.CheckQuotaRequest()
    runs.check_run_to_proto(request, asked)
    assert request.run_max_cost_nanos == 123_456_789
    read = runs.check_run_from_proto(request)
    assert read == asked  # 0 requests stays a cap of 0, not "no cap"
    assert runs.check_run_from_proto(quota_pb2.CheckQuotaRequest()) == runs.RunCheck()


@pytest.mark.parametrize(
    ("run", "field"),
    [
        (runs.RunCheck(parent_run_id="p"), "parent_run_id"),
        (runs.RunCheck(max_cost=1), "run_id"),
        (runs.RunCheck(run_id="r", max_cost="0.0000000001"), "run_max_cost"),
        (runs.RunCheck(run_id="r", max_cost=-1), "run_max_cost"),
        (runs.RunCheck(run_id="r", ttl=timedelta(0)), "run_ttl"),
        (runs.RunCheck(run_id="r", max_tokens=-1), "run_max_tokens"),
        (runs.RunCheck(run_id="tab\there"), "run_id"),
    ],
)
def test_the_client_refuses_bad_run_fields_before_sending(run: runs.RunCheck, field: str) -> None:
    with pytest.raises(InvalidInput) as failed:
        runs.check_run_to_proto(quota_pb2.CheckQuotaRequest(), run)
    assert failed.value.field == field


def test_a_records_run_fields() -> None:
    request = quota_pb2.RecordUsageRequest()
    runs.record_run_to_proto(request, "r", "p", True)
    assert runs.record_run_from_proto(request) == ("r", "p", True)
    for run_id, parent, end, field in (
        ("", "p", False, "parent_run_id"),
        ("", "", True, "end_run"),
    ):
        with pytest.raises(InvalidInput) as failed:
            runs.record_run_to_proto(quota_pb2.RecordUsageRequest(), run_id, parent, end)
        assert failed.value.field == field
        wire = quota_pb2.RecordUsageRequest(run_id=run_id, parent_run_id=parent, end_run=end)
        with pytest.raises(InvalidInput) as failed:
            runs.record_run_from_proto(wire)
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
