"""Usage history on a real Redis Cluster: one record's subjects on different slots each get
their rollups on their own slot; top spenders are not kept there (UNIMPLEMENTED)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from quota_sidecar import QuotaScope, QuotaService
from quota_sidecar.domain.clock import ManualClock
from tests.integration.engine.cluster.conftest import slot_of, spread

NANOS = 10**9


async def test_rollups_are_written_on_every_slot(engine: QuotaService, clock: ManualClock) -> None:
    subjects = spread(QuotaScope.USER, "hist", 3)
    assert len({slot_of(s) for s in subjects}) == 3
    await engine.record_usage(subjects=subjects, cost_nanos=2 * NANOS, idempotency_key="a")
    # A retry after the record succeeded is a duplicate on every slot: counted once.
    await engine.record_usage(subjects=subjects, cost_nanos=2 * NANOS, idempotency_key="a")
    clock.advance(timedelta(days=1))
    await engine.record_usage(subjects=subjects[:1], cost_nanos=3, idempotency_key="b")
    for i, subject in enumerate(subjects):
        history = await engine.usage_history(subject)
        yesterday, today = history.days[-2:]
        assert (yesterday.cost_nanos, yesterday.requests) == (2 * NANOS, 1)
        assert today.cost_nanos == (3 if i == 0 else 0)
        assert history.months[-1].cost_nanos == 2 * NANOS + (3 if i == 0 else 0)
    with pytest.raises(NotImplementedError):
        await engine.top_spenders(QuotaScope.USER)
