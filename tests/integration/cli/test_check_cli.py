"""`quota-sidecar check` and `record`: the README's first steps against a real server loaded
with examples/quotas.yaml (the seed's user-123 and createIssues quotas)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.integration.cli.test_server_cli import run_cli
from tests.support.sidecar import running_sidecar

EXAMPLE_QUOTAS = Path(__file__).parents[3] / "examples" / "quotas.yaml"


async def test_check_and_record_against_the_example_quotas(redis_url: str) -> None:
    async with running_sidecar(redis_url, config_path=EXAMPLE_QUOTAS) as s:
        target = ("--target", s.target)
        code, out, _ = await asyncio.to_thread(
            run_cli, "check", "user:user-123", "tool:createIssues", "--cost", "0.05", *target
        )
        assert code == 0
        lines = out.splitlines()
        assert lines[0] == "allowed"
        assert "  user:user-123 cost_daily: $100.00 left of $100.00" in lines

        # createIssues allows at most $1 per call: a denial is exit 3, with its code.
        code, out, _ = await asyncio.to_thread(
            run_cli, "check", "user:user-123", "tool:createIssues", "--cost", "1.50", *target
        )
        assert code == 3
        assert out.splitlines()[0].startswith("denied: PER_REQUEST_LIMIT_EXCEEDED: ")

        code, out, _ = await asyncio.to_thread(
            run_cli, "record", "user:user-123", "tool:createIssues", "--cost", "0.04",
            "--provider", "openai", "--idempotency-key", "k1", *target,
        )  # fmt: skip
        assert code == 0
        assert out.splitlines()[0] == "recorded $0.04"
        assert "  user:user-123: today $0.04, this month $0.04" in out.splitlines()
        code, out, _ = await asyncio.to_thread(
            run_cli, "record", "user:user-123", "tool:createIssues", "--cost", "0.04",
            "--provider", "openai", "--idempotency-key", "k1", *target,
        )  # fmt: skip
        assert (code, out.splitlines()[0]) == (0, "duplicate (already counted)")  # a retry

        code, _, err = await asyncio.to_thread(
            run_cli, "check", "user:user-123", "--cost", "0.0000000001", *target
        )
        assert code == 1 and "cost" in err  # not a whole number of nanos: refused, not rounded
