"""`quota-sidecar check` and `quota-sidecar record`: one CheckQuota or RecordUsage from the shell,
the quickest way to try a running sidecar (the README's first steps).

    quota-sidecar check user:user-123 tool:createIssues --cost 0.05   # exit 0 allowed, 3 denied
    quota-sidecar record user:user-123 tool:createIssues --cost 0.04 --provider openai
"""

from __future__ import annotations

import argparse
from typing import Any

import grpc

from quota_sidecar.cli.connection import call, connection_flags, run_remote, subject_proto
from quota_sidecar.cli.formatting import amount_text, format_dollars, subject_text
from quota_sidecar.domain.money import to_nanos
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2

__all__ = ["add_check_commands"]

DENIED_EXIT = 3  # a denied check is an answer, not an error: its own exit code


def add_check_commands(subparsers: Any) -> None:
    check = subparsers.add_parser(
        "check", help="ask whether a call may happen now (CheckQuota); exit 3 when denied"
    )
    _call_flags(check)
    check.add_argument("--cost", default="0", help="estimated cost in dollars, e.g. 0.05")
    check.set_defaults(func=run_remote(_check))

    record = subparsers.add_parser("record", help="record what a call cost (RecordUsage)")
    _call_flags(record)
    record.add_argument("--cost", required=True, help="actual cost in dollars, e.g. 0.04")
    record.add_argument("--model", default="", help="the model, e.g. gpt-4o")
    record.add_argument("--input-tokens", type=int, default=0)
    record.add_argument("--output-tokens", type=int, default=0)
    record.add_argument("--idempotency-key", default="", help="a retry with it counts once")
    record.set_defaults(func=run_remote(_record))


def _call_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("subjects", nargs="+", metavar="SUBJECT",
                        help="SCOPE:IDENTIFIER, e.g. user:user-123 tool:createIssues")  # fmt: skip
    parser.add_argument("--tool", default="", help="tool name (for the breakdown)")
    parser.add_argument("--provider", default="", help="provider name (for the breakdown)")
    connection_flags(parser, "QUOTA_SIDECAR_DATA_TOKEN")


def _check(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = quota_pb2.CheckQuotaRequest(
        subjects=[subject_proto(s) for s in args.subjects],
        estimated_cost_nanos=to_nanos(args.cost, "cost"),
        tool_name=args.tool,
        provider=args.provider,
    )
    reply = call(args, quota_pb2_grpc.QuotaServiceStub(channel).CheckQuota, request)
    if reply.allowed:
        print("allowed")
    else:
        code = quota_pb2.DenialCode.Name(reply.code).removeprefix("DENIAL_CODE_")
        print(f"denied: {code}: {reply.reason}")
    for status in reply.limits:
        kind = types_pb2.LimitKind.Name(status.limit).removeprefix("LIMIT_KIND_").lower()
        print(f"  {subject_text(status.subject)} {kind}: "
              f"{amount_text(status.limit, status.remaining)} left of "
              f"{amount_text(status.limit, status.limit_amount)}")  # fmt: skip
    return 0 if reply.allowed else DENIED_EXIT


def _record(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = quota_pb2.RecordUsageRequest(
        subjects=[subject_proto(s) for s in args.subjects],
        cost_nanos=to_nanos(args.cost, "cost"),
        tool_name=args.tool,
        provider=args.provider,
        model=args.model,
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens,
        idempotency_key=args.idempotency_key,
    )
    reply = call(args, quota_pb2_grpc.QuotaServiceStub(channel).RecordUsage, request)
    print("duplicate (already counted)" if reply.duplicate else
          f"recorded {format_dollars(reply.cost_nanos)}")  # fmt: skip
    for totals in reply.totals:
        print(f"  {subject_text(totals.subject)}: today {format_dollars(totals.cost_today_nanos)}, "
              f"this month {format_dollars(totals.cost_this_month_nanos)}")  # fmt: skip
    for alert in reply.alerts:
        print(f"  alert: {alert.message}")
    return 0
