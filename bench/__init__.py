"""`make bench`: side-by-side measurements of quota-sidecar. Not a test suite (see README.md)."""

from __future__ import annotations

__all__: list[str] = []
