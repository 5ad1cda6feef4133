"""`quota-sidecar admin …`: quotas, overrides, resets and the audit log through the admin API,
with readable output. Quotas are shown in the quota-file YAML format, so `admin get-quota` output
can be edited and fed back to `admin put-quota`."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import yaml

from quota_sidecar.cli.connection import call, connection_flags, run_remote, subject_proto
from quota_sidecar.cli.formatting import amount_text, format_dollars, subject_text, table, when_text
from quota_sidecar.config import load_quota_file, parse_quota_text
from quota_sidecar.domain import durations
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import (
    DEFAULT_ALL,
    DEFAULT_TENANT_MARK,
    LimitKind,
    QuotaConfig,
    QuotaScope,
)
from quota_sidecar.domain.money import to_nanos
from quota_sidecar.domain.timestamps import parse_instant
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, types_pb2

__all__ = ["add_admin_command", "config_to_yaml", "parse_duration"]

_KINDS = {"block": "BLOCK", "bypass": "BYPASS", "raise": "RAISE_LIMIT", "bonus": "BONUS_CREDIT"}


class _YamlDumper(yaml.SafeDumper):
    pass


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    # Written as a plain number (5.00), read back exactly by the quota-file loader.
    return dumper.represent_scalar("tag:yaml.org,2002:float", format(value, "f"))


_YamlDumper.add_representer(Decimal, _represent_decimal)


def config_to_yaml(config: QuotaConfig) -> dict[str, Any]:
    """A quota as the quota file writes it."""
    entry: dict[str, Any] = {"scope": config.scope.value, "identifier": config.identifier}
    if config.identifier.startswith(DEFAULT_TENANT_MARK):  # a tenant's default, as files say it
        entry["identifier"] = DEFAULT_ALL
        entry["tenant"] = config.identifier.removeprefix(DEFAULT_TENANT_MARK)
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


# --- admin -----------------------------------------------------------------------------------
def parse_duration(text: str) -> timedelta:
    """1h, 30m, 2d, 90s, 1h30m (the `--for` of an override)."""
    return durations.parse_duration(text, "for")


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
        connection_flags(p, "QUOTA_SIDECAR_ADMIN_TOKEN")
        p.set_defaults(func=run_remote(action))
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
    p = command(
        "get-quota", "print the quota in force for a subject (its own, or the default it "
        "follows) as quota-file YAML", _get_quota,
    )  # fmt: skip
    p.add_argument("subject")
    p.add_argument("--tenant", default="", help="resolve defaults as a call of this tenant would")
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
    from quota_sidecar.wire.configs import config_from_proto

    return config_from_proto(message)


def _put_quota(args: argparse.Namespace, channel: grpc.Channel) -> int:
    from quota_sidecar.wire.configs import config_to_proto

    if (args.file is None) == (args.yaml is None):
        raise InvalidInput("file", "give a quota FILE or --yaml TEXT (one of them)")
    configs = load_quota_file(args.file) if args.file else parse_quota_text(args.yaml, "--yaml")
    for config in configs:
        request = admin_pb2.PutQuotaRequest(
            config=config_to_proto(config), actor=args.actor, reason=args.reason
        )
        reply = call(args, _admin(channel).PutQuota, request)
        verb = "created" if reply.created else "updated"
        print(f"{verb} {config.subject} (version {reply.config.version})")
    return 0


def _get_quota(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = admin_pb2.GetQuotaRequest(subject=subject_proto(args.subject), tenant=args.tenant)
    reply = call(args, _admin(channel).GetQuota, request)
    config = _to_domain(reply.config)
    if reply.quota_source == "default":
        # The default itself, as the file writes it: applying this YAML changes the default for
        # everyone under it, never registers the identifier.
        print(f"# {args.subject} has no quota of its own: it follows the default "
              f"{reply.quota_default}")  # fmt: skip
        config = dataclasses.replace(config, identifier=reply.quota_default.partition(":")[2])
    print(f"# version {reply.config.version}", end="")
    if reply.config.HasField("updated_at"):
        print(f", updated {reply.config.updated_at.ToDatetime(tzinfo=UTC):%Y-%m-%d %H:%M:%S}Z")
    else:
        print()
    print(_dump_quotas([config]), end="")
    return 0


def _list_quotas(args: argparse.Namespace, channel: grpc.Channel) -> int:
    scope = types_pb2.Scope.Value("SCOPE_" + args.scope.upper()) if args.scope else 0
    rows = [["SUBJECT", "VERSION", "LIMITS"]]
    token = ""
    while True:
        request = admin_pb2.ListQuotasRequest(scope=scope, page_size=500, page_token=token)  # type: ignore[arg-type]
        reply = call(args, _admin(channel).ListQuotas, request)
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
    print(table(rows) if len(rows) > 1 else "no quotas configured")
    return 0


def _delete_quota(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = admin_pb2.DeleteQuotaRequest(
        subject=subject_proto(args.subject), actor=args.actor, reason=args.reason
    )
    reply = call(args, _admin(channel).DeleteQuota, request)
    print(f"deleted the quota of {args.subject} (was version {reply.deleted.version})")
    return 0


def _grant(args: argparse.Namespace, channel: grpc.Channel) -> int:
    kind = _KINDS[args.kind]
    override = admin_pb2.Override(
        subject=subject_proto(args.subject),
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
        expires = parse_instant(args.until, "--until", zone_required=False)
    override.expires_at.FromDatetime(expires.astimezone(UTC))
    reply = call(
        args, _admin(channel).GrantOverride, admin_pb2.GrantOverrideRequest(override=override)
    )
    until = reply.override.expires_at.ToDatetime(tzinfo=UTC)
    print(f"granted {args.kind} override {reply.override.id} on {args.subject}, until {until}")
    return 0


def _revoke(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = admin_pb2.RevokeOverrideRequest(
        subject=subject_proto(args.subject), override_id=args.override_id, actor=args.actor,
        reason=args.reason,
    )  # fmt: skip
    call(args, _admin(channel).RevokeOverride, request)
    print(f"revoked override {args.override_id} on {args.subject}")
    return 0


def _overrides(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = admin_pb2.ListOverridesRequest(subject=subject_proto(args.subject))
    reply = call(args, _admin(channel).ListOverrides, request)
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
            amount_text(o.limit, o.value) if has_limit else "-",
            when_text(o.expires_at, now), o.actor, o.reason,
        ])  # fmt: skip
    print(table(rows))
    return 0


def _reset(args: argparse.Namespace, channel: grpc.Channel) -> int:
    request = admin_pb2.ResetUsageRequest(
        subject=subject_proto(args.subject), actor=args.actor, reason=args.reason
    )
    reply = call(args, _admin(channel).ResetUsage, request)
    print(f"reset the usage of {args.subject}; it was {format_dollars(reply.cost_today_nanos)} "
          f"today and {format_dollars(reply.cost_this_month_nanos)} this month")  # fmt: skip
    return 0


def _audit(args: argparse.Namespace, channel: grpc.Channel) -> int:
    subject = subject_proto(args.subject) if args.subject else None
    rows = [["TIME", "ACTOR", "ACTION", "SUBJECT", "REASON"]]
    token = ""
    while len(rows) - 1 < args.limit:
        request = admin_pb2.ListAuditEventsRequest(
            subject=subject, page_size=min(1000, args.limit - len(rows) + 1), page_token=token
        )
        reply = call(args, _admin(channel).ListAuditEvents, request)
        for e in reply.events:
            rows.append([
                f"{e.time.ToDatetime(tzinfo=UTC):%Y-%m-%d %H:%M:%S}Z", e.actor, e.action,
                subject_text(e.subject) if e.HasField("subject") else "-", e.reason,
            ])  # fmt: skip
        token = reply.next_page_token
        if not token:
            break
    print(table(rows) if len(rows) > 1 else "the audit log is empty")
    return 0
