"""`quota-sidecar alerts`: print the alerts of a running sidecar, one readable line each.

    quota-sidecar alerts --follow --target 127.0.0.1:50051 --scope user --min-severity WARNING

Without --follow the retained alerts after --cursor (default: all, "0") are printed and the
command exits once the stream has been quiet for --idle seconds. With --follow it runs until
interrupted, resuming from the last alert it printed whenever the connection drops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any, TextIO

import grpc

from quota_sidecar.alerting.webhook import alert_payload
from quota_sidecar.cli.connection import connection_flags
from quota_sidecar.domain.alert_filters import AlertFilter, validate_cursor
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.money import from_nanos
from quota_sidecar.domain.results import Alert
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc
from quota_sidecar.wire.alerts import alert_from_proto, filter_to_request

__all__ = ["add_alerts_command", "format_alert", "run_alerts_command"]

_RESUMABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)


def add_alerts_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add `alerts` to the CLI; its handler is `args.func(args)`, which returns the exit code."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "alerts",
        help="print alerts from a running sidecar (StreamAlerts)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing live alerts")
    connection_flags(parser, "QUOTA_SIDECAR_DATA_TOKEN")  # --target --token --tls...
    parser.add_argument("--scope", action="append", default=[], help="only this scope (repeat)")
    parser.add_argument(
        "--identifier", action="append", default=[], help="only this identifier (repeat)"
    )
    parser.add_argument(
        "--kind", action="append", default=[], help="only this kind, e.g. EXHAUSTED (repeat)"
    )
    parser.add_argument("--min-severity", help="INFO, WARNING or CRITICAL")
    parser.add_argument(
        "--cursor",
        help="replay the alerts after this id first ('0': all retained); "
        "default: live only with --follow, all retained without",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--idle", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", help="also print heartbeats")
    parser.set_defaults(func=run_alerts_command)
    return parser


def format_alert(alert: Alert) -> str:
    """One readable line: time, severity, kind, subject, the numbers, the message and the id."""
    when = alert.time.strftime("%Y-%m-%dT%H:%M:%SZ")
    detail = ""
    if alert.limit is not None:
        if alert.limit.is_cost:
            used, limit = f"${from_nanos(alert.used):.2f}", f"${from_nanos(alert.limit_value):.2f}"
        else:
            used, limit = str(alert.used), str(alert.limit_value)
        percent = f" {alert.threshold_percent}%" if alert.threshold_percent else ""
        detail = f" {alert.limit.value}{percent} {used}/{limit}"
    period = f" [{alert.period}]" if alert.period else ""
    return (
        f"{when} {alert.severity.value:<8} {alert.kind.value:<26} {alert.subject}{detail}{period}"
        f" {alert.message} (id {alert.id})"
    )


def run_alerts_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        flt = AlertFilter.of(
            scopes=args.scope,
            identifiers=args.identifier,
            kinds=args.kind,
            min_severity=args.min_severity,
        )
        cursor = args.cursor if args.cursor is not None else (None if args.follow else "0")
        if cursor is not None:
            validate_cursor(cursor)
    except InvalidInput as exc:
        print(f"quota-sidecar alerts: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_stream(args, flt, cursor, out))
    return 0


async def _stream(
    args: argparse.Namespace, flt: AlertFilter, cursor: str | None, out: TextIO
) -> int:
    metadata = (("authorization", f"Bearer {args.token}"),) if args.token else ()
    channel = _channel(args)
    delay = 0.2
    async with channel:
        stub = quota_pb2_grpc.QuotaServiceStub(channel)
        while True:
            call = stub.StreamAlerts(filter_to_request(flt, cursor), metadata=metadata)
            try:
                while True:
                    timeout = None if args.follow else args.idle
                    try:
                        async with asyncio.timeout(timeout):
                            event = await call.read()
                    except TimeoutError:
                        call.cancel()
                        return 0
                    if event is grpc.aio.EOF:
                        return 0
                    cursor = _print_event(event, args, out) or cursor
                    delay = 0.2
            except grpc.aio.AioRpcError as exc:
                if args.follow and exc.code() in _RESUMABLE:
                    print(f"# stream ended ({exc.code().name}); resuming", file=sys.stderr)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                print(f"quota-sidecar alerts: {exc.code().name}: {exc.details()}", file=sys.stderr)
                return 1


def _channel(args: argparse.Namespace) -> grpc.aio.Channel:
    """An asyncio channel with the same TLS flags as the other remote commands."""
    if args.tls or args.tls_ca or args.tls_cert:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=args.tls_ca.read_bytes() if args.tls_ca else None,
            private_key=args.tls_key.read_bytes() if args.tls_key else None,
            certificate_chain=args.tls_cert.read_bytes() if args.tls_cert else None,
        )
        return grpc.aio.secure_channel(args.target, credentials)
    return grpc.aio.insecure_channel(args.target)


def _print_event(
    event: quota_pb2.StreamAlertsResponse, args: argparse.Namespace, out: TextIO
) -> str:
    """Print one event; return the cursor it moves to ("" when none)."""
    if event.WhichOneof("event") == "heartbeat":
        if args.verbose:
            print(f"# heartbeat cursor={event.heartbeat.cursor}", file=out, flush=True)
        return event.heartbeat.cursor
    alert = alert_from_proto(event.alert)
    if args.json:
        print(json.dumps(alert_payload(alert, "cli")), file=out, flush=True)
    else:
        print(format_alert(alert), file=out, flush=True)
    return alert.id
