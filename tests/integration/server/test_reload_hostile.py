"""A hostile quota file at hot reload: refused and counted, the last good config stays in force,
and the file is parsed off the event loop, so the calls being served never wait on it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import quota_sidecar.config as config_module
from quota_sidecar.config import MAX_FILE_BYTES
from quota_sidecar.domain.models import Subject
from tests.integration.server.test_server_reload import quota, until
from tests.support.sidecar import running_sidecar
from tests.unit.config.test_config_hostile import alias_bomb

ALICE = Subject.parse("user:alice")


@pytest.mark.parametrize(
    "hostile",
    [
        alias_bomb(),
        "quotas:\n" + quota("alice", 1) + "    cost_quota: {daily_limit: 1e999999}\n",
        "quotas:\n" + quota("alice", 1) + "#" * (MAX_FILE_BYTES + 1) + "\n",
        "quotas:\n" + quota("alice", 1) + "    alert_thresholds: " + "[" * 2000 + "\n",
    ],
    ids=["alias-bomb", "huge-amount", "oversized", "deep-nesting"],
)
async def test_a_hostile_reload_keeps_the_last_good_config(
    redis_url: str, tmp_path: Path, hostile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed_on: list[threading.Thread] = []
    real_load = config_module.load_quota_document

    def recording_load(path: Path | str) -> config_module.QuotaDocument:
        parsed_on.append(threading.current_thread())
        return real_load(path)

    monkeypatch.setattr(config_module, "load_quota_document", recording_load)
    path = tmp_path / "quotas.yaml"
    path.write_text("quotas:\n" + quota("alice", 60))
    async with running_sidecar(redis_url, config_path=path) as s:
        path.write_text(hostile)

        async def rejected() -> bool:
            name = "quota_sidecar_config_reload_errors_total"
            return s.metrics.value(name, reason="invalid") == 1

        await until(rejected, timeout=30)
        alice = await s.service.get_quota(ALICE)
        assert alice is not None and alice.rate_limits.requests_per_minute == 60
        assert s.metrics.value("quota_sidecar_config_reloads_total") == 1
        assert s.metrics.value("quota_sidecar_config_reload_errors_total", reason="invalid") == 1
        loop_thread = threading.current_thread()
        assert len(parsed_on) >= 2 and all(t is not loop_thread for t in parsed_on)
