"""Every bound of a data-plane field, and the rules that apply them, in one place: the wire (a
proto), the seed-compatible facade and the Python client (keyword arguments) build a request
object (quota_sidecar.domain.requests) and hand it to `checked_check`, `checked_record` or
`checked_extension`, which run each field's rule once. The engine trusts what they return. So
no surface can accept what another refuses, and a field's error names it the same everywhere.

Every failure is InvalidInput naming the field, raised before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import (
    MAX_COUNT_LIMIT,
    QuotaScope,
    Subject,
    parse_scope,
    validate_identifier,
)
from quota_sidecar.domain.money import MAX_AMOUNT_NANOS, Money, check_nanos, to_nanos
from quota_sidecar.domain.requests import (
    NO_RUN,
    CheckRequest,
    ExtendRequest,
    RecordRequest,
    RunLimits,
)

__all__ = [
    "MAX_COUNT",
    "MAX_LABEL",
    "MAX_LEASE",
    "MAX_RESERVATION_ID",
    "MAX_RUN_COST_NANOS",
    "MAX_SUBJECTS",
    "MAX_TOKENS",
    "MIN_LEASE",
    "check_count",
    "check_label",
    "check_lease",
    "check_reservation_id",
    "check_subjects",
    "checked_check",
    "checked_extension",
    "checked_record",
    "money_nanos",
    "resolve_subjects",
    "run_limits",
]

MAX_SUBJECTS = 8
# Tokens and requests of one call: the bound of every count in a quota, so an estimate can be
# as large as a limit and a window's sum stays far inside Lua's exact integers (2**53).
MAX_COUNT = MAX_COUNT_LIMIT
MAX_TOKENS = MAX_COUNT  # the name the pricing and the Envoy mapping know it by
MAX_LABEL = 128
MAX_RESERVATION_ID = 512
# A hold's lease: whole seconds at least (a hold shorter than a second would expire before most
# calls it guards have started), a day at most.
MIN_LEASE = timedelta(seconds=1)
MAX_LEASE = timedelta(hours=24)
# What a call may ask a run's budget to be: an amount, as any one call's cost.
MAX_RUN_COST_NANOS = MAX_AMOUNT_NANOS
_LABEL = re.compile(r"^[^\x00-\x1f\x7f]*$")
# Reservation ids are opaque to the surfaces; the engine parses them. This only keeps out what
# no id the engine hands out can contain (whitespace, control characters).
_PRINTABLE = re.compile(r"^[^\s\x00-\x1f\x7f]+$")


# --- one field ---------------------------------------------------------------------------------
def check_count(value: int, field: str) -> int:
    """A token or request count: a whole number from 0 to MAX_COUNT."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"must be a whole number, got {value!r}")
    if not 0 <= value <= MAX_COUNT:
        raise InvalidInput(field, f"must be between 0 and {MAX_COUNT}, got {value}")
    return value


def check_label(value: str, field: str) -> str:
    """A free-text name (tool, provider, model, request id, key): bounded and printable."""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string")
    if len(value) > MAX_LABEL:
        raise InvalidInput(field, f"is longer than {MAX_LABEL} characters")
    if not _LABEL.match(value):
        raise InvalidInput(field, "must not contain control characters")
    return value


def check_lease(lease: timedelta | None, field: str = "reservation_lease") -> timedelta | None:
    """A hold's lease, or None for the engine's default."""
    if lease is not None and not MIN_LEASE <= lease <= MAX_LEASE:
        raise InvalidInput(field, "must be between 1 second and 24 hours")
    return lease


def check_reservation_id(value: str | None, field: str = "reservation_id") -> str | None:
    if not value:
        return None
    if len(value) > MAX_RESERVATION_ID or not _PRINTABLE.match(value):
        raise InvalidInput(field, "is not a reservation id returned by CheckQuota")
    return value


def money_nanos(dollars: Money, nanos: int | None, field: str) -> int:
    """An amount given either in dollars (seed API; errors name `field`) or in nanos (errors
    name `<field>_nanos`). Nanos are only typed here: their bound is checked_*'s, once."""
    if nanos is not None:
        if isinstance(nanos, bool) or not isinstance(nanos, int):
            raise InvalidInput(f"{field}_nanos", "must be a whole number of nanos")
        return nanos
    return to_nanos(dollars, field)


