"""Envoy's rate limit service (envoy.service.ratelimit.v3) against a real sidecar, with the
xds-protos client. No Envoy binary runs here (none can be installed on this machine); the
protocol, spoken by Envoy's own generated stubs, stands in for it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from quota_sidecar.domain.models import QuotaScope, Subject
from tests.integration.gateways.envoy_support import (
    MINUTE,
    OK,
    OVER_LIMIT,
    descriptor,
    envoy_sidecar,
    headers,
    metadata,
    request,
    write_quota_file,
)

QUOTAS = """
quotas:
  - {scope: user, identifier: alice, rate_limits: {requests_per_minute: 3}}
  - {scope: user, identifier: burst, rate_limits: {requests_per_minute: 60}}
  - {scope: user, identifier: bob, rate_limits: {requests_per_minute: 10, requests_per_hour: 100}}
  - {scope: tool, identifier: search, rate_limits: {requests_per_minute: 2}}
  - {scope: user, identifier: hits, rate_limits: {requests_per_minute: 20}}
  - {scope: model, identifier: openai/gpt-4o, rate_limits: {requests_per_minute: 5}}
  - {scope: global, identifier: all, rate_limits: {requests_per_hour: 7}}
  - scope: user
    identifier: writer
    rate_limits: {tokens_per_minute: 1000, tokens_per_day: 5000000000, requests_per_minute: 50}
