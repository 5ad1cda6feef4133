"""Alerts and alert filters between the domain types and the v1 contract (proto)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from quota_sidecar.domain.alert_filters import AlertFilter, validate_cursor
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import QuotaScope
from quota_sidecar.domain.results import AlertKind, Severity
from quota_sidecar.v1 import quota_pb2, types_pb2

# One translation of an alert, shared with the RPC replies that carry alerts.
from quota_sidecar.wire.replies import alert_from_proto, alert_to_proto

__all__ = [
    "alert_from_proto",
    "alert_to_proto",
    "filter_from_request",
    "filter_to_request",
    "heartbeat_to_proto",
]


def _timestamp(when: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def heartbeat_to_proto(cursor: str, now: datetime) -> quota_pb2.Heartbeat:
    return quota_pb2.Heartbeat(time=_timestamp(now), cursor=cursor)


def filter_from_request(request: quota_pb2.StreamAlertsRequest) -> tuple[AlertFilter, str | None]:
    """The filter and the resume cursor (None: live only) of a StreamAlerts request."""
    scopes = set()
    for value in request.scopes:
        if value == types_pb2.SCOPE_UNSPECIFIED or value not in types_pb2.Scope.values():
            raise InvalidInput("scopes", f"invalid scope {value}")
        scopes.add(QuotaScope(types_pb2.Scope.Name(value).removeprefix("SCOPE_").lower()))
    kinds = set()
    for kind in request.kinds:
        if kind == types_pb2.ALERT_KIND_UNSPECIFIED or kind not in types_pb2.AlertKind.values():
            raise InvalidInput("kinds", f"invalid alert kind {kind}")
        kinds.add(AlertKind(types_pb2.AlertKind.Name(kind).removeprefix("ALERT_KIND_")))
    severity: Severity | None = None
    if request.min_severity != types_pb2.SEVERITY_UNSPECIFIED:
        if request.min_severity not in types_pb2.Severity.values():
            raise InvalidInput("min_severity", f"invalid severity {request.min_severity}")
        severity = Severity(types_pb2.Severity.Name(request.min_severity).removeprefix("SEVERITY_"))
    for identifier in request.identifiers:
        if not identifier:
            raise InvalidInput("identifiers", "must not contain empty identifiers")
    flt = AlertFilter(
        scopes=frozenset(scopes),
        identifiers=frozenset(request.identifiers),
        kinds=frozenset(kinds),
        min_severity=severity,
    )
    cursor = validate_cursor(request.cursor) if request.cursor else None
    return flt, cursor


def filter_to_request(flt: AlertFilter, cursor: str | None = None) -> quota_pb2.StreamAlertsRequest:
    """A StreamAlerts request for a filter (clients and the CLI)."""
    return quota_pb2.StreamAlertsRequest(
        scopes=[types_pb2.Scope.Value(f"SCOPE_{s.value.upper()}") for s in sorted(flt.scopes)],
        identifiers=sorted(flt.identifiers),
        kinds=[types_pb2.AlertKind.Value(f"ALERT_KIND_{k.value}") for k in sorted(flt.kinds)],
        min_severity=(
            types_pb2.Severity.Value(f"SEVERITY_{flt.min_severity.value}")
            if flt.min_severity
            else types_pb2.SEVERITY_UNSPECIFIED
        ),
        cursor=cursor or "",
    )
