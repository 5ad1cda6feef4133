"""`quota-sidecar usage` and `quota-sidecar admin …`: talk to a running sidecar over gRPC and print
readable output. Quotas are shown in the quota-file YAML format, so `admin get-quota` output can
be edited and fed back to `admin put-quota`."""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import yaml

from quota_sidecar.config import load_quota_file, parse_quota_text
from quota_sidecar.errors import InvalidInput
from quota_sidecar.models import LimitKind, QuotaConfig, QuotaScope, Subject
from quota_sidecar.money import from_nanos, to_nanos
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2

__all__ = ["add_admin_command", "add_usage_command", "format_dollars", "parse_duration"]

DEFAULT_TARGET = "127.0.0.1:50051"
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_KINDS = {"block": "BLOCK", "bypass": "BYPASS", "raise": "RAISE_LIMIT", "bonus": "BONUS_CREDIT"}


# --- formatting ------------------------------------------------------------------------------
def format_dollars(nanos: int) -> str:
    """$1.50, $0.000125: at least cents, every significant digit, never rounded."""
    whole, _, frac = f"{from_nanos(nanos):.9f}".partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"${whole}.{frac}"


def _amount(limit: int, value: int) -> str:
    kind = types_pb2.LimitKind.Name(limit).removeprefix("LIMIT_KIND_").lower()  # type: ignore[arg-type]
    return format_dollars(value) if LimitKind(kind).is_cost else f"{value:,}"


def _when(stamp: Any, now: datetime) -> str:
    if stamp.seconds == 0 and stamp.nanos == 0:
        return "-"
    when = stamp.ToDatetime(tzinfo=UTC)
    left = when - now
    rel = f"in {_span(left)}" if left.total_seconds() >= 0 else f"{_span(-left)} ago"
    return f"{when:%Y-%m-%d %H:%M:%S}Z ({rel})"


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours else []
    parts += [f"{minutes}m"] if minutes and not days else []
    parts += [f"{seconds}s"] if not parts else []
    return "".join(parts)


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _subject_text(subject: types_pb2.Subject) -> str:
    scope = types_pb2.Scope.Name(subject.scope).removeprefix("SCOPE_").lower()
    return f"{scope}:{subject.identifier}"


class _YamlDumper(yaml.SafeDumper):
    pass


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    # Written as a plain number (5.00), read back exactly by the quota-file loader.
    return dumper.represent_scalar("tag:yaml.org,2002:float", format(value, "f"))


_YamlDumper.add_representer(Decimal, _represent_decimal)


def config_to_yaml(config: QuotaConfig) -> dict[str, Any]:
    """A quota as the quota file writes it."""
    entry: dict[str, Any] = {"scope": config.scope.value, "identifier": config.identifier}
    if config.description:
        entry["description"] = config.description
    rates = {k.value: v for k, v in config.rate_limits.limits().items()}
    if rates:
        entry["rate_limits"] = {**rates, "failure_mode": config.rate_limits.failure_mode.value}
    cost = config.cost_quota
    money = {
        name: getattr(cost, name)
        for name in ("daily_limit", "monthly_limit", "per_request_limit")
        if getattr(cost, name) is not None
    }
    if money:
        entry["cost_quota"] = {
            **{
                k: v.quantize(Decimal("0.01"))
                if v == v.quantize(Decimal("0.01"))
                else v.normalize()
                for k, v in money.items()
            },
            "reset_hour": cost.reset_hour,
            "time_zone": cost.time_zone,
            "failure_mode": cost.failure_mode.value,
        }
    entry["alert_thresholds"] = list(config.alert_thresholds)
    if config.shadow_mode:
        entry["shadow_mode"] = True
    return entry


def _dump_quotas(configs: Sequence[QuotaConfig]) -> str:
    return yaml.dump(
        {"quotas": [config_to_yaml(c) for c in configs]}, Dumper=_YamlDumper, sort_keys=False
    )


# --- connection ------------------------------------------------------------------------------
def _connection_flags(parser: argparse.ArgumentParser, token_env: str) -> None:
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


