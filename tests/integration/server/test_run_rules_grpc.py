"""The rules of run budgets as two sidecar replicas on one Redis keep them (issue 20, section 2):
a run is named by run_id only, the store judges a run's parent, records never open runs, an
idempotency key outlives its run, EndRun ends its reservations everywhere, a refused run
writes nothing, a reset announces only what it reset, and every bad field is refused naming
its proto field. Replica `a` opens the runs; replica `b` has never seen them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.server.app import Sidecar
from quota_sidecar.store.keys import ALERTS, subject_keys
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.sidecar import ADMIN_METADATA, running_sidecar

NANOS = 10**9
AGENT = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="agent")
RUNS = "runs:\n  default: {max_cost: 0.50, ttl: 2h}\n"
Stub = quota_pb2_grpc.QuotaServiceStub


@pytest.fixture
async def replicas(redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[Sidecar, Sidecar]]:
    path = tmp_path / "quotas.yaml"
    path.write_text(RUNS)
    async with (
        running_sidecar(redis_url, config_path=path) as a,
        running_sidecar(redis_url, config_path=path) as b,
    ):
        yield a, b


@pytest.fixture
async def stubs(replicas: tuple[Sidecar, Sidecar]) -> AsyncIterator[tuple[Stub, Stub]]:
    a, b = replicas
    async with (
        grpc.aio.insecure_channel(a.target) as ca,
        grpc.aio.insecure_channel(b.target) as cb,
    ):
        yield Stub(ca), Stub(cb)


def _run(run_id: str) -> types_pb2.Subject:
    return types_pb2.Subject(scope=types_pb2.SCOPE_RUN, identifier=run_id)


def _check(**fields: object) -> quota_pb2.CheckQuotaRequest:
    return quota_pb2.CheckQuotaRequest(subjects=[AGENT], **fields)  # type: ignore[arg-type]


async def _open(stub: Stub, run: str, parent: str = "", **fields: object) -> None:
    reply = await stub.CheckQuota(_check(run_id=run, parent_run_id=parent, **fields))
    assert reply.allowed, reply


async def _refused(call: object, code: grpc.StatusCode, field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call  # type: ignore[misc]
    assert failed.value.code() == code, failed.value
    assert (failed.value.details() or "").startswith(f"{field}: "), failed.value.details()


async def _usage(stub: Stub, subject: types_pb2.Subject) -> quota_pb2.GetUsageResponse:
    return await stub.GetUsage(quota_pb2.GetUsageRequest(subject=subject))


async def test_a_run_named_as_a_subject_is_invalid_argument(stubs: tuple[Stub, Stub]) -> None:
    a, b = stubs
    await _open(a, "root")
    await _open(a, "child", "root")
    for stub in (a, b):
        for run_id in ("", "child"):
            await _refused(
                stub.CheckQuota(
                    quota_pb2.CheckQuotaRequest(
                        subjects=[AGENT, _run("child")], run_id=run_id,
                        estimated_cost_nanos=NANOS // 10, reserve=True,
                    )
                ),
                grpc.StatusCode.INVALID_ARGUMENT, "subjects",
            )  # fmt: skip
            await _refused(
                stub.RecordUsage(
                    quota_pb2.RecordUsageRequest(
                        subjects=[_run("child")], run_id=run_id, cost_nanos=NANOS,
                        idempotency_key=f"as-subject-{run_id}",
                    )
                ),
                grpc.StatusCode.INVALID_ARGUMENT, "subjects",
            )  # fmt: skip
    for run in ("root", "child"):
        usage = await _usage(a, _run(run))
        assert (usage.held_nanos, usage.cost_lifetime_nanos) == (0, 0)
    # Reading a run by its subject stays the way to see it.
    assert (await _usage(b, _run("root"))).run.children[0].run_id == "child"


async def test_the_store_judges_a_runs_parent_on_every_replica(stubs: tuple[Stub, Stub]) -> None:
    a, b = stubs
    for run in ("p1", "p2"):
        await _open(a, run)
    await _open(a, "c", "p1")
    wrong = [("c", "p2"), ("p1", "c"), ("c", "c"), ("p1", "p1"), ("fresh", "fresh")]
    for stub in (b, a):  # the fresh replica first: it must not accept what `a` refuses
        for run, parent in wrong:
            await _refused(
                stub.CheckQuota(_check(run_id=run, parent_run_id=parent)),
                grpc.StatusCode.INVALID_ARGUMENT, "parent_run_id",
            )  # fmt: skip
        await _refused(
            stub.RecordUsage(
                quota_pb2.RecordUsageRequest(
                    subjects=[AGENT], run_id="c", parent_run_id="p2", cost_nanos=1,
                    idempotency_key="wrong-parent",
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT, "parent_run_id",
        )  # fmt: skip
        assert (await stub.CheckQuota(_check(run_id="c", parent_run_id="p1"))).allowed
    tree = (await _usage(b, _run("p1"))).run
    assert [c.run_id for c in tree.children] == ["c"] and tree.parent_run_id == ""
    assert not (await _usage(b, _run("p2"))).run.children
    assert not (await _usage(b, _run("fresh"))).HasField("run")


async def test_a_record_on_a_run_that_is_not_open_is_refused_and_counts_nowhere(
    stubs: tuple[Stub, Stub],
) -> None:
    a, b = stubs
    await _open(a, "real")
    for stub, key in ((b, "typo-b"), (a, "typo-a")):
        await _refused(
            stub.RecordUsage(
                quota_pb2.RecordUsageRequest(
                    subjects=[AGENT], run_id="reel", cost_nanos=NANOS, idempotency_key=key
                )
            ),
            grpc.StatusCode.FAILED_PRECONDITION, "run_id",
        )  # fmt: skip
    assert (await _usage(a, AGENT)).cost_today_nanos == 0
    assert not (await _usage(a, _run("reel"))).HasField("run")
    # The mistyped run did not become a root beside the real one: a check names it afresh.
    assert (await _usage(b, _run("real"))).cost_lifetime_nanos == 0


async def test_an_idempotency_key_outlives_its_run(
    replicas: tuple[Sidecar, Sidecar], stubs: tuple[Stub, Stub]
) -> None:
    a, b = stubs
    await _open(a, "brief", run_ttl={"seconds": 1})
    record = quota_pb2.RecordUsageRequest(
        subjects=[AGENT], run_id="brief", cost_nanos=NANOS, idempotency_key="once-only"
    )
    assert (await a.RecordUsage(record)).recorded
    client = replicas[0].service.store.client
    cfg = subject_keys(Subject(QuotaScope.RUN, "brief")).config
    started = time.monotonic()
    while await client.exists(cfg):  # the run's time to live ends in Redis (1 s)
        assert time.monotonic() - started < 10, "the run never expired"
        await asyncio.sleep(0.02)
    for stub in (b, a):
        again = await stub.RecordUsage(record)
        assert again.duplicate and not again.recorded, again
    assert (await _usage(b, AGENT)).cost_today_nanos == NANOS
    assert not (await _usage(b, _run("brief"))).HasField("run")


async def test_end_run_ends_its_reservations_everywhere(
    replicas: tuple[Sidecar, Sidecar], stubs: tuple[Stub, Stub]
) -> None:
    a, b = stubs
    async with grpc.aio.insecure_channel(replicas[1].target) as channel:
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        config = types_pb2.QuotaConfig(
            subject=AGENT,
            rate_limits=types_pb2.RateLimits(max_concurrent=2),
            cost_quota=types_pb2.CostQuota(daily_limit_nanos=10 * NANOS),
        )
        await admin.PutQuota(
            admin_pb2.PutQuotaRequest(config=config, actor="test"), metadata=ADMIN_METADATA
        )
    await _open(a, "job")
    await _open(a, "job-kid", "job")
    for _ in range(2):
        held = await a.CheckQuota(
            _check(run_id="job-kid", estimated_cost_nanos=NANOS // 4, reserve=True)
        )
        assert held.allowed, held
    assert (await _usage(a, AGENT)).held_nanos == NANOS // 2
    ended = await b.EndRun(quota_pb2.EndRunRequest(run_id="job"))
    assert (ended.was_open, ended.released_holds) == (True, 2)
    for subject in (AGENT, _run("job"), _run("job-kid")):
        assert (await _usage(a, subject)).held_nanos == 0, subject
    agent = await _usage(a, AGENT)
    slots = [s.used for s in agent.limits if s.limit == types_pb2.LIMIT_KIND_MAX_CONCURRENT]
    assert slots == [0]
    tree = (await _usage(b, _run("job"))).run
    assert tree.ended and tree.held_nanos == 0
    # The run below is not marked ended itself (docs/semantics.md: Run budgets), but nothing is held
    # on it and its checks are denied through its ended parent.
    assert not tree.children[0].ended and tree.children[0].held_nanos == 0
    below = await a.CheckQuota(_check(run_id="job-kid"))
    assert below.code == quota_pb2.DENIAL_CODE_BLOCKED
    after = await b.CheckQuota(_check(estimated_cost_nanos=NANOS // 4, reserve=True))
    assert after.allowed, after


async def test_a_ninth_level_is_refused_before_anything_is_written(
    stubs: tuple[Stub, Stub],
) -> None:
    a, b = stubs
    parent = ""
    for level in range(1, 9):
        await _open(a, f"lv{level}", parent)
        parent = f"lv{level}"
    for stub in (a, b):
        await _refused(
            stub.CheckQuota(_check(run_id="lv9", parent_run_id="lv8")),
            grpc.StatusCode.INVALID_ARGUMENT, "parent_run_id",
        )  # fmt: skip
    assert not (await _usage(b, _run("lv9"))).HasField("run")
    assert not (await _usage(b, _run("lv8"))).run.children


async def test_reset_usage_announces_only_what_it_resets(
    replicas: tuple[Sidecar, Sidecar], stubs: tuple[Stub, Stub]
) -> None:
    a, _ = stubs
    async with grpc.aio.insecure_channel(replicas[0].target) as channel:
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        config = types_pb2.QuotaConfig(
            subject=AGENT,
            cost_quota=types_pb2.CostQuota(
                weekly_limit_nanos=NANOS, lifetime_limit_nanos=NANOS, daily_limit_nanos=4 * NANOS
            ),
        )
        await admin.PutQuota(
            admin_pb2.PutQuotaRequest(config=config, actor="test"), metadata=ADMIN_METADATA
        )
        await a.RecordUsage(
            quota_pb2.RecordUsageRequest(subjects=[AGENT], cost_nanos=NANOS, idempotency_key="k")
        )
        client = replicas[0].service.store.client
        before = len(await client.xrange(ALERTS))
        await admin.ResetUsage(
            admin_pb2.ResetUsageRequest(subject=AGENT, actor="ops"), metadata=ADMIN_METADATA
        )
    after = await client.xrange(ALERTS)
    resolved = [f for _, f in after[before:] if f.get("k") == "RESOLVED"]
    # The day's 25 % is below every threshold; the week and the lifetime were not reset.
    assert resolved == []
    denied = await a.CheckQuota(_check(estimated_cost_nanos=1))
    assert not denied.allowed and denied.denied_limit == types_pb2.LIMIT_KIND_COST_LIFETIME
    kept = {s.limit: s.used for s in (await _usage(a, AGENT)).limits}
    assert kept[types_pb2.LIMIT_KIND_COST_WEEKLY] == NANOS
    assert kept[types_pb2.LIMIT_KIND_COST_DAILY] == 0


async def test_out_of_range_fields_are_invalid_argument_naming_the_proto_field(
    stubs: tuple[Stub, Stub],
) -> None:
    a, _ = stubs
    top, bottom = 2**63 - 1, -(2**63)
    cases: list[tuple[quota_pb2.CheckQuotaRequest, str]] = []
    for seconds in (top, bottom, 10**12):
        cases.append((_check(run_id="r", run_ttl={"seconds": seconds}), "run_ttl"))
        cases.append((_check(reservation_lease={"seconds": seconds}, reserve=True),
                      "reservation_lease"))  # fmt: skip
    cases.append((_check(run_ttl={"seconds": 1, "nanos": -(10**9)}, run_id="r"), "run_ttl"))
    cases.append((_check(run_id="r", run_max_cost_nanos=NANOS), "run_max_cost_nanos"))
    for name in ("estimated_cost_nanos", "estimated_tokens"):
        for value in (top, bottom):
            cases.append((_check(**{name: value}), name))
    for name in ("run_max_cost_nanos", "run_max_requests", "run_max_tokens"):
        for value in (top, bottom):
            cases.append((_check(run_id="r", **{name: value}), name))
    for request, field in cases:
        await _refused(a.CheckQuota(request), grpc.StatusCode.INVALID_ARGUMENT, field)
    for name in ("cost_nanos", "input_tokens", "output_tokens"):
        for value in (top, bottom):
            record = quota_pb2.RecordUsageRequest(subjects=[AGENT], **{name: value})  # type: ignore[arg-type]
            await _refused(a.RecordUsage(record), grpc.StatusCode.INVALID_ARGUMENT, name)
    assert not (await _usage(a, _run("r"))).HasField("run")
