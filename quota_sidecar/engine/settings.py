"""The engine's tunables, and the error a record without a spool raises."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from quota_sidecar.domain.errors import DeadlineExceeded, StoreUnavailable
from quota_sidecar.domain.history import HistoryRetention
from quota_sidecar.store.redis import DEFAULT_TIMEOUT

__all__ = ["EngineSettings", "with_key"]


class EngineSettings:
    """Tunables of the engine."""

    def __init__(
        self,
        *,
        store_timeout: float = DEFAULT_TIMEOUT,
        hold_lease: timedelta = timedelta(minutes=5),
        data_dir: Path | None = None,
        spool_dir: Path | None = None,
        history: HistoryRetention | None = None,
    ) -> None:
        self.store_timeout = store_timeout
        self.hold_lease = hold_lease
        self.data_dir = data_dir
        # Where records wait while the store is unreachable; None: such records raise
        # StoreUnavailable instead (the caller retries with the same idempotency key).
        self.spool_dir = spool_dir
        self.history = history or HistoryRetention()


def with_key(exc: StoreUnavailable | DeadlineExceeded, key: str) -> Exception:
    """The error a record raises without a spool, naming the key its retry must reuse."""
    message = f"{exc} (retry with idempotency_key={key!r}: it counts once)"
    if isinstance(exc, DeadlineExceeded):
        return DeadlineExceeded(message, maybe_applied=exc.maybe_applied, idempotency_key=key)
    return StoreUnavailable(message, maybe_applied=exc.maybe_applied, idempotency_key=key)
