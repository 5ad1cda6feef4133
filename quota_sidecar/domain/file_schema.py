"""The quota file's fields as data: each section's parser takes its accepted keys from its
FileSection (`SECTION.names`), and scripts/gen_reference.py writes docs/reference/quota-file.md
from the same tables, so a key the parser accepts is a key the reference lists.

Part of the domain: imports nothing of the project, so the quota file's parsers (config/), the
price overrides (pricing/) and the webhooks (alerting/) can all declare their sections here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FileField", "FileSection"]


@dataclass(frozen=True, slots=True)
class FileField:
    """One key of a section. `section` names the path of the section its value holds (a
    mapping, or a list of mappings), so the reference can follow the file's tree."""

    name: str
    kind: str  # what the value is, as a reader writes it: "dollars", "whole number", ...
    meaning: str
    default: str = ""  # as the reference shows it; "" when absent means "no limit" or "none"
    required: bool = False
    section: str = ""


@dataclass(frozen=True, slots=True)
class FileSection:
    """The keys one mapping of the file accepts, at `path` (`quotas[]`: each entry of the
    `quotas:` list; `runs.tenants.<tenant>`: the value of any tenant's key)."""

    path: str
    about: str
    fields: tuple[FileField, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(field.name for field in self.fields)
