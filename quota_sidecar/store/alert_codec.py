"""The format of alert entries in Redis Streams, shared by the Lua scripts that raise alerts
inside a record or check (store/scripts/_lib.lua, `emit_alert`) and the Python that raises admin
events and reads the streams. Keep both sides in step.

Every alert is appended twice, in the same atomic step:
  * to ALERTS_STREAM ("qs:alerts"), which every replica tails (MINID retention: 7 days);
  * to the subject's own stream "qs:{scope:identifier}:alerts" (MAXLEN ~ SUBJECT_STREAM_MAXLEN),
    which `QuotaAlertService.check_quota_alerts` reads without scanning everyone's alerts.

Entry fields (all strings):
  k  kind          AlertKind value, e.g. "THRESHOLD_WARNING"
  sv severity      Severity value: "INFO" | "WARNING" | "CRITICAL"
  s  scope         QuotaScope value, e.g. "user"
  i  identifier
  l  limit         LimitKind value or "" (e.g. "cost_daily")
  p  percent       threshold percent, "0" when none
  u  used          usage in the limit's unit (nanos for cost limits)
  lv limit value   the limit in force
  pe period        e.g. "day:2026-11-28", "month:2026-11", "" when none
  t  time          milliseconds since the epoch (the engine's clock)
  m  message       a human-readable sentence
  bd breakdown     a budget alert's period spend (see _lib.lua's breakdown_of), optional
  qs quota source  alerts on usage: "own" or "default" (the subject's quota's origin), optional
  qd default       the default in force when qs is "default" ("user:*", "user:*@acme")
The entry id ("<ms>-<seq>", assigned by Redis) is the alert id and the resume cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from quota_sidecar.domain.clock import from_ms
from quota_sidecar.domain.models import LimitKind, Subject, parse_scope
from quota_sidecar.domain.results import Alert, AlertKind, BreakdownEntry, Severity
from quota_sidecar.store.keys import subject_keys

__all__ = [
    "ALERTS_STREAM",
    "RETENTION_MS",
    "SUBJECT_STREAM_MAXLEN",
    "SUBJECT_STREAM_TTL_MS",
    "NewAlert",
    "decode_alert",
    "decode_entry",
    "encode_alert",
    "subject_stream",
]

log = logging.getLogger(__name__)
ALERTS_STREAM = "qs:alerts"
RETENTION_MS = 7 * 24 * 3600 * 1000
SUBJECT_STREAM_MAXLEN = 1000
SUBJECT_STREAM_TTL_MS = 35 * 24 * 3600 * 1000

SEVERITY_OF = {
    AlertKind.THRESHOLD_WARNING: Severity.WARNING,
    AlertKind.EXHAUSTED: Severity.CRITICAL,
    AlertKind.PER_REQUEST_LIMIT_EXCEEDED: Severity.CRITICAL,
    AlertKind.RESOLVED: Severity.INFO,
    AlertKind.OVERRIDE_GRANTED: Severity.INFO,
    AlertKind.OVERRIDE_REVOKED: Severity.INFO,
    AlertKind.OVERRIDE_EXPIRED: Severity.INFO,
    AlertKind.QUOTA_CHANGED: Severity.INFO,
    AlertKind.USAGE_RESET: Severity.INFO,
}


def subject_stream(subject: Subject) -> str:
    """The per-subject alert stream (same hash tag as the subject's other keys)."""
    return subject_keys(subject).alerts


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert raised from Python (admin events), before Redis gives it its id."""

    kind: AlertKind
    subject: Subject
    now_ms: int
    message: str
    limit: LimitKind | None = None
    percent: int = 0
    used: int = 0
    limit_value: int = 0
    period: str = ""


def encode_alert(alert: NewAlert) -> dict[str, str]:
    """The stream fields of an alert raised from Python (admin events)."""
    return {
        "k": alert.kind.value,
        "sv": SEVERITY_OF[alert.kind].value,
        "s": alert.subject.scope.value,
        "i": alert.subject.identifier,
        "l": alert.limit.value if alert.limit else "",
        "p": str(alert.percent),
        "u": str(alert.used),
        "lv": str(alert.limit_value),
        "pe": alert.period,
        "t": str(alert.now_ms),
        "m": alert.message,
    }


def decode_alert(entry_id: str, fields: Mapping[str, str]) -> Alert:
    """An Alert from a stream entry."""
    limit = fields.get("l", "")
    return Alert(
        id=entry_id,
        kind=AlertKind(fields["k"]),
        severity=Severity(fields["sv"]),
        subject=Subject(parse_scope(fields["s"]), fields["i"]),
        time=from_ms(int(fields["t"])),
        limit=LimitKind(limit) if limit else None,
        threshold_percent=int(fields.get("p", "0")),
        used=int(fields.get("u", "0")),
        limit_value=int(fields.get("lv", "0")),
        period=fields.get("pe", ""),
        message=fields.get("m", ""),
        quota_source=fields.get("qs", ""),
        quota_default=fields.get("qd", ""),
        **_breakdown(fields.get("bd", "")),
    )


def decode_entry(entry_id: str, fields: Mapping[str, str]) -> Alert | None:
    """An Alert from a stream entry, or None (logged) for a malformed one: one bad entry must
    not stop a reader, which still moves past its id."""
    try:
        return decode_alert(entry_id, fields)
    except (KeyError, ValueError) as exc:
        log.warning("skipping malformed alert entry %s: %s", entry_id, exc)
        return None


_BREAKDOWN_KINDS = {"p": "by_provider", "t": "by_tool", "m": "by_model"}


def _breakdown(text: str) -> dict[str, tuple[BreakdownEntry, ...]]:
    """The `bd` field of a budget alert (see _lib.lua's breakdown_of), by kind."""
    found: dict[str, list[BreakdownEntry]] = {name: [] for name in _BREAKDOWN_KINDS.values()}
    for line in filter(None, text.split("\n")):
        kind, name, cost, calls = line.split("\t")
        found[_BREAKDOWN_KINDS[kind]].append(BreakdownEntry(name, int(cost), int(calls)))
    return {
        kind: tuple(sorted(entries, key=lambda e: (-e.cost_nanos, e.name)))
        for kind, entries in found.items()
    }
