"""Proto ⇄ domain translation of the shared fields: counts, free text, ids, page sizes,
timestamps, durations, enums and subjects. Nothing here decides anything: it names the proto
field of every bad input (as InvalidInput, which the interceptor turns into INVALID_ARGUMENT)
and copies values across. Validation that needs the store or the clock is the engine's.
The conventions of every wire module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from quota_sidecar.domain import validation
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import (
    DenialCode,
    FailureMode,
    LimitKind,
    QuotaScope,
    Subject,
)
from quota_sidecar.domain.validation import MAX_LABEL, MAX_SUBJECTS
from quota_sidecar.v1 import quota_pb2, types_pb2

__all__ = [
    "LIMIT_VALUES",
    "SCOPE_VALUES",
    "check_count",
    "check_short_text",
    "denial_to_proto",
    "duration_from_proto",
    "duration_parts",
    "duration_to_proto",
    "failure_mode_from_proto",
    "failure_mode_to_proto",
    "lease_from_proto",
    "lease_to_proto",
    "limit_from_proto",
    "limit_to_proto",
    "optional_subject_from_proto",
    "page_size_from_proto",
    "required_subject_from_proto",
    "reservation_id_from_proto",
    "scope_from_proto",
    "scope_to_proto",
    "subject_from_proto",
    "subject_to_proto",
    "subjects_from_proto",
    "timestamp_from_proto",
    "timestamp_parts",
    "timestamp_to_proto",
]

MAX_TEXT = MAX_LABEL  # free text: the bound every surface shares (domain/validation.py)


# --- scalars ---------------------------------------------------------------------------------
def check_count(value: int, field: str) -> int:
    """A count in an admin request (an override's value, a quota limit): 0 to MAX_COUNT."""
    return validation.check_count(value, field)


def check_short_text(value: str, field: str, *, required: bool = False) -> str:
    """Free text such as an actor or a reason: at most MAX_LABEL characters, printable."""
    if required and not value.strip():
        raise InvalidInput(field, "is required")
    return validation.check_label(value, field)


def reservation_id_from_proto(value: str, field: str = "reservation_id") -> str | None:
    return validation.check_reservation_id(value, field)


def page_size_from_proto(value: int, field: str = "page_size") -> int:
    if value == 0:
        return 100
    if not 1 <= value <= 1000:
        raise InvalidInput(field, f"must be 1-1000 (0 means 100), got {value}")
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A Duration's valid range (google/protobuf/duration.proto: about 10,000 years).
_MAX_DURATION_SECONDS = 315_576_000_000


def timestamp_parts(when: datetime) -> tuple[int, int]:
    """A Timestamp's (seconds, nanos). Plain arithmetic: Timestamp.FromDatetime is several
    times slower, and every check answers with a reset time per limit."""
    delta = when - _EPOCH
    return delta.days * 86_400 + delta.seconds, delta.microseconds * 1000


def timestamp_to_proto(when: datetime | None) -> Timestamp | None:
    if when is None:
        return None
    seconds, nanos = timestamp_parts(when)
    return Timestamp(seconds=seconds, nanos=nanos)


def timestamp_from_proto(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def duration_parts(span: timedelta) -> tuple[int, int]:
    """A Duration's (seconds, nanos)."""
    seconds = span.days * 86_400 + span.seconds
    if seconds < 0 and span.microseconds:  # Duration wants seconds and nanos of one sign
        return seconds + 1, (span.microseconds - 1_000_000) * 1000
    return seconds, span.microseconds * 1000


def duration_to_proto(span: timedelta | None) -> Duration | None:
    if span is None:
        return None
    seconds, nanos = duration_parts(span)
    return Duration(seconds=seconds, nanos=nanos)


def duration_from_proto(duration: Duration, field: str) -> timedelta:
    """A Duration as a timedelta, or InvalidInput naming `field`: seconds beyond what a
    timedelta holds (about ±2.7e12 s, the proto allows ±2^63) or mixed signs are a caller's
    mistake, never an OverflowError."""
    seconds, nanos = duration.seconds, duration.nanos
    if not -_MAX_DURATION_SECONDS <= seconds <= _MAX_DURATION_SECONDS:
        raise InvalidInput(field, f"seconds must be within ±{_MAX_DURATION_SECONDS}")
    mixed = seconds and nanos and (seconds < 0) != (nanos < 0)
    if not -999_999_999 <= nanos <= 999_999_999 or mixed:
        raise InvalidInput(field, "nanos must be within ±999999999, of the seconds' sign")
    micros = abs(nanos) // 1000  # toward zero, as Duration.ToTimedelta does
    return timedelta(seconds=seconds, microseconds=micros if nanos >= 0 else -micros)


# --- enums -----------------------------------------------------------------------------------
_SCOPES = {scope: types_pb2.Scope.Value("SCOPE_" + scope.value.upper()) for scope in QuotaScope}
_SCOPE_OF = {value: scope for scope, value in _SCOPES.items()}
SCOPE_VALUES: Mapping[QuotaScope, types_pb2.Scope.ValueType] = _SCOPES  # scope_to_proto's map


def scope_from_proto(value: int, field: str = "scope") -> QuotaScope:
    if value == types_pb2.SCOPE_UNSPECIFIED:
        raise InvalidInput(field, "must be set (SCOPE_USER, SCOPE_TOOL, ...)")
    if value not in _SCOPE_OF:
        raise InvalidInput(field, f"unknown scope {value}")
    return _SCOPE_OF[value]  # type: ignore[index]


def scope_to_proto(scope: QuotaScope) -> types_pb2.Scope.ValueType:
    return _SCOPES[scope]


_LIMITS = {
    kind: types_pb2.LimitKind.Value("LIMIT_KIND_" + kind.value.upper()) for kind in LimitKind
}
_LIMIT_OF = {value: kind for kind, value in _LIMITS.items()}
LIMIT_VALUES: Mapping[LimitKind, types_pb2.LimitKind.ValueType] = _LIMITS  # limit_to_proto's


def limit_from_proto(value: int, field: str = "limit") -> LimitKind:
    if value == types_pb2.LIMIT_KIND_UNSPECIFIED:
        raise InvalidInput(field, "must be set (LIMIT_KIND_COST_DAILY, ...)")
    if value not in _LIMIT_OF:
        raise InvalidInput(field, f"unknown limit {value}")
    return _LIMIT_OF[value]  # type: ignore[index]


def limit_to_proto(limit: LimitKind | None) -> types_pb2.LimitKind.ValueType:
    if limit is None:
        return types_pb2.LIMIT_KIND_UNSPECIFIED
    return _LIMITS[limit]


def failure_mode_from_proto(value: int, default: FailureMode, field: str) -> FailureMode:
    if value == types_pb2.FAILURE_MODE_UNSPECIFIED:
        return default
    if value == types_pb2.FAILURE_MODE_OPEN:
        return FailureMode.OPEN
    if value == types_pb2.FAILURE_MODE_CLOSED:
        return FailureMode.CLOSED
    raise InvalidInput(field, f"unknown failure mode {value}")


def failure_mode_to_proto(mode: FailureMode) -> types_pb2.FailureMode.ValueType:
    if mode is FailureMode.OPEN:
        return types_pb2.FAILURE_MODE_OPEN
    return types_pb2.FAILURE_MODE_CLOSED


_LEASE_MODES = {
    types_pb2.LEASE_MODE_UNSPECIFIED: "off",
    types_pb2.LEASE_MODE_OFF: "off",
    types_pb2.LEASE_MODE_AUTO: "auto",
}


def lease_from_proto(value: int, field: str) -> str:
    """A quota's `lease` (domain/models.py LEASE_MODES) from its proto enum."""
    found = _LEASE_MODES.get(value)  # type: ignore[call-overload]
    if found is None:
        raise InvalidInput(field, f"unknown lease mode {value}")
    return str(found)


def lease_to_proto(lease: str) -> types_pb2.LeaseMode.ValueType:
    # Off stays unset, so a quota without leases reads back as it always did.
    return types_pb2.LEASE_MODE_AUTO if lease == "auto" else types_pb2.LEASE_MODE_UNSPECIFIED


def denial_to_proto(code: DenialCode | None) -> quota_pb2.DenialCode.ValueType:
    if code is None:
        return quota_pb2.DENIAL_CODE_UNSPECIFIED
    return quota_pb2.DenialCode.Value("DENIAL_CODE_" + code.value)


# --- subjects --------------------------------------------------------------------------------
def subject_from_proto(subject: types_pb2.Subject, field: str = "subject") -> Subject:
    scope = scope_from_proto(subject.scope, f"{field}.scope")
    try:
        return Subject(scope, subject.identifier)  # which checks the identifier, once
    except InvalidInput as exc:
        raise InvalidInput(f"{field}.identifier", exc.message) from None


def optional_subject_from_proto(message: Any, field: str = "subject") -> Subject | None:
    """The `subject` of a request where leaving it unset means "all"."""
    if not message.HasField(field):
        return None
    return subject_from_proto(getattr(message, field), field)


def required_subject_from_proto(message: Any, name: str = "subject", where: str = "") -> Subject:
    """The `name` subject of `message`, which must be set; `where` prefixes the field's path."""
    field = f"{where}.{name}" if where else name
    if not message.HasField(name):
        raise InvalidInput(field, "is required")
    return subject_from_proto(getattr(message, name), field)


def subjects_from_proto(
    subjects: Sequence[types_pb2.Subject], field: str = "subjects"
) -> list[Subject]:
    """1 to 8 distinct subjects."""
    if not subjects:
        raise InvalidInput(field, "must name at least one subject")
    if len(subjects) > MAX_SUBJECTS:
        raise InvalidInput(field, f"at most {MAX_SUBJECTS} subjects, got {len(subjects)}")
    parsed: list[Subject] = []
    for index, subject in enumerate(subjects):
        one = subject_from_proto(subject, f"{field}[{index}]")
        if one in parsed:
            raise InvalidInput(f"{field}[{index}]", f"repeats subject {one}")
        parsed.append(one)
    return parsed


def subject_to_proto(subject: Subject) -> types_pb2.Subject:
    return types_pb2.Subject(scope=scope_to_proto(subject.scope), identifier=subject.identifier)
