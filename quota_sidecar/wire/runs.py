"""Proto ⇄ domain translation of run budgets: the run fields of CheckQuota and RecordUsage
(both directions: the servicer reads them, the client writes them), and the run tree (RunUsage)
and EndRun's outcome (RunEnd) in both directions.

What needs no store is checked here, naming the proto field: the run ids' alphabet, a parent
or end_run without a run, negative or absurd limits, a time to live that is not positive.
Whether a run is open, its depth, and the template's caps are the engine's to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import validate_identifier
from quota_sidecar.domain.money import MAX_LIMIT_NANOS, Money, check_nanos, from_nanos, to_nanos
from quota_sidecar.domain.results import RunEnd, RunUsage
from quota_sidecar.v1 import quota_pb2
from quota_sidecar.wire.fields import check_count, duration_from_proto, timestamp_to_proto

__all__ = [
    "RunCheck",
    "check_run_from_proto",
    "check_run_to_proto",
    "end_run_request_from_proto",
    "record_run_from_proto",
    "record_run_to_proto",
    "run_end_from_proto",
    "run_end_to_proto",
    "run_usage_from_proto",
    "run_usage_to_proto",
]


@dataclass(frozen=True, slots=True)
class RunCheck:
    """The run fields of a check: its run, its parent, and the limits it asks the run for
    (each None: the template's)."""

    run_id: str = ""
    parent_run_id: str = ""
    max_cost: Money | None = None  # dollars; from the wire, the exact Decimal of the nanos
    ttl: timedelta | None = None
    max_requests: int | None = None
    max_tokens: int | None = None


def _run_ids(run_id: str, parent_run_id: str) -> tuple[str, str]:
    if run_id:
        validate_identifier(run_id, "run_id")
    if parent_run_id:
        if not run_id:
            raise InvalidInput("parent_run_id", "needs a run_id")
        validate_identifier(parent_run_id, "parent_run_id")
    return run_id, parent_run_id


def check_run_from_proto(request: quota_pb2.CheckQuotaRequest) -> RunCheck:
    run_id, parent_run_id = _run_ids(request.run_id, request.parent_run_id)
    asked = {
        name
        for name in ("run_max_cost_nanos", "run_ttl", "run_max_requests", "run_max_tokens")
        if request.HasField(name)
    }
    if asked and not run_id:
        raise InvalidInput(sorted(asked)[0], "needs a run_id")
    max_cost = None
    if request.HasField("run_max_cost_nanos"):
        nanos = check_nanos(
            request.run_max_cost_nanos, "run_max_cost_nanos", maximum=MAX_LIMIT_NANOS
        )
        max_cost = from_nanos(nanos)
    ttl = None
    if request.HasField("run_ttl"):
        ttl = duration_from_proto(request.run_ttl, "run_ttl")
        if ttl <= timedelta(0):
            raise InvalidInput("run_ttl", f"must be positive, got {ttl.total_seconds()}s")
    return RunCheck(
        run_id=run_id,
        parent_run_id=parent_run_id,
        max_cost=max_cost,
        ttl=ttl,
        max_requests=_optional_count(request, "run_max_requests"),
        max_tokens=_optional_count(request, "run_max_tokens"),
    )


def _optional_count(request: quota_pb2.CheckQuotaRequest, name: str) -> int | None:
    if not request.HasField(name):  # type: ignore[arg-type]
        return None
    value: int = getattr(request, name)
    return check_count(value, name)


def record_run_from_proto(request: quota_pb2.RecordUsageRequest) -> tuple[str, str, bool]:
    """(run_id, parent_run_id, end_run) of a record."""
    run_id, parent_run_id = _run_ids(request.run_id, request.parent_run_id)
    if request.end_run and not run_id:
        raise InvalidInput("end_run", "needs a run_id")
    return run_id, parent_run_id, request.end_run


def check_run_to_proto(request: quota_pb2.CheckQuotaRequest, run: RunCheck) -> None:
    """Write a check's run fields into `request` (the client), checked as the server will."""
    request.run_id, request.parent_run_id = _run_ids(run.run_id, run.parent_run_id)
    if run.max_cost is not None:
        request.run_max_cost_nanos = to_nanos(run.max_cost, "run_max_cost", maximum=MAX_LIMIT_NANOS)
    if run.ttl is not None:
        if run.ttl <= timedelta(0):
            raise InvalidInput("run_ttl", "must be positive")
        request.run_ttl.FromTimedelta(run.ttl)
    if run.max_requests is not None:
        request.run_max_requests = check_count(run.max_requests, "run_max_requests")
    if run.max_tokens is not None:
        request.run_max_tokens = check_count(run.max_tokens, "run_max_tokens")
    if not run.run_id and (
        run.max_cost is not None
        or run.ttl is not None
        or run.max_requests is not None
        or run.max_tokens is not None
    ):
        raise InvalidInput("run_id", "is required with run limits")


def record_run_to_proto(
    request: quota_pb2.RecordUsageRequest, run_id: str, parent_run_id: str, end_run: bool
) -> None:
    request.run_id, request.parent_run_id = _run_ids(run_id, parent_run_id)
    if end_run and not run_id:
        raise InvalidInput("end_run", "needs a run_id")
    request.end_run = end_run


def end_run_request_from_proto(request: quota_pb2.EndRunRequest) -> str:
    return validate_identifier(request.run_id, "run_id")


def run_end_to_proto(end: RunEnd) -> quota_pb2.EndRunResponse:
    return quota_pb2.EndRunResponse(
        run_id=end.run_id, was_open=end.was_open, released_holds=end.released_holds
    )


def run_end_from_proto(message: quota_pb2.EndRunResponse) -> RunEnd:
    return RunEnd(
        run_id=message.run_id, was_open=message.was_open, released_holds=message.released_holds
    )


def run_usage_to_proto(run: RunUsage) -> quota_pb2.RunUsage:
    """A run tree as GetUsage answers it (recursively: the engine bounds its size)."""
    return quota_pb2.RunUsage(
        run_id=run.run_id,
        parent_run_id=run.parent_run_id,
        ends_at=timestamp_to_proto(run.ends_at),
        ended=run.ended,
        cost_nanos=run.cost_nanos,
        held_nanos=run.held_nanos,
        requests=run.requests,
        tokens=run.tokens,
        max_cost_nanos=run.max_cost_nanos,
        max_requests=run.max_requests,
        max_tokens=run.max_tokens,
        children=[run_usage_to_proto(child) for child in run.children],
    )


def run_usage_from_proto(message: quota_pb2.RunUsage) -> RunUsage:
    def optional(name: str) -> int | None:
        return int(getattr(message, name)) if message.HasField(name) else None  # type: ignore[arg-type]

    return RunUsage(
        run_id=message.run_id,
        parent_run_id=message.parent_run_id,
        ends_at=message.ends_at.ToDatetime(tzinfo=UTC) if message.HasField("ends_at") else None,
        ended=message.ended,
        cost_nanos=message.cost_nanos,
        held_nanos=message.held_nanos,
        requests=message.requests,
        tokens=message.tokens,
        max_cost_nanos=optional("max_cost_nanos"),
        max_requests=optional("max_requests"),
        max_tokens=optional("max_tokens"),
        children=tuple(run_usage_from_proto(child) for child in message.children),
    )
