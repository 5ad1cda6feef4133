"""Hostile quota files are refused quickly with a ConfigError naming the file, line and field:
alias bombs, self-referencing anchors, deep nesting, oversized files, amounts past Decimal's
range. `quota-sidecar validate` prints the error, never a traceback."""

from __future__ import annotations

import contextlib
import io
import tracemalloc
from pathlib import Path

import pytest

from quota_sidecar.cli import main
from quota_sidecar.config import (
    MAX_FILE_BYTES,
    MAX_NODES,
    load_quota_file,
    parse_quota_text,
)
from quota_sidecar.domain.errors import ConfigError

ALICE = "quotas:\n  - scope: user\n    identifier: alice\n"


def alias_bomb(levels: int = 9, where: str = "rate_limits: {requests_per_minute: *a_last}") -> str:
    """Billion laughs: each anchor repeats the previous one nine times (9**levels leaves)."""
    lines = ['  - &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"  - &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    text = "webhooks:\n" + "\n".join(lines) + "\n" + ALICE + f"    {where}\n"
    return text.replace("a_last", f"a{levels - 1}")


@pytest.mark.parametrize(
    "where",
    [
        "rate_limits: {requests_per_minute: *a_last}",
        "alert_thresholds: *a_last",
        "description: *a_last",
        "cost_quota: {daily_limit: *a_last}",
    ],
)
def test_an_alias_bomb_is_refused_without_expanding_it(where: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match="alias") as caught:
            parse_quota_text(alias_bomb(where=where), source="bomb.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(caught.value).startswith("bomb.yaml:")
    assert peak < 50 * 1024 * 1024  # never expanded: 9**9 strings would be gigabytes
    assert len(str(caught.value)) < 300


def test_aliases_that_stay_small_are_still_allowed() -> None:
    text = (
        "webhooks: []\nquotas:\n"
        "  - {scope: user, identifier: alice, rate_limits: &std {requests_per_minute: 5}}\n"
        "  - {scope: user, identifier: bob, rate_limits: *std}\n"
    )
    configs = parse_quota_text(text)
    assert [c.rate_limits.requests_per_minute for c in configs] == [5, 5]


def test_a_self_referencing_anchor_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_quota_text(ALICE + "    alert_thresholds: &loop [1, *loop]\n", source="q.yaml")
    assert "q.yaml:" in str(caught.value)


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_quota_text(ALICE + "    alert_thresholds: " + "[" * 2_000 + "\n", source="q.yaml")
    assert str(caught.value).startswith("q.yaml")


def test_more_nodes_than_the_bound_are_refused() -> None:
    assert MAX_NODES == 1_000_000  # composing that many takes long: the bound is tested smaller
    items = ",".join(["1"] * 1000)
    parse_quota_text(ALICE + "    description: x\n", max_nodes=1000)
    with pytest.raises(ConfigError, match="1000 nodes"):
        parse_quota_text(ALICE + f"    alert_thresholds: [{items}]\n", max_nodes=1000)


def test_a_file_over_the_size_bound_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text(ALICE + "#" * MAX_FILE_BYTES + "\n")
    with pytest.raises(ConfigError, match="MiB") as caught:
        load_quota_file(path)
    assert str(caught.value).startswith(f"{path}:")


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ("alert_thresholds: [[1], 2]", "quotas[0].alert_thresholds[0]"),
        ("alert_thresholds: [80, {a: 1}]", "quotas[0].alert_thresholds[1]"),
        ("alert_thresholds: [80, x]", "quotas[0].alert_thresholds[1]"),
        ("cost_quota: {daily_limit: 1e999999}", "quotas[0].cost_quota.daily_limit"),
        ("cost_quota: {daily_limit: '-1e999999'}", "quotas[0].cost_quota.daily_limit"),
        ("cost_quota: {daily_limit: 0.0000000001}", "quotas[0].cost_quota.daily_limit"),
        ("cost_quota: {daily_limit: .nan}", "quotas[0].cost_quota.daily_limit"),
        ("cost_quota: {daily_limit: .inf}", "quotas[0].cost_quota.daily_limit"),
        ("cost_quota: {daily_limit: sNaN}", "quotas[0].cost_quota.daily_limit"),
        ("rate_limits: {requests_per_minute: 1e999999}", "quotas[0].rate_limits"),
    ],
)
def test_hostile_values_name_line_and_field(entry: str, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_quota_text(ALICE + f"    {entry}\n", source="q.yaml")
    assert str(caught.value).startswith(f"q.yaml:4: {field}"), str(caught.value)


def run_validate(path: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["validate", str(path)])
    return code, err.getvalue()


@pytest.mark.parametrize(
    "text",
    [
        ALICE + "    cost_quota: {daily_limit: 1e999999}\n",
        ALICE + "    cost_quota: {monthly_limit: 1.0000000005}\n",
        ALICE + "    alert_thresholds: [[1]]\n",
        ALICE + "    alert_thresholds: " + "[" * 2_000 + "\n",
        alias_bomb(),
        b"quotas: \xff\xfe\n",  # not UTF-8
    ],
)
def test_validate_prints_the_error_never_a_traceback(tmp_path: Path, text: str | bytes) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    code, err = run_validate(path)
    assert code == 1
    assert err.startswith(f"invalid: {path}"), err
    assert "Traceback" not in err and len(err) < 400
