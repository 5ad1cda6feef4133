"""The Lua scripts as Redis runs them, for contract tests: each script with its shared prelude
(store/scripts/_lib.lua), called by EVAL with KEYS and ARGV built here by hand from the scripts'
headers, never by the engine's planner, so a test fails when either side of the contract moves.

`LuaSubject` writes one subject's 11 keys and its one 26-field argument (see _lib.lua); the
snapshot helpers tell what a call wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import redis

__all__ = [
    "DAY",
    "DAY_END",
    "MONTH",
    "MONTH_END",
    "NOW",
    "WEEK",
    "WEEK_END",
    "LuaSubject",
    "changed_keys",
    "eval_script",
    "script_source",
    "snapshot",
    "without_ttl",
]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# Wednesday 2026-11-18 12:00 UTC: its quota day, month and (Monday) week, on UTC calendars.
NOW = _ms(datetime(2026, 11, 18, 12, tzinfo=UTC))
DAY, DAY_END = "2026-11-18", _ms(datetime(2026, 11, 19, tzinfo=UTC))
MONTH, MONTH_END = "2026-11", _ms(datetime(2026, 12, 1, tzinfo=UTC))
WEEK, WEEK_END = "2026-11-16", _ms(datetime(2026, 11, 23, tzinfo=UTC))

# The 13 limits of a subject argument, in _lib.lua's LIMITS order.
LIMIT_ORDER = (
    "requests_per_minute",
    "requests_per_hour",
    "requests_per_day",
    "tokens_per_minute",
    "tokens_per_day",
    "cost_per_request",
    "cost_daily",
    "cost_monthly",
    "max_concurrent",
    "cost_weekly",
    "cost_lifetime",
    "requests_lifetime",
    "tokens_lifetime",
)


def script_source(name: str) -> str:
    """A script as the store loads it: the prelude, then the script (Lua cannot import)."""
    folder = resources.files("quota_sidecar.store") / "scripts"
    return (folder / "_lib.lua").read_text() + "\n" + (folder / name).read_text()


def eval_script(
    client: redis.Redis, name: str, keys: list[str], args: list[str | int | bytes]
) -> Any:
    return client.eval(script_source(name), len(keys), *keys, *args)  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class LuaSubject:
    """One subject as the check, record, usage and extend scripts take it."""

    identifier: str = "alice"
    scope: str = "user"
    version: str = "1"
    limits: dict[str, int] = field(default_factory=dict)
    thresholds: str = "80,90,95"
    shadow: bool = False
    ends: int | None = None  # a run's end (ms)
    source: str = "own"

    @property
    def base(self) -> str:
        return f"qs:{{{self.scope}:{self.identifier}}}"

    @property
    def cfg(self) -> str:
        return f"{self.base}:cfg"

    def script_keys(self) -> list[str]:
        """The 11 keys in script order: cfg, rw, day, month, holds, hexp, ovr, alerts, week,
        lifetime, then the defaults hash."""
        b = self.base
        return [
            *(f"{b}:cfg", f"{b}:rw", f"{b}:d:{DAY}", f"{b}:M:{MONTH}", f"{b}:holds"),
            *(f"{b}:hexp", f"{b}:ovr", f"{b}:alerts", f"{b}:W:{WEEK}", f"{b}:L", "qs:dflt"),
        ]

    def key(self, name: str) -> str:
        names = ("cfg", "rw", "day", "month", "holds", "hexp", "ovr", "alerts", "week", "life")
        return self.script_keys()[names.index(name)]

    def arg(self) -> str:
        """The subject's one argument: 26 space-separated fields."""
        unknown = set(self.limits) - set(LIMIT_ORDER)
        assert not unknown, f"not limits: {unknown}"
        fields: list[object] = [
            *(self.version, self.scope, self.identifier, DAY, DAY_END, MONTH, MONTH_END),
            "1" if self.shadow else "0",
            self.thresholds,
            *(self.limits.get(name, "-") for name in LIMIT_ORDER),
            *(WEEK, WEEK_END, "-" if self.ends is None else self.ends, self.source),
        ]
        return " ".join(map(str, fields))

    def register(self, client: redis.Redis) -> None:
        """Store the config version the argument claims (as engine/configs.py does)."""
        client.hset(self.cfg, "v", self.version.split("|")[0])


def snapshot(client: redis.Redis) -> dict[bytes, bytes]:
    """Every key's serialized value (DUMP): equal snapshots mean nothing was written."""
    kwargs = client.connection_pool.connection_kwargs
    raw = redis.Redis(host=kwargs["host"], port=kwargs["port"], db=kwargs.get("db", 0))
    try:
        return {key: raw.dump(key) for key in raw.scan_iter()}  # type: ignore[misc]
    finally:
        raw.close()


def changed_keys(before: dict[bytes, bytes], after: dict[bytes, bytes]) -> set[str]:
    """The keys created, changed or deleted between two snapshots."""
    names = set(before) | set(after)
    return {k.decode() for k in names if before.get(k) != after.get(k)}


def without_ttl(client: redis.Redis, keys: set[str]) -> set[str]:
    """Those of `keys` that exist and have no TTL."""
    return {k for k in keys if client.pttl(k) == -1}
