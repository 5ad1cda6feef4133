"""The prices: section, the unpriced policy table, and the token breakdown's validation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import yaml

from quota_sidecar.domain.errors import ConfigError, InvalidInput
from quota_sidecar.pricing import (
    PriceBook,
    PricingAction,
    Rate,
    TokenUsage,
    UnpricedPolicy,
    decide,
    parse_overrides,
    parse_overrides_node,
    parse_unpriced_policy,
    unpriced_error,
)

FILE = """\
prices:
  - provider: openai
    model: gpt-4o
    input: 0.1
    output: "10"
    cache_read: 1_000.000000000001
    effective_from: 2026-07-01T00:00:00Z
  - provider: anthropic
    model: claude-sonnet-4-0
    input: 3
    output: 15
    cache_write: "3.75"
    per_request: 0
"""


def _node(text: str) -> yaml.Node | None:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode)
    found: yaml.Node = next(value for key, value in root.value if key.value == "prices")
    return found


def test_overrides_from_yaml_text_are_exact() -> None:
    first, second = parse_overrides_node(_node(FILE), source="quotas.yaml")
    assert (first.provider, first.model) == ("openai", "gpt-4o")
    assert first.price.input == Rate(Decimal("0.1"))  # the text, never through float
    assert first.price.cache_read == Rate(Decimal("1000.000000000001"))
    assert first.effective_from == datetime(2026, 7, 1, tzinfo=UTC)
    assert second.price.cache_write == Rate(Decimal("3.75")) and second.price.cache_read is None
    assert second.price.per_request == 0 and second.effective_from is None
    book = PriceBook([first, second])
    quote = book.price("openai", "gpt-4o", datetime(2026, 7, 1, tzinfo=UTC))
    assert quote is not None and str(quote.source) == "override"


@pytest.mark.parametrize(
    ("entry", "field", "message"),
    [
        ("{provider: openai, model: m, input: -1}", "prices[0].input", "negative"),
        ("{provider: openai, model: m, input: .nan}", "prices[0].input", "not a price"),
        ("{provider: openai, model: m, input: .inf}", "prices[0].input", "not a price"),
        ("{provider: openai, model: m, input: '1e999999'}", "prices[0].input", "absurdly"),
        ("{provider: openai, model: m, input: '1e-999999'}", "prices[0].input", "places"),
        ("{provider: openai, model: m, input: abc}", "prices[0].input", "not a price"),
        ("{provider: openai, model: m, input: true}", "prices[0].input", "boolean"),
        ("{provider: openai, model: m, input: [1]}", "prices[0].input", "must be a price"),
        ("{provider: openai, model: m, inptu: 1}", "prices[0].inptu", "unknown key"),
        ("{provider: openai, model: m}", "prices[0]", "input or an output"),
        ("{model: m, input: 1}", "prices[0].provider", "required"),
        ("{provider: openai, model: '', input: 1}", "prices[0].model", "required"),
        ("{provider: openai, model: 'a b', input: 1}", "prices[0].model", "not a model"),
        (
            "{provider: openai, model: m, input: 1, effective_from: 2026-07-01}",
            "prices[0].effective_from",
            "instant with a zone",
        ),
        (
            "{provider: openai, model: m, input: 1, effective_from: '2026-07-01T00:00:00'}",
            "prices[0].effective_from",
            "time zone",
        ),
        (
            "{provider: openai, model: m, input: 1, effective_from: 'soon'}",
            "prices[0].effective_from",
            "ISO-8601",
        ),
        ("{provider: openai, model: m, input: 1, input: 2}", "prices[0].input", "twice"),
    ],
)
def test_bad_entries_are_config_errors_naming_the_field(
    entry: str, field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_overrides_node(_node(f"prices:\n  - {entry}\n"), source="quotas.yaml")
    assert err.value.field == field
    assert message in err.value.message
    assert err.value.line == 2 and str(err.value).startswith("quotas.yaml:2: ")


def test_the_same_model_and_instant_twice_is_refused() -> None:
    text = (
        "prices:\n"
        "  - {provider: openai, model: gpt-4o, input: 1}\n"
        "  - {provider: OpenAI, model: GPT-4o, input: 2}\n"
    )
    with pytest.raises(ConfigError) as err:
        parse_overrides_node(_node(text))
    assert err.value.field == "prices[1]" and "prices[0]" in err.value.message


def test_the_section_must_be_a_list() -> None:
    with pytest.raises(ConfigError) as err:
        parse_overrides_node(_node("prices: {openai: 1}\n"))
    assert err.value.field == "prices"
    assert parse_overrides_node(_node("prices:\n")) == ()


def test_loaded_floats_are_accepted_only_when_exact() -> None:
    (override,) = parse_overrides([{"provider": "openai", "model": "m", "input": 2.5}])
    assert override.price.input == Rate(Decimal("2.5"))
    with pytest.raises(ConfigError) as err:
        parse_overrides([{"provider": "openai", "model": "m", "output": 0.1}])
    assert err.value.field == "prices[0].output" and "quote it" in err.value.message


# The unpriced policy. Columns: is_check, has_budget, has_tokens, cost_given, priced.


@pytest.mark.parametrize("policy", list(UnpricedPolicy))
@pytest.mark.parametrize("is_check", [True, False])
def test_the_policy_only_acts_on_unpriced_tokens_under_a_budget(
    policy: UnpricedPolicy, is_check: bool
) -> None:
    def act(**kwargs: bool) -> PricingAction:
        return decide(policy, is_check=is_check, **kwargs)

    base = {"has_budget": True, "has_tokens": True, "cost_given": False, "priced": False}
    assert act(**{**base, "cost_given": True}) is PricingAction.USE_CALLER_COST
    assert act(**{**base, "cost_given": True, "priced": True}) is PricingAction.USE_CALLER_COST
    assert act(**{**base, "priced": True}) is PricingAction.PRICE
    assert act(**{**base, "has_tokens": False}) is PricingAction.NO_COST
    assert act(**{**base, "has_budget": False}) is PricingAction.NO_COST


@pytest.mark.parametrize(
    ("policy", "is_check", "action"),
    [
        (UnpricedPolicy.REQUIRE_COST, True, PricingAction.REFUSE),
        (UnpricedPolicy.REQUIRE_COST, False, PricingAction.REFUSE),
        (UnpricedPolicy.DENY, True, PricingAction.DENY),
        (UnpricedPolicy.DENY, False, PricingAction.REFUSE),
        (UnpricedPolicy.ALLOW_ZERO, True, PricingAction.ZERO),
        (UnpricedPolicy.ALLOW_ZERO, False, PricingAction.ZERO),
    ],
)
def test_an_unpriced_call_under_a_budget(
    policy: UnpricedPolicy, is_check: bool, action: PricingAction
) -> None:
    found = decide(
        policy, is_check=is_check, has_budget=True, has_tokens=True, cost_given=False, priced=False
    )
    assert found is action


def test_policy_names_and_the_refusal_names_model() -> None:
    assert parse_unpriced_policy(" Require_Cost ") is UnpricedPolicy.REQUIRE_COST
    with pytest.raises(InvalidInput) as err:
        parse_unpriced_policy("free", "quotas[0].unpriced")
    assert err.value.field == "quotas[0].unpriced"
    assert unpriced_error("acme", "x").field == "model"


# The token breakdown: input includes the cache tokens.


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"input_tokens": -1}, "input_tokens"),
        ({"output_tokens": True}, "output_tokens"),
        ({"input_tokens": 1.0}, "input_tokens"),
        ({"input_tokens": 10**12 + 1}, "input_tokens"),
        ({"input_tokens": 5, "cache_read_tokens": 6}, "cache_read_tokens"),
        ({"input_tokens": 5, "cache_write_tokens": 6}, "cache_write_tokens"),
        (
            {"input_tokens": 5, "cache_read_tokens": 3, "cache_write_tokens": 3},
            "cache_write_tokens",
        ),
    ],
)
def test_bad_token_counts_are_refused_by_name(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        TokenUsage(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_uncached_input_is_the_rest_of_the_input() -> None:
    usage = TokenUsage(input_tokens=10, cache_read_tokens=3, cache_write_tokens=7)
    assert usage.uncached_input_tokens == 0 and usage.has_tokens
    assert not TokenUsage().has_tokens
