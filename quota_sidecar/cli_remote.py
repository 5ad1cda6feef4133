"""Shared plumbing of the client-side commands (`usage`, `admin …`): the connection flags and
channel, bearer metadata, error reporting, readable formatting, and the `usage` command itself."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc

from quota_sidecar.errors import InvalidInput
from quota_sidecar.models import LimitKind, Subject
from quota_sidecar.money import from_nanos
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2

__all__ = [
    "DEFAULT_TARGET",
    "add_usage_command",
    "amount_text",
    "call",
    "channel_for",
    "connection_flags",
    "format_dollars",
    "run_remote",
    "span_text",
    "subject_proto",
    "subject_text",
    "table",
    "when_text",
]

DEFAULT_TARGET = "127.0.0.1:50051"


# --- formatting ------------------------------------------------------------------------------
def format_dollars(nanos: int) -> str:
    """$1.50, $0.000125: at least cents, every significant digit, never rounded."""
    whole, _, frac = f"{from_nanos(nanos):.9f}".partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"${whole}.{frac}"


def amount_text(limit: int, value: int) -> str:
    kind = types_pb2.LimitKind.Name(limit).removeprefix("LIMIT_KIND_").lower()  # type: ignore[arg-type]
    return format_dollars(value) if LimitKind(kind).is_cost else f"{value:,}"


def when_text(stamp: Any, now: datetime) -> str:
    if stamp.seconds == 0 and stamp.nanos == 0:
        return "-"
    when = stamp.ToDatetime(tzinfo=UTC)
    left = when - now
    rel = f"in {span_text(left)}" if left.total_seconds() >= 0 else f"{span_text(-left)} ago"
    return f"{when:%Y-%m-%d %H:%M:%S}Z ({rel})"


def span_text(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours else []
    parts += [f"{minutes}m"] if minutes and not days else []
    parts += [f"{seconds}s"] if not parts else []
    return "".join(parts)


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def subject_text(subject: types_pb2.Subject) -> str:
    scope = types_pb2.Scope.Name(subject.scope).removeprefix("SCOPE_").lower()
    return f"{scope}:{subject.identifier}"


# --- connection ------------------------------------------------------------------------------
def connection_flags(parser: argparse.ArgumentParser, token_env: str) -> None:
    parser.add_argument(
        "--target",
        default=os.environ.get("QUOTA_SIDECAR_TARGET", DEFAULT_TARGET),
        help="host:port of the sidecar [env QUOTA_SIDECAR_TARGET; default %(default)s]",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(token_env),
        help=f"bearer token [env {token_env}]",
    )
    parser.add_argument("--tls", action="store_true", help="connect with TLS (system roots)")
    parser.add_argument("--tls-ca", type=Path, help="CA (PEM) of the server; implies --tls")
    parser.add_argument("--tls-cert", type=Path, help="client certificate (PEM) for mTLS")
    parser.add_argument("--tls-key", type=Path, help="client key (PEM) for mTLS")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call")


def channel_for(args: argparse.Namespace) -> grpc.Channel:
    if args.tls or args.tls_ca or args.tls_cert:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=args.tls_ca.read_bytes() if args.tls_ca else None,
            private_key=args.tls_key.read_bytes() if args.tls_key else None,
            certificate_chain=args.tls_cert.read_bytes() if args.tls_cert else None,
        )
        return grpc.secure_channel(args.target, credentials)
    return grpc.insecure_channel(args.target)


def call(args: argparse.Namespace, method: Callable[..., Any], request: Any) -> Any:
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else None
    return method(request, timeout=args.timeout, metadata=metadata)


def run_remote(action: Callable[[argparse.Namespace, grpc.Channel], int]) -> Callable[..., int]:
    def run(args: argparse.Namespace) -> int:
        try:
            with channel_for(args) as channel:
                return action(args, channel)
        except grpc.RpcError as exc:
            print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
        except InvalidInput as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return run


def subject_proto(text: str) -> types_pb2.Subject:
    subject = Subject.parse(text)
    return types_pb2.Subject(
        scope=types_pb2.Scope.Value("SCOPE_" + subject.scope.value.upper()),
        identifier=subject.identifier,
    )


# --- usage -----------------------------------------------------------------------------------
def add_usage_command(subparsers: Any) -> None:
    p = subparsers.add_parser("usage", help="print a subject's usage, limits and resets")
    p.add_argument("subject", help="SCOPE:IDENTIFIER, for example user:alice")
    connection_flags(p, "QUOTA_SIDECAR_DATA_TOKEN")
    p.set_defaults(func=run_remote(_usage))


def _usage(args: argparse.Namespace, channel: grpc.Channel) -> int:
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
        ("by provider this month", u.by_provider_month),
        ("by tool this month", u.by_tool_month),
    ):
        if entries:
            listed = ", ".join(
                f"{e.name} {format_dollars(e.cost_nanos)} ({e.requests} calls)" for e in entries
            )
            print(f"  {title}: {listed}")
    return 0