def _channel(args: argparse.Namespace) -> grpc.Channel:
    if args.tls or args.tls_ca or args.tls_cert:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=args.tls_ca.read_bytes() if args.tls_ca else None,
            private_key=args.tls_key.read_bytes() if args.tls_key else None,
            certificate_chain=args.tls_cert.read_bytes() if args.tls_cert else None,
        )
        return grpc.secure_channel(args.target, credentials)
    return grpc.insecure_channel(args.target)


def _call(args: argparse.Namespace, method: Callable[..., Any], request: Any) -> Any:
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else None
    return method(request, timeout=args.timeout, metadata=metadata)


def _run_remote(action: Callable[[argparse.Namespace, grpc.Channel], int]) -> Callable[..., int]:
    def run(args: argparse.Namespace) -> int:
        try:
            with _channel(args) as channel:
                return action(args, channel)
        except grpc.RpcError as exc:
            print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
        except InvalidInput as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return run


def _subject(text: str) -> types_pb2.Subject:
    subject = Subject.parse(text)
    return types_pb2.Subject(
        scope=types_pb2.Scope.Value("SCOPE_" + subject.scope.value.upper()),
        identifier=subject.identifier,
    )


# --- usage -----------------------------------------------------------------------------------
def add_usage_command(subparsers: Any) -> None:
    p = subparsers.add_parser("usage", help="print a subject's usage, limits and resets")
    p.add_argument("subject", help="SCOPE:IDENTIFIER, for example user:alice")
    _connection_flags(p, "QUOTA_SIDECAR_TOKEN")
    p.set_defaults(func=_run_remote(_usage))


def _usage(args: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = quota_pb2_grpc.QuotaServiceStub(channel)
    u = _call(args, stub.GetUsage, quota_pb2.GetUsageRequest(subject=_subject(args.subject)))
    now = datetime.now(UTC)
    print(f"{_subject_text(u.subject)}")
    print(
        f"  cost today       {format_dollars(u.cost_today_nanos)}"
        f"   (held {format_dollars(u.held_nanos)})   day resets {_when(u.day_resets_at, now)}"
    )
    print(f"  cost this month  {format_dollars(u.cost_this_month_nanos)}"
          f"   month resets {_when(u.month_resets_at, now)}")  # fmt: skip
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
                _amount(s.limit, s.limit_value), _amount(s.limit, s.used),
                _amount(s.limit, s.held), _amount(s.limit, s.remaining), _when(s.reset_at, now),
            ])  # fmt: skip
        print()
        print(_table(rows))
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


