"""The YAML quota file: parsed into QuotaConfig values, bounded against hostile input.

    quotas:
      - scope: user
        identifier: alice
        description: "interactive user"
        rate_limits: {requests_per_minute: 60, tokens_per_day: 2000000, failure_mode: open}
        cost_quota: {daily_limit: 5.00, monthly_limit: 100, per_request_limit: 0.50,
                     reset_hour: 0, time_zone: Europe/Berlin, failure_mode: closed}
        alert_thresholds: [80, 90, 95]
        shadow_mode: false
    webhooks: ...        # kept as read (bounded, each entry with its line); their fields
                         # are checked by alerting/webhook_config.py, which knows them
    runs:                # run templates: see config/run_templates.py
      default: {max_cost: 5.00, max_requests: 200, ttl: 2h}
    gateways: ...        # gateway descriptors -> subjects: see config/gateways.py

Money is in dollars and read from the YAML text itself (never through float), so `0.10` is
exactly 100_000_000 nanos. Every error is a ConfigError naming the file, the line and the field
(for example `quotas.yaml:7: quotas[0].cost_quota.time_zone: is not an IANA time zone`);
unknown keys are errors, so a typo never silently removes a limit.

Hostile files are refused before they cost memory or time: a file over MAX_FILE_BYTES (4 MiB,
room for tens of thousands of quotas) is not read, and a document is composed (never
constructed) first and refused if it holds more than MAX_NODES nodes with its aliases counted
as the nodes they stand for, so a "billion laughs" alias bomb fails in microseconds instead of
expanding. Deep nesting and self-referencing anchors are refused the same way.

The watcher that applies the file to a running sidecar is quota_sidecar.server.quota_file_watcher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from quota_sidecar.config.bounded_yaml import MAX_NODES, compose_bounded, shown
from quota_sidecar.config.gateways import GatewaysConfig, parse_gateways_node
from quota_sidecar.config.quota_fields import (
    COST_QUOTA_SECTION,
    QUOTA_SECTION,
    RATE_LIMITS_SECTION,
    TOP_SECTION,
)
from quota_sidecar.config.run_templates import RunLimits, parse_runs_node
from quota_sidecar.domain.errors import ConfigError, InvalidInput
from quota_sidecar.domain.models import (
    DEFAULT_ALL,
    DEFAULT_TENANT_MARK,
    CostQuota,
    QuotaConfig,
    RateLimitConfig,
    Subject,
    UnpricedPolicy,
    check_default,
    validate_identifier,
)
from quota_sidecar.pricing import PriceOverride, parse_overrides_node, parse_unpriced_policy

__all__ = [
    "CONFIG_ACTOR",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "load_quota_file",
    "parse_quota_text",
]

log = logging.getLogger(__name__)
CONFIG_ACTOR = "config-file"
# The accepted keys come from the tables of config/quota_fields.py (the reference's source too).
_TOP_KEYS = TOP_SECTION.names
_QUOTA_KEYS = QUOTA_SECTION.names
_RATE_KEYS = RATE_LIMITS_SECTION.names
_COST_KEYS = COST_QUOTA_SECTION.names
_MONEY_KEYS = frozenset(f.name for f in COST_QUOTA_SECTION.fields if f.kind == "dollars")
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class QuotaDocument:
    """A whole quota file: its quotas, its price overrides, the default unpriced policy, and
    its run templates by tenant (run_templates.DEFAULT_TENANT for `runs.default`)."""

    quotas: list[QuotaConfig]
    prices: tuple[PriceOverride, ...] = ()
    unpriced: UnpricedPolicy | None = None
    runs: dict[str, RunLimits] = field(default_factory=dict)
    gateways: GatewaysConfig = field(default_factory=GatewaysConfig)  # config/gateways.py
    # The `webhooks:` entries as read (plain values, bounded like the rest), each with its
    # 1-based line: alerting/webhook_config.py checks their fields, so a reload carries them.
    webhooks: tuple[tuple[int, Any], ...] = ()


def load_quota_file(path: Path | str) -> list[QuotaConfig]:
    """Every quota in the file, or ConfigError naming the line and field."""
    return load_quota_document(path).quotas


def load_quota_document(path: Path | str) -> QuotaDocument:
    """The whole file (quotas, prices, unpriced, runs), or ConfigError naming the line and
    field."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)  # never more than the bound into memory
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("file", f"cannot read the quota file: {exc}", source=str(path)) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(
            "file",
            f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; split it or trim it",
            source=str(path),
            line=1,
        )
    return parse_quota_document(text, source=str(path))


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[str, int] = {}  # field path -> 1-based line, to place domain errors
        self._constructor = yaml.constructor.SafeConstructor()

    def error(self, field: str, message: str, node: Node | None) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else None
        return ConfigError(field, message, source=self.source, line=line)

    def mapping(self, node: Node, path: str, allowed: AbstractSet[str]) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            raise self.error(path or "(top level)", "must be a mapping of key: value", node)
        found: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            field = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str) or key not in allowed:
                names = ", ".join(sorted(allowed))
                raise self.error(field, f"unknown key (expected one of: {names})", key_node)
            if key in found:
                raise self.error(field, "appears twice", key_node)
            found[key] = value_node
            self.lines[field] = value_node.start_mark.line + 1
        return found

    def value(self, node: Node, field: str) -> Any:
        if not isinstance(node, ScalarNode | SequenceNode):
            raise self.error(field, "must be a value, not a mapping", node)
        return self.plain(node, field)

    def plain(self, node: Node, field: str) -> Any:
        """The node as plain Python values, whatever its kind (composed and bounded already)."""
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, ArithmeticError, RecursionError) as exc:
            # compose_bounded checked every node; this keeps any shape it missed a ConfigError.
            problem = exc.problem if isinstance(exc, yaml.MarkedYAMLError) else str(exc)
            raise self.error(field, f"is not a valid value: {shown(problem)}", node) from None

    def typed(self, node: Node, field: str, kind: Any, what: str) -> Any:
        found = self.value(node, field)
        if isinstance(found, bool) and kind is not bool:
            raise self.error(field, f"must be {what}, got {shown(found)}", node)
        if not isinstance(found, kind):
            raise self.error(field, f"must be {what}, got {shown(found)}", node)
        return found

    def thresholds(self, node: Node, field: str) -> tuple[int, ...]:
        if not isinstance(node, SequenceNode):
            raise self.error(field, "must be a list of percents such as [80, 90, 95]", node)
        return tuple(
            self.typed(item, f"{field}[{index}]", int, "a whole percent 1-99")
            for index, item in enumerate(node.value)
        )

    def money(self, node: Node, field: str) -> Decimal | None:
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            return None
        if not isinstance(node, ScalarNode) or node.tag not in (_INT_TAG, _FLOAT_TAG, _STR_TAG):
            raise self.error(field, "must be an amount of dollars such as 5.00", node)
        try:
            # The YAML text itself, so 0.1 stays exactly one tenth (no float on the way).
            return Decimal(node.value.replace("_", ""))
        except InvalidOperation:
            message = f"is not an amount of dollars: {shown(node.value)}"
            raise self.error(field, message, node) from None

    def quota(self, node: Node, path: str) -> QuotaConfig:
        fields = self.mapping(node, path, _QUOTA_KEYS)
        for required in ("scope", "identifier"):
            if required not in fields:
                raise self.error(f"{path}.{required}", "is required", node)
        kwargs: dict[str, Any] = {
            "scope": self.typed(fields["scope"], f"{path}.scope", str, "a scope name"),
            "identifier": self.typed(
                fields["identifier"], f"{path}.identifier", str | int, "an identifier"
            ),
        }
        kwargs["identifier"] = str(kwargs["identifier"])
        if "tenant" in fields:
            tenant = self.typed(fields["tenant"], f"{path}.tenant", str, "a tenant identifier")
            if kwargs["identifier"] != DEFAULT_ALL:
                raise self.error(f"{path}.tenant", 'needs identifier "*" (a default)', node)
            try:  # a bad tenant is the tenant's fault, not the identifier composed from it
                validate_identifier(tenant, f"{path}.tenant")
            except InvalidInput as exc:
                raise self.error(exc.field, exc.message, fields["tenant"]) from None
            kwargs["identifier"] = DEFAULT_TENANT_MARK + tenant
        if "rate_limits" in fields:
            kwargs["rate_limits"] = self.rate_limits(fields["rate_limits"], f"{path}.rate_limits")
        if "cost_quota" in fields:
            kwargs["cost_quota"] = self.cost_quota(fields["cost_quota"], f"{path}.cost_quota")
        if "alert_thresholds" in fields:
            kwargs["alert_thresholds"] = self.thresholds(
                fields["alert_thresholds"], f"{path}.alert_thresholds"
            )
        if "shadow_mode" in fields:
            kwargs["shadow_mode"] = self.typed(
                fields["shadow_mode"], f"{path}.shadow_mode", bool, "true or false"
            )
        if "description" in fields:
            kwargs["description"] = self.typed(
                fields["description"], f"{path}.description", str, "text"
            )
        if "lease" in fields:
            kwargs["lease"] = self.typed(fields["lease"], f"{path}.lease", str, "off or auto")
        config: QuotaConfig = self.construct(QuotaConfig, kwargs, path, node)
        try:
            check_default(config.subject, f"{path}.identifier")
        except InvalidInput as exc:
            raise self.error(exc.field, exc.message, node) from None
        return config

    def rate_limits(self, node: Node, path: str) -> RateLimitConfig:
        fields = self.mapping(node, path, _RATE_KEYS)
        kwargs: dict[str, Any] = {}
        for key, value in fields.items():
            if key == "failure_mode":
                kwargs[key] = self.typed(value, f"{path}.{key}", str, "open or closed")
            else:
                kwargs[key] = self.typed(value, f"{path}.{key}", int | type(None), "a whole number")
        rates: RateLimitConfig = self.construct(
            RateLimitConfig, kwargs, path.rsplit(".", 1)[0], node
        )
        return rates

    def cost_quota(self, node: Node, path: str) -> CostQuota:
        fields = self.mapping(node, path, _COST_KEYS)
        kwargs: dict[str, Any] = {}
        for key, value in fields.items():
            field = f"{path}.{key}"
            if key in _MONEY_KEYS:
                kwargs[key] = self.money(value, field)
            elif key == "reset_hour":
                kwargs[key] = self.typed(value, field, int, "an hour 0-23")
            else:
                kwargs[key] = self.typed(value, field, str, "text")
        cost: CostQuota = self.construct(CostQuota, kwargs, path.rsplit(".", 1)[0], node)
        return cost

    def construct(
        self, cls: Callable[..., Any], kwargs: dict[str, Any], path: str, node: Node
    ) -> Any:
        """Build a domain object; its InvalidInput names a field, which we place on its line."""
        try:
            return cls(**kwargs)
        except ConfigError:
            raise
        except InvalidInput as exc:
            field = f"{path}.{exc.field}"
            line = self.lines.get(field, node.start_mark.line + 1)
            raise ConfigError(field, exc.message, source=self.source, line=line) from None
        except (TypeError, ValueError, ArithmeticError) as exc:
            # A domain check that did not expect this shape of value: still the file's fault,
            # so a ConfigError at the entry, never a traceback.
            raise self.error(path, f"is not a valid entry: {shown(str(exc))}", node) from None


