"""Redis stopped under a running server: an identifier the server has never seen follows the
failure modes of the scope default it would follow (a fail-closed budget denies, fail-open rate
limits allow), with decided_without_store, as a registered one would."""

from __future__ import annotations

import grpc

from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.integration.server.test_server_redis_outage import NOT_SERVING, health_becomes
from tests.support.redis_servers import RedisProcess
from tests.support.sidecar import ADMIN_METADATA, running_sidecar


def _subject(scope: types_pb2.Scope.ValueType, identifier: str) -> types_pb2.Subject:
    return types_pb2.Subject(scope=scope, identifier=identifier)


async def test_a_never_seen_identifier_follows_its_defaults_failure_modes(
    disposable_redis: RedisProcess,
) -> None:
    open_rates = types_pb2.QuotaConfig(  # every user: rate limits that fail open
        subject=_subject(types_pb2.SCOPE_USER, "*"),
        rate_limits=types_pb2.RateLimits(
            requests_per_minute=100, failure_mode=types_pb2.FAILURE_MODE_OPEN
        ),
    )
    closed_budget = types_pb2.QuotaConfig(  # every tool: a budget that fails closed
        subject=_subject(types_pb2.SCOPE_TOOL, "*"),
        cost_quota=types_pb2.CostQuota(
            daily_limit_nanos=10**9, failure_mode=types_pb2.FAILURE_MODE_CLOSED
        ),
    )
    async with (
        running_sidecar(disposable_redis.url, store_timeout=0.2) as s,
        grpc.aio.insecure_channel(s.target) as channel,
    ):
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        quota = quota_pb2_grpc.QuotaServiceStub(channel)
        for config in (open_rates, closed_budget):
            await admin.PutQuota(
                admin_pb2.PutQuotaRequest(config=config, actor="t"), metadata=ADMIN_METADATA
            )
        # The server reads each default once, through one identifier under it.
        seen = [_subject(types_pb2.SCOPE_USER, "seen"), _subject(types_pb2.SCOPE_TOOL, "seen")]
        assert (await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=seen))).allowed

        disposable_redis.stop()
        await health_becomes(channel, NOT_SERVING)

        new_user = _subject(types_pb2.SCOPE_USER, "never-seen")
        allowed = await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[new_user]))
        assert allowed.allowed and allowed.decided_without_store

        new_tool = _subject(types_pb2.SCOPE_TOOL, "never-seen")
        denied = await quota.CheckQuota(
            quota_pb2.CheckQuotaRequest(subjects=[new_tool], estimated_cost_nanos=1000)
        )
        assert not denied.allowed and denied.decided_without_store
        assert denied.code == quota_pb2.DENIAL_CODE_STORE_UNAVAILABLE
        assert "fail closed" in denied.reason  # the default's budget, not "unknown"
        both = await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[new_user, new_tool]))
        assert not both.allowed and both.code == quota_pb2.DENIAL_CODE_STORE_UNAVAILABLE
