"""open_holds: what the dashboard lists as a subject's open holds, read straight from Redis —
placed, settled, released and expired holds, on the machine's and the embedded Redis."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, Subject
from quota_sidecar.domain.clock import ManualClock, from_ms
from quota_sidecar.engine.service import QuotaService


async def test_open_holds_lists_unexpired_holds_soonest_first_and_drops_settled_ones(
    engine: QuotaService, clock: ManualClock
) -> None:
    user = Subject(QuotaScope.USER, "holder")
    await engine.put_quota(QuotaConfig(user.scope, user.identifier,
                                       cost_quota=CostQuota(daily_limit=Decimal(100))))  # fmt: skip
    assert await engine.open_holds(user) == ()
    placed_at = from_ms(clock.now_ms())
    long = await engine.check_quota(subjects=[user], estimated_cost=Decimal("2.5"), reserve=True,
                                    reservation_lease=timedelta(minutes=10),
                                    estimated_tokens=700)  # fmt: skip
    short = await engine.check_quota(
        subjects=[user], estimated_cost=Decimal("0.000000001"), reserve=True,
        reservation_lease=timedelta(minutes=1),
    )  # fmt: skip
    settled = await engine.check_quota(subjects=[user], estimated_cost=Decimal(1), reserve=True)
    await engine.record_usage(subjects=[user], cost=Decimal("0.5"),
                              reservation_id=settled.reservation_id)  # fmt: skip

    holds = await engine.open_holds(user)
    assert [(h.cost_nanos, h.tokens) for h in holds] == [(1, 0), (2_500_000_000, 700)]
    assert holds[0].expires_at == placed_at + timedelta(minutes=1)
    assert holds[1].expires_at == placed_at + timedelta(minutes=10)
    assert all(h.placed_at == placed_at for h in holds)
    assert {h.hold_id for h in holds} == {
        r.reservation_id.split(".")[1] for r in (long, short) if r.reservation_id
    }
    # A lease that has run out is not open any more, even before a script returns it.
    clock.advance(timedelta(minutes=2))
    assert [h.cost_nanos for h in await engine.open_holds(user)] == [2_500_000_000]
    assert long.reservation_id and await engine.release_reservation(long.reservation_id)
    assert await engine.open_holds(user) == ()
