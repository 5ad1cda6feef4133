"""The one exception tree of quota-sidecar.

    QuotaSidecarError
     ├── InvalidInput            bad input from a caller; names the field   → INVALID_ARGUMENT
     │    ├── IdempotencyConflict  same idempotency key, different payload   → INVALID_ARGUMENT
     │    └── ConfigError          a bad quota file; names the line and field
     ├── NotFound                the named quota, override or hold is absent → NOT_FOUND
     ├── RunNotOpen              a record names a run that is not open;
     │                           nothing was counted; names run_id         → FAILED_PRECONDITION
     ├── StoreUnavailable        the store is in its unreachable state       → UNAVAILABLE
     │    ├── StoreTimeout         a probe went unanswered on the wire
     │    └── StoreBehind          the store lost (or lacks yet) a quota this engine has seen
     ├── Overloaded              this sidecar's queue is full; nothing was done → RESOURCE_EXHAUSTED
     ├── DeadlineExceeded        the caller's timeout passed first; nothing was
     │                           counted (a sent check is undone)           → DEADLINE_EXCEEDED
     └── QuotaExceeded           raised by client-side guards on a denial    → (client only)

Driver exceptions never escape the store layer: they are wrapped with `raise ... from exc`.
"""

from __future__ import annotations

from datetime import timedelta

__all__ = [
    "ConfigError",
    "DeadlineExceeded",
    "IdempotencyConflict",
    "InvalidInput",
    "NotFound",
    "Overloaded",
    "QuotaExceeded",
    "QuotaSidecarError",
    "RunNotOpen",
    "StoreBehind",
    "StoreTimeout",
    "StoreUnavailable",
]


class QuotaSidecarError(Exception):
    """The base of every error quota-sidecar raises on purpose."""


class InvalidInput(QuotaSidecarError, ValueError):
    """A caller sent something that cannot be accepted. `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class IdempotencyConflict(InvalidInput):
    """The idempotency key was already used for a different payload."""


class ConfigError(InvalidInput):
    """A quota file is invalid. `line` is 1-based, or None when the file does not parse at all."""

    def __init__(self, field: str, message: str, *, source: str = "", line: int | None = None):
        where = f"{source}:{line}: " if line is not None else (f"{source}: " if source else "")
        super().__init__(field, message)
        self.args = (f"{where}{field}: {message}",)
        self.source = source
        self.line = line


class NotFound(QuotaSidecarError, LookupError):
    """The quota, override or reservation named does not exist."""


class RunNotOpen(QuotaSidecarError):
    """A record names a run that is not open (never opened by a check, or past its time to
    live): nothing was counted anywhere. `field` names the run's field (run_id)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StoreUnavailable(QuotaSidecarError):
    """The store (Redis) cannot be reached.

    `maybe_applied` is True when the operation had been sent before the store went away, so it
    may have taken effect: the engine undoes such a check by its id, and a record is kept (or
    retried) under its idempotency key.
    """

    def __init__(
        self, message: str, *, maybe_applied: bool = False, idempotency_key: str = ""
    ) -> None:
        super().__init__(message)
        self.maybe_applied = maybe_applied
        self.idempotency_key = idempotency_key  # a record's, so its retry counts once


class StoreTimeout(StoreUnavailable):
    """The store did not answer within the configured timeout."""


class StoreBehind(StoreUnavailable):
    """The store answered, but from an older state than this engine has seen: a quota the engine
    knows is missing there, or older (a replica promoted before it received the write, or a
    server read during a failover; see engine/configs.py). The store cannot decide for that
    subject: a check is decided by the failure modes of the quota the engine knows, a record is
    spooled. Nothing was applied."""


class Overloaded(QuotaSidecarError):
    """This process has more work waiting than its queue holds. Nothing was sent to the store;
    the call may be retried (with the same idempotency key)."""


class DeadlineExceeded(QuotaSidecarError, TimeoutError):
    """The caller's timeout passed before the store answered, while the store was reachable.

    Nothing was counted: a call still waiting its turn was never sent, and a check already sent
    is undone by its check id. A record carries its idempotency key, so retrying it is safe.
    """

    def __init__(
        self, message: str, *, maybe_applied: bool = False, idempotency_key: str = ""
    ) -> None:
        super().__init__(message)
        self.maybe_applied = maybe_applied
        self.idempotency_key = idempotency_key


class QuotaExceeded(QuotaSidecarError):
    """A guarded call was denied. Carries the machine-readable code and when to retry."""

    def __init__(self, code: str, reason: str, retry_after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.retry_after = retry_after
