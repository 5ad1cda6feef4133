"""The `gateways:` section of the quota file: how a gateway's rate limit descriptors map to
subjects, so one quota store serves SDK calls and gateway traffic alike.

    gateways:
      envoy:
        shadow_mode: false        # true: always answer OK; a would-be denial goes to metadata
        domains:
          - domain: agents        # the `domain` of Envoy's rate limit filter
            hits: requests        # what hits_addend counts: requests (default) | tokens
            descriptors:
              - {key: user_id, scope: user}        # user:<the entry's value>
              - {key: x-tool, scope: tool}
              - {key: model, scope: model, identifier: "openai/{value}"}
              - {key: generic_key, value: gateway, scope: global, identifier: all}

A descriptor entry (key, value) maps to the subject `scope:identifier`, where `identifier`
defaults to `{value}` (the entry's value) and may be fixed text (a global limit keyed by the
entry's key alone). A mapping with `value` applies only to entries of that value, and wins over
one without. Keys and values are compared exactly, as Envoy sends them.

Part of the domain: the Envoy protocol adapter (quota_sidecar.gateways.envoy) reads these
values; this module knows nothing of protobuf.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from yaml.nodes import Node, ScalarNode, SequenceNode

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.file_schema import FileField, FileSection
from quota_sidecar.domain.models import QuotaScope, Subject, parse_scope, validate_identifier

if TYPE_CHECKING:
    from quota_sidecar.config.quota_file import _Parser

__all__ = [
    "DESCRIPTOR_SECTION",
    "DOMAIN_SECTION",
    "ENVOY_SECTION",
    "GATEWAYS_SECTION",
    "VALUE_PLACEHOLDER",
    "DescriptorMapping",
    "EnvoyDomain",
    "EnvoyGateway",
    "GatewaysConfig",
    "HitsUnit",
    "parse_gateways_node",
]

VALUE_PLACEHOLDER = "{value}"
# The keys each mapping accepts (`SECTION.names`), and the reference's source.
GATEWAYS_SECTION = FileSection("gateways", "Every gateway's mapping (today: Envoy's).", (
    FileField("envoy", "mapping", "Envoy's rate limit service", section="gateways.envoy"),
))  # fmt: skip
ENVOY_SECTION = FileSection("gateways.envoy", "The Envoy rate limit service's domains.", (
    FileField("shadow_mode", "`true` or `false`", "always answer OK; a would-be denial goes to "
              "dynamic_metadata and counts nothing", default="`false`"),
    FileField("domains", "list", "one entry per rate limit domain",
              section="gateways.envoy.domains[]"),
))  # fmt: skip
DOMAIN_SECTION = FileSection("gateways.envoy.domains[]", "One rate limit domain.", (
    FileField("domain", "text", "the `domain` of Envoy's rate limit filter", required=True),
    FileField("hits", "`requests` or `tokens`", "what hits_addend counts",
              default="`requests`"),
    FileField("descriptors", "list", "descriptor entries mapped to subjects; entries whose "
              "key is not mapped are ignored", section="gateways.envoy.domains[].descriptors[]"),
))  # fmt: skip
DESCRIPTOR_SECTION = FileSection(
    "gateways.envoy.domains[].descriptors[]",
    "A descriptor entry (key, value) -> the subject `scope:identifier`.",
    (
        FileField("key", "text", "the entry's key, as Envoy sends it", required=True),
        FileField("value", "text", "only entries of this value (wins over a mapping without "
                  "one)", default="any value"),
        FileField("scope", "a scope name (not `run`)", "the subject's scope", required=True),
        FileField("identifier", "text", "the subject's identifier; `{value}` stands for the "
                  "entry's value, fixed text makes one subject of every value",
                  default="`{value}`"),
    ),
)  # fmt: skip
_GATEWAYS_KEYS = GATEWAYS_SECTION.names
_ENVOY_KEYS = ENVOY_SECTION.names
_DOMAIN_KEYS = DOMAIN_SECTION.names
_MAPPING_KEYS = DESCRIPTOR_SECTION.names
_NULL_TAG = "tag:yaml.org,2002:null"


class HitsUnit(StrEnum):
    """What a gateway's hits_addend counts."""

    REQUESTS = "requests"  # each hit is a request in the request windows
    TOKENS = "tokens"  # each hit is a token in the token windows; the call is one request


@dataclass(frozen=True, slots=True)
class DescriptorMapping:
    """One descriptor entry key (and optionally one value) -> one subject."""

    key: str
    scope: QuotaScope
    identifier: str = VALUE_PLACEHOLDER
    value: str | None = None

    def __post_init__(self) -> None:
        if not self.key:
            raise InvalidInput("key", "must be a non-empty descriptor key")
        object.__setattr__(self, "scope", parse_scope(self.scope))
        if self.scope is QuotaScope.RUN:
            raise InvalidInput("scope", "a run is opened by its calls, not by a gateway")
        # Checked now, with a stand-in value, so only a request's own value can fail later.
        validate_identifier(self.identifier.replace(VALUE_PLACEHOLDER, "v"))

    def subject_for(self, value: str) -> Subject:
        """The subject an entry of this key with `value` stands for; InvalidInput naming
        `identifier` when the value does not make a valid identifier."""
        return Subject(self.scope, self.identifier.replace(VALUE_PLACEHOLDER, value))


