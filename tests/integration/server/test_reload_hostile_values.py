"""Issue 20: hostile values at hot reload (a 5000-digit integer, a python tag, an unknown tag on a
mapping): the reload is refused, counted as invalid, logged with the file, line and field (no
traceback), and the last good config stays in force."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from quota_sidecar.domain.models import Subject
from tests.integration.server.test_server_reload import quota, until
from tests.support.sidecar import running_sidecar

ALICE = Subject.parse("user:alice")


@pytest.mark.parametrize(
    ("hostile", "field"),
    [
        ("    alert_thresholds: [" + "9" * 5000 + "]\n", "quotas[0].alert_thresholds[0]"),
        ("    description: !!python/object/apply:os.system ['echo hi']\n",
         "quotas[0].description"),
        ("    cost_quota: !custom {daily_limit: 1}\n", "quotas[0].cost_quota"),
    ],
    ids=["huge-int", "python-tag", "unknown-tag"],
)  # fmt: skip
async def test_a_hostile_value_at_reload_is_refused_logged_and_counted(
    redis_url: str, tmp_path: Path, hostile: str, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text("quotas:\n" + quota("alice", 60))
    async with running_sidecar(redis_url, config_path=path) as s:
        caplog.set_level(logging.INFO, logger="quota_sidecar")
        path.write_text("quotas:\n" + quota("alice", 1) + hostile)

        async def rejected() -> bool:
            name = "quota_sidecar_config_reload_errors_total"
            return s.metrics.value(name, reason="invalid") == 1

        await until(rejected, timeout=30)
        alice = await s.service.get_quota(ALICE)
        assert alice is not None and alice.rate_limits.requests_per_minute == 60
        rejections = [r for r in caplog.records if "quota file rejected" in r.getMessage()]
        assert rejections and f"{path}:" in rejections[0].getMessage()
        assert f": {field}: " in rejections[0].getMessage()
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
