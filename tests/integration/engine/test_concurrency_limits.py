"""max_concurrent: the open holds of a subject are its slots. A reserving check takes one;
settling, releasing or the lease's end frees it; exact across replicas on one Redis."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from quota_sidecar import QuotaConfig, QuotaScope, RateLimitConfig, Subject
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.models import CostQuota, DenialCode, LimitKind
from quota_sidecar.engine.service import QuotaService
from tests.support.engines import EngineFactory

AGENT = Subject(QuotaScope.USER, "slots")
LEASE = timedelta(seconds=30)


async def _quota(engine: QuotaService, slots: int, subject: Subject = AGENT) -> None:
    await engine.put_quota(
        QuotaConfig(
            scope=subject.scope,
            identifier=subject.identifier,
            rate_limits=RateLimitConfig(max_concurrent=slots, requests_per_minute=100_000),
            cost_quota=CostQuota(daily_limit=100),
        )
    )


async def _open_slots(engine: QuotaService, subject: Subject = AGENT) -> int:
    usage = await engine.get_usage(subject)
    (status,) = [s for s in usage.limits if s.limit is LimitKind.MAX_CONCURRENT]
    return status.used


async def test_slots_are_exact_across_replicas(make_engine: EngineFactory) -> None:
    first, second = make_engine(), make_engine()
    await _quota(first, 5)
    results = await asyncio.gather(
        *(
            (first if i % 2 else second).check_quota(
                subjects=[AGENT], estimated_cost="0.01", reserve=True, reservation_lease=LEASE
            )
            for i in range(200)
        )
    )
    admitted = [r for r in results if r.allowed]
    denied = [r for r in results if not r.allowed]
    assert len(admitted) == 5 and len(denied) == 195
    assert {r.code for r in denied} == {DenialCode.CONCURRENCY_LIMITED}
    assert {r.denied_limit for r in denied} == {LimitKind.MAX_CONCURRENT}
    assert await _open_slots(first) == 5
    # A denied reserving check consumed nothing: only the five admitted count as requests.
    assert (await first.get_usage(AGENT)).requests_today == 5
    for result in admitted:
        assert result.reservation_id
        assert await second.release_reservation(result.reservation_id)
    assert await _open_slots(second) == 0
    assert (await first.get_usage(AGENT)).held_nanos == 0


async def test_settle_and_release_free_a_slot_and_retry_after_is_the_first_lease_end(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _quota(engine, 2)
    one = await engine.check_quota(subjects=[AGENT], reserve=True, reservation_lease=LEASE)
    clock.advance(timedelta(seconds=10))
    two = await engine.check_quota(subjects=[AGENT], reserve=True, reservation_lease=LEASE)
    assert one.allowed and two.allowed
    full = await engine.check_quota(subjects=[AGENT], reserve=True, reservation_lease=LEASE)
    assert not full.allowed and full.code is DenialCode.CONCURRENCY_LIMITED
    assert full.retry_after == timedelta(seconds=20)  # when the first hold's lease ends
    assert "max concurrent" in full.reason
    # A non-reserving check takes no slot, so a full set of slots never refuses it.
    assert (await engine.check_quota(subjects=[AGENT])).allowed
    assert one.reservation_id and two.reservation_id
    settled = await engine.record_usage(
        subjects=[AGENT], cost="0.02", reservation_id=one.reservation_id, idempotency_key="s1"
    )
    assert settled.hold_settled
    three = await engine.check_quota(subjects=[AGENT], reserve=True, reservation_lease=LEASE)
    assert three.allowed and three.reservation_id
    assert await engine.release_reservation(two.reservation_id)
    four = await engine.check_quota(subjects=[AGENT], reserve=True, reservation_lease=LEASE)
    assert four.allowed
    assert await _open_slots(engine) == 2


async def test_a_crashed_holders_slot_frees_when_its_lease_ends(
    make_engine: EngineFactory, clock: ManualClock
) -> None:
    crashed, survivor = make_engine(), make_engine()
    await _quota(crashed, 1)
    taken = await crashed.check_quota(
        subjects=[AGENT], estimated_cost="1", reserve=True, reservation_lease=LEASE
    )
    assert taken.allowed
    await crashed.close()  # the holder goes away without settling or releasing
    blocked = await survivor.check_quota(subjects=[AGENT], reserve=True, reservation_lease=LEASE)
    assert blocked.code is DenialCode.CONCURRENCY_LIMITED
    assert blocked.retry_after == LEASE
    clock.advance(LEASE)
    assert await _open_slots(survivor) == 0
    freed = await survivor.check_quota(subjects=[AGENT], reserve=True, reservation_lease=LEASE)
    assert freed.allowed
    usage = await survivor.get_usage(AGENT)
    assert usage.held_nanos == 0  # the expired hold's dollar went back to the budget too


async def test_a_slot_limit_of_zero_refuses_every_reservation_with_no_retry_after(
    engine: QuotaService,
) -> None:
    await _quota(engine, 0)
    denied = await engine.check_quota(subjects=[AGENT], reserve=True)
    assert denied.code is DenialCode.CONCURRENCY_LIMITED
    assert denied.retry_after is None  # no hold is open, so nothing says when one frees


async def test_a_shared_tenant_limit_counts_the_holds_of_every_member(
    engine: QuotaService,
) -> None:
    tenant = Subject(QuotaScope.TENANT, "slots-co")
    await _quota(engine, 3, tenant)
    users = [Subject(QuotaScope.USER, f"member-{i}") for i in range(6)]
    results = await asyncio.gather(
        *(engine.check_quota(subjects=[user, tenant], reserve=True) for user in users)
    )
    assert sum(r.allowed for r in results) == 3
    assert await _open_slots(engine, tenant) == 3
    for user, result in zip(users, results, strict=True):
        if not result.allowed:
            assert result.denied_subject == tenant
        # A denied multi-subject check holds nothing on its other subjects either.
        assert (await engine.get_usage(user)).requests_today == int(result.allowed)
