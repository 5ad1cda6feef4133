"""`quota-sidecar top --scope user --period month`: a scope's subjects by spend in their current
quota day or month, with their limits (ListTopSpenders, an admin read)."""

from __future__ import annotations

import argparse
from typing import Any

import grpc

from quota_sidecar.cli.connection import call, connection_flags, run_remote
from quota_sidecar.cli.formatting import format_dollars, source_text, subject_text, table
from quota_sidecar.domain.models import QuotaScope
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, types_pb2

__all__ = ["add_top_command"]

_PERIODS = {"today": admin_pb2.SPEND_PERIOD_TODAY, "month": admin_pb2.SPEND_PERIOD_MONTH}


def add_top_command(subparsers: Any) -> None:
    p = subparsers.add_parser("top", help="list a scope's top spenders (admin)")
    p.add_argument("--scope", required=True, choices=[s.value for s in QuotaScope])
    p.add_argument(
        "--period", choices=list(_PERIODS), default="today",
        help="each subject's current quota day or month [default %(default)s]",
    )  # fmt: skip
    p.add_argument("--limit", type=int, default=10, help="at most this many (1-1000)")
    connection_flags(p, "QUOTA_SIDECAR_ADMIN_TOKEN")
    p.set_defaults(func=run_remote(_top))


def _top(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = admin_pb2.ListTopSpendersRequest(
        scope=types_pb2.Scope.Value("SCOPE_" + args.scope.upper()),
        period=_PERIODS[args.period],
        limit=args.limit,
    )
    reply = call(args, admin_pb2_grpc.QuotaAdminServiceStub(channel).ListTopSpenders, request)
    if not reply.spenders:
        print(f"no spend recorded for scope {args.scope} {args.period}")
        return 0
    limit_title = "DAILY LIMIT" if args.period == "today" else "MONTHLY LIMIT"
    rows = [["#", "SUBJECT", "COST", limit_title, "USED", "QUOTA"]]
    for rank, t in enumerate(reply.spenders, start=1):
        has_limit = t.HasField("limit_nanos")
        used = f"{t.cost_nanos * 100 // t.limit_nanos}%" if has_limit and t.limit_nanos else "-"
        rows.append([
            str(rank), subject_text(t.subject), format_dollars(t.cost_nanos),
            format_dollars(t.limit_nanos) if has_limit else "-", used,
            source_text(t.quota_source, t.quota_default),
        ])  # fmt: skip
    print(table(rows))
    return 0
