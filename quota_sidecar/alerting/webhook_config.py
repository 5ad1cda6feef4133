"""The `webhooks:` entries of the quota file as WebhookConfig values. The quota file's loader
(config/) reads them, bounded like every other section, and keeps them with their lines; this
module checks their fields (the keys are webhook_fields.py's), so a reload of the file carries
its webhooks like its quotas (server/quota_file_watcher.py, WebhookRunner.configure)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quota_sidecar.alerting.webhook_fields import WEBHOOK_FILTERS_SECTION, WEBHOOK_SECTION
from quota_sidecar.config import QuotaDocument, load_quota_document
from quota_sidecar.domain.alert_filters import AlertFilter
from quota_sidecar.domain.errors import ConfigError, InvalidInput

__all__ = ["WebhookConfig", "load_webhooks", "webhooks_of"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


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


def webhooks_of(document: QuotaDocument, source: str = "<quota file>") -> list[WebhookConfig]:
    """The webhooks of a parsed quota file (its `webhooks:` entries, checked here), or
    ConfigError naming the entry's line and field."""
    hooks = []
    for index, (line, raw) in enumerate(document.webhooks):
        try:
            hooks.append(_parse_one(raw, index, source))
        except ConfigError as exc:
            raise ConfigError(exc.field, exc.message, source=source, line=line) from None
    names = [hook.name for hook in hooks]
    for index, name in enumerate(names):
        if names.count(name) > 1:
            line = document.webhooks[index][0]
            message = f"{name!r} is used twice"
            raise ConfigError(f"webhooks[{index}].name", message, source=source, line=line)
    return hooks


def load_webhooks(config_path: Path) -> list[WebhookConfig]:
    """The webhooks of a quota YAML file, read by the quota file's own bounded loader (so a
    file that is too large, or whose other sections are bad, is refused as a whole)."""
    return webhooks_of(load_quota_document(config_path), str(config_path))
