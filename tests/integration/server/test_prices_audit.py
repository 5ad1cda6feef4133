"""Price overrides from the quota file are audited: who changed which price, from what to what,
once per change."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.server.app import Sidecar
from tests.support.sidecar import running_sidecar

FIRST = 'prices:\n  - {provider: acme, model: m1, input: "1", output: "2"}\n'
SECOND = 'unpriced: allow_zero\nprices:\n  - {provider: acme, model: m1, input: "3", output: "4"}\n'


async def _price_events(s: Sidecar, count: int) -> list[Any]:
    """The prices.put audit entries, newest first, once there are `count` of them."""
    for _ in range(500):
        events, _token = await s.service.list_audit_events(Subject(QuotaScope.GLOBAL, "*"))
        found = [e for e in events if e.action == "prices.put"]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} prices.put audit entries")


async def test_price_changes_are_audited(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text(FIRST)
    async with running_sidecar(redis_url, config_path=path) as s:
        (first,) = await _price_events(s, 1)
        assert first.actor == "config-file"
        assert first.after["prices"] == [
            {"model": "acme/m1", "price": "input $1/MTok, output $2/MTok", "effective_from": None}
        ]
        path.write_text(SECOND)
        newest, older = await _price_events(s, 2)
        assert older.id == first.id
        assert newest.before == first.after
        assert newest.after["unpriced"] == "allow_zero"
        assert newest.after["prices"][0]["price"] == "input $3/MTok, output $4/MTok"
        assert s.service.pricer.default_policy.value == "allow_zero"