def run_limits(
    run_id: str,
    parent_run_id: str,
    *,
    max_cost: Money | None,
    ttl: timedelta | None,
    max_requests: int | None,
    max_tokens: int | None,
) -> RunLimits:
    """The run fields of a keyword call; `max_cost` in dollars (errors name run_max_cost)."""
    given = (max_cost, ttl, max_requests, max_tokens)
    if not (run_id or parent_run_id) and given == (None, None, None, None):
        return NO_RUN
    nanos = None
    if max_cost is not None:
        nanos = to_nanos(max_cost, "run_max_cost", maximum=MAX_RUN_COST_NANOS)
    return RunLimits(run_id, parent_run_id, nanos, ttl, max_requests, max_tokens)


# --- subjects ----------------------------------------------------------------------------------
def check_subjects(subjects: Sequence[Subject], field: str = "subjects") -> tuple[Subject, ...]:
    """1 to MAX_SUBJECTS distinct subjects, none of them a run; a repeat names its index."""
    if not subjects:
        raise InvalidInput(field, "at least one subject is required")
    if len(subjects) > MAX_SUBJECTS:
        raise InvalidInput(field, f"at most {MAX_SUBJECTS} subjects per call, got {len(subjects)}")
    found = tuple(subjects)
    for subject in found:  # a loop, not any(): no call per subject on the hot path
        if subject.scope is QuotaScope.RUN:
            # A run among the subjects would be charged without its ancestors.
            raise InvalidInput(field, "name a run by run_id, never as a subject")
    if len(set(found)) != len(found):
        index = next(i for i, s in enumerate(found) if s in found[:i])
        raise InvalidInput(f"{field}[{index}]", f"repeats subject {found[index]}")
    return found


def resolve_subjects(
    scope: QuotaScope | str | None,
    identifier: str | None,
    subjects: Sequence[Subject] | None,
) -> tuple[Subject, ...]:
    """The subjects a keyword call names: `subjects`, or the one named by scope and identifier
    (not yet checked: checked_check and checked_record do that)."""
    if subjects is not None:
        if scope is not None or identifier is not None:
            raise InvalidInput("subjects", "give either subjects or scope and identifier")
        return tuple(subjects)
    if scope is None:
        raise InvalidInput("scope", "is required")
    return (Subject(parse_scope(scope), validate_identifier(identifier)),)


# --- whole requests ----------------------------------------------------------------------------
def _check_model(provider: str, model: str) -> None:
    check_label(provider, "provider")
    check_label(model, "model")
    if model and not provider:
        raise InvalidInput("provider", _PROVIDER_NEEDED)


def _check_run_ids(run_id: str, parent_run_id: str) -> None:
    if run_id:
        validate_identifier(run_id, "run_id")
    if parent_run_id:
        if not run_id:
            raise InvalidInput("parent_run_id", "needs a run_id")
        validate_identifier(parent_run_id, "parent_run_id")


def _check_run(run: RunLimits) -> None:
    _check_run_ids(run.run_id, run.parent_run_id)
    if not run.asks:
        return
    if not run.run_id:
        asked = (
            (run.max_cost_nanos, "run_max_cost_nanos"),
            (run.max_requests, "run_max_requests"),
            (run.max_tokens, "run_max_tokens"),
            (run.ttl, "run_ttl"),
        )
        raise InvalidInput(next(f for v, f in asked if v is not None), "needs a run_id")
    if run.max_cost_nanos is not None:
        check_nanos(run.max_cost_nanos, "run_max_cost_nanos", maximum=MAX_RUN_COST_NANOS)
    if run.ttl is not None and run.ttl <= timedelta(0):
        raise InvalidInput("run_ttl", f"must be positive, got {run.ttl.total_seconds()}s")
    if run.max_requests is not None:
        check_count(run.max_requests, "run_max_requests")
    if run.max_tokens is not None:
        check_count(run.max_tokens, "run_max_tokens")


