"""Built-in webhook delivery of alerts, configured in the quota YAML file:

    webhooks:
      - name: ops                       # the delivery's identity across replicas
        url: https://hooks.example.com/quota
        secret_env: QUOTA_WEBHOOK_SECRET  # or `secret: ...`
        filters: {kinds: [THRESHOLD_WARNING, EXHAUSTED], min_severity: WARNING, scopes: [user]}
        timeout: 5          # seconds per POST
        max_attempts: 5     # POSTs per round, with exponential backoff starting at `backoff`
        backoff: 0.5
        retry_after: 60     # seconds before any replica retries an alert that failed a round

Each alert is POSTed as JSON with `X-Quota-Sidecar-Signature: sha256=<hex HMAC-SHA256 of the
body under the secret>` and its id in the body and in `X-Quota-Sidecar-Alert-Id` for dedupe.

Delivery is at-least-once and shared across replicas through a Redis consumer group per webhook
on the shared stream: each alert goes to one replica, is acknowledged (XACK) only after a 2xx,
and an alert left unacknowledged (failed round, or a replica that died mid-POST) is reclaimed
by any replica with XAUTOCLAIM after `retry_after` seconds. A new webhook starts with the alerts
raised after its group is first created. The standard library does the HTTP (urllib in a
worker thread), so no extra dependency is needed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from quota_sidecar.alerting.hub import LagObserver, entry_age
from quota_sidecar.alerting.webhook_config import WebhookConfig, load_webhooks, webhooks_of
from quota_sidecar.domain.errors import StoreUnavailable
from quota_sidecar.domain.money import from_nanos
from quota_sidecar.domain.results import Alert
from quota_sidecar.store.alert_streams import AlertEntry, AlertStreams
from quota_sidecar.store.redis import Store

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookConfig",
    "WebhookRunner",
    "alert_payload",
    "load_webhooks",
    "sign",
    "start_webhooks",
    "webhooks_of",
]

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Quota-Sidecar-Signature"
ALERT_ID_HEADER = "X-Quota-Sidecar-Alert-Id"
ATTEMPT_HEADER = "X-Quota-Sidecar-Delivery-Attempt"
MAX_BACKOFF = 30.0
_BATCH = 50


def sign(secret: str, body: bytes) -> str:
    """The signature header value: "sha256=" + hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def alert_payload(alert: Alert, webhook: str) -> dict[str, Any]:
    """The JSON body of one alert (money in nanos, and as exact dollar strings for cost limits)."""
    body: dict[str, Any] = {
        "id": alert.id,
        "webhook": webhook,
        "kind": alert.kind.value,
        "severity": alert.severity.value,
        "subject": {"scope": alert.subject.scope.value, "identifier": alert.subject.identifier},
        "limit": alert.limit.value if alert.limit else None,
        "threshold_percent": alert.threshold_percent,
        "used": alert.used,
        "limit_value": alert.limit_value,
        "period": alert.period,
        "time": alert.time.isoformat().replace("+00:00", "Z"),
        "message": alert.message,
        # Alerts on usage: "own" or "default" (quota_default names it); null on admin events.
        "quota_source": alert.quota_source or None,
        "quota_default": alert.quota_default or None,
    }
    if alert.limit is not None and alert.limit.is_cost:
        body["used_usd"] = str(from_nanos(alert.used))
        body["limit_value_usd"] = str(from_nanos(alert.limit_value))
        # Where the period's money went when the alert fired, by provider, tool and model.
        for name in ("by_provider", "by_tool", "by_model"):
            body[name] = [
                {"name": e.name, "cost_nanos": e.cost_nanos, "requests": e.requests}
                for e in getattr(alert, name)
            ]
    return body


# --- delivery ----------------------------------------------------------------------------------
def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST in a worker thread; the HTTP status, or 0 when the receiver could not be reached."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        log.info("webhook %s unreachable: %s", url, exc)
        return 0


