"""The quota file's `prices:` section: exact overrides of the genai-prices snapshot.

    prices:
      - provider: openai
        model: gpt-4o
        input: "2.50"            # USD per million tokens, exact decimals
        output: "10"
        cache_read: "1.25"       # optional; cache_write and per_request (USD per call) too
        effective_from: 2026-07-01T00:00:00Z   # optional; ISO-8601 with a zone

Every entry needs a provider, a model, and an input or an output rate. Numbers are exact:
read from the YAML text (`parse_overrides_node`), `0.1` is one tenth; from already-loaded
values (`parse_overrides`) a float is accepted only when it is exactly the decimal it prints as
(2.5, 0.75), and `0.1` is refused with a request to quote it. Negative, NaN, infinite and
absurd rates are refused, and so are unknown keys, so a typo never silently drops a price.
Every error is a ConfigError naming the field path, e.g. `prices[0].input`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from quota_sidecar.domain.errors import ConfigError, InvalidInput
from quota_sidecar.domain.file_schema import FileField, FileSection
from quota_sidecar.domain.timestamps import parse_instant
from quota_sidecar.pricing.table import ModelPrice, PriceOverride, check_rate

__all__ = ["PRICE_SECTION", "parse_overrides", "parse_overrides_node"]

_PER_MILLION = "USD per million tokens, exact"
# The keys an entry accepts (`PRICE_SECTION.names`), and the reference's source.
PRICE_SECTION = FileSection(
    "prices[]",
    "One price: exact decimals (a float only when exact: `2.5` yes, `0.1` no, quote it); an "
    "entry needs an `input` or an `output` rate. The latest entry in force wins.",
    (
        FileField("provider", "text", "the provider, as calls name it", required=True),
        FileField("model", "text", "the model, as calls name it", required=True),
        FileField("input", _PER_MILLION, "the prompt's tokens (cache tokens included)"),
        FileField("output", _PER_MILLION, "the output tokens"),
        FileField("cache_read", _PER_MILLION, "tokens read from the cache",
                  default="the input rate"),
        FileField("cache_write", _PER_MILLION, "tokens written to the cache",
                  default="the input rate"),
        FileField("per_request", "USD per call, exact", "a fee per call"),
        FileField("effective_from", "ISO-8601 instant with a zone",
                  "when this price takes effect", default="always"),
    ),
)  # fmt: skip
_RATE_KEYS = ("input", "output", "cache_read", "cache_write", "per_request")
_KEYS = PRICE_SECTION.names
_NUMBER_TAGS = ("tag:yaml.org,2002:float", "tag:yaml.org,2002:int")
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_SHOWN = 60


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(text)} characters)"


def parse_overrides(
    data: object, *, path: str = "prices", source: str = "", lines: Mapping[str, int] | None = None
) -> tuple[PriceOverride, ...]:
    """Overrides from loaded values (a list of mappings), or ConfigError naming the field."""
    lines = lines or {}

    def error(field: str, message: str) -> ConfigError:
        # A missing key has no line of its own: place it on its entry's line.
        place = field
        while place not in lines and "." in place:
            place = place.rsplit(".", 1)[0]
        return ConfigError(field, message, source=source, line=lines.get(place))

    if data is None:
        return ()
    if not isinstance(data, list):
        raise error(path, "must be a list of prices (- provider: ..., model: ..., input: ...)")
    overrides: list[PriceOverride] = []
    seen: dict[tuple[str, str, datetime | None], int] = {}
    for index, entry in enumerate(data):
        here = f"{path}[{index}]"
        if not isinstance(entry, dict):
            raise error(here, "must be a mapping with provider, model and rates")
        for key in entry:
            if key not in _KEYS:
                names = ", ".join(sorted(_KEYS))
                raise error(f"{here}.{key}", f"unknown key (expected one of: {names})")
        provider = _name(entry, "provider", here, error)
        model = _name(entry, "model", here, error)
        rates = {
            key: _rate(entry[key], f"{here}.{key}", error)
            for key in _RATE_KEYS
            if entry.get(key) is not None
        }
        if "input" not in rates and "output" not in rates:
            raise error(here, "needs an input or an output price")
        effective_from = _instant(entry.get("effective_from"), f"{here}.effective_from", error)
        override = PriceOverride(provider, model, ModelPrice.flat(**rates), effective_from)
        key = (override.provider, override.model, effective_from)
        if key in seen:
            where = f"{here}.effective_from" if effective_from else here
            raise error(where, f"repeats prices[{seen[key]}] for {provider}/{model}")
        seen[key] = index
        overrides.append(override)
    return tuple(overrides)


def _name(entry: dict[Any, Any], key: str, here: str, error: Any) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise error(f"{here}.{key}", f"is required and must be text, got {_shown(value)}")
    if len(value) > 256 or any(c.isspace() or ord(c) < 32 for c in value.strip()):
        raise error(f"{here}.{key}", f"is not a {key} name: {_shown(value)}")
    return value.strip()


def _rate(value: object, field: str, error: Any) -> Decimal:
    if isinstance(value, bool):
        raise error(field, "must be a price in USD per million tokens, not a boolean")
    if isinstance(value, float):
        # Exact or refused: the binary float must be the very decimal it prints as.
        if not math.isfinite(value) or Decimal(value) != Decimal(repr(value)):
            raise error(field, f'is not exact as a float ({value!r}); quote it: "{value!r}"')
        value = Decimal(repr(value))
    if isinstance(value, int | str):
        try:
            value = Decimal(str(value).strip().replace("_", ""))
        except InvalidOperation:
            raise error(field, f"is not a price: {_shown(value)}") from None
    if not isinstance(value, Decimal):
        raise error(field, f"must be a price in USD per million tokens, got {_shown(value)}")
    try:
        return check_rate(value, field)
    except InvalidInput as exc:
        raise error(field, exc.message) from None


def _instant(value: object, field: str, error: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_instant(value, field)  # strict: one spelling, with its zone
        except InvalidInput as exc:
            raise error(field, exc.message) from None
    if not isinstance(value, datetime):
        raise error(field, f"must be an ISO-8601 instant with a zone, got {_shown(value)}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise error(field, f"must carry a time zone (Z or +01:00), got {value.isoformat()}")
    return value


def parse_overrides_node(node: Node | None, *, source: str = "") -> tuple[PriceOverride, ...]:
    """Overrides from the composed YAML node of `prices:` (exact numbers, lines in errors)."""
    lines: dict[str, int] = {}
    data = _plain(node, "prices", lines, source)
    return parse_overrides(data, source=source, lines=lines)


def _plain(node: Node | None, path: str, lines: dict[str, int], source: str) -> object:
    """The node as plain values; numbers as Decimal read from their text, never via float."""
    if node is None:
        return None
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, SequenceNode):
        return [_plain(item, f"{path}[{n}]", lines, source) for n, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        found: dict[object, object] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else repr(key_node)
            if key in found:
                raise ConfigError(
                    f"{path}.{key}",
                    "appears twice",
                    source=source,
                    line=key_node.start_mark.line + 1,
                )
            found[key] = _plain(value_node, f"{path}.{key}", lines, source)
        return found
    assert isinstance(node, ScalarNode)
    if node.tag == _TIMESTAMP_TAG:
        # As text, read by the strict instant rule (PyYAML's own takes "2026-7-1 1:00:00 -5").
        return node.value
    if node.tag in _NUMBER_TAGS:
        try:
            return Decimal(node.value.replace("_", ""))
        except InvalidOperation:
            return node.value  # .inf, .nan, 0x10: refused by _rate as text
    try:
        return SafeConstructor().construct_object(node)
    except (ConstructorError, ValueError) as exc:
        raise ConfigError(
            path,
            f"is not a valid value: {_shown(str(exc))}",
            source=source,
            line=node.start_mark.line + 1,
        ) from None