def parse_quota_text(
    text: str, source: str = "<quota file>", *, max_nodes: int = MAX_NODES
) -> list[QuotaConfig]:
    """Every quota in a YAML document (see the module docstring for the format)."""
    return parse_quota_document(text, source, max_nodes=max_nodes).quotas


def parse_quota_document(
    text: str, source: str = "<quota file>", *, max_nodes: int = MAX_NODES
) -> QuotaDocument:
    """A whole YAML document: quotas, `prices:` overrides and the `unpriced:` default."""
    parser = _Parser(source)
    root = compose_bounded(text, source, max_nodes)
    if root is None:
        return QuotaDocument([])  # an empty file configures nothing
    top = parser.mapping(root, "", _TOP_KEYS)
    prices = parse_overrides_node(top.get("prices"), source=source)
    unpriced = None
    if (node := top.get("unpriced")) is not None:
        try:
            unpriced = parse_unpriced_policy(parser.typed(node, "unpriced", str, "a policy"))
        except InvalidInput as exc:
            raise parser.error("unpriced", exc.message, node) from None
    runs = parse_runs_node(parser, top.get("runs"))
    gateways = parse_gateways_node(parser, top.get("gateways"))
    return QuotaDocument(
        _quotas(parser, top.get("quotas")),
        prices,
        unpriced,
        runs,
        gateways=gateways,
        webhooks=_webhooks(parser, top.get("webhooks")),
    )


