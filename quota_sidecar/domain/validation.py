"""Validation of the data-plane inputs, shared by the engine, the gRPC servicers and the remote
client (which checks subjects before it sends). Part of the domain, so the client needs no engine.
Every failure is InvalidInput naming the field, raised before anything is written."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import QuotaScope, Subject, parse_scope, validate_identifier
from quota_sidecar.domain.money import Money, check_nanos, to_nanos

__all__ = [
    "MAX_SUBJECTS",
    "MAX_TOKENS",
    "check_label",
    "check_lease",
    "check_tokens",
    "money_nanos",
    "resolve_subjects",
]

MAX_SUBJECTS = 8
MAX_TOKENS = 10**10
MAX_LABEL = 128
MIN_LEASE = timedelta(seconds=1)
MAX_LEASE = timedelta(hours=24)
_LABEL = re.compile(r"^[^\x00-\x1f\x7f]*$")


def resolve_subjects(
    scope: QuotaScope | str | None,
    identifier: str | None,
    subjects: Sequence[Subject] | None,
) -> list[Subject]:
    """The subjects of a call: `subjects`, or the one named by scope and identifier."""
    if subjects is not None:
        if scope is not None or identifier is not None:
            raise InvalidInput("subjects", "give either subjects or scope and identifier")
        found = list(subjects)
    else:
        if scope is None:
            raise InvalidInput("scope", "is required")
        found = [Subject(parse_scope(scope), validate_identifier(identifier))]
    if not found:
        raise InvalidInput("subjects", "at least one subject is required")
    if len(found) > MAX_SUBJECTS:
        raise InvalidInput("subjects", f"at most {MAX_SUBJECTS} subjects per call")
    if len(set(found)) != len(found):
        raise InvalidInput("subjects", "a subject is named twice")
    return found


def money_nanos(dollars: Money, nanos: int | None, field: str) -> int:
    """An amount given either in dollars (seed API) or in nanos (gRPC)."""
    if nanos is not None:
        if isinstance(nanos, bool) or not isinstance(nanos, int):
            raise InvalidInput(f"{field}_nanos", "must be a whole number of nanos")
        return check_nanos(nanos, f"{field}_nanos")
    return to_nanos(dollars, field)


def check_tokens(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"must be a whole number, got {value!r}")
    if not 0 <= value <= MAX_TOKENS:
        raise InvalidInput(field, f"must be between 0 and {MAX_TOKENS}, got {value}")
    return value


def check_label(value: str, field: str) -> str:
    """A free-text name (tool, provider, request id): bounded and printable."""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string")
    if len(value) > MAX_LABEL:
        raise InvalidInput(field, f"is longer than {MAX_LABEL} characters")
    if not _LABEL.match(value):
        raise InvalidInput(field, "must not contain control characters")
    return value


def check_lease(lease: timedelta | None, default: timedelta) -> timedelta:
    if lease is None:
        return default
    if not MIN_LEASE <= lease <= MAX_LEASE:
        raise InvalidInput("reservation_lease", "must be between 1 second and 24 hours")
    return lease
