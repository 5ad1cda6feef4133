"""Streams that pay for what they used: ExtendReservation, cut-short settles, client.stream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from quota_sidecar.client import QuotaClient, StreamSpec, StreamStopped
from quota_sidecar.domain.errors import NotFound
from quota_sidecar.domain.models import CostQuota, DenialCode, QuotaConfig, QuotaScope, Subject
from quota_sidecar.pricing import TokenUsage
from quota_sidecar.pricing.book import PriceBook

MODEL = ("openai", "gpt-4o-mini")


async def budget(client: QuotaClient, scope: QuotaScope, name: str, daily: str) -> None:
    await client.register_quota(
        QuotaConfig(scope, name, cost_quota=CostQuota(daily_limit=Decimal(daily)))
    )


def price(input_tokens: int, output_tokens: int) -> int:
    quote = PriceBook().cost(*MODEL, TokenUsage(input_tokens, output_tokens), datetime.now(UTC))
    assert quote is not None
    return quote.nanos


async def test_fifty_concurrent_streams_stop_at_the_budget_and_charge_what_they_streamed(
    client: QuotaClient, user_id: str
) -> None:
    await budget(client, QuotaScope.USER, user_id, "0.005")
    spec = StreamSpec(
        user_id=user_id, tool_name="chat", provider=MODEL[0], model=MODEL[1],
        input_tokens=100, chunk_tokens=20,
    )  # fmt: skip
    streamed: list[int] = []
    stopped: list[StreamStopped] = []

    async def one_stream() -> None:
        s = client.stream(spec)
        try:
            async with s:
                for _ in range(60):  # wants 300 output tokens
                    await s.add(5)
                    await asyncio.sleep(0)
        except StreamStopped as exc:
            stopped.append(exc)
        finally:
            if s.check is not None:
                streamed.append(s.used)

    await asyncio.gather(*(one_stream() for _ in range(50)))
    usage = await client.get_quota_usage("user", user_id)
    assert usage.held_nanos == 0
    assert usage.cost_today_nanos <= 5_000_000
    assert usage.cost_today_nanos == sum(price(100, used) for used in streamed)
    assert stopped and all(e.code == DenialCode.BUDGET_EXHAUSTED.value for e in stopped)
    assert "budget of user:" in stopped[0].reason


async def test_a_denied_extension_grows_no_subject(client: QuotaClient, user_id: str) -> None:
    await budget(client, QuotaScope.USER, user_id, "1.00")
    await budget(client, QuotaScope.TOOL, f"t-{user_id}", "0.10")
    check = await client.check_quota(
        subjects=[Subject(QuotaScope.USER, user_id), Subject(QuotaScope.TOOL, f"t-{user_id}")],
        estimated_cost=Decimal("0.05"),
        reserve=True,
    )
    assert check.reservation_id
    denied = await client.extend_reservation(check.reservation_id, hold_cost=Decimal("0.20"))
    assert not denied.extended and denied.code is DenialCode.BUDGET_EXHAUSTED
    assert denied.denied_subject == Subject(QuotaScope.TOOL, f"t-{user_id}")
    assert denied.hold_cost_nanos == 50_000_000
    user = await client.get_quota_usage("user", user_id)
    assert user.held_nanos == 50_000_000  # all or nothing: the user's hold did not grow
    grown = await client.extend_reservation(check.reservation_id, hold_cost=Decimal("0.08"))
    assert grown.extended and grown.hold_cost_nanos == 80_000_000
    again = await client.extend_reservation(check.reservation_id, hold_cost=Decimal("0.08"))
    assert again.extended and again.hold_cost_nanos == 80_000_000  # a total: a retry is harmless
    user = await client.get_quota_usage("user", user_id)
    tool = await client.get_quota_usage("tool", f"t-{user_id}")
    assert user.held_nanos == tool.held_nanos == 80_000_000
    assert await client.release_reservation(check.reservation_id)
    with pytest.raises(NotFound):
        await client.extend_reservation(check.reservation_id, hold_cost=Decimal("0.09"))


async def test_a_cancelled_stream_is_settled_cut_short_to_what_it_used(
    client: QuotaClient, user_id: str
) -> None:
    await budget(client, QuotaScope.USER, user_id, "1.00")
    spec = StreamSpec(user_id=user_id, tool_name="chat", token_cost=Decimal("0.000001"),
                      chunk_tokens=10)  # fmt: skip
    s = client.stream(spec)
    halfway = asyncio.Event()

    async def streaming() -> None:
        async with s:
            for i in range(1000):
                await s.add(3)
                if i == 10:
                    halfway.set()
                await asyncio.sleep(0.001)

    task = asyncio.create_task(streaming())
    await halfway.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert s.recorded is not None and s.recorded.recorded
    usage = await client.get_quota_usage("user", user_id)
    assert usage.held_nanos == 0
    assert usage.cost_today_nanos == s.used * 1000 and s.used >= 33


async def test_an_exception_in_the_stream_settles_it(client: QuotaClient, user_id: str) -> None:
    await budget(client, QuotaScope.USER, user_id, "1.00")
    spec = StreamSpec(user_id=user_id, tool_name="chat", provider=MODEL[0], model=MODEL[1],
                      input_tokens=50, chunk_tokens=16)  # fmt: skip
    with pytest.raises(RuntimeError):
        async with client.stream(spec) as s:
            await s.add(40)
            raise RuntimeError("the provider went away")
    usage = await client.get_quota_usage("user", user_id)
    assert usage.held_nanos == 0 and usage.cost_today_nanos == price(50, 40)
    assert usage.tokens_today == 90


async def test_the_provider_s_reported_usage_is_what_is_settled(
    client: QuotaClient, user_id: str
) -> None:
    await budget(client, QuotaScope.USER, user_id, "1.00")
    spec = StreamSpec(user_id=user_id, tool_name="chat", provider=MODEL[0], model=MODEL[1],
                      input_tokens=50, chunk_tokens=16)  # fmt: skip
    async with client.stream(spec) as s:
        await s.add(10)
        s.report(input_tokens=52, output_tokens=11)
    usage = await client.get_quota_usage("user", user_id)
    assert usage.held_nanos == 0 and usage.cost_today_nanos == price(52, 11)