def _counts_ok(*values: int) -> bool:
    """Whether every value is a count in bounds: one call for all of a request's counts (the
    hot path); a failure is named by check_count, field by field."""
    for value in values:  # noqa: SIM110 - all() over a generator costs a call per value
        if value.__class__ is not int or not 0 <= value <= MAX_COUNT:  # bool is not int here
            return False
    return True


def _labels_ok(*values: str) -> bool:
    """Whether every value is a label in bounds: one match over all of them (the hot path); a
    failure is named by check_label, field by field."""
    for value in values:
        if value.__class__ is not str or len(value) > MAX_LABEL:
            return False
    return _LABEL.match("".join(values)) is not None


def checked_check(req: CheckRequest) -> CheckRequest:
    """`req`, with every field checked once."""
    check_subjects(req.subjects)
    check_nanos(req.estimated_cost_nanos, "estimated_cost_nanos")
    counts = (req.estimated_tokens, req.estimated_input_tokens, req.estimated_output_tokens)
    if not _counts_ok(*counts, req.requests):
        for value, field in zip(counts, _CHECK_COUNTS, strict=True):
            check_count(value, field)
        check_count(req.requests, "requests")
    labels = (req.tool_name, req.request_id, req.provider, req.model)
    if not _labels_ok(*labels):
        for label, field in zip(labels, _CHECK_LABELS, strict=True):
            check_label(label, field)
    if req.model and not req.provider:
        raise InvalidInput("provider", _PROVIDER_NEEDED)
    if req.reservation_lease is not None:
        check_lease(req.reservation_lease)
    if req.run is not NO_RUN:
        _check_run(req.run)
    return req


_CHECK_COUNTS = ("estimated_tokens", "estimated_input_tokens", "estimated_output_tokens")
_CHECK_LABELS = ("tool_name", "request_id", "provider", "model")
_PROVIDER_NEEDED = "is required with a model (the model is the provider's)"


def checked_record(req: RecordRequest) -> RecordRequest:
    """`req`, with every field checked once."""
    check_subjects(req.subjects)
    if req.cost_nanos is not None:
        check_nanos(req.cost_nanos, "cost_nanos")
    for value, field in (
        (req.input_tokens, "input_tokens"),
        (req.output_tokens, "output_tokens"),
        (req.cache_read_tokens, "cache_read_tokens"),
        (req.cache_write_tokens, "cache_write_tokens"),
    ):
        check_count(value, field)
    cached = req.cache_read_tokens + req.cache_write_tokens
    if cached > req.input_tokens:
        raise InvalidInput(
            "cache_write_tokens" if req.cache_write_tokens else "cache_read_tokens",
            f"cache_read_tokens + cache_write_tokens ({cached}) exceed input_tokens "
            f"({req.input_tokens}); input_tokens includes the cache tokens",
        )
    check_label(req.tool_name, "tool_name")
    check_label(req.idempotency_key, "idempotency_key")
    _check_model(req.provider, req.model)
    check_reservation_id(req.reservation_id)
    _check_run_ids(req.run_id, req.parent_run_id)
    if req.end_run and not req.run_id:
        raise InvalidInput("end_run", "needs a run_id")
    return req


def checked_extension(req: ExtendRequest) -> ExtendRequest:
    """`req`, with every field checked once."""
    if check_reservation_id(req.reservation_id) is None:
        raise InvalidInput("reservation_id", "is required")
    if req.hold_cost_nanos is not None:
        check_nanos(req.hold_cost_nanos, "hold_cost_nanos")
    check_count(req.input_tokens, "input_tokens")
    check_count(req.output_tokens, "output_tokens")
    _check_model(req.provider, req.model)
    has_tokens = req.input_tokens > 0 or req.output_tokens > 0
    if req.hold_cost_nanos is None and not (req.provider and req.model and has_tokens):
        raise InvalidInput(
            "hold_cost_nanos", "give the hold's new total, or tokens with a provider and model"
        )
    check_lease(req.reservation_lease)
    return req
