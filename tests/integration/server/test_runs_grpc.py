"""Run budgets over gRPC, with the quota file's `runs:` templates: the template hot-reloaded and
audited, every --workers worker applying it, a run's tree and caps as the wire shows them, and
bad run fields refused naming the field. How a tree is charged (every ancestor in one atomic
check, exact on every level) is the engine's, proved in tests/integration/engine/test_runs.py
and test_run_control.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from quota_sidecar.client import QuotaClient
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.server.app import Sidecar
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.redis_servers import free_port
from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess, running_sidecar
from tests.support.waiting import until

NANOS = 10**9
AGENT = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="agent")
RUNS = (
    "runs:\n  default: {max_cost: 5.00, ttl: 2h}\n  tenants:\n    acme: {max_cost: 1.00, ttl: 1h}\n"
)


@pytest.fixture
async def sidecar(redis_url: str, tmp_path: Path) -> AsyncIterator[Sidecar]:
    path = tmp_path / "quotas.yaml"
    path.write_text(RUNS)
    async with running_sidecar(redis_url, config_path=path) as s:
        yield s


@pytest.fixture
async def stub(sidecar: Sidecar) -> AsyncIterator[quota_pb2_grpc.QuotaServiceStub]:
    async with grpc.aio.insecure_channel(sidecar.target) as channel:
        yield quota_pb2_grpc.QuotaServiceStub(channel)


@pytest.fixture
async def client(sidecar: Sidecar) -> AsyncIterator[QuotaClient]:
    async with QuotaClient(sidecar.target, admin_token=ADMIN_TOKEN) as c:
        yield c


def _check(**fields: object) -> quota_pb2.CheckQuotaRequest:
    return quota_pb2.CheckQuotaRequest(subjects=[AGENT], **fields)  # type: ignore[arg-type]


async def _lifetime(client: QuotaClient, run: str) -> int:
    return (await client.get_usage(Subject(QuotaScope.RUN, run))).cost_lifetime_nanos


async def test_a_guarded_sub_agent_is_charged_to_its_parent_run(client: QuotaClient) -> None:
    async with client.guard(
        user_id="agent", tool_name="plan", estimated_cost="0.50", run_id="loop"
    ) as g:
        await g.record(cost="0.40")
    async with client.guard(
        user_id="agent",
        tool_name="search",
        estimated_cost="0.25",
        run_id="loop-sub",
        parent_run_id="loop",
        run_max_cost="1.00",
    ) as g:
        await g.record(cost="0.20")
    assert await _lifetime(client, "loop") == 600_000_000
    assert await _lifetime(client, "loop-sub") == 200_000_000


async def test_a_tenants_template_applies_to_its_runs(client: QuotaClient) -> None:
    acme = [Subject(QuotaScope.USER, "agent"), Subject(QuotaScope.TENANT, "acme")]
    allowed = await client.check_quota(subjects=acme, run_id="acme-run", estimated_cost="1.00")
    assert allowed.allowed
    over = await client.check_quota(subjects=acme, run_id="acme-run", estimated_cost="1.01")
    assert not over.allowed
    with pytest.raises(InvalidInput, match="run_max_cost"):
        await client.check_quota(subjects=acme, run_id="acme-2", run_max_cost="1.50")


async def test_bad_run_fields_are_invalid_argument_naming_the_field(
    stub: quota_pb2_grpc.QuotaServiceStub,
) -> None:
    cases: list[tuple[object, str]] = [
        (_check(run_id="r", run_max_cost_nanos=-1), "run_max_cost_nanos"),
        (_check(run_id="r", run_max_cost_nanos=9 * 10**18), "run_max_cost_nanos"),
        (_check(run_id="r", run_ttl={"seconds": 0}), "run_ttl"),
        (_check(run_id="r", run_ttl={"seconds": -5}), "run_ttl"),
        (_check(parent_run_id="p"), "parent_run_id"),
        (_check(run_max_cost_nanos=1), "run_max_cost_nanos"),
        (_check(run_id="has space"), "run_id"),
        (_check(run_id="r", parent_run_id="x" * 200), "parent_run_id"),
        (_check(run_id="orphan", parent_run_id="never-opened"), "parent_run_id"),
        (_check(run_id="big", run_max_cost_nanos=6 * NANOS), "run_max_cost"),
        (_check(run_id="long", run_ttl={"seconds": 3 * 3600}), "run_ttl"),
        (_check(run_id="r", run_max_requests=-1), "run_max_requests"),
        (_check(run_id="r", run_max_tokens=-1), "run_max_tokens"),
        (
            quota_pb2.RecordUsageRequest(subjects=[AGENT], parent_run_id="p"),
            "parent_run_id",
        ),
        (quota_pb2.RecordUsageRequest(subjects=[AGENT], end_run=True), "end_run"),
        (
            quota_pb2.RecordUsageRequest(reservation_id="x", release=True, run_id="r"),
            "run_id",
        ),
    ]
    for request, field in cases:
        rpc = (
            stub.CheckQuota
            if isinstance(request, quota_pb2.CheckQuotaRequest)
            else stub.RecordUsage
        )
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await rpc(request)  # type: ignore[operator]
        assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (request, failed.value)
        assert (failed.value.details() or "").startswith(field), (field, failed.value.details())


async def test_the_runs_section_is_hot_reloaded_and_audited(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text(RUNS)
    user = [Subject(QuotaScope.USER, "agent")]
    async with (
        running_sidecar(redis_url, config_path=path) as s,
        QuotaClient(s.target) as client,
    ):
        await client.check_quota(subjects=user, run_id="before")
        path.write_text("runs:\n  default: {max_cost: 0.10, ttl: 30m}\n")

        await _until_reloads(s, 2)
        result = await client.check_quota(subjects=user, run_id="after", estimated_cost="0.11")
        assert not result.allowed  # the new template's $0.10
        with pytest.raises(InvalidInput, match="run_ttl"):
            await client.check_quota(subjects=user, run_id="x", run_ttl=timedelta(hours=1))

        path.write_text("quotas: []\n")  # the section removed: no template, no new runs
        await _until_reloads(s, 3)
        with pytest.raises(InvalidInput, match="run_id"):
            await client.check_quota(subjects=user, run_id="none")

        events, _ = await s.service.list_audit_events(Subject(QuotaScope.GLOBAL, "*"))
        changes = [e for e in events if e.action == "runs.put"]
        assert [e.after for e in changes] == [
            {},
            {"*": {"ttl_seconds": 1800, "max_cost": "0.10", "max_requests": None,
                   "max_tokens": None}},
            {
                "*": {"ttl_seconds": 7200, "max_cost": "5.00", "max_requests": None,
                      "max_tokens": None},
                "acme": {"ttl_seconds": 3600, "max_cost": "1.00", "max_requests": None,
                         "max_tokens": None},
            },
        ]  # fmt: skip
        assert all(e.actor == "config-file" for e in changes)


async def _until_reloads(s: Sidecar, count: int) -> None:
    def reloads() -> bool:
        return bool(s.metrics.value("quota_sidecar_config_reloads_total") >= count)

    await until(reloads, f"{count} quota file reloads")


def test_every_worker_applies_the_runs_section(redis_url: str, tmp_path: Path) -> None:
    config = tmp_path / "quotas.yaml"
    config.write_text(RUNS)
    env = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_REDIS_URL": ""}
    port = free_port()
    args = ("--redis-url", redis_url, "--listen", f"127.0.0.1:{port}", "--workers", "2")
    with SidecarProcess(*args, "--config", str(config), env=env) as sidecar:
        for i in range(30):  # fresh connections spread over both workers (SO_REUSEPORT)
            with grpc.insecure_channel(sidecar.target) as channel:
                reply = quota_pb2_grpc.QuotaServiceStub(channel).CheckQuota(
                    _check(run_id=f"w{i}", estimated_cost_nanos=5 * NANOS + 1), timeout=10
                )
                # Opened with the file's template on whichever worker, and held to its $5.00.
                assert not reply.allowed and reply.denied_subject.identifier == f"w{i}"
        assert sidecar.terminate() == 0


async def _open(stub: quota_pb2_grpc.QuotaServiceStub, run: str, parent: str = "") -> None:
    reply = await stub.CheckQuota(_check(run_id=run, parent_run_id=parent))
    assert reply.allowed


async def test_end_run_releases_holds_and_denies_later_checks(
    stub: quota_pb2_grpc.QuotaServiceStub,
) -> None:
    await _open(stub, "job")
    await _open(stub, "job-sub", "job")
    for run in ("job", "job-sub", "job-sub"):
        held = await stub.CheckQuota(
            _check(run_id=run, estimated_cost_nanos=NANOS // 10, reserve=True)
        )
        assert held.allowed and held.reservation_id

    async def held_on(run: str) -> int:
        subject = types_pb2.Subject(scope=types_pb2.SCOPE_RUN, identifier=run)
        reply = await stub.GetUsage(quota_pb2.GetUsageRequest(subject=subject))
        return reply.held_nanos

    assert await held_on("job") == 3 * NANOS // 10
    ended = await stub.EndRun(quota_pb2.EndRunRequest(run_id="job-sub"))
    assert (ended.run_id, ended.was_open, ended.released_holds) == ("job-sub", True, 2)
    assert await held_on("job-sub") == 0
    assert await held_on("job") == NANOS // 10  # the parent keeps its own hold only
    denied = await stub.CheckQuota(_check(run_id="job-sub"))
    assert not denied.allowed and denied.code == quota_pb2.DENIAL_CODE_BLOCKED
    again = await stub.EndRun(quota_pb2.EndRunRequest(run_id="job-sub"))
    assert (again.was_open, again.released_holds) == (False, 0)
    # Ending the root denies every run below it too.
    await stub.EndRun(quota_pb2.EndRunRequest(run_id="job"))
    assert await held_on("job") == 0
    for run in ("job", "job-sub"):
        reply = await stub.CheckQuota(_check(run_id=run))
        assert not reply.allowed and reply.code == quota_pb2.DENIAL_CODE_BLOCKED


async def test_end_run_names_what_is_wrong(stub: quota_pb2_grpc.QuotaServiceStub) -> None:
    for request, code, start in (
        (quota_pb2.EndRunRequest(), grpc.StatusCode.INVALID_ARGUMENT, "run_id"),
        (quota_pb2.EndRunRequest(run_id="a b"), grpc.StatusCode.INVALID_ARGUMENT, "run_id"),
        (quota_pb2.EndRunRequest(run_id="never"), grpc.StatusCode.NOT_FOUND, ""),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.EndRun(request)
        assert failed.value.code() == code
        assert (failed.value.details() or "").startswith(start)


async def test_a_record_with_end_run_records_then_ends(
    stub: quota_pb2_grpc.QuotaServiceStub,
) -> None:
    await _open(stub, "once")
    hold = await stub.CheckQuota(_check(run_id="once", estimated_cost_nanos=NANOS, reserve=True))
    other = await stub.CheckQuota(_check(run_id="once", estimated_cost_nanos=NANOS, reserve=True))
    reply = await stub.RecordUsage(
        quota_pb2.RecordUsageRequest(
            subjects=[AGENT],
            run_id="once",
            cost_nanos=NANOS // 4,
            reservation_id=hold.reservation_id,
            idempotency_key="end-once",
            end_run=True,
        )
    )
    assert reply.recorded and reply.run_ended and reply.hold_settled
    run = types_pb2.Subject(scope=types_pb2.SCOPE_RUN, identifier="once")
    usage = await stub.GetUsage(quota_pb2.GetUsageRequest(subject=run))
    assert usage.cost_lifetime_nanos == NANOS // 4
    assert usage.held_nanos == 0  # the other hold was released by the end
    assert usage.run.ended and usage.run.cost_nanos == NANOS // 4
    # The call whose hold the end released still records what it spent: usage is never lost.
    late = await stub.RecordUsage(
        quota_pb2.RecordUsageRequest(
            subjects=[AGENT], run_id="once", cost_nanos=NANOS // 2,
            reservation_id=other.reservation_id, idempotency_key="late",
        )
    )  # fmt: skip
    assert late.recorded and not late.run_ended
    usage = await stub.GetUsage(quota_pb2.GetUsageRequest(subject=run))
    assert (usage.cost_lifetime_nanos, usage.held_nanos) == (3 * NANOS // 4, 0)
    denied = await stub.CheckQuota(_check(run_id="once"))
    assert denied.code == quota_pb2.DENIAL_CODE_BLOCKED


async def test_get_usage_on_a_run_returns_its_tree_with_exact_spend(
    stub: quota_pb2_grpc.QuotaServiceStub,
) -> None:
    await _open(stub, "t")
    await _open(stub, "t-a", "t")
    await _open(stub, "t-b", "t")
    await _open(stub, "t-a-x", "t-a")
    spend = {"t": 1, "t-a": 20, "t-b": 300, "t-a-x": 4_000}
    for run, nanos in spend.items():
        await stub.RecordUsage(
            quota_pb2.RecordUsageRequest(
                subjects=[AGENT], run_id=run, cost_nanos=nanos * 1_000_003,
                input_tokens=nanos, idempotency_key=f"spend-{run}",
            )
        )  # fmt: skip
    subject = types_pb2.Subject(scope=types_pb2.SCOPE_RUN, identifier="t")
    tree = (await stub.GetUsage(quota_pb2.GetUsageRequest(subject=subject))).run
    assert tree.run_id == "t" and tree.parent_run_id == "" and not tree.ended
    assert tree.cost_nanos == 4_321 * 1_000_003
    assert tree.max_cost_nanos == 5 * NANOS and not tree.HasField("max_requests")
    assert tree.HasField("ends_at")
    children = {c.run_id: c for c in tree.children}
    assert set(children) == {"t-a", "t-b"}
    assert children["t-a"].cost_nanos == 4_020 * 1_000_003
    assert children["t-b"].cost_nanos == 300 * 1_000_003
    (leaf,) = children["t-a"].children
    assert (leaf.run_id, leaf.parent_run_id, leaf.cost_nanos) == ("t-a-x", "t-a", 4_000_012_000)
    assert children["t-b"].parent_run_id == "t" and not children["t-b"].children
    # A subject that is not an open run has no tree.
    nothing = types_pb2.Subject(scope=types_pb2.SCOPE_RUN, identifier="never-opened")
    reply = await stub.GetUsage(quota_pb2.GetUsageRequest(subject=nothing))
    assert not reply.HasField("run")
    user = await stub.GetUsage(quota_pb2.GetUsageRequest(subject=AGENT))
    assert not user.HasField("run")


async def test_run_request_and_token_caps(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text("runs:\n  default: {max_requests: 5, max_tokens: 1000, ttl: 1h}\n")
    async with (
        running_sidecar(redis_url, config_path=path) as s,
        grpc.aio.insecure_channel(s.target) as channel,
    ):
        stub = quota_pb2_grpc.QuotaServiceStub(channel)
        # The template's caps, then a call asking for less.
        admitted = [(await stub.CheckQuota(_check(run_id="req"))).allowed for _ in range(7)]
        assert admitted == [True] * 5 + [False] * 2
        asked = [
            (await stub.CheckQuota(_check(run_id="req2", run_max_requests=2))).allowed
            for _ in range(3)
        ]
        assert asked == [True, True, False]
        tokens = await stub.CheckQuota(_check(run_id="tok", estimated_tokens=1000))
        assert tokens.allowed
        over = await stub.CheckQuota(_check(run_id="tok", estimated_tokens=1))
        assert not over.allowed
        assert over.denied_subject.scope == types_pb2.SCOPE_RUN
        small = await stub.CheckQuota(_check(run_id="tok2", run_max_tokens=10, estimated_tokens=11))
        assert not small.allowed
        for field, value in (("run_max_requests", 6), ("run_max_tokens", 1001)):
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await stub.CheckQuota(_check(run_id=f"above-{field}", **{field: value}))
            assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert (failed.value.details() or "").startswith(field), failed.value.details()
        tree = await stub.GetUsage(
            quota_pb2.GetUsageRequest(
                subject=types_pb2.Subject(scope=types_pb2.SCOPE_RUN, identifier="req")
            )
        )
        assert (tree.run.requests, tree.run.max_requests, tree.run.max_tokens) == (5, 5, 1000)
