"""`quota-sidecar usage SUBJECT`: a subject's usage, limits and resets, from a running sidecar;
for a run (`usage run:ID`) also the tree of runs below it with their spend; with `--history 30d`,
its recorded spend per quota day (a table, or `--csv` for spreadsheets). `quota-sidecar runs
end ID` ends a run early (EndRun)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import grpc

from quota_sidecar.cli.connection import call, connection_flags, run_remote, subject_proto
from quota_sidecar.cli.formatting import (
    amount_text,
    format_dollars,
    source_text,
    subject_text,
    table,
    when_text,
)
from quota_sidecar.cli.usage_history import history_days, print_history
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2

__all__ = ["add_runs_command", "add_usage_command", "run_tree_text"]


# --- usage -----------------------------------------------------------------------------------
def add_usage_command(subparsers: Any) -> None:
    p = subparsers.add_parser("usage", help="print a subject's usage, limits and resets")
    p.add_argument("subject", help="SCOPE:IDENTIFIER, for example user:alice")
    p.add_argument(
        "--tenant", default="",
        help="resolve scope defaults as a call of this tenant would (a user:*@TENANT default)",
    )  # fmt: skip
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
    request = quota_pb2.GetUsageRequest(subject=subject_proto(args.subject), tenant=args.tenant)
    u = call(args, stub.GetUsage, request)
    now = datetime.now(UTC)
    print(f"{subject_text(u.subject)}")
    if u.quota_source:
        print(f"  quota            {source_text(u.quota_source, u.quota_default)}")
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
    if u.HasField("run"):
        print()
        print(run_tree_text(u.run, now))
    return 0


# --- runs ------------------------------------------------------------------------------------
def _of(used: str, limit: str | None) -> str:
    return used if limit is None else f"{used} / {limit}"


def _tree_rows(run: quota_pb2.RunUsage, depth: int, now: datetime, rows: list[list[str]]) -> None:
    def cap(name: str) -> int | None:
        return int(getattr(run, name)) if run.HasField(name) else None  # type: ignore[arg-type]

    cost_cap, requests_cap, tokens_cap = (
        cap("max_cost_nanos"),
        cap("max_requests"),
        cap("max_tokens"),
    )
    rows.append([
        "  " * depth + run.run_id + (" (ended)" if run.ended else ""),
        _of(format_dollars(run.cost_nanos), None if cost_cap is None else format_dollars(cost_cap)),
        format_dollars(run.held_nanos),
        _of(f"{run.requests:,}", None if requests_cap is None else f"{requests_cap:,}"),
        _of(f"{run.tokens:,}", None if tokens_cap is None else f"{tokens_cap:,}"),
        when_text(run.ends_at, now),
    ])  # fmt: skip
    for child in run.children:
        _tree_rows(child, depth + 1, now, rows)


def run_tree_text(run: quota_pb2.RunUsage, now: datetime) -> str:
    """A run and the runs below it, indented by depth: spend / limit, held, requests, tokens
    (each with its limit when the run has one) and when the run ends. A run's spend includes
    its sub-runs'."""
    rows = [["RUN", "SPENT / LIMIT", "HELD", "REQUESTS", "TOKENS", "ENDS"]]
    _tree_rows(run, 0, now, rows)
    return table(rows)


def add_runs_command(subparsers: Any) -> None:
    p = subparsers.add_parser("runs", help="agent runs: end one early")
    commands = p.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    end = commands.add_parser("end", help="end a run: release its holds, deny later checks")
    end.add_argument("run_id", help="the run's id (the ID of run:ID)")
    connection_flags(end, "QUOTA_SIDECAR_DATA_TOKEN")
    end.set_defaults(func=run_remote(_end_run))


def _end_run(args: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = quota_pb2_grpc.QuotaServiceStub(channel)
    reply = call(args, stub.EndRun, quota_pb2.EndRunRequest(run_id=args.run_id))
    state = "ended" if reply.was_open else "was already ended"
    print(f"run {reply.run_id} {state}; released {reply.released_holds} open holds")
    return 0
