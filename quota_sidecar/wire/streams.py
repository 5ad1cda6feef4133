"""ExtendReservation <-> the domain: the request's fields (validated once, here) and the
HoldExtension result, both ways (the servicer answers with one, the client reads one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import DenialCode, LimitKind
from quota_sidecar.domain.money import check_nanos
from quota_sidecar.domain.results import HoldExtension
from quota_sidecar.v1 import quota_pb2
from quota_sidecar.wire.fields import (
    MAX_LEASE,
    check_count,
    check_short_text,
    denial_to_proto,
    duration_from_proto,
    duration_to_proto,
    limit_to_proto,
    reservation_id_from_proto,
    subject_to_proto,
)
from quota_sidecar.wire.replies import _optional_subject, _span, enum_from_proto

__all__ = [
    "ExtensionAsk",
    "extension_from_proto",
    "extension_request",
    "extension_request_from_proto",
    "extension_to_proto",
]


@dataclass(frozen=True, slots=True)
class ExtensionAsk:
    """What an ExtendReservationRequest asks for, validated."""

    reservation_id: str
    hold_cost_nanos: int | None
    input_tokens: int
    output_tokens: int
    provider: str
    model: str
    lease: timedelta | None


def extension_request_from_proto(request: quota_pb2.ExtendReservationRequest) -> ExtensionAsk:
    reservation_id = reservation_id_from_proto(request.reservation_id)
    if reservation_id is None:
        raise InvalidInput("reservation_id", "is required")
    cost = request.hold_cost_nanos
    lease = None
    if request.HasField("reservation_lease"):
        lease = duration_from_proto(request.reservation_lease, "reservation_lease")
        if not timedelta(0) < lease <= MAX_LEASE:
            raise InvalidInput("reservation_lease", "must be more than 0 and at most 24 hours")
    return ExtensionAsk(
        reservation_id=reservation_id,
        hold_cost_nanos=check_nanos(cost, "hold_cost_nanos") if cost else None,
        input_tokens=check_count(request.input_tokens, "input_tokens"),
        output_tokens=check_count(request.output_tokens, "output_tokens"),
        provider=check_short_text(request.provider, "provider"),
        model=check_short_text(request.model, "model"),
        lease=lease,
    )


def extension_request(ask: ExtensionAsk) -> quota_pb2.ExtendReservationRequest:
    """The request a client sends (money already in nanos)."""
    request = quota_pb2.ExtendReservationRequest(
        reservation_id=ask.reservation_id,
        hold_cost_nanos=ask.hold_cost_nanos or 0,
        input_tokens=ask.input_tokens,
        output_tokens=ask.output_tokens,
        provider=ask.provider,
        model=ask.model,
    )
    if ask.lease is not None:
        request.reservation_lease.CopyFrom(duration_to_proto(ask.lease) or Duration())
    return request


def extension_to_proto(result: HoldExtension) -> quota_pb2.ExtendReservationResponse:
    response = quota_pb2.ExtendReservationResponse(
        extended=result.extended,
        hold_cost_nanos=result.hold_cost_nanos,
        code=denial_to_proto(result.code),
        reason=result.reason,
        denied_limit=limit_to_proto(result.denied_limit),
    )
    if result.denied_subject is not None:
        response.denied_subject.CopyFrom(subject_to_proto(result.denied_subject))
    if result.retry_after is not None:
        response.retry_after.CopyFrom(duration_to_proto(result.retry_after) or Duration())
    return response


def extension_from_proto(message: quota_pb2.ExtendReservationResponse) -> HoldExtension:
    return HoldExtension(
        extended=message.extended,
        hold_cost_nanos=int(message.hold_cost_nanos),
        code=enum_from_proto(DenialCode, message.code),
        reason=message.reason,
        denied_subject=_optional_subject(message, "denied_subject"),
        denied_limit=enum_from_proto(LimitKind, message.denied_limit),
        retry_after=_span(message, "retry_after"),
    )