def _webhooks(parser: _Parser, node: Node | None) -> tuple[tuple[int, Any], ...]:
    """The `webhooks:` entries as plain values with their lines ((), without a section)."""
    if node is None or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG):
        return ()
    if not isinstance(node, SequenceNode):
        raise parser.error("webhooks", "must be a list of webhooks (each starting with '- ')", node)
    return tuple(
        (item.start_mark.line + 1, parser.plain(item, f"webhooks[{index}]"))
        for index, item in enumerate(node.value)
    )


def _quotas(parser: _Parser, quotas_node: Node | None) -> list[QuotaConfig]:
    """The `quotas:` list, each entry checked, no subject twice."""
    if quotas_node is None or (
        isinstance(quotas_node, ScalarNode) and quotas_node.tag == _NULL_TAG
    ):
        return []
    if not isinstance(quotas_node, SequenceNode):
        raise parser.error(
            "quotas", "must be a list of quotas (each starting with '- ')", quotas_node
        )
    configs: list[QuotaConfig] = []
    seen: dict[Subject, int] = {}
    for index, item in enumerate(quotas_node.value):
        config = parser.quota(item, f"quotas[{index}]")
        if config.subject in seen:
            raise parser.error(
                f"quotas[{index}]",
                f"repeats {config.subject}, already configured by quotas[{seen[config.subject]}]",
                item,
            )
        seen[config.subject] = index
        configs.append(config)
    return configs
