"""mkdocs hooks (mkdocs.yml `hooks:`) for the documentation site built from docs/.

- The site's home page is the README itself, so the front page on GitHub and the site's home
  never differ: its links into docs/ become the site's pages, its other links point one level up.
- A link from a page to a file of the repository outside docs/ (`../examples/go/main.go`,
  `../README.md#install`) works on GitHub as it is; on the site it becomes a link to that file on
  GitHub, and a link to a file that does not exist fails the build, as mkdocs' own strict checks
  fail a broken link between pages.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def _is_local(target: str) -> bool:
    return not (target.startswith("#") or _SCHEME.match(target) or target.startswith("/"))


def _outside_code(markdown: str, rewrite: Any) -> str:
    """Apply `rewrite` to the links of every line outside fenced code blocks."""
    lines, fenced = [], False
    for line in markdown.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
        lines.append(line if fenced else _LINK.sub(rewrite, line))
    return "".join(lines)


def readme_as_page(readme: str) -> str:
    """The README's links, seen from docs/: `docs/x.md` is the page x.md, the rest is `../`."""

    def rewrite(match: re.Match[str]) -> str:
        target = match.group(2)
        if _is_local(target):
            target = target.removeprefix("docs/") if target.startswith("docs/") else "../" + target
        return match.group(1) + target + match.group(3)

    return _outside_code(readme, rewrite)


def on_files(files: Files, config: Any) -> Files:
    readme = Path(config["docs_dir"]).parent / "README.md"
    files.append(File.generated(config, "index.md", content=readme_as_page(readme.read_text())))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    docs_dir = Path(config["docs_dir"]).resolve()
    root = docs_dir.parent
    page_dir = posixpath.dirname(page.file.src_uri)
    repo_url = str(config["repo_url"]).rstrip("/")

    def rewrite(match: re.Match[str]) -> str:
        target = match.group(2)
        if not _is_local(target):
            return match.group(0)
        path, hash_, anchor = target.partition("#")
        resolved = (docs_dir / page_dir / path).resolve()
        if resolved.is_relative_to(docs_dir):
            return match.group(0)  # a page or an image of the site: mkdocs checks it
        if not resolved.is_relative_to(root) or not resolved.exists():
            raise PluginError(f"{page.file.src_uri}: the link {target!r} names no file")
        kind = "tree" if resolved.is_dir() else "blob"
        url = f"{repo_url}/{kind}/main/{resolved.relative_to(root).as_posix()}{hash_}{anchor}"
        return match.group(1) + url + match.group(3)

    return _outside_code(markdown, rewrite)
