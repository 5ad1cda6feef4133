"""One version, in pyproject.toml: the package, the Makefile (the image's tag) and the image's
archive name all read it."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

import quota_sidecar

# It asks make (a process): `make unit` leaves it out.
pytestmark = pytest.mark.spawns

REPO = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_the_package_the_makefile_and_the_image_read_the_one_version() -> None:
    assert quota_sidecar.__version__ == VERSION
    made = subprocess.run(
        ["make", "-s", "--no-print-directory", "version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert made.stdout.split() == [VERSION, f"build/quota-sidecar-{VERSION}.oci.tar"]
