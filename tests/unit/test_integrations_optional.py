"""The base install pulls no agent framework: not in its dependencies, not in the run lock,
and importing the client and the integrations package loads none of them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
FRAMEWORKS = ("openai-agents", "openai", "langchain-core", "langgraph", "mcp")


def test_the_base_dependencies_and_the_run_lock_name_no_framework() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {d.split(">")[0].split("=")[0].split("[")[0].split(";")[0].strip().lower()
            for d in project["dependencies"]}  # fmt: skip
    assert base.isdisjoint(FRAMEWORKS)
    locked = {line.split("==")[0] for line in (ROOT / "requirements/run.txt").read_text().split()
              if "==" in line}  # fmt: skip
    assert locked.isdisjoint(FRAMEWORKS)
    extras = project["optional-dependencies"]
    assert {"openai-agents", "langchain", "mcp"} <= set(extras)


@pytest.mark.spawns  # a fresh Python: `make unit` leaves it out
def test_importing_the_client_and_the_integrations_package_loads_no_framework() -> None:
    code = (
        "import sys, quota_sidecar.client, quota_sidecar.integrations\n"
        "loaded = [m for m in ('agents', 'langchain_core', 'langgraph', 'mcp', 'openai')"
        " if m in sys.modules]\n"
        "print(','.join(loaded))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == ""
