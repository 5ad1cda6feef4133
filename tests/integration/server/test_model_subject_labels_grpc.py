"""Issue 20 B over gRPC (a real server, a real Redis): a provider with a space, or a provider and
model too long together for an identifier, cannot name a `model:` subject, so no quota can exist
for it. The call is checked and counted on its real subjects with the provider and model as
breakdown labels; the derived model subject is skipped; nothing names a field never sent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from quota_sidecar.server.app import Sidecar
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.sidecar import running_sidecar

DOLLAR = 1_000_000_000


@pytest.fixture
async def quota(redis_url: str) -> AsyncIterator[quota_pb2_grpc.QuotaServiceStub]:
    sidecar: Sidecar
    async with (
        running_sidecar(redis_url) as sidecar,
        grpc.aio.insecure_channel(sidecar.target) as channel,
    ):
        yield quota_pb2_grpc.QuotaServiceStub(channel)


def _user(name: str) -> types_pb2.Subject:
    return types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier=name)


@pytest.mark.parametrize(
    ("provider", "model"),
    [("Azure OpenAI", "gpt-4o"), ("p" * 100, "m" * 100), ("openai", "gpt 4o turbo")],
    ids=["space-in-provider", "too-long-together", "space-in-model"],
)
async def test_a_model_that_cannot_be_a_subject_never_blocks_the_record(
    quota: quota_pb2_grpc.QuotaServiceStub, provider: str, model: str
) -> None:
    user = _user(f"u-{len(provider)}-{provider[:3].strip()}")
    check = await quota.CheckQuota(
        quota_pb2.CheckQuotaRequest(
            subjects=[user], estimated_cost_nanos=DOLLAR, provider=provider, model=model
        )
    )
    assert check.allowed
    recorded = await quota.RecordUsage(
        quota_pb2.RecordUsageRequest(
            subjects=[user], cost_nanos=2 * DOLLAR, provider=provider, model=model,
            idempotency_key="k1",
        )
    )  # fmt: skip
    assert recorded.recorded
    assert [(t.subject.identifier, t.cost_today_nanos) for t in recorded.totals] == [
        (user.identifier, 2 * DOLLAR)
    ]
    usage = await quota.GetUsage(quota_pb2.GetUsageRequest(subject=user))
    assert usage.cost_today_nanos == 2 * DOLLAR
    assert [(e.name, e.cost_nanos) for e in usage.by_provider_today] == [(provider, 2 * DOLLAR)]
    assert [(e.name, e.cost_nanos) for e in usage.by_model_today] == [
        (f"{provider}/{model}", 2 * DOLLAR)
    ]


async def test_a_bad_label_names_the_field_that_was_sent(
    quota: quota_pb2_grpc.QuotaServiceStub,
) -> None:
    for field, value in [("provider", "x" * 129), ("model", "m\x00")]:
        request = quota_pb2.RecordUsageRequest(
            subjects=[_user("ana")], cost_nanos=1, provider="openai", model="gpt-4o"
        )
        setattr(request, field, value)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await quota.RecordUsage(request)
        assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert (raised.value.details() or "").startswith(f"{field}:")
