"""The quota file's `gateways:` section: Envoy descriptor entries -> subjects, and how errors
name their line and field."""

from __future__ import annotations

import pytest

from quota_sidecar.config import HitsUnit, parse_quota_document
from quota_sidecar.domain.errors import ConfigError, InvalidInput
from quota_sidecar.domain.models import QuotaScope, Subject

GATEWAYS = """\
quotas: []
gateways:
  envoy:
    shadow_mode: true
    domains:
      - domain: agents
        descriptors:
          - {key: user_id, scope: user}
          - {key: model, scope: model, identifier: "openai/{value}"}
          - {key: generic_key, scope: global, identifier: all}
          - {key: generic_key, value: vip, scope: tenant, identifier: vip}
      - domain: tokens
        hits: tokens
"""


def test_the_envoy_section_maps_entries_to_subjects() -> None:
    envoy = parse_quota_document(GATEWAYS).gateways.envoy
    assert envoy.shadow_mode is True
    agents = envoy.domain("agents")
    assert agents is not None and agents.hits is HitsUnit.REQUESTS
    user = agents.mapping_for("user_id", "alice")
    assert user is not None and user.subject_for("alice") == Subject(QuotaScope.USER, "alice")
    model = agents.mapping_for("model", "gpt-4o")
    assert model is not None
    assert model.subject_for("gpt-4o") == Subject(QuotaScope.MODEL, "openai/gpt-4o")
    # A mapping naming the value wins over the key alone, whatever their order.
    vip = agents.mapping_for("generic_key", "vip")
    assert vip is not None and vip.subject_for("vip") == Subject(QuotaScope.TENANT, "vip")
    other = agents.mapping_for("generic_key", "anything")
    assert other is not None
    assert other.subject_for("anything") == Subject(QuotaScope.GLOBAL, "all")
    assert agents.mapping_for("x-unknown", "v") is None
    tokens = envoy.domain("tokens")
    assert tokens is not None and tokens.hits is HitsUnit.TOKENS and tokens.mappings == ()
    assert envoy.domain("nowhere") is None


def test_no_gateways_section_maps_nothing() -> None:
    assert parse_quota_document("quotas: []\n").gateways.envoy.domains == ()
    assert parse_quota_document("gateways:\n").gateways.envoy.domains == ()


def test_a_value_that_makes_no_identifier_is_refused_naming_the_identifier() -> None:
    envoy = parse_quota_document(GATEWAYS).gateways.envoy
    agents = envoy.domain("agents")
    assert agents is not None
    mapping = agents.mapping_for("user_id", "x")
    assert mapping is not None
    with pytest.raises(InvalidInput) as caught:
        mapping.subject_for("two words")
    assert caught.value.field == "identifier"


@pytest.mark.parametrize(
    ("body", "field", "line"),
    [
        ("  envoy:\n    domainz: []\n", "gateways.envoy.domainz", 3),
        ("  istio: {}\n", "gateways.istio", 2),
        ("  envoy:\n    domains:\n      - {hits: tokens}\n", "gateways.envoy.domains[0].domain", 4),
        (
            "  envoy:\n    domains:\n      - {domain: a, hits: bytes}\n",
            "gateways.envoy.domains[0].hits",
            4,
        ),
        (
            "  envoy:\n    domains:\n      - {domain: a}\n      - {domain: a}\n",
            "gateways.envoy.domains[1]",
            5,
        ),
        (
            "  envoy:\n    domains:\n      - domain: a\n        descriptors:\n"
            "          - {key: k, scope: planet}\n",
            "gateways.envoy.domains[0].descriptors[0].scope",
            6,
        ),
        (
            "  envoy:\n    domains:\n      - domain: a\n        descriptors:\n"
            "          - {key: k, scope: run}\n",
            "gateways.envoy.domains[0].descriptors[0].scope",
            6,
        ),
        (
            "  envoy:\n    domains:\n      - domain: a\n        descriptors:\n"
            "          - {key: k, scope: global, identifier: 'has space'}\n",
            "gateways.envoy.domains[0].descriptors[0].identifier",
            6,
        ),
        (
            "  envoy:\n    domains:\n      - domain: a\n        descriptors:\n"
            "          - {key: k, scope: user}\n          - {key: k, scope: tool}\n",
            "gateways.envoy.domains[0].descriptors[1]",
            7,
        ),
        (
            "  envoy:\n    domains:\n      - domain: a\n        descriptors:\n"
            "          - {scope: user}\n",
            "gateways.envoy.domains[0].descriptors[0].key",
            6,
        ),
        ("  envoy:\n    shadow_mode: maybe\n", "gateways.envoy.shadow_mode", 3),
    ],
)
def test_a_bad_gateways_section_names_its_line_and_field(body: str, field: str, line: int) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_quota_document("gateways:\n" + body, source="q.yaml")
    assert caught.value.field == field
    assert caught.value.line == line
    assert str(caught.value).startswith(f"q.yaml:{line}: {field}: ")
