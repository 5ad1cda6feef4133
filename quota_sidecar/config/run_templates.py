"""The `runs:` section of the quota file: the limits of agent runs (see "Run budgets" in
docs/semantics.md), for every tenant or for one.

    runs:
      default: {max_cost: 5.00, max_requests: 200, max_tokens: 1000000, ttl: 2h}
      tenants:
        acme: {max_cost: 20.00, ttl: 8h}

Each entry is a whole template: `ttl` (a duration such as 90m, 2h, 1d; required) and, each
optional (absent or null: no cap), `max_cost` (dollars, exact), `max_requests` and
`max_tokens`. A run opened by a call that names `tenant:acme` among its subjects takes acme's
template, whole (nothing is inherited from `default`); any other run takes `default`. Without
a template for it, opening a run is refused. The values are a run's limits and the caps of
what the call opening it may ask for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from yaml.nodes import MappingNode, Node, ScalarNode

from quota_sidecar.domain.durations import parse_duration
from quota_sidecar.domain.errors import ConfigError, InvalidInput
from quota_sidecar.domain.file_schema import FileField, FileSection
from quota_sidecar.domain.models import MAX_COUNT_LIMIT, validate_identifier
from quota_sidecar.domain.money import MAX_LIMIT_NANOS, to_nanos

if TYPE_CHECKING:
    from quota_sidecar.config.quota_file import _Parser

__all__ = [
    "DEFAULT_TENANT",
    "RUNS_SECTION",
    "RUN_TEMPLATE_SECTION",
    "RunLimits",
    "parse_runs_node",
]

# The key of the template for every tenant without its own (the engine's global key).
DEFAULT_TENANT = "*"
# The keys each mapping accepts (`SECTION.names`), and the reference's source.
RUNS_SECTION = FileSection("runs", "Run templates: the limits of agent runs.", (
    FileField("default", "mapping", "the template of every run whose tenant has none",
              section="runs.tenants.<tenant>"),
    FileField("tenants", "mapping of tenant: template", "the template of the runs opened by "
              "a call naming `tenant:<tenant>` (whole: nothing is inherited from `default`)",
              section="runs.tenants.<tenant>"),
))  # fmt: skip
RUN_TEMPLATE_SECTION = FileSection(
    "runs.tenants.<tenant>",
    "One template (`runs.default` too): a run's limits, and the caps of what the call opening "
    "it may ask for. Absent or null: no cap.",
    (
        FileField("ttl", "duration such as `90m`, `2h`, `1d`", "the run's time to live",
                  required=True),
        FileField("max_cost", "dollars", "the run's total spend, its sub-runs' included"),
        FileField("max_requests", "whole number", "the run's admitted checks"),
        FileField("max_tokens", "whole number", "the run's estimated tokens"),
    ),
)  # fmt: skip
_RUNS_KEYS = RUNS_SECTION.names
_LIMIT_KEYS = RUN_TEMPLATE_SECTION.names
_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True, slots=True)
class RunLimits:
    """One template of the `runs:` section; None: no cap."""

    ttl: timedelta
    max_cost: Decimal | None = None
    max_requests: int | None = None
    max_tokens: int | None = None


def _is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG)


def parse_runs_node(parser: _Parser, node: Node | None) -> dict[str, RunLimits]:
    """The templates by tenant (DEFAULT_TENANT for `default`); {} without a section."""
    if _is_null(node):
        return {}
    assert node is not None
    top = parser.mapping(node, "runs", _RUNS_KEYS)
    found: dict[str, RunLimits] = {}
    if "default" in top:
        found[DEFAULT_TENANT] = _limits(parser, top["default"], "runs.default")
    tenants = top.get("tenants")
    if not _is_null(tenants):
        assert tenants is not None
        if not isinstance(tenants, MappingNode):
            raise parser.error("runs.tenants", "must be a mapping of tenant: {ttl: ...}", tenants)
        for key_node, value_node in tenants.value:
            name = key_node.value if isinstance(key_node, ScalarNode) else None
            field = f"runs.tenants.{name}"
            try:
                tenant = validate_identifier(name, field)
            except InvalidInput as exc:
                raise parser.error(exc.field, exc.message, key_node) from None
            if tenant in found:
                raise parser.error(field, "appears twice", key_node)
            found[tenant] = _limits(parser, value_node, field)
    return found


def _limits(parser: _Parser, node: Node, path: str) -> RunLimits:
    fields = parser.mapping(node, path, _LIMIT_KEYS)
    if "ttl" not in fields:
        raise parser.error(f"{path}.ttl", "is required (a duration such as 2h)", node)
    kwargs: dict[str, Any] = {}
    for key, value in fields.items():
        field = f"{path}.{key}"
        try:
            if key == "ttl":
                text = parser.typed(value, field, str, "a duration such as 2h or 90m")
                kwargs[key] = parse_duration(text, field)
            elif key == "max_cost":
                dollars = parser.money(value, field)
                if dollars is not None:  # exact, and within what a budget may be
                    to_nanos(dollars, field, maximum=MAX_LIMIT_NANOS)
                kwargs[key] = dollars
            else:
                count = parser.typed(value, field, int | type(None), "a whole number")
                if count is not None and not 0 <= count <= MAX_COUNT_LIMIT:
                    message = f"must be between 0 and {MAX_COUNT_LIMIT}, got {count}"
                    raise InvalidInput(field, message)
                kwargs[key] = count
        except ConfigError:
            raise
        except InvalidInput as exc:
            raise parser.error(exc.field, exc.message, value) from None
    return RunLimits(**kwargs)
