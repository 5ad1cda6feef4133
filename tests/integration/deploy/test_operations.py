"""deploy/prometheus/rules.yaml and deploy/grafana/quota-sidecar.json: promtool accepts the rules,
and every metric the rules and the dashboard name is one a running sidecar exports on /metrics
(a renamed or removed metric would leave an alert that never fires, a panel that shows nothing)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import urllib.request
from typing import Any

import yaml

from tests.support.image import REPO
from tests.support.sidecar import running_sidecar

RULES = REPO / "deploy" / "prometheus" / "rules.yaml"
DASHBOARD = REPO / "deploy" / "grafana" / "quota-sidecar.json"
_METRIC = re.compile(r"\bquota_sidecar_[a-z0-9_]+\b")
# What each exposition TYPE adds to the family's name in its samples.
_SUFFIXES = {"gauge": ("",), "histogram": ("_bucket", "_sum", "_count", "_created")}


def _rule_expressions() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def _dashboard_expressions() -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "definition") and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(DASHBOARD.read_text()))
    return found


def _exported(text: str) -> set[str]:
    """Every sample name the scrape's families can carry, with or without samples yet."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split()
            base = family.removesuffix("_total")
            if kind == "counter":
                names |= {family, base + "_total", base + "_created"}
            else:
                names |= {family + suffix for suffix in _SUFFIXES[kind]}
    return names


def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "no promtool: apt-get install prometheus (scripts/ci_install_toolchains.sh)"
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(_rule_expressions())} rules found" in done.stdout


async def test_every_metric_the_rules_and_dashboard_name_is_on_a_running_sidecars_metrics(
    redis_url: str,
) -> None:
    async with running_sidecar(redis_url, metrics_listen="127.0.0.1:0") as sidecar:
        url = f"http://127.0.0.1:{sidecar.metrics_port}/metrics"

        def scrape() -> str:
            with urllib.request.urlopen(url, timeout=10) as reply:
                return str(reply.read().decode())

        exported = _exported(await asyncio.to_thread(scrape))
    rules, panels = _rule_expressions(), _dashboard_expressions()
    named = {m for expr in rules + panels for m in _METRIC.findall(expr)}
    assert named - exported == set()
    # Each area the operator needs is covered, on the dashboard and by an alert.
    for needed in (
        "quota_sidecar_checks_total",
        "quota_sidecar_store_up",
        "quota_sidecar_spool_bytes",
        "quota_sidecar_rpcs_total",
        "quota_sidecar_alert_delivery_lag_seconds_bucket",
    ):
        assert any(needed in expr for expr in panels), f"no panel shows {needed}"
        assert any(needed in expr for expr in rules), f"no rule watches {needed}"
    assert any('code="RESOURCE_EXHAUSTED"' in expr for expr in rules + panels)  # the shed rate
