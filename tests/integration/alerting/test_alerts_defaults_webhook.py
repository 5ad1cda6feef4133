"""A webhook's payload says whether the subject's quota came from a scope default: a
never-registered user under `user:*` crosses a threshold through a real server on port 0."""

from __future__ import annotations

import json
from pathlib import Path

import grpc

from quota_sidecar.alerting.webhook import start_webhooks
from quota_sidecar.store.redis import Store
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.integration.alerting.test_alerts_webhook import Receiver, receiver, write_config
from tests.support.sidecar import ADMIN_METADATA, running_sidecar

__all__ = ["receiver"]  # the fixture, shared with test_alerts_webhook

DOLLAR = 1_000_000_000


def _user(identifier: str) -> types_pb2.Subject:
    return types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier=identifier)


async def test_the_payload_names_the_default_the_subjects_quota_came_from(
    redis_url: str, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    hook = f"webhooks:\n  - name: ops\n    url: {receiver.url}\n    secret: s3cret\n"
    config = write_config(tmp_path, hook + "    backoff: 0.05\n")
    runner = await start_webhooks(config, store, lambda _: None)
    assert runner is not None
    async with (
        running_sidecar(redis_url) as sidecar,
        grpc.aio.insecure_channel(sidecar.target) as channel,
    ):
        default = types_pb2.QuotaConfig(
            subject=_user("*"),
            cost_quota=types_pb2.CostQuota(daily_limit_nanos=10 * DOLLAR),
            alert_thresholds=[50],
        )
        await admin_pb2_grpc.QuotaAdminServiceStub(channel).PutQuota(
            admin_pb2.PutQuotaRequest(config=default, actor="test"), metadata=ADMIN_METADATA
        )
        await quota_pb2_grpc.QuotaServiceStub(channel).RecordUsage(
            quota_pb2.RecordUsageRequest(subjects=[_user("never-seen")], cost_nanos=6 * DOLLAR)
        )
        posted = [json.loads(body) for _, body in await receiver.wait_for(2)]
    await runner.close()
    by_kind = {p["kind"]: p for p in posted}
    threshold = by_kind["THRESHOLD_WARNING"]
    assert threshold["subject"] == {"scope": "user", "identifier": "never-seen"}
    assert (threshold["quota_source"], threshold["quota_default"]) == ("default", "user:*")
    # An admin event is about the default itself: no source to tell.
    changed = by_kind["QUOTA_CHANGED"]
    assert (changed["quota_source"], changed["quota_default"]) == (None, None)
