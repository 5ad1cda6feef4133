"""Every script in store/scripts has its contract tests here (test_<script>.py)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def test_every_script_has_a_contract_module() -> None:
    folder = resources.files("quota_sidecar.store") / "scripts"
    scripts = {p.name[:-4] for p in folder.iterdir() if p.name.endswith(".lua")} - {"_lib"}
    here = {p.stem.removeprefix("test_") for p in Path(__file__).parent.glob("test_*.py")}
    assert scripts and scripts <= here, f"without contract tests: {sorted(scripts - here)}"
