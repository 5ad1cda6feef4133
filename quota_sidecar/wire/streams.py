"""ExtendReservation's answer <-> the domain: the HoldExtension result, both ways (the servicer
answers with one, the client reads one). The request is quota_sidecar.wire.requests'."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration

from quota_sidecar.domain.models import DenialCode, LimitKind
from quota_sidecar.domain.results import HoldExtension
from quota_sidecar.v1 import quota_pb2
from quota_sidecar.wire.fields import (
    denial_to_proto,
    duration_to_proto,
    limit_to_proto,
    subject_to_proto,
)
from quota_sidecar.wire.replies import _optional_subject, _span, enum_from_proto

__all__ = [
    "extension_from_proto",
    "extension_to_proto",
]


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