"""


@pytest.fixture
def quota_file(tmp_path: Path) -> Path:
    return write_quota_file(tmp_path / "quotas.yaml", QUOTAS)


async def test_ok_then_over_limit_with_the_exact_remaining_and_headers(
    redis_url: str, quota_file: Path
) -> None:
    async with envoy_sidecar(redis_url, quota_file) as (_, rls):
        alice = request(descriptor(("user_id", "alice")))
        for remaining in (2, 1, 0):
            reply = await rls.ShouldRateLimit(alice)
            assert reply.overall_code == OK
            (status,) = reply.statuses
            assert status.code == OK
            assert status.limit_remaining == remaining
            assert (status.current_limit.requests_per_unit, status.current_limit.unit) == (
                3,
                MINUTE,
            )
            assert timedelta(0) < status.duration_until_reset.ToTimedelta() <= timedelta(seconds=66)
            shown = headers(reply)
            assert shown["x-ratelimit-limit"] == "3, 3;w=60"
            assert shown["x-ratelimit-remaining"] == str(remaining)
            assert 1 <= int(shown["x-ratelimit-reset"]) <= 66
            assert not reply.HasField("dynamic_metadata")
        denied = await rls.ShouldRateLimit(alice)
        assert denied.overall_code == OVER_LIMIT
        (status,) = denied.statuses
        assert status.code == OVER_LIMIT and status.limit_remaining == 0
        assert status.current_limit.requests_per_unit == 3
        assert timedelta(0) < status.duration_until_reset.ToTimedelta() <= timedelta(seconds=66)
        assert headers(denied)["x-ratelimit-remaining"] == "0"
        why = metadata(denied)
        assert why["denied"] is True and why["code"] == "RATE_LIMITED"
        assert why["denied_subject"] == "user:alice"
        assert why["denied_limit"] == "requests_per_minute"
        assert why["over_limit_descriptors"] == [0]


async def test_300_concurrent_calls_against_60_per_minute_admit_exactly_60(
    redis_url: str, quota_file: Path
) -> None:
    async with envoy_sidecar(redis_url, quota_file) as (sidecar, rls):
        one = request(descriptor(("user_id", "burst")))
        replies = await asyncio.gather(*(rls.ShouldRateLimit(one) for _ in range(300)))
        assert sum(r.overall_code == OK for r in replies) == 60
        assert sum(r.overall_code == OVER_LIMIT for r in replies) == 240
        remaining = sorted(r.statuses[0].limit_remaining for r in replies if r.overall_code == OK)
        assert remaining == list(range(60))  # every admitted call saw its own exact count
        usage = await sidecar.service.get_usage(Subject(QuotaScope.USER, "burst"))
        assert usage.requests_last_minute == 60


async def test_hits_addend_counts_requests_and_a_descriptor_may_set_its_own(
    redis_url: str, quota_file: Path
) -> None:
    async with envoy_sidecar(redis_url, quota_file) as (sidecar, rls):
        reply = await rls.ShouldRateLimit(request(descriptor(("user_id", "hits")), hits=5))
        assert reply.statuses[0].limit_remaining == 15
        reply = await rls.ShouldRateLimit(request(descriptor(("user_id", "hits"), hits=12)))
        assert reply.statuses[0].limit_remaining == 3
        # 0 on the descriptor is a look: nothing is counted.
        reply = await rls.ShouldRateLimit(request(descriptor(("user_id", "hits"), hits=0)))
        assert reply.overall_code == OK and reply.statuses[0].limit_remaining == 3
        denied = await rls.ShouldRateLimit(request(descriptor(("user_id", "hits")), hits=4))
        assert denied.overall_code == OVER_LIMIT  # 4 do not fit in 3, and none is counted
        usage = await sidecar.service.get_usage(Subject(QuotaScope.USER, "hits"))
        assert usage.requests_last_minute == 17


async def test_tokens_mode_counts_hits_as_tokens_of_one_request(
    redis_url: str, quota_file: Path
) -> None:
    async with envoy_sidecar(redis_url, quota_file) as (sidecar, rls):
        writer = descriptor(("user_id", "writer"))
        reply = await rls.ShouldRateLimit(request(writer, domain="llm-tokens", hits=400))
        (status,) = reply.statuses
        assert reply.overall_code == OK
        # tokens_per_day (5e9) is above Envoy's uint32: enforced, never shown as current_limit.
        assert (status.current_limit.requests_per_unit, status.current_limit.unit) == (
            1000,
            MINUTE,
        )
        assert status.limit_remaining == 600
        assert headers(reply)["x-ratelimit-limit"] == "1000, 1000;w=60"
        denied = await rls.ShouldRateLimit(request(writer, domain="llm-tokens", hits=601))
        assert denied.overall_code == OVER_LIMIT
        usage = await sidecar.service.get_usage(Subject(QuotaScope.USER, "writer"))
        assert (usage.tokens_last_minute, usage.requests_last_minute) == (400, 1)


async def test_descriptors_mapping_to_several_subjects_are_checked_atomically(
    redis_url: str, quota_file: Path
) -> None:
    async with envoy_sidecar(redis_url, quota_file) as (sidecar, rls):
        both = request(
            descriptor(("user_id", "bob"), ("x-tool", "search")),
            descriptor(("model", "gpt-4o")),
            descriptor(("generic_key", "gateway")),
        )
        for _ in range(2):
            reply = await rls.ShouldRateLimit(both)
            assert [s.code for s in reply.statuses] == [OK, OK, OK]
        # The first descriptor's tightest limit is the tool's (0 left of 2).
        assert reply.statuses[0].limit_remaining == 0
        assert reply.statuses[0].current_limit.requests_per_unit == 2
        assert reply.statuses[1].limit_remaining == 3  # model:openai/gpt-4o, 5 per minute
        assert reply.statuses[2].limit_remaining == 5  # global:all, 7 per hour
        assert headers(reply)["x-ratelimit-remaining"] == "0"
        denied = await rls.ShouldRateLimit(both)
        assert denied.overall_code == OVER_LIMIT
        assert [s.code for s in denied.statuses] == [OVER_LIMIT, OK, OK]
        assert denied.statuses[1].limit_remaining == 3  # not counted: the check was denied
        assert metadata(denied)["denied_subject"] == "tool:search"
        for subject, counted in (
            (Subject(QuotaScope.USER, "bob"), 2),
            (Subject(QuotaScope.MODEL, "openai/gpt-4o"), 2),
            (Subject(QuotaScope.GLOBAL, "all"), 2),
        ):
            usage = await sidecar.service.get_usage(subject)
            assert usage.requests_today == counted, subject


async def test_unmapped_descriptors_are_ok_and_counted(redis_url: str, quota_file: Path) -> None:
    async with envoy_sidecar(redis_url, quota_file) as (sidecar, rls):
        reply = await rls.ShouldRateLimit(
            request(descriptor(("remote_address", "10.0.0.1")), descriptor(("user_id", "bob")))
        )
        assert [s.code for s in reply.statuses] == [OK, OK]
        assert not reply.statuses[0].HasField("current_limit")
        assert reply.statuses[1].limit_remaining == 9
        reply = await rls.ShouldRateLimit(
            request(descriptor(("user_id", "alice")), domain="someone-else")
        )
        assert reply.overall_code == OK and [s.code for s in reply.statuses] == [OK]
        metric = "quota_sidecar_envoy_unmapped_descriptors_total"
        assert sidecar.metrics.value(metric, domain="agents") == 1
        assert sidecar.metrics.value(metric, domain="(unknown)") == 1
        usage = await sidecar.service.get_usage(Subject(QuotaScope.USER, "alice"))
        assert usage.requests_last_minute == 0  # another domain's descriptors map to nothing


async def test_bad_requests_are_invalid_argument_naming_the_field(
    redis_url: str, quota_file: Path
) -> None:
    async with envoy_sidecar(redis_url, quota_file) as (_, rls):
        cases = [
            (request(descriptor(("user_id", "has space"))), "descriptors[0].entries[0].value"),
            (
                request(
                    descriptor(("user_id", "bob"), hits=2), descriptor(("x-tool", "search"), hits=3)
                ),
                "descriptors[1].hits_addend",
            ),
        ]
        for bad, field in cases:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await rls.ShouldRateLimit(bad)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert (caught.value.details() or "").startswith(field)


async def test_the_data_token_guards_the_envoy_service(redis_url: str, quota_file: Path) -> None:
    async with envoy_sidecar(redis_url, quota_file, data_token="data-t") as (_, rls):
        alice = request(descriptor(("user_id", "alice")))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await rls.ShouldRateLimit(alice)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        reply = await rls.ShouldRateLimit(alice, metadata=(("authorization", "Bearer data-t"),))
        assert reply.overall_code == OK