@dataclass(frozen=True, slots=True)
class EnvoyDomain:
    """The mappings of one rate limit domain."""

    domain: str
    mappings: tuple[DescriptorMapping, ...] = ()
    hits: HitsUnit = HitsUnit.REQUESTS

    def mapping_for(self, key: str, value: str) -> DescriptorMapping | None:
        """The mapping of an entry: one naming its value first, else one for its key alone."""
        by_key = None
        for mapping in self.mappings:
            if mapping.key != key:
                continue
            if mapping.value == value:
                return mapping
            if mapping.value is None and by_key is None:
                by_key = mapping
        return by_key


@dataclass(frozen=True, slots=True)
class EnvoyGateway:
    """The Envoy rate limit service's configuration: its domains, and shadow mode."""

    domains: tuple[EnvoyDomain, ...] = ()
    shadow_mode: bool = False

    def domain(self, name: str) -> EnvoyDomain | None:
        return next((d for d in self.domains if d.domain == name), None)


@dataclass(frozen=True, slots=True)
class GatewaysConfig:
    """Every gateway section of a quota file (today: Envoy's)."""

    envoy: EnvoyGateway = field(default_factory=EnvoyGateway)


def parse_gateways_node(parser: _Parser, node: Node | None) -> GatewaysConfig:
    """The `gateways:` section (absent or empty: no gateway mappings)."""
    if node is None or _is_null(node):
        return GatewaysConfig()
    fields = parser.mapping(node, "gateways", _GATEWAYS_KEYS)
    envoy = fields.get("envoy")
    if envoy is None or _is_null(envoy):
        return GatewaysConfig()
    return GatewaysConfig(_envoy(parser, envoy, "gateways.envoy"))


def _envoy(parser: _Parser, node: Node, path: str) -> EnvoyGateway:
    fields = parser.mapping(node, path, _ENVOY_KEYS)
    shadow = False
    if "shadow_mode" in fields:
        shadow = parser.typed(fields["shadow_mode"], f"{path}.shadow_mode", bool, "true or false")
    domains: list[EnvoyDomain] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(_items(parser, fields.get("domains"), f"{path}.domains")):
        at = f"{path}.domains[{index}]"
        domain = _domain(parser, item, at)
        if domain.domain in seen:
            message = f"repeats domain {domain.domain!r} of {path}.domains[{seen[domain.domain]}]"
            raise parser.error(at, message, item)
        seen[domain.domain] = index
        domains.append(domain)
    return EnvoyGateway(tuple(domains), shadow)


def _domain(parser: _Parser, node: Node, path: str) -> EnvoyDomain:
    fields = parser.mapping(node, path, _DOMAIN_KEYS)
    if "domain" not in fields:
        raise parser.error(f"{path}.domain", "is required", node)
    name = parser.typed(fields["domain"], f"{path}.domain", str, "a domain name")
    if not name:
        raise parser.error(f"{path}.domain", "must not be empty", fields["domain"])
    hits = HitsUnit.REQUESTS
    if "hits" in fields:
        text = parser.typed(fields["hits"], f"{path}.hits", str, "requests or tokens")
        try:
            hits = HitsUnit(text)
        except ValueError:
            message = f"must be requests or tokens, got {text!r}"
            raise parser.error(f"{path}.hits", message, fields["hits"]) from None
    mappings: list[DescriptorMapping] = []
    seen: dict[tuple[str, str | None], int] = {}
    nodes = _items(parser, fields.get("descriptors"), f"{path}.descriptors")
    for index, item in enumerate(nodes):
        at = f"{path}.descriptors[{index}]"
        mapping = _mapping(parser, item, at)
        match = (mapping.key, mapping.value)
        if match in seen:
            message = f"maps key {mapping.key!r} again (see {path}.descriptors[{seen[match]}])"
            raise parser.error(at, message, item)
        seen[match] = index
        mappings.append(mapping)
    return EnvoyDomain(name, tuple(mappings), hits)


def _mapping(parser: _Parser, node: Node, path: str) -> DescriptorMapping:
    fields = parser.mapping(node, path, _MAPPING_KEYS)
    for required in ("key", "scope"):
        if required not in fields:
            raise parser.error(f"{path}.{required}", "is required", node)
    kwargs: dict[str, object] = {}
    for name, what in (("key", "a descriptor key"), ("scope", "a scope name")):
        kwargs[name] = parser.typed(fields[name], f"{path}.{name}", str, what)
    for name, what in (("value", "a descriptor value"), ("identifier", "an identifier")):
        if name in fields:
            found = parser.typed(fields[name], f"{path}.{name}", str | int, what)
            kwargs[name] = str(found)
    built: DescriptorMapping = parser.construct(DescriptorMapping, kwargs, path, node)
    return built


def _items(parser: _Parser, node: Node | None, path: str) -> list[Node]:
    if node is None or _is_null(node):
        return []
    if not isinstance(node, SequenceNode):
        raise parser.error(path, "must be a list (each entry starting with '- ')", node)
    return list(node.value)


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG
