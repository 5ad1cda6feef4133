"""What the client-package tests share: a real sidecar with the smoke quotas, and running a
smoke program against it. The transcript and quota file are the other-languages test's, so a
client built from a package says exactly what one built from `make stubs` says."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

from tests.integration.languages.test_other_languages import DATA_TOKEN, quota_file, transcript
from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess

__all__ = ["ROOT", "run_against_sidecar", "run_checked", "transcript"]

ROOT = Path(__file__).parents[3]


def run_checked(command: Sequence[str], cwd: Path, timeout: float = 600, **env: str) -> str:
    """Run a build step; its output is in the assertion when it fails."""
    run = subprocess.run(
        list(command),
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,  # asserted below, with the output
    )
    assert run.returncode == 0, f"{' '.join(command)} failed:\n{run.stdout}\n{run.stderr}"
    return run.stdout


def run_against_sidecar(
    command: Sequence[str], redis_url: str, tmp_path: Path, lang: str
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Start a sidecar with the smoke quotas for a fresh user and tool, run `command` with
    --target/--user/--tool appended, and return the tool's name and what the program did."""
    user, tool = f"{lang}-user-{uuid.uuid4().hex[:8]}", f"{lang}-tool-{uuid.uuid4().hex[:8]}"
    config = quota_file(tmp_path / "quotas.yaml", user, tool)
    env = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_DATA_TOKEN": DATA_TOKEN}
    args = ["--redis-url", redis_url, "--data-dir", str(tmp_path / "data"), "--config", str(config)]
    with SidecarProcess(*args, env=env) as sidecar:
        run = subprocess.run(
            [*command, "--target", sidecar.target, "--user", user, "--tool", tool],
            env={**os.environ, "QUOTA_SIDECAR_DATA_TOKEN": DATA_TOKEN},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,  # the caller asserts the exit code, with what the program said
        )
        assert sidecar.terminate() == 0, sidecar.output()
    return tool, run
