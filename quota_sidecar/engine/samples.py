"""Estimates from history: the p95 of a subject's recent actual cost for one tool or model.

The day rollups (`qs:{s}:hd:<day>`, engine/history.py) keep a day's total cost and call count
per tool and model, so they give a day's MEAN cost per call, not the spread of single calls; a
p95 needs single calls. So a small bounded sample is kept beside them: after each record that
counts (not a duplicate, not spooled, not cut short) and names a tool or a model, its cost is
pushed onto the first subject's list for that model (when the record names one) or else that
tool, `qs:{s}:cs:m:<provider/model>` or `qs:{s}:cs:t:<tool>`: the newest SAMPLE_SIZE (64)
costs, the list expiring SAMPLE_TTL (30 days) after its last sample. record.lua pushes it in
the record's own script call (no extra round trip, and atomic with the record: a record that
counts is sampled exactly once, a duplicate or a refused record never); `sample_extras` gives
the list's key and the script's arguments. A spooled record replayed later is not sampled.

The estimate is the nearest-rank 95th percentile of the list: the costs sorted, the one at
rank ceil(0.95 * n) (for 64 samples, the 61st smallest; for fewer than 20, the largest), in
exact integer nanos. No samples: no estimate (the check estimates 0, as it would without the
option).
"""

from __future__ import annotations

import math
from datetime import timedelta

from quota_sidecar.domain.models import Subject
from quota_sidecar.engine.replies import exact_int
from quota_sidecar.store.cost_samples import read_samples
from quota_sidecar.store.keys import subject_keys
from quota_sidecar.store.redis import Store

__all__ = ["SAMPLE_SIZE", "SAMPLE_TTL", "CostSamples", "p95", "sample_extras"]

SAMPLE_SIZE = 64
SAMPLE_TTL = timedelta(days=30)
_READ_TIMEOUT = 2.0
_TTL_MS = int(SAMPLE_TTL / timedelta(milliseconds=1))


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


def sample_extras(subject: Subject, *, tool_name: str, model: str) -> tuple[list[str], list[int]]:
    """The KEYS and ARGV record.lua takes after its history part to keep the record's cost in
    `subject`'s sample for the model (else the tool); none when the record names neither."""
    key = _key(subject, tool_name, model)
    if key is None:
        return [], []
    return [key], [SAMPLE_SIZE, _TTL_MS]


class CostSamples:
    """The bounded samples of recent actual costs, read by checks (record.lua writes them)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def estimate(self, subject: Subject, *, tool_name: str, model: str) -> int | None:
        """The p95 of the recent costs for the model (else the tool); None without samples."""
        key = _key(subject, tool_name, model)
        if key is None:
            return None
        found = await read_samples(self._store, key, SAMPLE_SIZE, _READ_TIMEOUT)
        return p95([exact_int(v) for v in found])
