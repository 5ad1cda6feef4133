"""Pricing over raw gRPC stubs, as a client in another language sees it: each unpriced policy on
CheckQuota and RecordUsage, an explicit cost_nanos=0, an old-style record (cost_nanos and no
model), the quota file's prices: and unpriced: sections, and GetUsage's by-model breakdown."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from quota_sidecar.pricing import GENAI_PRICES_VERSION
from quota_sidecar.server.app import Sidecar
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.sidecar import ADMIN_METADATA, running_sidecar

DOLLAR = 1_000_000_000
UNKNOWN = "no-such-model-xyz"
GENAI = f"genai-prices {GENAI_PRICES_VERSION}"
GPT4O_1000_IN_100_OUT = 1_000 * 2_500 + 100 * 10_000  # $2.50 in, $10 out per million


@pytest.fixture
async def sidecar(redis_url: str) -> AsyncIterator[Sidecar]:
    async with running_sidecar(redis_url) as s:
        yield s


@pytest.fixture
async def stubs(
    sidecar: Sidecar,
) -> AsyncIterator[tuple[quota_pb2_grpc.QuotaServiceStub, admin_pb2_grpc.QuotaAdminServiceStub]]:
    async with grpc.aio.insecure_channel(sidecar.target) as channel:
        yield (
            quota_pb2_grpc.QuotaServiceStub(channel),
            admin_pb2_grpc.QuotaAdminServiceStub(channel),
        )


def user(name: str) -> types_pb2.Subject:
    return types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier=name)


async def budget(
    admin: admin_pb2_grpc.QuotaAdminServiceStub,
    policy: types_pb2.UnpricedPolicy.ValueType = types_pb2.UNPRICED_POLICY_UNSPECIFIED,
) -> types_pb2.Subject:
    subject = user(f"u-{uuid.uuid4().hex[:8]}")
    config = types_pb2.QuotaConfig(
        subject=subject, cost_quota=types_pb2.CostQuota(daily_limit_nanos=DOLLAR, unpriced=policy)
    )
    await admin.PutQuota(
        admin_pb2.PutQuotaRequest(config=config, actor="test"), metadata=ADMIN_METADATA
    )
    return subject


def check(subject: types_pb2.Subject, model: str = UNKNOWN) -> quota_pb2.CheckQuotaRequest:
    return quota_pb2.CheckQuotaRequest(
        subjects=[subject], provider="openai", model=model,
        estimated_input_tokens=1_000, estimated_output_tokens=100, reserve=True,
    )  # fmt: skip


def record(subject: types_pb2.Subject, model: str = UNKNOWN, **extra: int) -> Any:
    return quota_pb2.RecordUsageRequest(
        subjects=[subject], provider="openai", model=model,
        input_tokens=1_000, output_tokens=100, idempotency_key=uuid.uuid4().hex, **extra,
    )  # fmt: skip


async def usage(quota: quota_pb2_grpc.QuotaServiceStub, subject: types_pb2.Subject) -> Any:
    return await quota.GetUsage(quota_pb2.GetUsageRequest(subject=subject))


async def test_require_cost_refuses_check_and_record_naming_model(stubs: Any) -> None:
    quota, admin = stubs
    for policy in (types_pb2.UNPRICED_POLICY_REQUIRE_COST, types_pb2.UNPRICED_POLICY_UNSPECIFIED):
        subject = await budget(admin, policy)  # unspecified: the sidecar's default, require_cost
        for call, request in (
            (quota.CheckQuota, check(subject)),
            (quota.RecordUsage, record(subject)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(request)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert (refused.value.details() or "").startswith("model: no price for openai/")
        after = await usage(quota, subject)
        assert (after.requests_today, after.held_nanos, after.cost_today_nanos) == (0, 0, 0)


async def test_deny_denies_the_check_and_refuses_the_record(stubs: Any) -> None:
    quota, admin = stubs
    subject = await budget(admin, types_pb2.UNPRICED_POLICY_DENY)
    denied = await quota.CheckQuota(check(subject))
    assert not denied.allowed and denied.code == quota_pb2.DENIAL_CODE_UNPRICED_MODEL
    assert denied.denied_subject == subject and not denied.reservation_id
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await quota.RecordUsage(record(subject))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (refused.value.details() or "").startswith("model: ")
    after = await usage(quota, subject)
    assert (after.requests_today, after.held_nanos, after.cost_today_nanos) == (0, 0, 0)


async def test_allow_zero_counts_the_call_at_zero(stubs: Any) -> None:
    quota, admin = stubs
    subject = await budget(admin, types_pb2.UNPRICED_POLICY_ALLOW_ZERO)
    allowed = await quota.CheckQuota(check(subject))
    assert allowed.allowed and allowed.reservation_id
    recorded = await quota.RecordUsage(record(subject))
    assert recorded.recorded and (recorded.cost_nanos, recorded.priced_by) == (0, "unpriced")
    await quota.RecordUsage(
        quota_pb2.RecordUsageRequest(reservation_id=allowed.reservation_id, release=True)
    )
    after = await usage(quota, subject)
    assert (after.requests_today, after.tokens_today, after.cost_today_nanos) == (1, 1_100, 0)
    assert [(e.name, e.cost_nanos, e.requests) for e in after.by_model_today] == [
        (f"openai/{UNKNOWN}", 0, 1)
    ]


async def test_tokens_with_a_zero_cost_are_priced_and_a_nonzero_cost_wins(stubs: Any) -> None:
    quota, admin = stubs
    subject = await budget(admin)
    zero = await quota.RecordUsage(record(subject, "gpt-4o", cost_nanos=0))  # 0: price them
    assert (zero.cost_nanos, zero.priced_by) == (GPT4O_1000_IN_100_OUT, GENAI)
    given = await quota.RecordUsage(record(subject, UNKNOWN, cost_nanos=7))  # no price needed
    assert (given.cost_nanos, given.priced_by) == (7, "caller")
    assert (await usage(quota, subject)).cost_today_nanos == GPT4O_1000_IN_100_OUT + 7


async def test_an_old_style_record_with_cost_and_no_model_is_unchanged(stubs: Any) -> None:
    quota, admin = stubs
    subject = await budget(admin, types_pb2.UNPRICED_POLICY_DENY)
    old = quota_pb2.RecordUsageRequest(
        subjects=[subject], cost_nanos=42_000_000, provider="openai", tool_name="search",
        input_tokens=500, output_tokens=50, idempotency_key="old-style-1",
    )  # fmt: skip
    result = await quota.RecordUsage(old)
    assert result.recorded and not result.duplicate
    assert (result.cost_nanos, result.priced_by) == (42_000_000, "caller")
    assert result.idempotency_key == "old-style-1"
    again = await quota.RecordUsage(old)
    assert again.duplicate
    # An old check: a dollar estimate, no model, no token split.
    checked = await quota.CheckQuota(
        quota_pb2.CheckQuotaRequest(subjects=[subject], estimated_cost_nanos=DOLLAR // 2)
    )
    assert checked.allowed
    after = await usage(quota, subject)
    assert (after.cost_today_nanos, after.requests_today, after.tokens_today) == (
        42_000_000, 1, 550,
    )  # fmt: skip
    assert [(e.name, e.cost_nanos) for e in after.by_provider_today] == [("openai", 42_000_000)]
    assert list(after.by_model_today) == []


async def test_usage_breaks_cost_down_by_model(stubs: Any) -> None:
    quota, admin = stubs
    subject = await budget(admin)
    for model, cache in (("gpt-4o", 0), ("gpt-4o", 400), ("gpt-4o-mini", 0)):
        await quota.RecordUsage(record(subject, model, cache_read_tokens=cache))
    # gpt-4o-mini: $0.15 in, $0.60 out; gpt-4o cache read $1.25.
    cached = 600 * 2_500 + 400 * 1_250 + 100 * 10_000
    mini = 1_000 * 150 + 100 * 600
    after = await usage(quota, subject)
    expected = {
        "openai/gpt-4o": (GPT4O_1000_IN_100_OUT + cached, 2),
        "openai/gpt-4o-mini": (mini, 1),
    }
    assert {e.name: (e.cost_nanos, e.requests) for e in after.by_model_today} == expected
    assert {e.name: (e.cost_nanos, e.requests) for e in after.by_model_month} == expected
    assert after.cost_today_nanos == GPT4O_1000_IN_100_OUT + cached + mini


async def test_the_quota_files_prices_and_default_policy_apply(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text(
        "unpriced: allow_zero\n"
        "prices:\n"
        "  - {provider: openai, model: gpt-4o, input: '2', output: '8'}\n"
        "quotas:\n"
        "  - {scope: user, identifier: filed, cost_quota: {daily_limit: 1}}\n"
    )
    async with (
        running_sidecar(redis_url, config_path=path) as s,
        grpc.aio.insecure_channel(s.target) as channel,
    ):
        quota = quota_pb2_grpc.QuotaServiceStub(channel)
        subject = user("filed")
        priced = await quota.RecordUsage(record(subject, "gpt-4o"))
        assert (priced.cost_nanos, priced.priced_by) == (1_000 * 2_000 + 100 * 8_000, "override")
        unpriced = await quota.RecordUsage(record(subject, UNKNOWN))
        assert (unpriced.cost_nanos, unpriced.priced_by) == (0, "unpriced")
