"""A check that counts several requests (a gateway's hits) or none (a look): exact admission in
the request windows and the day's counter, nothing consumed when denied."""

from __future__ import annotations

import asyncio

import pytest

from quota_sidecar import QuotaConfig, QuotaScope, RateLimitConfig, Subject
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.engine.service import QuotaService


async def _quota(engine: QuotaService, ident: str, **limits: int) -> Subject:
    await engine.register_quota(
        QuotaConfig(scope=QuotaScope.USER, identifier=ident, rate_limits=RateLimitConfig(**limits))
    )
    return Subject(QuotaScope.USER, ident)


async def test_a_check_of_5_requests_counts_5(engine: QuotaService) -> None:
    subject = await _quota(engine, "hits", requests_per_minute=60, requests_per_hour=1000)
    results = await asyncio.gather(
        *(engine.check_quota(subjects=[subject], requests=5) for _ in range(20))
    )
    assert sum(r.allowed for r in results) == 12  # 12 x 5 = 60
    usage = await engine.get_usage(subject)
    assert usage.requests_last_minute == 60
    assert usage.requests_last_hour == 60
    assert usage.requests_today == 60
    minute = next(s for s in results[0].limits if s.limit == "requests_per_minute")
    assert minute.limit_value == 60


async def test_a_check_larger_than_what_remains_is_denied_and_consumes_nothing(
    engine: QuotaService,
) -> None:
    subject = await _quota(engine, "big", requests_per_minute=10)
    assert (await engine.check_quota(subjects=[subject], requests=6)).allowed
    denied = await engine.check_quota(subjects=[subject], requests=5)
    assert not denied.allowed and denied.code == "RATE_LIMITED"
    status = next(s for s in denied.limits if s.limit == "requests_per_minute")
    assert (status.used, status.remaining) == (6, 4)
    assert (await engine.check_quota(subjects=[subject], requests=4)).allowed
    assert (await engine.get_usage(subject)).requests_last_minute == 10


async def test_a_check_of_0_requests_looks_without_counting(engine: QuotaService) -> None:
    subject = await _quota(engine, "look", requests_per_minute=2)
    looked = await engine.check_quota(subjects=[subject], requests=0)
    assert looked.allowed
    usage = await engine.get_usage(subject)
    assert (usage.requests_last_minute, usage.requests_today) == (0, 0)
    assert (await engine.check_quota(subjects=[subject], requests=2)).allowed
    full = await engine.check_quota(subjects=[subject], requests=0)
    assert not full.allowed and full.code == "RATE_LIMITED"


async def test_a_negative_request_count_is_refused_naming_the_field(
    engine: QuotaService,
) -> None:
    subject = await _quota(engine, "neg", requests_per_minute=2)
    with pytest.raises(InvalidInput) as caught:
        await engine.check_quota(subjects=[subject], requests=-1)
    assert caught.value.field == "requests"
    assert (await engine.get_usage(subject)).requests_last_minute == 0
