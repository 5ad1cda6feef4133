"""One value object per data-plane operation: what a check, a record, a usage read or a hold
extension asks for. `wire/` builds them from the proto, the seed-compatible facade
(QuotaService.check_quota, ...) and the Python client from keyword arguments; each is then
checked once by quota_sidecar.domain.validation, and the engine takes it as it is
(`service.check(req)`), never re-checking a field.

Money is in nanos here: the dollars of the Python API are converted where they come in.
`timeout` is the caller's wait in seconds (None: as long as the store is reachable); over gRPC
it is the call's deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from quota_sidecar.domain.models import Subject

__all__ = [
    "NO_RUN",
    "CheckRequest",
    "ExtendRequest",
    "RecordRequest",
    "RunLimits",
    "UsageRequest",
    "model_name",
]


def model_name(provider: str, model: str) -> str:
    """ "provider/model" for the breakdown and the model subject; "" without a model (a model
    without a provider is refused by validation before this is asked)."""
    return f"{provider}/{model}" if model else ""


@dataclass(frozen=True, slots=True)
class RunLimits:
    """The run fields of a call: its run, its parent, and (on the call that opens the run) the
    limits it asks for, each None for the template's own."""

    run_id: str = ""
    parent_run_id: str = ""
    max_cost_nanos: int | None = None
    ttl: timedelta | None = None
    max_requests: int | None = None
    max_tokens: int | None = None

    @property
    def asks(self) -> bool:
        """Whether any limit is asked for."""
        return not (
            self.max_cost_nanos is None
            and self.ttl is None
            and self.max_requests is None
            and self.max_tokens is None
        )


NO_RUN = RunLimits()


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """May this call happen now? See QuotaService.check_quota for each field's meaning.
    `estimated_cost_nanos` 0 is "no estimate given" (with tokens and a model they are priced);
    `requests` is how many requests the check counts (0 only looks)."""

    subjects: tuple[Subject, ...]
    estimated_cost_nanos: int = 0
    estimated_tokens: int = 0
    estimated_input_tokens: int = 0
    estimated_output_tokens: int = 0
    tool_name: str = ""
    provider: str = ""
    model: str = ""
    request_id: str = ""
    reserve: bool = False
    reservation_lease: timedelta | None = None  # None: the engine's default hold lease
    skip_model_subject: bool = False
    run: RunLimits = NO_RUN
    requests: int = 1
    estimate_from_history: bool = False
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class RecordRequest:
    """What a call cost. `cost_nanos` None is "no cost given" (tokens with a model are then
    priced); an empty `idempotency_key` gets a generated one from the engine."""

    subjects: tuple[Subject, ...]
    cost_nanos: int | None = None
    provider: str = ""
    tool_name: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    idempotency_key: str = ""
    reservation_id: str | None = None
    skip_model_subject: bool = False
    run_id: str = ""
    parent_run_id: str = ""
    end_run: bool = False
    cut_short: bool = False
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class UsageRequest:
    """A subject's usage; `tenant` names whose default applies when it has no quota."""

    subject: Subject
    tenant: str = ""


@dataclass(frozen=True, slots=True)
class ExtendRequest:
    """Grow a hold to a new total: `hold_cost_nanos`, or the price of the tokens so far."""

    reservation_id: str
    hold_cost_nanos: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    provider: str = ""
    model: str = ""
    reservation_lease: timedelta | None = None
    timeout: float | None = None
