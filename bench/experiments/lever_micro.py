"""Each client-side lever of issue 15 timed against what it replaced, in one process, old and
new interleaved, min of many repeats (robust on a machine shared with other work, where
end-to-end runs are not). Starts a private redis-server for one real check reply.

    .venv/bin/python -m bench.experiments.lever_micro
"""

from __future__ import annotations

import asyncio
import timeit
import uuid
from collections.abc import Callable
from typing import Any

import uvloop
from redis.asyncio.connection import Connection

from bench.common import BENCH_TOOL, BENCH_USER, bench_quota
from tests.support.redis_servers import RedisProcess


def _pair_us(
    before: Callable[[], object], after: Callable[[], object], number: int = 200, rounds: int = 101
) -> tuple[float, float]:
    """Min µs per call of each, measured in alternation so both see the same machine."""
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for side, fn in enumerate((before, after)):
            best[side] = min(best[side], timeit.timeit(fn, number=number) / number * 1e6)
    return best[0], best[1]


async def _capture(url: str) -> dict[str, Any]:
    from quota_sidecar.domain.models import QuotaScope, Subject
    from quota_sidecar.engine import rate_limits
    from quota_sidecar.engine.service import QuotaService

    engine = QuotaService(url)
    await engine.put_quota(bench_quota("user", BENCH_USER), actor="bench")
    await engine.put_quota(bench_quota("tool", BENCH_TOOL), actor="bench")
    subjects = [Subject(QuotaScope.USER, BENCH_USER), Subject(QuotaScope.TOOL, BENCH_TOOL)]
    seen: dict[str, Any] = {}
    original = rate_limits.RateLimitManager._decode

    def spy(self: Any, reply: Any, plans: Any, subs: Any, now: int) -> Any:
        seen.update(reply=reply, plans=plans)
        return original(self, reply, plans, subs, now)

    rate_limits.RateLimitManager._decode = spy  # type: ignore[method-assign]
    seen["result"] = await engine.check_quota(
        subjects=subjects, estimated_cost_nanos=1000, tool_name=BENCH_TOOL
    )
    rate_limits.RateLimitManager._decode = original  # type: ignore[method-assign]
    plans = seen["plans"]
    keys = [k for p in plans for k in p.keys]
    args = [1, 1000, 0, 0, "", 300000, "0123456789abcdef", len(plans), 1]
    seen["command"] = ("EVALSHA", "0" * 40, len(keys) + 2, *keys, "qs:alerts", "x",
                       *args, *(a for p in plans for a in p.args))  # fmt: skip
    await engine.close()
    return seen


def _old_decode(flat: Any, plans: Any) -> Any:
    # The decoder before this change, kept here only to time against.
    from quota_sidecar.domain.clock import from_ms
    from quota_sidecar.domain.models import LimitKind
    from quota_sidecar.domain.results import LimitStatus
    from quota_sidecar.engine.replies import _rows, exact_int, window_length

    out = []
    for index, name, raw_limit, raw_used, raw_held, reset_ms in _rows(flat, 6):
        plan = plans[exact_int(index) - 1]
        kind = LimitKind(name)
        limit_value, used, held = exact_int(raw_limit), exact_int(raw_used), exact_int(raw_held)
        out.append(
            LimitStatus(
                subject=plan.subject, limit=kind, limit_value=limit_value, used=used, held=held,
                remaining=max(0, limit_value - used - held),
                reset_at=from_ms(exact_int(reset_ms)) if exact_int(reset_ms) > 0 else None,
                window=window_length(kind, plan),
            )
        )  # fmt: skip
    return tuple(out)


def _old_response(result: Any) -> Any:
    from quota_sidecar.v1 import quota_pb2
    from quota_sidecar.wire import fields, replies

    return quota_pb2.CheckQuotaResponse(
        allowed=result.allowed, code=fields.denial_to_proto(result.code), reason=result.reason,
        denied_subject=(
            fields.subject_to_proto(result.denied_subject) if result.denied_subject else None
        ),
        denied_limit=fields.limit_to_proto(result.denied_limit),
        denied_window=fields.duration_to_proto(result.denied_window),
        limits=[replies.limit_status_to_proto(s) for s in result.limits],
        retry_after=fields.duration_to_proto(result.retry_after),
        reset_at=fields.timestamp_to_proto(result.reset_at),
        warnings=[replies.warning_to_proto(w) for w in result.warnings],
        reservation_id=result.reservation_id or "",
        decided_without_store=result.decided_without_store, shadow_denied=result.shadow_denied,
    )  # fmt: skip


def main() -> None:
    from quota_sidecar.engine.durability.undo import new_check_id
    from quota_sidecar.engine.replies import decode_statuses
    from quota_sidecar.store.packing import c_packing_class
    from quota_sidecar.wire.responses import check_response

    server = RedisProcess().start()
    try:
        seen = uvloop.run(_capture(server.url))
    finally:
        server.cleanup()
    flat, plans, result, command = seen["reply"][8], seen["plans"], seen["result"], seen["command"]
    python_packer = Connection(decode_responses=True)
    c_packer = c_packing_class(Connection)(decode_responses=True)
    assert b"".join(python_packer.pack_command(*command)) == c_packer.pack_command(*command)[0]
    assert _old_decode(flat, plans) == decode_statuses(flat, plans)
    assert _old_response(result) == check_response(result)
    pairs = {
        f"pack the check command ({len(command)} arguments)": (
            lambda: python_packer.pack_command(*command),
            lambda: c_packer.pack_command(*command),
        ),
        f"decode {len(result.limits)} limit statuses": (
            lambda: _old_decode(flat, plans),
            lambda: decode_statuses(flat, plans),
        ),
        "build the CheckQuotaResponse": (
            lambda: _old_response(result),
            lambda: check_response(result),
        ),
        "make a check id": (lambda: uuid.uuid4().hex[:16], new_check_id),
    }
    print("| piece of one check | before µs | after µs | saved µs |")
    print("| --- | --- | --- | --- |")
    for label, (before, after) in pairs.items():
        old_us, new_us = _pair_us(before, after)
        print(f"| {label} | {old_us:.1f} | {new_us:.1f} | {old_us - new_us:.1f} |", flush=True)


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
