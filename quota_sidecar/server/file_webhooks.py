"""The quota file's webhooks in a running server: read from the same bounded file as its
quotas, checked with it, and following its reloads.

The watcher (server/quota_file_watcher.py) checks each version of the file whole in its parsing
thread (`check`): a bad webhook entry rejects the file, and the last good config, webhooks
included, stays in force. Each version that passes is handed over (`follow`), and the runner
starts the new webhooks, restarts the changed ones and stops the removed ones, without a
restart. A removed webhook's consumer group stays in Redis: adding a webhook of the same name
back resumes after the last alert it acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from quota_sidecar.alerting.hub import LagObserver
from quota_sidecar.alerting.webhook import WebhookConfig, WebhookRunner, webhooks_of
from quota_sidecar.config import QuotaDocument
from quota_sidecar.domain.errors import ConfigError
from quota_sidecar.store.redis import Store

__all__ = ["FileWebhooks"]

log = logging.getLogger(__name__)


class FileWebhooks:
    """The webhooks of the quota file at `path`; `run=False` (a prices-only worker) checks
    them with the file but sends nothing, since one worker sends for all."""

    def __init__(self, path: Path, *, run: bool = True) -> None:
        self._source = str(path)
        self._run = run
        self._hooks: list[WebhookConfig] = []
        self._runner: WebhookRunner | None = None
        self._changes: set[asyncio.Task[None]] = set()

    @property
    def runner(self) -> WebhookRunner | None:
        return self._runner

    def check(self, document: QuotaDocument) -> None:
        """Raise ConfigError when the file's webhooks are bad (in the watcher's thread)."""
        webhooks_of(document, self._source)

    def follow(self, document: QuotaDocument) -> None:
        """Take the webhooks of a file that passed `check` (on the event loop)."""
        try:
            hooks = webhooks_of(document, self._source)
        except ConfigError as exc:  # e.g. a secret_env unset since the check: keep the old
            log.error("webhooks not reloaded, the last good ones stay: %s", exc)
            return
        self._hooks = hooks
        if self._runner is not None:
            # Configured in order (the runner's lock is first come, first served).
            task = asyncio.get_running_loop().create_task(self._runner.configure(hooks))
            self._changes.add(task)
            task.add_done_callback(self._changes.discard)

    async def start(self, store: Store, on_delivery: LagObserver | None = None) -> None:
        """Start the webhooks of the file applied at start (none yet is fine: a reload may
        add some)."""
        if not self._run or self._runner is not None:
            return
        self._runner = WebhookRunner(store, [], on_delivery=on_delivery)
        await self._runner.configure(self._hooks)

    async def close(self) -> None:
        if self._changes:
            await asyncio.wait(list(self._changes), timeout=2.0)
        if self._runner is not None:
            await self._runner.close()
