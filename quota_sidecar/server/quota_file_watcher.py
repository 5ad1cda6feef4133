"""The watcher that applies the quota file to the running sidecar when it changes.

Reloading: the file's quotas are written through QuotaService.put_quota (actor "config-file"),
skipping the ones already stored unchanged, so replicas that read the same file do not churn
versions or alerts. A quota that this process loaded from the file and that later vanishes from
it is deleted. Quotas created through the admin API, and quotas the file named before this
process started, are never deleted by the file: the file adds and updates, and removes only
what it itself put there during this process's life.

Webhooks (`webhooks:`) follow the file too: the server checks them with the rest of the file
(`check_document`) and hands each applied document's webhooks to its WebhookRunner, which
starts the new, restarts the changed and stops the removed ones (server/app.py).

Run templates (`runs:`) live in each process, not in Redis, so every worker applies them (the
prices-only workers too); a tenant's template that vanishes from the file is removed, and a
change is audited (action `runs.put`, subject global:*) by the worker that audits quotas.

The watcher parses off the event loop, so even a legal 4 MiB file never stalls the calls being
served.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path

# The module, not its function: the loader is looked up at each parse, so it can be observed.
import quota_sidecar.config as quota_file
from quota_sidecar.config import CONFIG_ACTOR, QuotaDocument, RunLimits
from quota_sidecar.domain.errors import ConfigError, NotFound, StoreUnavailable
from quota_sidecar.domain.models import QuotaConfig, Subject
from quota_sidecar.engine.audit import audit_change
from quota_sidecar.engine.runs import RunTemplate
from quota_sidecar.engine.service import QuotaService

__all__ = ["QuotaFileWatcher"]

log = logging.getLogger(__name__)


def _comparable(config: QuotaConfig) -> QuotaConfig:
    return dataclasses.replace(config, version=0, updated_at=None)


def _template(limits: RunLimits) -> RunTemplate:
    return RunTemplate(
        max_cost=limits.max_cost,
        ttl=limits.ttl,
        max_requests=limits.max_requests,
        max_tokens=limits.max_tokens,
    )


def _described(runs: dict[str, RunLimits]) -> dict[str, object]:
    """What the audit log records of the run templates."""
    return {
        tenant: {
            "ttl_seconds": int(limits.ttl.total_seconds()),
            "max_cost": None if limits.max_cost is None else str(limits.max_cost),
            "max_requests": limits.max_requests,
            "max_tokens": limits.max_tokens,
        }
        for tenant, limits in sorted(runs.items())
    }


class QuotaFileWatcher:
    """Applies the quota file at start and again whenever it changes (polling its mtime)."""

    def __init__(
        self,
        path: Path | str,
        service: QuotaService,
        *,
        interval: float = 1.0,
        on_result: Callable[[str], None] | None = None,
        prices_only: bool = False,
        on_document: Callable[[QuotaDocument], None] | None = None,
        check_document: Callable[[QuotaDocument], None] | None = None,
    ) -> None:
        self.path = Path(path)
        # Checks the sections other layers read (the webhooks) in the parsing thread: its
        # ConfigError rejects the file whole, as a bad quota would, so no reload is half-applied.
        self._check_document = check_document or (lambda _document: None)
        # Told of every file that parses (before its quotas are written, so a store outage
        # never keeps this process on an old gateway mapping): the Envoy mapping follows it.
        self._on_document = on_document or (lambda _document: None)
        self._prices_only = prices_only
        self.interval = interval
        self._service = service
        self._on_result = on_result or (lambda _result: None)
        self._applied_stamp: tuple[int, int, int] | None = None
        self._seen_stamp: tuple[int, int, int] | None = None
        self._owned: set[Subject] = set()
        self._runs: dict[str, RunLimits] = {}  # the run templates this watcher applied
        self._task: asyncio.Task[None] | None = None
        # Checked between quotas and polls: a cancel can be absorbed inside the Redis driver,
        # and shutdown must not wait for a 3000-quota apply (or loop on after one).
        self._closing = False
        self.last_error: ConfigError | None = None

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    async def load_initial(self) -> list[QuotaConfig]:
        """Load and apply the file at start. A bad file raises ConfigError (start must fail);
        an unreachable store is logged and retried by the poll loop."""
        document = await asyncio.to_thread(self._load)
        self._seen_stamp = self._stamp()
        await self._apply(document, self._seen_stamp)
        return document.quotas

    async def check_now(self) -> str | None:
        """One poll: apply the file if it changed. Returns "ok", "invalid", "store_unavailable",
        or None when there was nothing to do."""
        stamp = self._stamp()
        if stamp == self._applied_stamp or (stamp == self._seen_stamp and self.last_error):
            return None
        self._seen_stamp = stamp
        try:
            # Off the event loop: parsing a large file must not stall the calls being served.
            document = await asyncio.to_thread(self._load)
        except ConfigError as exc:
            self.last_error = exc
            log.error("quota file rejected, the last good config stays in force: %s", exc)
            self._on_result("invalid")
            return "invalid"
        return await self._apply(document, stamp)

    def _load(self) -> QuotaDocument:
        """The file, parsed and checked whole (in a worker thread)."""
        document = quota_file.load_quota_document(self.path)
        self._check_document(document)
        return document

    async def _apply(self, document: QuotaDocument, stamp: tuple[int, int, int] | None) -> str:
        self._on_document(document)
        if self._prices_only:  # no audit: the worker that applies the quotas audits them
            self._service.pricer.configure(document.prices, document.unpriced)
            self._set_runs(document.runs)
            self._applied_stamp, self.last_error = stamp, None
            self._on_result("ok")
            return "ok"
        configs = document.quotas
        try:
            # Prices first (audited, then swapped in): the quotas that follow may rely on them.
            await self._service.set_prices(
                document.prices, document.unpriced, actor=CONFIG_ACTOR,
                reason=f"quota file {self.path}",
            )  # fmt: skip
            await self._put_runs(document.runs)
            for config in configs:
                if self._closing:
                    log.info("quota file %s: apply interrupted by shutdown", self.path)
                    return "closing"
                stored = await self._service.get_quota(config.subject)
                if stored is None or _comparable(stored) != _comparable(config):
                    await self._service.put_quota(
                        config, actor=CONFIG_ACTOR, reason=f"quota file {self.path}"
                    )
            wanted = {config.subject for config in configs}
            for subject in sorted(self._owned - wanted, key=str):
                with contextlib.suppress(NotFound):
                    await self._service.delete_quota(
                        subject, actor=CONFIG_ACTOR, reason=f"removed from {self.path}"
                    )
        except StoreUnavailable as exc:
            # Not the file's fault: leave it unapplied so the next poll tries again.
            log.warning("quota file not applied, the store is unavailable: %s", exc)
            self._seen_stamp = None
            self._on_result("store_unavailable")
            return "store_unavailable"
        self._owned = wanted
        self._applied_stamp = stamp
        self.last_error = None
        log.info("quota file %s applied: %d quotas", self.path, len(configs))
        self._on_result("ok")
        return "ok"

    async def _put_runs(self, runs: dict[str, RunLimits]) -> None:
        """Audit a change of the run templates (before it takes effect), then apply it."""
        if runs == self._runs:
            return
        service = self._service
        await audit_change(
            service.store, service.clock, "runs.put", actor=CONFIG_ACTOR,
            reason=f"quota file {self.path}", before=_described(self._runs),
            after=_described(runs),
        )  # fmt: skip
        self._set_runs(runs)

    def _set_runs(self, runs: dict[str, RunLimits]) -> None:
        for tenant in self._runs.keys() - runs.keys():
            self._service.set_run_template(None, tenant)
        for tenant, limits in runs.items():
            self._service.set_run_template(_template(limits), tenant)
        self._runs = dict(runs)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="quota-file-watcher")

    async def _run(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.interval)
            try:
                await self.check_now()
            except Exception:  # the watcher must outlive any one bad reload
                log.exception("quota file reload failed")

    def request_close(self) -> None:
        """Stop between two quotas: an apply in progress (at start or reload) returns early."""
        self._closing = True

    async def close(self, timeout: float = 2.0) -> None:
        """Stop the watcher, waiting at most `timeout` for the quota being written."""
        self.request_close()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=timeout)
            if not task.done():
                log.warning("the quota-file watcher did not stop within %.1fs", timeout)
