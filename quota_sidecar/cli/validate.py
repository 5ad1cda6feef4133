"""`quota-sidecar validate FILE`: check a quota file without starting anything."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from quota_sidecar.config import load_quota_file
from quota_sidecar.domain.errors import ConfigError

__all__ = ["add_validate_command"]


def add_validate_command(subparsers: Any) -> None:
    p = subparsers.add_parser("validate", help="check a quota file without starting anything")
    p.add_argument("file", type=Path, help="the YAML quota file")
    p.set_defaults(func=_run_validate)


def _run_validate(args: argparse.Namespace) -> int:
    try:
        configs = load_quota_file(args.file)
    except ConfigError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    print(f"ok: {args.file} configures {len(configs)} quota(s)")
    for config in configs:
        print(f"  {config.subject}")
    return 0
