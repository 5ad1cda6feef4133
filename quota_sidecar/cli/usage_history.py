"""`usage SUBJECT --history 30d [--csv]`: a subject's recorded spend per quota day, from
GetUsageHistory. The server names the days (the subject's quota zone and reset hour); this
asks for everything kept and shows the last DAYS of it."""

from __future__ import annotations

import argparse
import csv
import re
import sys

import grpc

from quota_sidecar.cli.connection import call, subject_proto
from quota_sidecar.cli.formatting import format_dollars, source_text, subject_text, table
from quota_sidecar.domain.money import from_nanos
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc

__all__ = ["CSV_HEADER", "exact_dollars", "history_days", "print_history"]

CSV_HEADER = ("day", "starts_at", "ends_at", "cost_dollars", "cost_nanos", "requests", "tokens")
_DAYS = re.compile(r"^([1-9][0-9]{0,3})d?$")


def history_days(text: str) -> int:
    """ "30d" or "30": a number of days, 1 to 9999."""
    found = _DAYS.fullmatch(text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"expected a number of days such as 30d, got {text!r}")
    return int(found.group(1))


def exact_dollars(nanos: int) -> str:
    """All nine decimals, so the text is the exact amount ("1.250000000")."""
    return f"{from_nanos(nanos):.9f}"


def print_history(args: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = quota_pb2_grpc.QuotaServiceStub(channel)
    request = quota_pb2.GetUsageHistoryRequest(
        subject=subject_proto(args.subject), tenant=args.tenant
    )
    reply = call(args, stub.GetUsageHistory, request)
    days = list(reply.days)[-args.history :]
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for d in days:
            writer.writerow([
                d.day, _stamp(d.starts_at), _stamp(d.ends_at), exact_dollars(d.cost_nanos),
                d.cost_nanos, d.requests, d.tokens,
            ])  # fmt: skip
        return 0
    source = source_text(reply.quota_source, reply.quota_default)
    print(f"{subject_text(reply.subject)}: recorded spend per quota day (quota: {source})")
    rows = [["DAY", "STARTS (UTC)", "COST", "RECORDS", "TOKENS", "TOP PROVIDER"]]
    for d in days:
        # A day without a provider (nothing recorded, or records naming none) shows "-".
        top = next((f"{p.name} {format_dollars(p.cost_nanos)}" for p in d.by_provider[:1]), "-")
        rows.append([
            d.day, _stamp(d.starts_at), format_dollars(d.cost_nanos), f"{d.requests:,}",
            f"{d.tokens:,}", top,
        ])  # fmt: skip
    total = sum(d.cost_nanos for d in days)
    rows.append(["total", "", format_dollars(total), f"{sum(d.requests for d in days):,}",
                 f"{sum(d.tokens for d in days):,}", ""])  # fmt: skip
    print(table(rows))
    if reply.months:
        print()
        months = [["MONTH", "COST", "RECORDS", "TOKENS"]]
        for m in reply.months:
            months.append(
                [m.month, format_dollars(m.cost_nanos), f"{m.requests:,}", f"{m.tokens:,}"]
            )
        print(table(months))
    return 0


def _stamp(stamp: object) -> str:
    when = stamp.ToDatetime()  # type: ignore[attr-defined]
    return f"{when:%Y-%m-%dT%H:%M:%S}Z"
