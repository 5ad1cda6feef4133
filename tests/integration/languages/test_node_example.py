"""The Node.js example (examples/node/client.js) against a real sidecar subprocess.

It installs the example's pinned packages with `npm ci` when node_modules is missing (the npm
registry is reachable from CI), starts `python -m quota_sidecar serve` on port 0 over the
test's Redis, configures a $1/day budget for the user through the Python client, then runs the
Node client and checks every JSON line it prints.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quota_sidecar.client.sync import SyncQuotaClient
from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope
from tests.support import processes
from tests.support.sidecar import ADMIN_TOKEN

NODE_EXAMPLE = Path(__file__).parents[3] / "examples" / "node"
DATA_TOKEN = "node-data-token"


@contextlib.contextmanager
def sidecar_process(redis_url: str, data_dir: Path) -> Iterator[str]:
    """`python -m quota_sidecar serve` on port 0; yields its target; SIGTERM must exit 0."""
    env = {
        **os.environ,
        "QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN,
        "QUOTA_SIDECAR_DATA_TOKEN": DATA_TOKEN,
    }
    command = [sys.executable, "-m", "quota_sidecar", "serve", "--listen", "127.0.0.1:0",
               "--redis-url", redis_url, "--data-dir", str(data_dir)]  # fmt: skip
    process = processes.start(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert process.stdout is not None
    try:
        line = process.stdout.readline()  # "listening on HOST:PORT" once it serves
        assert line.startswith("listening on "), f"sidecar did not start: {line!r}"
        yield line.removeprefix("listening on ").strip()
        process.terminate()
        assert process.wait(timeout=30) == 0
    finally:
        processes.stop(process)
        process.stdout.close()


def node_ready() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    # The Node path is part of CI: a machine without Node fails here rather than skip it.
    assert node and npm, "the Node example needs node and npm (apt-get install nodejs npm)"
    if not (NODE_EXAMPLE / "node_modules" / "@grpc" / "grpc-js").is_dir():
        processes.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_EXAMPLE,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return node


@pytest.mark.timeout(600)
def test_node_client_checks_records_reads_usage_and_follows_alerts(
    redis_url: str, tmp_path: Path
) -> None:
    node = node_ready()
    user = f"node-{uuid.uuid4().hex[:8]}"
    with sidecar_process(redis_url, tmp_path) as target:
        with SyncQuotaClient(target, token=DATA_TOKEN, admin_token=ADMIN_TOKEN) as quota:
            quota.register_quota(
                QuotaConfig(QuotaScope.USER, user, cost_quota=CostQuota(daily_limit=1))
            )
        run = processes.run(  # its return code is asserted below, with stderr
            [node, "client.js", "--target", target, "--user", user,
             "--tool", "search", "--provider", "openai", "--estimate", "0.9",
             "--cost", "0.85", "--alerts", "2", "--cursor", "0", "--wait", "20"],
            cwd=NODE_EXAMPLE,
            env={"PATH": str(Path(node).parent), "QUOTA_SIDECAR_DATA_TOKEN": DATA_TOKEN},
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr

    lines: list[dict[str, Any]] = [json.loads(line) for line in run.stdout.splitlines()]
    assert [line["step"] for line in lines] == ["check", "record", "usage", "alert", "alert"]
    check, record, usage, *alerts = (line.get("response") or line["alert"] for line in lines)

    assert check["allowed"] is True and check["code"] == "DENIAL_CODE_UNSPECIFIED"
    assert check["reservation_id"]
    assert record["recorded"] is True and record["duplicate"] is False
    totals = {t["subject"]["identifier"]: t for t in record["totals"]}
    assert set(totals) == {user, "search", "openai"}
    assert totals[user]["cost_today_nanos"] == "850000000"  # int64 as a string: exact

    assert usage["subject"] == {"scope": "SCOPE_USER", "identifier": user}
    assert usage["cost_today_nanos"] == "850000000"
    assert usage["held_nanos"] == "0"  # the hold was settled to the actual cost
    assert usage["requests_today"] == "1"
    assert [(e["name"], e["cost_nanos"]) for e in usage["by_tool_today"]] == [
        ("search", "850000000")
    ]

    kinds = [(a["kind"], a["threshold_percent"]) for a in alerts]
    assert kinds == [("ALERT_KIND_QUOTA_CHANGED", 0), ("ALERT_KIND_THRESHOLD_WARNING", 80)]
    assert all(a["subject"]["identifier"] == user for a in alerts)
    assert alerts[1]["limit"] == "LIMIT_KIND_COST_DAILY" and alerts[1]["used"] == "850000000"