class WebhookRunner:
    """Runs the configured webhooks on this replica until close(); configure() swaps them for
    another list (a reload of the quota file) without a restart."""

    def __init__(
        self,
        store: Store,
        webhooks: Sequence[WebhookConfig],
        *,
        block_ms: int = 1000,
        on_delivery: LagObserver | None = None,
    ):
        self._streams = AlertStreams(store)
        self._on_delivery = on_delivery  # each delivered alert's lag, retries included
        self.webhooks = list(webhooks)
        self._block_ms = block_ms
        self._consumer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        # The running hook of each name, with its task; a task whose hook is no longer the one
        # running under its name (changed or removed by configure) stops.
        self._running: dict[str, tuple[WebhookConfig, asyncio.Task[None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # every task not yet finished
        self._configuring = asyncio.Lock()
        self._closing = False

    def start(self) -> WebhookRunner:
        for hook in self.webhooks:
            if hook.name not in self._running:
                self._launch(hook)
        return self

    def _launch(self, hook: WebhookConfig) -> None:
        task = asyncio.create_task(self._run(hook), name=f"webhook-{hook.name}")
        self._running[hook.name] = (hook, task)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _current(self, hook: WebhookConfig) -> bool:
        running = self._running.get(hook.name)
        return not self._closing and running is not None and running[0] is hook

    async def configure(self, webhooks: Sequence[WebhookConfig]) -> None:
        """Run exactly `webhooks` from now on: new ones start (their groups created first, so
        alerts raised from here on are delivered), changed ones restart with their new
        settings, removed ones stop. An alert in flight on a stopped hook stays pending and is
        retried by the hook of that name, if any, after its `retry_after` (at least once)."""
        async with self._configuring:
            if self._closing:
                return
            wanted = {hook.name: hook for hook in webhooks}
            for name, (hook, task) in list(self._running.items()):
                if wanted.get(name) != hook:
                    del self._running[name]
                    task.cancel()
                    log.info(
                        "webhook %s stopped (%s)", name, "changed" if name in wanted else "removed"
                    )
            for hook in webhooks:
                if hook.name in self._running:
                    continue
                try:
                    await self._ensure_group(hook)
                except StoreUnavailable as exc:  # the hook's loop creates it when Redis is back
                    log.warning("webhook %s: group not created yet: %s", hook.name, exc)
                self._launch(hook)
                log.info("webhook %s started (%s)", hook.name, hook.url)
            self.webhooks = [self._running[hook.name][0] for hook in webhooks]

    async def close(self) -> None:
        """Stop delivering; alerts in flight stay unacknowledged and are retried later."""
        # The flag as well as the cancel: the Redis driver may turn a cancel that lands
        # mid-command into a connection error, which the loop would otherwise retry.
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("webhook task failed: %s", task.exception())
        self._running.clear()

    async def _run(self, hook: WebhookConfig) -> None:
        backoff = 0.05
        loop = asyncio.get_running_loop()
        next_claim = 0.0
        while self._current(hook):
            try:
                await self._ensure_group(hook)
                if loop.time() >= next_claim:
                    next_claim = loop.time() + min(hook.retry_after, 5.0)
                    for entry in await self._claim_stale(hook):
                        await self._deliver(hook, entry)
                for entry in await self._read_new(hook):
                    await self._deliver(hook, entry)
                backoff = 0.05
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down, or anything else: keep the webhook alive
                if not self._current(hook):
                    return
                log.warning("webhook %s: %s; retrying in %.2fs", hook.name, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _ensure_group(self, hook: WebhookConfig) -> None:
        # False (the group exists already: another replica, or an earlier start) is fine too.
        await self._streams.ensure_group(hook.group)

    async def _read_new(self, hook: WebhookConfig) -> list[AlertEntry]:
        return await self._streams.read_group(
            hook.group, self._consumer, count=_BATCH, block_ms=self._block_ms
        )

    async def _claim_stale(self, hook: WebhookConfig) -> list[AlertEntry]:
        claimed = await self._streams.claim_stale(
            hook.group, self._consumer, min_idle_ms=int(hook.retry_after * 1000), count=_BATCH
        )
        for entry_id in claimed.gone:  # trimmed away meanwhile: nothing left to send
            await self._ack(hook, entry_id)
        return claimed.entries

    async def _ack(self, hook: WebhookConfig, entry_id: str) -> None:
        await self._streams.ack(hook.group, entry_id)

    async def _deliver(self, hook: WebhookConfig, entry: AlertEntry) -> None:
        entry_id, alert = entry.id, entry.alert
        if alert is None or not hook.filter.matches(alert):
            await self._ack(hook, entry_id)
            return
        body = json.dumps(alert_payload(alert, hook.name), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "quota-sidecar-webhook/1",
            SIGNATURE_HEADER: sign(hook.secret, body),
            ALERT_ID_HEADER: alert.id,
        }
        delay = hook.backoff
        for attempt in range(1, hook.max_attempts + 1):
            headers[ATTEMPT_HEADER] = str(attempt)
            status = await asyncio.to_thread(_post, hook.url, body, dict(headers), hook.timeout)
            if 200 <= status < 300:
                # Delivered: its lag is observed now, before the ack's await, so a close that
                # lands during the ack cannot lose it.
                if self._on_delivery is not None:
                    self._on_delivery(entry_age(entry_id))
                await self._ack(hook, entry_id)
                return
            log.warning(
                "webhook %s: alert %s got %s (try %d)", hook.name, alert.id, status, attempt
            )
            if attempt < hook.max_attempts and self._current(hook):
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
        # Left pending: any replica retries it after `retry_after` seconds (XAUTOCLAIM).
        log.error("webhook %s: alert %s not delivered yet; will retry", hook.name, alert.id)


async def start_webhooks(
    config_path: Path | None, store: Store, on_delivery: LagObserver | None = None
) -> WebhookRunner | None:
    """Start the webhooks of the quota file, or return None when it configures none. (The
    server keeps a runner even without webhooks, so a reload can add some: server/app.py.)"""
    if config_path is None:
        return None
    hooks = load_webhooks(config_path)
    if not hooks:
        return None
    runner = WebhookRunner(store, hooks, on_delivery=on_delivery)
    for hook in hooks:  # create the groups now, so alerts raised from here on are delivered
        await runner._ensure_group(hook)
    return runner.start()
