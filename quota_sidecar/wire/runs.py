"""Proto ⇄ domain translation of run budgets' answers: the run tree (RunUsage) and EndRun's
outcome (RunEnd), in both directions. The run fields of CheckQuota and RecordUsage are
quota_sidecar.wire.requests'; whether a run is open, its depth, and the template's caps are the
engine's to decide.
"""

from __future__ import annotations

from datetime import UTC

from quota_sidecar.domain.models import validate_identifier
from quota_sidecar.domain.results import RunEnd, RunUsage
from quota_sidecar.v1 import quota_pb2
from quota_sidecar.wire.fields import timestamp_to_proto

__all__ = [
    "end_run_request_from_proto",
    "run_end_from_proto",
    "run_end_to_proto",
    "run_usage_from_proto",
    "run_usage_to_proto",
]


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
