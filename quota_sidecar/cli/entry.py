"""The `quota-sidecar` command: serve | validate | usage | check | record | runs … | admin … |
alerts | prices … | top."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from collections.abc import Sequence

from quota_sidecar.cli.admin import add_admin_command
from quota_sidecar.cli.alerts import add_alerts_command
from quota_sidecar.cli.check import add_check_commands
from quota_sidecar.cli.prices import add_prices_command
from quota_sidecar.cli.serve import add_serve_command
from quota_sidecar.cli.top import add_top_command
from quota_sidecar.cli.usage import add_runs_command, add_usage_command
from quota_sidecar.cli.validate import add_validate_command

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quota-sidecar",
        description="Rate limits and cost quotas for LLM agents, over gRPC, on Redis.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_command(subparsers)
    add_validate_command(subparsers)
    add_usage_command(subparsers)
    add_check_commands(subparsers)
    add_runs_command(subparsers)
    add_admin_command(subparsers)
    add_alerts_command(subparsers)
    add_prices_command(subparsers)
    add_top_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = args.func(args)
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
