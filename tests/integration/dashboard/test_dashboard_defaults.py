"""The dashboard's subject page (HTTP, a real server and Redis) says where the quota in force
comes from: an identifier that never registered shows the default's limits and names it."""

from __future__ import annotations

import re
from decimal import Decimal

import aiohttp

from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope
from quota_sidecar.server.app import Sidecar
from tests.integration.dashboard.test_dashboard_http import _log_in, http, sidecar
from tests.support.sidecar import ADMIN_TOKEN

__all__ = ["http", "sidecar"]  # the fixtures, shared with test_dashboard_http


async def _page(http: aiohttp.ClientSession, identifier: str) -> str:
    async with http.get(f"/subject?scope=user&id={identifier}") as response:
        assert response.status == 200
        return await response.text()


def _badge(page: str) -> str:
    found = re.search(r'<span class="badge" id="quota-source"[^>]*>([^<]*)</span>', page)
    assert found, "no quota-source badge"
    return found.group(1)


async def test_the_subject_page_names_the_default_a_subject_follows(
    sidecar: Sidecar, http: aiohttp.ClientSession
) -> None:
    assert await _log_in(http, ADMIN_TOKEN) == 303
    for identifier, dollars in (("*", 10), ("vip", 50)):
        await sidecar.service.put_quota(
            QuotaConfig(
                QuotaScope.USER, identifier, cost_quota=CostQuota(daily_limit=Decimal(dollars))
            ),
            actor="test",
        )
    never = await _page(http, "never-seen")
    assert _badge(never) == "quota from the default user:*"
    assert "$10.00" in never and "no quota configured" not in never
    assert _badge(await _page(http, "vip")) == "own quota"
