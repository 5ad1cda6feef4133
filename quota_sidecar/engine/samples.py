"""Estimates from history: the p95 of a subject's recent actual cost for one tool or model.

The day rollups (`qs:{s}:hd:<day>`, engine/history.py) keep a day's total cost and call count
per tool and model, so they give a day's MEAN cost per call, not the spread of single calls; a
p95 needs single calls. So a small bounded sample is kept beside them: after each record that
counts (not a duplicate, not spooled, not cut short) and names a tool or a model, its cost is
pushed onto the first subject's list for that model (when the record names one) or else that
tool, `qs:{s}:cs:m:<provider/model>` or `qs:{s}:cs:t:<tool>`: the newest SAMPLE_SIZE (64)
costs, the list expiring SAMPLE_TTL (30 days) after its last sample. One small script call
(sample.lua) per such record, on the subject's own slot; a failure to sample is logged and
never fails the record (the estimate is advice; the record is the truth).

The estimate is the nearest-rank 95th percentile of the list: the costs sorted, the one at
rank ceil(0.95 * n) (for 64 samples, the 61st smallest; for fewer than 20, the largest), in
exact integer nanos. No samples: no estimate (the check estimates 0, as it would without the
option).
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from quota_sidecar.domain.errors import QuotaSidecarError
from quota_sidecar.domain.models import Subject
from quota_sidecar.engine.replies import exact_int
from quota_sidecar.store.keys import subject_keys
from quota_sidecar.store.redis import Store

__all__ = ["SAMPLE_SIZE", "SAMPLE_TTL", "CostSamples", "p95"]

log = logging.getLogger(__name__)
SAMPLE_SIZE = 64
SAMPLE_TTL = timedelta(days=30)
_READ_TIMEOUT = 2.0


def p95(costs: list[int]) -> int | None:
    """The nearest-rank 95th percentile (None for no costs)."""
    if not costs:
        return None
    ordered = sorted(costs)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def _key(subject: Subject, tool_name: str, model: str) -> str | None:
    if model:
        return subject_keys(subject).cost_samples("m", model)
    if tool_name:
        return subject_keys(subject).cost_samples("t", tool_name)
    return None


class CostSamples:
    """The bounded samples of recent actual costs, written after records, read by checks."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, subject: Subject, *, tool_name: str, model: str, cost_nanos: int) -> None:
        key = _key(subject, tool_name, model)
        if key is None:
            return
        ttl_ms = int(SAMPLE_TTL / timedelta(milliseconds=1))
        try:
            await self._store.run("sample.lua", [key], [cost_nanos, SAMPLE_SIZE, ttl_ms])
        except QuotaSidecarError:
            log.warning("could not keep a cost sample for %s", subject, exc_info=True)

    async def estimate(self, subject: Subject, *, tool_name: str, model: str) -> int | None:
        """The p95 of the recent costs for the model (else the tool); None without samples."""
        key = _key(subject, tool_name, model)
        if key is None:
            return None
        found = await self._store.call(
            lambda: self._store.client.lrange(key, 0, SAMPLE_SIZE - 1), _READ_TIMEOUT
        )
        return p95([exact_int(v) for v in found])
