"""The layout the docs draw is the tree on disk: the README's and docs/development.md's
layout blocks name every package and top-level module of quota_sidecar (and nothing that is
gone), and every package's docstring says what it owns and what it may import."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]
PACKAGE = ROOT / "quota_sidecar"
GENERATED = {"v1"}


def _layout_block(page: Path) -> str:
    text = page.read_text()
    section = re.search(r"^## Layout\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, f"{page.name} has no '## Layout' section"
    block = re.search(r"```\n(.*?)```", section.group(1), re.S)
    assert block, f"{page.name}'s layout section has no code block"
    return block.group(1)


def _tree() -> set[str]:
    """Every package (as `name/`, nested ones as `parent/name/`) and top-level module."""
    names = {p.name for p in PACKAGE.glob("*.py")} - {"__init__.py", "__main__.py"}
    for init in PACKAGE.rglob("__init__.py"):
        relative = init.parent.relative_to(PACKAGE)
        if relative.parts and relative.parts[0] not in GENERATED | {"__pycache__"}:
            names.add("/".join(relative.parts) + "/")
    names.update(f"{g}/" for g in GENERATED)
    return names


def _named(block: str, entry: str) -> bool:
    # A nested package may be drawn under its parent by its own name (`  durability/`).
    leaf = entry.rstrip("/").split("/")[-1] + ("/" if entry.endswith("/") else "")
    return re.search(rf"(?<![\w/.]){re.escape(leaf)}(?![\w])", block) is not None


@pytest.mark.parametrize("page", ["README.md", "docs/development.md"])
def test_the_layout_block_names_every_package_and_module(page: str) -> None:
    block = _layout_block(ROOT / page)
    missing = sorted(entry for entry in _tree() if not _named(block, entry))
    assert not missing, f"{page}'s layout lacks {missing}"


@pytest.mark.parametrize("page", ["README.md", "docs/development.md"])
def test_the_layout_block_names_nothing_that_is_gone(page: str) -> None:
    block = _layout_block(ROOT / page)
    drawn = set(re.findall(r"(?<![\w/.])([a-z_0-9]+(?:/[a-z_0-9]+)*/|[a-z_0-9]+\.py)", block))
    leaves = {e.rstrip("/").split("/")[-1] + ("/" if e.endswith("/") else "") for e in _tree()}
    modules = {p.name for p in PACKAGE.rglob("*.py")}
    folders = {p.name + "/" for p in PACKAGE.rglob("*") if p.is_dir()}
    # The block opens with `quota_sidecar/` and may point at the repository's own folders.
    known = leaves | modules | folders | {"quota_sidecar/"}
    gone = sorted(n for n in drawn if n not in known and not (ROOT / n).exists())
    assert not gone, f"{page}'s layout names {gone}, which are not in the tree"


def test_every_package_says_what_it_owns_and_may_import() -> None:
    vague = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        if "v1" in init.relative_to(PACKAGE).parts or init.parent == PACKAGE:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        if not re.search(r"\b(may import|imports only|imports nothing)\b", doc, re.I):
            vague.append(str(init.relative_to(ROOT)))
    assert not vague, f"these packages don't say what they may import: {vague}"
