"""The `quota-sidecar` command line: serve, validate, usage, admin and alerts, with the shared
connection flags in connection.py. The top layer: may import the server, the client, the wire
and everything below; nothing imports it.
"""

from __future__ import annotations

from quota_sidecar.cli.entry import build_parser, main

__all__ = ["build_parser", "main"]
