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
import re
import secrets
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quota_sidecar.alerting.hub import LagObserver, entry_age
from quota_sidecar.alerting.webhook_fields import WEBHOOK_FILTERS_SECTION, WEBHOOK_SECTION
from quota_sidecar.config.bounded_yaml import load_bounded
from quota_sidecar.domain.alert_filters import AlertFilter
from quota_sidecar.domain.errors import ConfigError, InvalidInput
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
]

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Quota-Sidecar-Signature"
ALERT_ID_HEADER = "X-Quota-Sidecar-Alert-Id"
ATTEMPT_HEADER = "X-Quota-Sidecar-Delivery-Attempt"
MAX_BACKOFF = 30.0
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_BATCH = 50


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    name: str
    url: str
    secret: str
    filter: AlertFilter
    timeout: float = 5.0
    max_attempts: int = 5
    backoff: float = 0.5
    retry_after: float = 60.0

    @property
    def group(self) -> str:
        return f"qs:webhook:{self.name}"


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


# --- configuration -----------------------------------------------------------------------------
def _number(raw: Mapping[str, Any], key: str, default: float, where: str, source: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(
            f"{where}.{key}", f"must be a positive number, got {value!r}", source=source
        )
    return float(value)


def _parse_one(raw: Any, index: int, source: str) -> WebhookConfig:
    where = f"webhooks[{index}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(where, "must be a mapping with at least `url`", source=source)
    unknown = set(raw) - WEBHOOK_SECTION.names
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}", "unknown key", source=source)
    url = raw.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.url", "must be an http:// or https:// URL", source=source)
    name = raw.get("name", f"webhook-{hashlib.sha256(url.encode()).hexdigest()[:12]}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"{where}.name", "1 to 64 of letters, digits, '_', '.', '-'", source=source
        )
    secret = raw.get("secret")
    if "secret_env" in raw:
        secret = os.environ.get(str(raw["secret_env"]))
        if not secret:
            message = f"environment variable {raw['secret_env']!r} is not set"
            raise ConfigError(f"{where}.secret_env", message, source=source)
    if not isinstance(secret, str) or not secret:
        raise ConfigError(f"{where}.secret", "give `secret` or `secret_env`", source=source)
    filters = raw.get("filters") or {}
    if not isinstance(filters, Mapping) or set(filters) - WEBHOOK_FILTERS_SECTION.names:
        message = "a mapping of kinds, min_severity, scopes, identifiers"
        raise ConfigError(f"{where}.filters", message, source=source)
    try:
        flt = AlertFilter.of(
            scopes=filters.get("scopes") or (),
            identifiers=[str(i) for i in filters.get("identifiers") or ()],
            kinds=filters.get("kinds") or (),
            min_severity=filters.get("min_severity"),
        )
    except InvalidInput as exc:
        raise ConfigError(f"{where}.filters.{exc.field}", exc.message, source=source) from None
    attempts = raw.get("max_attempts", 5)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        raise ConfigError(f"{where}.max_attempts", "must be a whole number 1-100", source=source)
    return WebhookConfig(
        name=name,
        url=url,
        secret=secret,
        filter=flt,
        timeout=_number(raw, "timeout", 5.0, where, source),
        max_attempts=attempts,
        backoff=_number(raw, "backoff", 0.5, where, source),
        retry_after=_number(raw, "retry_after", 60.0, where, source),
    )


def load_webhooks(config_path: Path) -> list[WebhookConfig]:
    """The `webhooks:` list of a quota YAML file (other top-level keys are not ours)."""
    source = str(config_path)
    try:
        text = config_path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("webhooks", f"cannot read the file: {exc}", source=source) from None
    # Composed and checked as the quota file is (its size is checked by the quota file's loader,
    # which runs first): a hostile value is a ConfigError at its line, never a traceback.
    document = load_bounded(text, source)
    if not isinstance(document, Mapping) or not document.get("webhooks"):
        return []
    raw = document["webhooks"]
    if not isinstance(raw, list):
        raise ConfigError("webhooks", "must be a list", source=source)
    hooks = [_parse_one(item, index, source) for index, item in enumerate(raw)]
    names = [hook.name for hook in hooks]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError("webhooks.name", f"{name!r} is used twice", source=source)
    return hooks


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
    """Runs every configured webhook on this replica until close()."""

    def __init__(
        self,
        store: Store,
        webhooks: list[WebhookConfig],
        *,
        block_ms: int = 1000,
        on_delivery: LagObserver | None = None,
    ):
        self._streams = AlertStreams(store)
        self._on_delivery = on_delivery  # each delivered alert's lag, retries included
        self.webhooks = webhooks
        self._block_ms = block_ms
        self._consumer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    def start(self) -> WebhookRunner:
        for hook in self.webhooks:
            task = asyncio.create_task(self._run(hook), name=f"webhook-{hook.name}")
            self._tasks.append(task)
        return self

    async def close(self) -> None:
        """Stop delivering; alerts in flight stay unacknowledged and are retried later."""
        # The flag as well as the cancel: the Redis driver may turn a cancel that lands
        # mid-command into a connection error, which the loop would otherwise retry.
        self._closing = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("webhook task failed: %s", task.exception())
        self._tasks.clear()

    async def _run(self, hook: WebhookConfig) -> None:
        backoff = 0.05
        loop = asyncio.get_running_loop()
        next_claim = 0.0
        while not self._closing:
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
                if self._closing:
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
            if attempt < hook.max_attempts and not self._closing:
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
        # Left pending: any replica retries it after `retry_after` seconds (XAUTOCLAIM).
        log.error("webhook %s: alert %s not delivered yet; will retry", hook.name, alert.id)


async def start_webhooks(
    config_path: Path | None, store: Store, on_delivery: LagObserver | None = None
) -> WebhookRunner | None:
    """Start the webhooks of the quota file, or return None when it configures none."""
    if config_path is None:
        return None
    hooks = load_webhooks(config_path)
    if not hooks:
        return None
    runner = WebhookRunner(store, hooks, on_delivery=on_delivery)
    for hook in hooks:  # create the groups now, so alerts raised from here on are delivered
        await runner._ensure_group(hook)
    return runner.start()
