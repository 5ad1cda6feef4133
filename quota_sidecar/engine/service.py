"""QuotaService: the facade the seed's examples and the gRPC servicers both use. (STUB: the
signatures are final; the bodies land with the engine.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from quota_sidecar.clock import Clock
from quota_sidecar.models import QuotaConfig, QuotaScope, Subject
from quota_sidecar.money import Money
from quota_sidecar.results import (
    AuditEvent,
    CheckResult,
    Override,
    RecordResult,
    Usage,
)
from quota_sidecar.store.redis import Store

__all__ = ["EngineSettings", "QuotaService"]


class EngineSettings:
    """Tunables of the engine."""

    def __init__(
        self,
        *,
        store_timeout: float = 0.05,
        hold_lease: timedelta = timedelta(minutes=5),
        data_dir: Path | None = None,
    ) -> None:
        self.store_timeout = store_timeout
        self.hold_lease = hold_lease
        self.data_dir = data_dir


class QuotaService:
    """Checks and records quota usage on Redis; every replica on one Redis shares all state."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        settings: EngineSettings | None = None,
    ) -> None:
        raise NotImplementedError

    @property
    def store(self) -> Store:
        raise NotImplementedError

    # --- configuration -------------------------------------------------------------------
    def register_quota(self, config: QuotaConfig) -> object:
        """Store a quota. Works without await (as the seed calls it) and is also awaitable."""
        raise NotImplementedError

    async def put_quota(
        self, config: QuotaConfig, *, actor: str = "api", reason: str = ""
    ) -> tuple[QuotaConfig, bool]:
        """Create or replace a quota; returns (stored config with its version, created)."""
        raise NotImplementedError

    async def get_quota(self, subject: Subject) -> QuotaConfig | None:
        raise NotImplementedError

    async def list_quotas(
        self, scope: QuotaScope | None = None, page_size: int = 100, page_token: str = ""
    ) -> tuple[list[QuotaConfig], str]:
        raise NotImplementedError

    async def delete_quota(self, subject: Subject, *, actor: str, reason: str = "") -> QuotaConfig:
        """Raises NotFound when the subject has no quota."""
        raise NotImplementedError

    # --- data plane ----------------------------------------------------------------------
    async def check_quota(
        self,
        scope: QuotaScope | str | None = None,
        identifier: str | None = None,
        estimated_cost: Money = 0,
        *,
        subjects: Sequence[Subject] | None = None,
        estimated_cost_nanos: int | None = None,
        estimated_tokens: int = 0,
        tool_name: str = "",
        provider: str = "",
        reserve: bool = False,
        request_id: str = "",
        reservation_lease: timedelta | None = None,
    ) -> CheckResult:
        raise NotImplementedError

    async def record_usage(
        self,
        scope: QuotaScope | str | None = None,
        identifier: str | None = None,
        cost: Money = 0,
        provider: str = "",
        tool_name: str = "",
        *,
        subjects: Sequence[Subject] | None = None,
        cost_nanos: int | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        idempotency_key: str = "",
        reservation_id: str | None = None,
    ) -> RecordResult:
        raise NotImplementedError

    async def release_reservation(self, reservation_id: str) -> bool:
        """Return a hold without recording anything; False when it was already gone."""
        raise NotImplementedError

    async def get_quota_usage(self, scope: QuotaScope | str, identifier: str) -> Usage:
        raise NotImplementedError

    async def get_usage(self, subject: Subject) -> Usage:
        raise NotImplementedError

    # --- admin ---------------------------------------------------------------------------
    async def grant_override(self, override: Override) -> Override:
        raise NotImplementedError

    async def revoke_override(
        self, subject: Subject, override_id: str, *, actor: str, reason: str = ""
    ) -> Override:
        raise NotImplementedError

    async def list_overrides(self, subject: Subject) -> list[Override]:
        raise NotImplementedError

    async def reset_usage(self, subject: Subject, *, actor: str, reason: str = "") -> tuple[int, int]:
        """Clear usage; returns (cost today, cost this month) in nanos as they were."""
        raise NotImplementedError

    async def list_audit_events(
        self, subject: Subject | None = None, page_size: int = 100, page_token: str = ""
    ) -> tuple[list[AuditEvent], str]:
        raise NotImplementedError

    # --- lifecycle -----------------------------------------------------------------------
    async def ping(self) -> bool:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError
