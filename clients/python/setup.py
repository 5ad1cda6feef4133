"""The client's modules, copied from the repository's quota_sidecar package (see pyproject.toml).

setuptools packs whole folders and wants them inside the project, so the modules the client
needs are copied into src/ (git-ignored) first; an sdist carries that copy, and a build from
the sdist, where the repository is not around, uses it as is.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
SOURCES = HERE.parents[1] / "quota_sidecar"
STAGED = HERE / "src"
# What quota_sidecar.client imports, found by following its imports (so a module the client
# starts to import can never be missing from the wheel), and nothing else:
# tests/integration/packages installs the wheel without the server's dependencies and runs
# examples/python/tool_executor.py with it. Imports under `if TYPE_CHECKING:` are not followed.
ROOTS = ["client/*.py", "v1/*.py", "__init__.py"]
EXTRA = ["py.typed", "v1/*.pyi"]


def _imports(path: Path) -> set[str]:
    """The quota_sidecar modules a file imports at run time (dotted, without the prefix)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for inner in branch.body
        for node in ast.walk(inner)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {n.removeprefix("quota_sidecar.") for n in names if n.startswith("quota_sidecar.")}
    return found


def _file(module: str) -> Path | None:
    base = SOURCES.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None  # a name imported from a module, not a module


def modules() -> set[Path]:
    """The client's files and every quota_sidecar module they import, transitively, with the
    __init__.py of each package on the way."""
    todo = [p for pattern in ROOTS for p in SOURCES.glob(pattern)]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = path.parent
        while package != SOURCES:  # a module's packages are imported before it
            todo.append(package / "__init__.py")
            package = package.parent
        todo += [f for m in _imports(path) if (f := _file(m)) is not None]
    return seen | {p for pattern in EXTRA for p in SOURCES.glob(pattern)}


def stage() -> None:
    shutil.rmtree(STAGED, ignore_errors=True)
    for source in sorted(modules()):
        target = STAGED / "quota_sidecar" / source.relative_to(SOURCES)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


if SOURCES.is_dir():  # in the repository; from an sdist, src/ is already there
    stage()

setup(
    package_dir={"": "src"},
    packages=find_packages("src"),
    package_data={"quota_sidecar": ["py.typed"], "quota_sidecar.v1": ["*.pyi"]},
)
