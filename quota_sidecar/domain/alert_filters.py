"""Which alerts a subscriber wants: the filters of StreamAlerts, `subscribe()`, webhooks and the
CLI, in one place so they all mean the same thing. An empty set means "all"."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import QuotaScope, parse_scope
from quota_sidecar.domain.results import Alert, AlertKind, Severity

__all__ = [
    "MAX_CURSOR",
    "AlertFilter",
    "cursor_key",
    "later_cursor",
    "parse_kind",
    "parse_severity",
    "validate_cursor",
]

# ASCII digits only, matched whole: `\d` and int() also take fullwidth and Arabic-Indic
# digits, which Redis refuses; each part must fit a stream id's unsigned 64 bits.
_CURSOR = re.compile(r"([0-9]{1,20})(?:-([0-9]{1,20}))?", re.ASCII)
MAX_ID_PART = 2**64 - 1
MAX_CURSOR = f"{MAX_ID_PART}-{MAX_ID_PART}"  # the last possible stream id: nothing comes after


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Matches alerts by scope, identifier, kind and minimum severity."""

    scopes: frozenset[QuotaScope] = field(default_factory=frozenset)
    identifiers: frozenset[str] = field(default_factory=frozenset)
    kinds: frozenset[AlertKind] = field(default_factory=frozenset)
    min_severity: Severity | None = None

    @classmethod
    def of(
        cls,
        *,
        scopes: Iterable[QuotaScope | str] = (),
        identifiers: Iterable[str] = (),
        kinds: Iterable[AlertKind | str] = (),
        min_severity: Severity | str | None = None,
    ) -> AlertFilter:
        """A filter from loosely typed values (strings are parsed; bad ones raise InvalidInput)."""
        return cls(
            scopes=frozenset(parse_scope(s, "scopes") for s in scopes),
            identifiers=frozenset(identifiers),
            kinds=frozenset(parse_kind(k) for k in kinds),
            min_severity=parse_severity(min_severity) if min_severity else None,
        )

    def matches(self, alert: Alert) -> bool:
        if self.scopes and alert.subject.scope not in self.scopes:
            return False
        if self.identifiers and alert.subject.identifier not in self.identifiers:
            return False
        if self.kinds and alert.kind not in self.kinds:
            return False
        return self.min_severity is None or alert.severity.rank >= self.min_severity.rank


def parse_kind(value: AlertKind | str, field_name: str = "kinds") -> AlertKind:
    if isinstance(value, AlertKind):
        return value
    text = str(value).upper().removeprefix("ALERT_KIND_").replace("-", "_")
    try:
        return AlertKind(text)
    except ValueError:
        names = ", ".join(k.value for k in AlertKind)
        raise InvalidInput(field_name, f"unknown alert kind {value!r} (one of {names})") from None


def parse_severity(value: Severity | str, field_name: str = "min_severity") -> Severity:
    if isinstance(value, Severity):
        return value
    text = str(value).upper().removeprefix("SEVERITY_")
    try:
        return Severity(text)
    except ValueError:
        names = ", ".join(s.value for s in Severity)
        raise InvalidInput(field_name, f"unknown severity {value!r} (one of {names})") from None


def validate_cursor(cursor: str, field_name: str = "cursor") -> str:
    """A stream id "<ms>-<seq>" or "<ms>" ("0" replays everything retained), returned in its
    canonical form (no leading zeros). The one parser of cursors from outside (StreamAlerts,
    the dashboard's Last-Event-ID and ?cursor=, subscribe(), the CLI): anything else is
    InvalidInput naming the field, before Redis sees it."""
    match = _CURSOR.fullmatch(cursor)
    if match is None:
        raise InvalidInput(
            field_name, f"must be an alert id like '1764288000000-0', got {cursor[:64]!r}"
        )
    ms, seq = int(match.group(1)), match.group(2)
    if ms > MAX_ID_PART or (seq is not None and int(seq) > MAX_ID_PART):
        raise InvalidInput(field_name, f"each part of an alert id is at most {MAX_ID_PART}")
    return str(ms) if seq is None else f"{ms}-{int(seq)}"


def cursor_key(cursor: str) -> tuple[int, int]:
    """A stream id as a sortable pair ("5" is "5-0")."""
    ms, _, seq = cursor.partition("-")
    return int(ms), int(seq or 0)


def later_cursor(a: str, b: str) -> str:
    """The later of two stream ids."""
    return a if cursor_key(a) >= cursor_key(b) else b
