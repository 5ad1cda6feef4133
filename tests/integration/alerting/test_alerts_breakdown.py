"""A budget alert carries where the period's money went, by provider, tool and model: in the
alert itself and in the webhook body."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, QuotaService
from quota_sidecar.alerting.webhook import start_webhooks
from quota_sidecar.domain.clock import ManualClock
from tests.integration.alerting.test_alerts_webhook import Receiver, write_config


async def test_a_budget_alert_and_its_webhook_body_break_spend_down_by_model(
    redis_url: str, tmp_path: Path
) -> None:
    engine = QuotaService(redis_url, clock=ManualClock())
    await engine.put_quota(
        QuotaConfig(scope=QuotaScope.USER, identifier="dana", cost_quota=CostQuota(daily_limit=1))
    )
    receiver = Receiver()
    hook = f"webhooks:\n  - name: ops\n    url: {receiver.url}\n    secret: s3cret\n"
    config = write_config(tmp_path, hook)
    runner = await start_webhooks(config, engine.store)
    assert runner is not None
    try:
        await engine.record_usage(
            scope="user", identifier="dana", cost=Decimal("0.3"), provider="openai",
            model="gpt-4o", tool_name="search",
        )  # fmt: skip
        result = await engine.record_usage(
            scope="user", identifier="dana", cost=Decimal("0.55"), provider="anthropic",
            model="claude-sonnet-4", tool_name="search",
        )  # fmt: skip
        (alert,) = result.alerts  # 85 % of $1: the 80 % warning
        assert [(e.name, e.cost_nanos, e.requests) for e in alert.by_model] == [
            ("anthropic/claude-sonnet-4", 550_000_000, 1),
            ("openai/gpt-4o", 300_000_000, 1),
        ]
        assert [(e.name, e.cost_nanos) for e in alert.by_tool] == [("search", 850_000_000)]
        ((_, body),) = await receiver.wait_for(1)
        payload = json.loads(body)
        assert payload["by_model"] == [
            {"name": "anthropic/claude-sonnet-4", "cost_nanos": 550_000_000, "requests": 1},
            {"name": "openai/gpt-4o", "cost_nanos": 300_000_000, "requests": 1},
        ]
        assert [p["name"] for p in payload["by_provider"]] == ["anthropic", "openai"]
    finally:
        await runner.close()
        receiver.close()
        await engine.close()
