"""The client's modules, copied from the repository's quota_sidecar package (see pyproject.toml).

setuptools packs whole folders and wants them inside the project, so the modules the client
needs are copied into src/ (git-ignored) first; an sdist carries that copy, and a build from
the sdist, where the repository is not around, uses it as is.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
SOURCES = HERE.parents[1] / "quota_sidecar"
STAGED = HERE / "src"
# What quota_sidecar.client imports, and nothing else: tests/integration/packages installs the
# wheel without the server's dependencies and runs examples/python/tool_executor.py with it.
MODULES = {
    ".": ["__init__.py", "py.typed", "clock.py", "errors.py", "history.py", "models.py",
          "money.py", "periods.py", "results.py", "validation.py"],
    "client": ["*.py"],
    "v1": ["*.py", "*.pyi"],
    "wire": ["__init__.py", "configs.py", "fields.py", "history.py", "replies.py", "runs.py"],
}  # fmt: skip


def stage() -> None:
    shutil.rmtree(STAGED, ignore_errors=True)
    for folder, patterns in MODULES.items():
        target = STAGED / "quota_sidecar" / folder
        target.mkdir(parents=True, exist_ok=True)
        for pattern in patterns:
            matches = sorted((SOURCES / folder).glob(pattern))
            if not matches:
                raise SystemExit(f"quota-sidecar-client: no {folder}/{pattern} in {SOURCES}")
            for source in matches:
                shutil.copy2(source, target / source.name)


if SOURCES.is_dir():  # in the repository; from an sdist, src/ is already there
    stage()

setup(
    package_dir={"": "src"},
    packages=find_packages("src"),
    package_data={"quota_sidecar": ["py.typed"], "quota_sidecar.v1": ["*.pyi"]},
)
