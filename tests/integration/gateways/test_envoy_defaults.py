"""Envoy parity for identifiers the quota file does not list: a scope default (`identifier:
"*"`) limits every value of a mapped descriptor key, as envoy's ratelimit limits every value
of a key that has no `value` of its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from quota_sidecar.domain.models import QuotaScope, Subject
from tests.integration.gateways.envoy_support import (
    OK,
    OVER_LIMIT,
    descriptor,
    envoy_sidecar,
    headers,
    request,
    write_quota_file,
)

QUOTAS = """
quotas:
  - {scope: user, identifier: "*", rate_limits: {requests_per_minute: 60}}
  - {scope: user, identifier: listed, rate_limits: {requests_per_minute: 3}}
"""


async def test_an_unlisted_descriptor_value_is_limited_by_the_default(
    redis_url: str, tmp_path: Path
) -> None:
    quota_file = write_quota_file(tmp_path / "quotas.yaml", QUOTAS)
    async with envoy_sidecar(redis_url, quota_file) as (sidecar, rls):
        unlisted = request(descriptor(("user_id", "someone-new")))
        replies = [await rls.ShouldRateLimit(unlisted) for _ in range(100)]
        assert sum(r.overall_code == OK for r in replies) == 60
        assert sum(r.overall_code == OVER_LIMIT for r in replies) == 40
        assert replies[0].statuses[0].current_limit.requests_per_unit == 60
        shown = headers(replies[0])
        assert shown["x-ratelimit-limit"] == shown["ratelimit-limit"] == "60, 60;w=60"
        assert shown["x-ratelimit-remaining"] == shown["ratelimit-remaining"] == "59"
        assert shown["ratelimit-reset"] == shown["x-ratelimit-reset"]
        # A listed value keeps its own quota; another new value has its own 60.
        listed = await asyncio.gather(
            *(rls.ShouldRateLimit(request(descriptor(("user_id", "listed")))) for _ in range(4))
        )
        assert sum(r.overall_code == OK for r in listed) == 3
        other = await rls.ShouldRateLimit(request(descriptor(("user_id", "another"))))
        assert other.overall_code == OK
        usage = await sidecar.service.get_usage(Subject(QuotaScope.USER, "someone-new"))
        assert (usage.requests_last_minute, usage.quota_source) == (60, "default")
