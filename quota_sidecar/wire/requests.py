"""Proto ⇄ domain requests of the data plane: CheckQuota, RecordUsage, GetUsage and
ExtendReservation as CheckRequest, RecordRequest, UsageRequest and ExtendRequest (the servicer
reads them), and back (the Python client writes them).

Reading converts what only the proto has (scopes as enum values, Durations, presence of the
optional run fields, 0 as "no cost"), naming the proto field of a bad value, and then hands the
request to quota_sidecar.domain.validation, which checks every field once, with the bounds
every surface shares. The engine checks nothing again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import Subject, validate_identifier
from quota_sidecar.domain.requests import (
    NO_RUN,
    CheckRequest,
    ExtendRequest,
    RecordRequest,
    RunLimits,
    UsageRequest,
)
from quota_sidecar.domain.validation import (
    MAX_SUBJECTS,
    checked_check,
    checked_extension,
    checked_record,
)
from quota_sidecar.v1 import quota_pb2, types_pb2
from quota_sidecar.wire.fields import (
    duration_from_proto,
    duration_to_proto,
    required_subject_from_proto,
    subject_from_proto,
    subject_to_proto,
)

__all__ = [
    "check_from_proto",
    "check_to_proto",
    "extension_from_proto",
    "extension_to_proto",
    "record_from_proto",
    "record_to_proto",
    "run_from_proto",
    "run_to_proto",
    "usage_from_proto",
]


def _subjects(subjects: Sequence[types_pb2.Subject]) -> tuple[Subject, ...]:
    """Each subject converted, naming its index; how many, and repeats, are validation's."""
    if len(subjects) > MAX_SUBJECTS:  # before converting a flood of them
        raise InvalidInput("subjects", f"at most {MAX_SUBJECTS} subjects, got {len(subjects)}")
    found = []
    for index, subject in enumerate(subjects):  # a loop: no generator call per subject
        found.append(subject_from_proto(subject, f"subjects[{index}]"))
    return tuple(found)


def _lease(
    message: quota_pb2.CheckQuotaRequest | quota_pb2.ExtendReservationRequest,
) -> timedelta | None:
    if not message.HasField("reservation_lease"):
        return None
    return duration_from_proto(message.reservation_lease, "reservation_lease")


def run_from_proto(request: quota_pb2.CheckQuotaRequest) -> RunLimits:
    """A check's run fields; the unset optional limits are None (the template's)."""
    run_id, parent_run_id = request.run_id, request.parent_run_id
    cost = request.HasField("run_max_cost_nanos")
    ttl = request.HasField("run_ttl")
    max_requests = request.HasField("run_max_requests")
    max_tokens = request.HasField("run_max_tokens")
    if not (run_id or parent_run_id or cost or ttl or max_requests or max_tokens):
        return NO_RUN
    return RunLimits(
        run_id=run_id,
        parent_run_id=parent_run_id,
        max_cost_nanos=request.run_max_cost_nanos if cost else None,
        ttl=duration_from_proto(request.run_ttl, "run_ttl") if ttl else None,
        max_requests=request.run_max_requests if max_requests else None,
        max_tokens=request.run_max_tokens if max_tokens else None,
    )


def run_to_proto(request: quota_pb2.CheckQuotaRequest, run: RunLimits) -> None:
    request.run_id, request.parent_run_id = run.run_id, run.parent_run_id
    if run.max_cost_nanos is not None:
        request.run_max_cost_nanos = run.max_cost_nanos
    if run.ttl is not None:
        request.run_ttl.CopyFrom(duration_to_proto(run.ttl) or Duration())
    if run.max_requests is not None:
        request.run_max_requests = run.max_requests
    if run.max_tokens is not None:
        request.run_max_tokens = run.max_tokens


def check_from_proto(
    request: quota_pb2.CheckQuotaRequest, timeout: float | None = None
) -> CheckRequest:
    """`timeout`: the call's deadline (past it, nothing is held or counted)."""
    lease = _lease(request)
    return checked_check(
        CheckRequest(
            subjects=_subjects(request.subjects),
            estimated_cost_nanos=request.estimated_cost_nanos,
            estimated_tokens=request.estimated_tokens,
            estimated_input_tokens=request.estimated_input_tokens,
            estimated_output_tokens=request.estimated_output_tokens,
            tool_name=request.tool_name,
            provider=request.provider,
            model=request.model,
            request_id=request.request_id,
            reserve=request.reserve,
            reservation_lease=lease,
            skip_model_subject=request.skip_model_subject,
            run=run_from_proto(request),
            estimate_from_history=request.estimate_from_history,
            timeout=timeout,
        )
    )


