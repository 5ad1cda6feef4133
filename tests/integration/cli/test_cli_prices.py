"""`quota-sidecar prices show` and `prices check`, and the model breakdown of `usage`, as a user
runs them: exit codes, exact rates and their source, errors naming the file, line and field."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import grpc

from quota_sidecar.pricing import GENAI_PRICES_VERSION
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2
from tests.integration.cli.test_server_cli import run_cli
from tests.support.sidecar import ADMIN_TOKEN, running_sidecar

PRICES = """\
unpriced: allow_zero
prices:
  - provider: openai
    model: gpt-4o
    input: "2.00"
    output: 8
    cache_read: "0.000000000001"
    effective_from: 2026-07-01T00:00:00Z
  - provider: acme
    model: house-model
    input: "0.10"
    per_request: "0.002"
quotas:
  - scope: user
    identifier: alice
    cost_quota: {daily_limit: 5, unpriced: deny}
"""


def rates(out: str) -> dict[str, str]:
    """The `label  value` lines of `prices show` (first line is the model and instant)."""
    rows = {}
    for line in out.splitlines()[1:]:
        label, _, value = line.strip().partition("  ")
        rows[label] = value.strip()
    return rows


def test_show_prints_the_genai_price_and_its_version() -> None:
    code, out, err = run_cli("prices", "show", "openai/gpt-4o", "--at", "2026-01-01T00:00:00Z")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "openai/gpt-4o at 2026-01-01 00:00:00Z"
    assert rates(out) == {
        "input": "$2.5 per million tokens",
        "output": "$10 per million tokens",
        "cache read": "$1.25 per million tokens",
        "cache write": "as input",
        "source": f"genai-prices {GENAI_PRICES_VERSION}",
    }


def test_show_prints_tiers() -> None:
    code, out, _ = run_cli("prices", "show", "google/gemini-2.5-pro", "--at", "2026-01-01T00:00Z")
    assert code == 0
    assert rates(out)["input"] == "$1.25 per million tokens; $2.5 above 200,000 input tokens"


def test_show_takes_an_override_from_its_instant_on(tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text(PRICES)
    before = run_cli("prices", "show", "openai/gpt-4o", "--config", str(path), "--at",
                     "2026-06-30T23:59:59Z")  # fmt: skip
    assert before[0] == 0 and rates(before[1])["source"].startswith("genai-prices ")
    code, out, err = run_cli("prices", "show", "OpenAI/GPT-4o", "--config", str(path), "--at",
                             "2026-07-01T02:00:00+02:00")  # fmt: skip
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "OpenAI/GPT-4o at 2026-07-01 00:00:00Z"
    assert rates(out) == {
        "input": "$2.00 per million tokens",
        "output": "$8 per million tokens",
        "cache read": "$1E-12 per million tokens",  # exact, never rounded to $0
        "cache write": "as input",
        "source": f"override (from {path}, in force from 2026-07-01 00:00:00Z)",
    }
    code, out, _ = run_cli("prices", "show", "acme/house-model", "--config", str(path))
    assert code == 0
    assert rates(out) == {
        "input": "$0.10 per million tokens",
        "output": "-",
        "cache read": "as input",
        "cache write": "as input",
        "per request": "$0.002",
        "source": f"override (from {path})",
    }


def test_show_exits_1_naming_a_model_nothing_prices(tmp_path: Path) -> None:
    code, out, err = run_cli("prices", "show", "acme/house-model")
    assert (code, out) == (1, "")
    assert err.startswith("model: no price for acme/house-model at ")
    path = tmp_path / "quotas.yaml"
    path.write_text(PRICES)
    code, _, err = run_cli("prices", "show", "acme/other", "--config", str(path))
    assert code == 1 and "acme/other" in err and str(path) in err


def test_show_refuses_bad_arguments(tmp_path: Path) -> None:
    assert run_cli("prices", "show", "gpt-4o")[::2] == (
        1,
        "model: expected PROVIDER/MODEL, got 'gpt-4o'\n",
    )
    code, _, err = run_cli("prices", "show", "openai/gpt-4o", "--at", "2026-07-01T00:00")
    assert code == 1 and err.startswith("--at: must carry a time zone")
    code, _, err = run_cli("prices", "show", "openai/gpt-4o", "--at", "yesterday")
    assert code == 1 and err.startswith("--at: is not an ISO-8601 instant")
    code, _, err = run_cli("prices", "show", "openai/gpt-4o", "--config", str(tmp_path / "no"))
    assert code == 1 and err.startswith(f"{tmp_path / 'no'}: file: cannot read")


def test_check_accepts_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text(PRICES)
    code, out, err = run_cli("prices", "check", str(path))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"ok: {path} overrides 2 price(s); unpriced: allow_zero"
    assert lines[1].startswith("  openai/gpt-4o from 2026-07-01 00:00:00Z: input $2.00/MTok")
    assert lines[2].startswith("  acme/house-model: input $0.10/MTok")
    path.write_text("quotas: []\n")
    assert run_cli("prices", "check", str(path))[1] == (
        f"ok: {path} overrides 0 price(s); unpriced: require_cost (the default)\n"
    )


def test_check_names_the_line_and_field_of_each_kind_of_error(tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    cases = {
        PRICES.replace('input: "2.00"', 'input: "-2"'): ":5: prices[0].input: ",
        PRICES.replace('input: "2.00"', "input: .nan"): ":5: prices[0].input: ",
        PRICES.replace("    output: 8\n", "    outptu: 8\n"): ":6: prices[0].outptu: unknown key",
        PRICES.replace("unpriced: allow_zero", "unpriced: free"): ":1: unpriced: unknown policy",
        PRICES.replace("unpriced: deny", "unpriced: maybe"): ":16: quotas[0].cost_quota.unpriced",
        PRICES.replace("effective_from: 2026-07-01T00:00:00Z", "effective_from: soon"): (
            ":8: prices[0].effective_from: "
        ),
    }
    for text, expected in cases.items():
        path.write_text(text)
        code, out, err = run_cli("prices", "check", str(path))
        assert (code, out) == (1, ""), expected
        assert err.startswith(f"{path}{expected}"), (expected, err)


def test_check_refuses_two_prices_for_one_model_at_one_instant(tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    twice = "  - {provider: openai, model: gpt-4o, input: 1, effective_from: 2026-07-01T00:00Z}\n"
    path.write_text("prices:\n" + twice + twice)
    code, _, err = run_cli("prices", "check", str(path))
    assert code == 1 and "prices" in err and "openai/gpt-4o" in err


async def test_usage_shows_the_breakdown_by_model(redis_url: str) -> None:
    bob = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="bob")
    async with running_sidecar(redis_url) as s:
        async with grpc.aio.insecure_channel(s.target) as channel:
            quota = quota_pb2_grpc.QuotaServiceStub(channel)
            for model in ("gpt-4o", "gpt-4o", "gpt-4o-mini"):
                request = quota_pb2.RecordUsageRequest(
                    subjects=[bob], provider="openai", model=model, input_tokens=1_000,
                    output_tokens=100, idempotency_key=uuid.uuid4().hex,
                )  # fmt: skip
                await quota.RecordUsage(request)
        code, out, err = await asyncio.to_thread(
            run_cli, "usage", "user:bob", "--target", s.target, "--token", ADMIN_TOKEN
        )
    assert (code, err) == (0, "")
    # gpt-4o: 2 x $0.0035; gpt-4o-mini: $0.00015 + $0.00006.
    listed = "openai/gpt-4o $0.007 (2 calls), openai/gpt-4o-mini $0.00021 (1 calls)"
    assert f"  by model today: {listed}" in out
    assert f"  by model this month: {listed}" in out