# --- admin -----------------------------------------------------------------------------------
def parse_duration(text: str) -> timedelta:
    """1h, 30m, 2d, 90s, 1h30m."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise InvalidInput("for", f"expected a duration such as 1h, 30m, 2d or 1h30m, got {text!r}")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def add_admin_command(subparsers: Any) -> None:
    admin = subparsers.add_parser("admin", help="administer quotas through the admin API")
    commands = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")

    def command(name: str, help: str, action: Callable[..., int]) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = commands.add_parser(name, help=help)
        _connection_flags(p, "QUOTA_SIDECAR_ADMIN_TOKEN")
        p.set_defaults(func=_run_remote(action))
        return p

    def who(p: argparse.ArgumentParser, reason_required: bool = False) -> None:
        p.add_argument(
            "--actor",
            default=os.environ.get("QUOTA_SIDECAR_ACTOR") or _default_actor(),
            help="who makes the change [env QUOTA_SIDECAR_ACTOR; default %(default)s]",
        )
        p.add_argument("--reason", required=reason_required, default="", help="why")  # fmt: skip

    p = command("put-quota", "create or replace the quotas of a YAML quota file", _put_quota)
    p.add_argument("file", nargs="?", type=Path, help="a quota file (see `validate`)")
    p.add_argument("--yaml", help="the quota file's text inline, instead of FILE")
    who(p)
    p = command("get-quota", "print a subject's quota as quota-file YAML", _get_quota)
    p.add_argument("subject")
    p = command("list-quotas", "list every configured quota", _list_quotas)
    p.add_argument("--scope", choices=[s.value for s in QuotaScope])
    p = command("delete-quota", "delete a subject's quota", _delete_quota)
    p.add_argument("subject")
    who(p)
    p = command("grant", "grant an override (block, bypass, raised limit, bonus credit)", _grant)
    p.add_argument("subject")
    p.add_argument("--kind", required=True, choices=sorted(_KINDS))
    p.add_argument("--limit", choices=[k.value for k in LimitKind],
                   help="the limit raised or credited (raise, bonus)")  # fmt: skip
    p.add_argument("--value", help="dollars for cost limits (5.00), a count otherwise")
    until = p.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="duration", help="how long: 1h, 30m, 2d, 1h30m")
    until.add_argument("--until", help="until this ISO time (UTC unless it has an offset)")
    who(p, reason_required=True)
    p = command("revoke", "revoke an override", _revoke)
    p.add_argument("subject")
    p.add_argument("override_id")
    who(p)
    p = command("overrides", "list the overrides in force for a subject", _overrides)
    p.add_argument("subject")
    p = command("reset", "clear a subject's usage (rate windows, today's and this month's spend)",
                _reset)  # fmt: skip
    p.add_argument("subject")
    who(p)
    p = command("audit", "print the audit log, newest first", _audit)
    p.add_argument("subject", nargs="?")
    p.add_argument("--limit", type=int, default=50, help="at most this many events")


def _admin(channel: grpc.Channel) -> admin_pb2_grpc.QuotaAdminServiceStub:
    return admin_pb2_grpc.QuotaAdminServiceStub(channel)


def _to_domain(message: types_pb2.QuotaConfig) -> QuotaConfig:
    from quota_sidecar.server.convert import config_from_proto

    return config_from_proto(message)


def _put_quota(args: argparse.Namespace, channel: grpc.Channel) -> int:
    from quota_sidecar.server.convert import config_to_proto

    if (args.file is None) == (args.yaml is None):
        raise InvalidInput("file", "give a quota FILE or --yaml TEXT (one of them)")
    configs = load_quota_file(args.file) if args.file else parse_quota_text(args.yaml, "--yaml")
    for config in configs:
        request = admin_pb2.PutQuotaRequest(
            config=config_to_proto(config), actor=args.actor, reason=args.reason
        )
        reply = _call(args, _admin(channel).PutQuota, request)
        verb = "created" if reply.created else "updated"
        print(f"{verb} {config.subject} (version {reply.config.version})")
    return 0


def _get_quota(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = admin_pb2.GetQuotaRequest(subject=_subject(args.subject))
    reply = _call(args, _admin(channel).GetQuota, request)
    print(f"# version {reply.config.version}", end="")
    if reply.config.HasField("updated_at"):
        print(f", updated {reply.config.updated_at.ToDatetime(tzinfo=UTC):%Y-%m-%d %H:%M:%S}Z")
    else:
        print()
    print(_dump_quotas([_to_domain(reply.config)]), end="")
    return 0


def _list_quotas(args: argparse.Namespace, channel: grpc.Channel) -> int:
    scope = types_pb2.Scope.Value("SCOPE_" + args.scope.upper()) if args.scope else 0
    rows = [["SUBJECT", "VERSION", "LIMITS"]]
    token = ""
    while True:
        request = admin_pb2.ListQuotasRequest(scope=scope, page_size=500, page_token=token)  # type: ignore[arg-type]
        reply = _call(args, _admin(channel).ListQuotas, request)
        for message in reply.configs:
            config = _to_domain(message)
            limits = ", ".join(
                f"{k.value}={format_dollars(v) if k.is_cost else f'{v:,}'}"
                for k, v in config.limits().items()
            )
            shadow = " (shadow)" if config.shadow_mode else ""
            rows.append([str(config.subject), str(message.version), (limits or "-") + shadow])
        token = reply.next_page_token
        if not token:
            break
    print(_table(rows) if len(rows) > 1 else "no quotas configured")
    return 0


def _delete_quota(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = admin_pb2.DeleteQuotaRequest(
        subject=_subject(args.subject), actor=args.actor, reason=args.reason
    )
    reply = _call(args, _admin(channel).DeleteQuota, request)
    print(f"deleted the quota of {args.subject} (was version {reply.deleted.version})")
    return 0


def _grant(args: argparse.Namespace, channel: grpc.Channel) -> int:
    kind = _KINDS[args.kind]
    override = admin_pb2.Override(
        subject=_subject(args.subject),
        kind=admin_pb2.OverrideKind.Value("OVERRIDE_KIND_" + kind),
        reason=args.reason,
        actor=args.actor,
    )
    if kind in ("RAISE_LIMIT", "BONUS_CREDIT"):
        if not args.limit or args.value is None:
            raise InvalidInput("limit", f"--kind {args.kind} needs --limit and --value")
        limit = LimitKind(args.limit)
        override.limit = types_pb2.LimitKind.Value("LIMIT_KIND_" + limit.value.upper())
        override.value = to_nanos(args.value, "value") if limit.is_cost else int(args.value)
    if args.duration:
        expires = datetime.now(UTC) + parse_duration(args.duration)
    else:
        expires = datetime.fromisoformat(args.until)
        expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    override.expires_at.FromDatetime(expires.astimezone(UTC))
    reply = _call(
        args, _admin(channel).GrantOverride, admin_pb2.GrantOverrideRequest(override=override)
    )
    until = reply.override.expires_at.ToDatetime(tzinfo=UTC)
    print(f"granted {args.kind} override {reply.override.id} on {args.subject}, until {until}")
    return 0


def _revoke(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = admin_pb2.RevokeOverrideRequest(
        subject=_subject(args.subject), override_id=args.override_id, actor=args.actor,
        reason=args.reason,
    )  # fmt: skip
    _call(args, _admin(channel).RevokeOverride, request)
    print(f"revoked override {args.override_id} on {args.subject}")
    return 0


def _overrides(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = admin_pb2.ListOverridesRequest(subject=_subject(args.subject))
    reply = _call(args, _admin(channel).ListOverrides, request)
    if not reply.overrides:
        print(f"no overrides in force for {args.subject}")
        return 0
    now = datetime.now(UTC)
    rows = [["ID", "KIND", "LIMIT", "VALUE", "EXPIRES", "ACTOR", "REASON"]]
    for o in reply.overrides:
        has_limit = o.limit != types_pb2.LIMIT_KIND_UNSPECIFIED
        limit = types_pb2.LimitKind.Name(o.limit).removeprefix("LIMIT_KIND_").lower()
        rows.append([
            o.id, admin_pb2.OverrideKind.Name(o.kind).removeprefix("OVERRIDE_KIND_").lower(),
            limit if has_limit else "-",
            _amount(o.limit, o.value) if has_limit else "-",
            _when(o.expires_at, now), o.actor, o.reason,
        ])  # fmt: skip
    print(_table(rows))
    return 0


def _reset(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = admin_pb2.ResetUsageRequest(
        subject=_subject(args.subject), actor=args.actor, reason=args.reason
    )
    reply = _call(args, _admin(channel).ResetUsage, request)
    print(f"reset the usage of {args.subject}; it was {format_dollars(reply.cost_today_nanos)} "
          f"today and {format_dollars(reply.cost_this_month_nanos)} this month")  # fmt: skip
    return 0


def _audit(args: argparse.Namespace, channel: grpc.Channel) -> int:
    subject = _subject(args.subject) if args.subject else None
    rows = [["TIME", "ACTOR", "ACTION", "SUBJECT", "REASON"]]
    token = ""
    while len(rows) - 1 < args.limit:
        request = admin_pb2.ListAuditEventsRequest(
            subject=subject, page_size=min(1000, args.limit - len(rows) + 1), page_token=token
        )
        reply = _call(args, _admin(channel).ListAuditEvents, request)
        for e in reply.events:
            rows.append([
                f"{e.time.ToDatetime(tzinfo=UTC):%Y-%m-%d %H:%M:%S}Z", e.actor, e.action,
                _subject_text(e.subject) if e.HasField("subject") else "-", e.reason,
            ])  # fmt: skip
        token = reply.next_page_token
        if not token:
            break
    print(_table(rows) if len(rows) > 1 else "the audit log is empty")
    return 0