def check_to_proto(req: CheckRequest) -> quota_pb2.CheckQuotaRequest:
    """The request a client sends for a checked CheckRequest."""
    request = quota_pb2.CheckQuotaRequest(
        subjects=[subject_to_proto(s) for s in req.subjects],
        estimated_cost_nanos=req.estimated_cost_nanos,
        estimated_tokens=req.estimated_tokens,
        tool_name=req.tool_name,
        provider=req.provider,
        reserve=req.reserve,
        request_id=req.request_id,
        reservation_lease=duration_to_proto(req.reservation_lease),
        model=req.model,
        estimated_input_tokens=req.estimated_input_tokens,
        estimated_output_tokens=req.estimated_output_tokens,
        skip_model_subject=req.skip_model_subject,
        estimate_from_history=req.estimate_from_history,
    )
    run_to_proto(request, req.run)
    return request


def record_from_proto(
    request: quota_pb2.RecordUsageRequest, timeout: float | None = None
) -> RecordRequest:
    """A record (not a release: see the servicer). `cost_nanos` 0 is "no cost given": with a
    model and tokens the sidecar prices them (see RecordUsageRequest.cost_nanos)."""
    return checked_record(
        RecordRequest(
            subjects=_subjects(request.subjects),
            cost_nanos=request.cost_nanos or None,
            provider=request.provider,
            tool_name=request.tool_name,
            model=request.model,
            input_tokens=request.input_tokens,
            output_tokens=request.output_tokens,
            cache_read_tokens=request.cache_read_tokens,
            cache_write_tokens=request.cache_write_tokens,
            idempotency_key=request.idempotency_key,
            reservation_id=request.reservation_id or None,
            skip_model_subject=request.skip_model_subject,
            run_id=request.run_id,
            parent_run_id=request.parent_run_id,
            end_run=request.end_run,
            cut_short=request.cut_short,
            timeout=timeout,
        )
    )


def record_to_proto(req: RecordRequest) -> quota_pb2.RecordUsageRequest:
    """The request a client sends for a checked RecordRequest; its idempotency key is set."""
    request = quota_pb2.RecordUsageRequest(
        subjects=[subject_to_proto(s) for s in req.subjects],
        provider=req.provider,
        tool_name=req.tool_name,
        input_tokens=req.input_tokens,
        output_tokens=req.output_tokens,
        cache_read_tokens=req.cache_read_tokens,
        cache_write_tokens=req.cache_write_tokens,
        idempotency_key=req.idempotency_key,
        reservation_id=req.reservation_id or "",
        model=req.model,
        skip_model_subject=req.skip_model_subject,
        run_id=req.run_id,
        parent_run_id=req.parent_run_id,
        end_run=req.end_run,
        cut_short=req.cut_short,
    )
    if req.cost_nanos is not None:
        request.cost_nanos = req.cost_nanos  # an explicit cost, even 0 (see the client)
    return request


def usage_from_proto(request: quota_pb2.GetUsageRequest) -> UsageRequest:
    subject = required_subject_from_proto(request)
    tenant = validate_identifier(request.tenant, "tenant") if request.tenant else ""
    return UsageRequest(subject, tenant)


def extension_from_proto(
    request: quota_pb2.ExtendReservationRequest, timeout: float | None = None
) -> ExtendRequest:
    lease = _lease(request)
    return checked_extension(
        ExtendRequest(
            reservation_id=request.reservation_id,
            hold_cost_nanos=request.hold_cost_nanos or None,
            input_tokens=request.input_tokens,
            output_tokens=request.output_tokens,
            provider=request.provider,
            model=request.model,
            reservation_lease=lease,
            timeout=timeout,
        )
    )


def extension_to_proto(req: ExtendRequest) -> quota_pb2.ExtendReservationRequest:
    """The request a client sends for a checked ExtendRequest."""
    request = quota_pb2.ExtendReservationRequest(
        reservation_id=req.reservation_id,
        hold_cost_nanos=req.hold_cost_nanos or 0,
        input_tokens=req.input_tokens,
        output_tokens=req.output_tokens,
        provider=req.provider,
        model=req.model,
    )
    if req.reservation_lease is not None:
        request.reservation_lease.CopyFrom(duration_to_proto(req.reservation_lease) or Duration())
    return request
