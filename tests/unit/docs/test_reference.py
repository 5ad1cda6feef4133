"""The generated reference (scripts/gen_reference.py): a flag or a quota-file key added to the
code appears in it, the committed pages are what the code generates (else `make docs` fails),
and the quota file's parsers accept exactly the keys the reference lists."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from quota_sidecar.config import parse_quota_document
from quota_sidecar.domain.errors import ConfigError
from quota_sidecar.domain.file_schema import FileField, FileSection

ROOT = Path(__file__).parents[3]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_reference", ROOT / "scripts" / "gen_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices[name]
            return found
    raise AssertionError(f"no command {name}")


def _committed(page: Path) -> str:
    return (ROOT / page).read_text()


def test_the_committed_reference_is_what_the_code_generates() -> None:
    assert gen.main(["check"]) == 0


def test_a_new_serve_flag_appears_with_its_variable_and_the_check_catches_it() -> None:
    from quota_sidecar.cli import serve

    parser = gen.cli_parser()
    with gen.documentation_environment():
        serve._add(_subparser(parser, "serve"), "--new-knob", "turns the new knob", default="7")
    page = gen.render_flags(parser)

    assert "| `--new-knob NEW_KNOB` | `QUOTA_SIDECAR_NEW_KNOB` | `7` | turns the new knob |" in page
    assert page != _committed(gen.FLAGS_PAGE)  # so `make docs` (check) would fail until regenerated


def test_a_serve_flag_without_its_variable_is_refused() -> None:
    parser = gen.cli_parser()
    _subparser(parser, "serve").add_argument("--sneaky", help="read from nowhere")
    with pytest.raises(gen.ReferenceError, match="--sneaky names no environment variable"):
        gen.render_flags(parser)


def test_a_new_flag_of_a_nested_command_appears() -> None:
    parser = gen.cli_parser()
    put_quota = _subparser(_subparser(parser, "admin"), "put-quota")
    put_quota.add_argument("--dry-run", action="store_true", help="say what would change")
    page = gen.render_flags(parser)
    section = page.split("## quota-sidecar admin put-quota", 1)[1].split("\n## ", 1)[0]
    assert "| `--dry-run` |  | off | say what would change |" in section


def test_every_serve_flag_names_its_variable_from_the_parser() -> None:
    page = _committed(gen.FLAGS_PAGE)
    serve_section = page.split("## quota-sidecar serve", 1)[1].split("\n## ", 1)[0]
    parser = _subparser(gen.cli_parser(), "serve")
    flags = [a for a in parser._actions if a.option_strings and a.help != argparse.SUPPRESS]
    for action in flags:
        if isinstance(action, argparse._HelpAction):
            continue
        flag = action.option_strings[0]
        env = "QUOTA_SIDECAR_" + flag.lstrip("-").replace("-", "_").upper()
        assert re.search(rf"\| `{flag}[ `].*\| `{env}(=1)?` \|", serve_section), flag


def test_a_new_quota_file_key_appears_and_an_unknown_section_is_refused() -> None:
    sections = list(gen.quota_file_sections())
    rates = sections[2]
    assert rates.path == "quotas[].rate_limits"
    sections[2] = dataclasses.replace(
        rates, fields=(*rates.fields, FileField("requests_per_week", "whole number", "a week"))
    )
    page = gen.render_quota_file(sections)
    assert "| `requests_per_week` | whole number |  | a week |" in page
    assert page != _committed(gen.QUOTA_FILE_PAGE)

    orphan = FileSection("x", "x", (FileField("y", "mapping", "y", section="nowhere"),))
    with pytest.raises(gen.ReferenceError, match="no section nowhere"):
        gen.render_quota_file([*gen.quota_file_sections(), orphan])


@pytest.mark.parametrize(
    ("path", "yaml_text"),
    [
        ("(top level)", "bogus: 1\n"),
        ("quotas[]", "quotas: [{scope: user, identifier: a, bogus: 1}]\n"),
        (
            "quotas[].rate_limits",
            "quotas: [{scope: user, identifier: a, rate_limits: {bogus: 1}}]\n",
        ),
        ("quotas[].cost_quota", "quotas: [{scope: user, identifier: a, cost_quota: {bogus: 1}}]\n"),
        ("runs", "runs: {bogus: 1}\n"),
        ("runs.tenants.<tenant>", "runs: {default: {ttl: 1h, bogus: 1}}\n"),
        ("gateways", "gateways: {bogus: 1}\n"),
        ("gateways.envoy", "gateways: {envoy: {bogus: 1}}\n"),
        ("gateways.envoy.domains[]", "gateways: {envoy: {domains: [{domain: d, bogus: 1}]}}\n"),
        ("prices[]", "prices: [{provider: a, model: b, input: 1, bogus: 1}]\n"),
        (
            "gateways.envoy.domains[].descriptors[]",
            "gateways: {envoy: {domains: [{domain: d,"
            " descriptors: [{key: k, scope: user, bogus: 1}]}]}}\n",
        ),
    ],
)
def test_the_parser_accepts_exactly_the_keys_the_reference_lists(path: str, yaml_text: str) -> None:
    section = next(s for s in gen.quota_file_sections() if s.path == path)
    with pytest.raises(
        ConfigError, match=r"unknown key \(expected one of: (?P<names>[^)]*)\)"
    ) as info:
        parse_quota_document(yaml_text)
    listed = re.search(r"expected one of: ([^)]*)\)", str(info.value))
    assert listed is not None
    assert listed.group(1).split(", ") == sorted(section.names)


def test_every_section_of_the_reference_is_reached_from_the_top() -> None:
    sections = gen.quota_file_sections()
    reached = {"(top level)"} | {f.section for s in sections for f in s.fields if f.section}
    assert {s.path for s in sections} == reached


def test_the_webhook_parser_accepts_every_key_the_reference_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quota_sidecar.alerting.webhook import load_webhooks

    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    section = next(s for s in gen.quota_file_sections() if s.path == "webhooks[]")
    every_key = (
        "webhooks:\n  - {url: 'https://h.example/q', name: ops, secret: x, secret_env: HOOK_SECRET,"
        " filters: {kinds: [EXHAUSTED], min_severity: WARNING, scopes: [user], identifiers: [a]},"
        " timeout: 5, max_attempts: 3, backoff: 0.5, retry_after: 60}\n"
    )
    written = {"url", "name", "secret", "secret_env", "filters", "timeout", "max_attempts",
               "backoff", "retry_after"}  # fmt: skip
    assert written == section.names  # the file above uses every key the reference lists
    (tmp_path / "q.yaml").write_text(every_key)
    (hook,) = load_webhooks(tmp_path / "q.yaml")
    assert (hook.name, hook.secret, hook.max_attempts) == ("ops", "s3cret", 3)

    (tmp_path / "bad.yaml").write_text(
        "webhooks: [{url: 'https://h.example/q', secret: x, bogus: 1}]\n"
    )
    with pytest.raises(ConfigError, match="bogus"):
        load_webhooks(tmp_path / "bad.yaml")
