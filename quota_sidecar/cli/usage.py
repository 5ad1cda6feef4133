"""`quota-sidecar usage SUBJECT`: a subject's usage, limits and resets, from a running sidecar;
with `--history 30d`, its recorded spend per quota day (a table, or `--csv` for spreadsheets)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import grpc

from quota_sidecar.cli.connection import call, connection_flags, run_remote, subject_proto
from quota_sidecar.cli.formatting import amount_text, format_dollars, subject_text, table, when_text
from quota_sidecar.cli.usage_history import history_days, print_history
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2

__all__ = ["add_usage_command"]


# --- usage -----------------------------------------------------------------------------------
def add_usage_command(subparsers: Any) -> None:
    p = subparsers.add_parser("usage", help="print a subject's usage, limits and resets")
    p.add_argument("subject", help="SCOPE:IDENTIFIER, for example user:alice")
    p.add_argument(
        "--history", type=history_days, metavar="DAYS",
        help="the recorded spend of the last DAYS quota days, today included (30d or 30), "
        "within what the server keeps (serve --history-days)",
    )  # fmt: skip
    p.add_argument(
        "--csv", action="store_true",
        help="with --history: CSV on stdout (a header, one row per day, exact dollars and nanos)",
    )  # fmt: skip
    connection_flags(p, "QUOTA_SIDECAR_DATA_TOKEN")
    p.set_defaults(func=run_remote(_usage))


def _usage(args: argparse.Namespace, channel: grpc.Channel) -> int:
    if args.history is not None:
        return print_history(args, channel)
    if args.csv:
        print("error: --csv needs --history", file=sys.stderr)
        return 2
    stub = quota_pb2_grpc.QuotaServiceStub(channel)
    u = call(args, stub.GetUsage, quota_pb2.GetUsageRequest(subject=subject_proto(args.subject)))
    now = datetime.now(UTC)
    print(f"{subject_text(u.subject)}")
    print(
        f"  cost today       {format_dollars(u.cost_today_nanos)}"
        f"   (held {format_dollars(u.held_nanos)})   day resets {when_text(u.day_resets_at, now)}"
    )
    print(f"  cost this month  {format_dollars(u.cost_this_month_nanos)}"
          f"   month resets {when_text(u.month_resets_at, now)}")  # fmt: skip
    print(
        f"  requests         today {u.requests_today:,}   last minute {u.requests_last_minute:,}"
        f"   last hour {u.requests_last_hour:,}   last 24h {u.requests_last_day:,}"
    )
    print(f"  tokens           today {u.tokens_today:,}   last minute {u.tokens_last_minute:,}"
          f"   last 24h {u.tokens_last_day:,}")  # fmt: skip
    if u.limits:
        rows = [["LIMIT", "LIMIT VALUE", "USED", "HELD", "REMAINING", "RESETS"]]
        for s in u.limits:
            rows.append([
                types_pb2.LimitKind.Name(s.limit).removeprefix("LIMIT_KIND_").lower(),
                amount_text(s.limit, s.limit_amount), amount_text(s.limit, s.used),
                amount_text(s.limit, s.held), amount_text(s.limit, s.remaining),
                when_text(s.reset_at, now),
            ])  # fmt: skip
        print()
        print(table(rows))
    else:
        print("\n  no quota configured: nothing is limited")
    for title, entries in (
        ("by provider today", u.by_provider_today),
        ("by tool today", u.by_tool_today),
        ("by model today", u.by_model_today),
        ("by provider this month", u.by_provider_month),
        ("by tool this month", u.by_tool_month),
        ("by model this month", u.by_model_month),
    ):
        if entries:
            listed = ", ".join(
                f"{e.name} {format_dollars(e.cost_nanos)} ({e.requests} calls)" for e in entries
            )
            print(f"  {title}: {listed}")
    return 0
