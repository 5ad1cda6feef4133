"""`quota-sidecar usage run:ID` prints the run tree and `quota-sidecar runs end ID` ends a run,
against a real server with a quota file's `runs:` template."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from quota_sidecar.domain.models import QuotaScope, Subject
from tests.integration.cli.test_server_cli import run_cli
from tests.support.sidecar import running_sidecar

RUNS = "runs:\n  default: {max_cost: 2.50, max_requests: 100, ttl: 2h}\n"


async def test_the_run_tree_and_ending_a_run(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text(RUNS)
    async with running_sidecar(redis_url, config_path=path) as s:
        service, user = s.service, [Subject(QuotaScope.USER, "agent")]
        await service.check_quota(subjects=user, run_id="main")
        await service.check_quota(subjects=user, run_id="main-a", parent_run_id="main")
        await service.check_quota(
            subjects=user, run_id="main-a-1", parent_run_id="main-a", run_max_cost=Decimal("0.5")
        )
        await service.check_quota(subjects=user, run_id="main-b", parent_run_id="main")
        for run, cost in (("main-a-1", "0.125"), ("main-b", "1.000000001")):
            await service.record_usage(subjects=user, run_id=run, cost=cost, input_tokens=7)

        code, out, err = await asyncio.to_thread(run_cli, "usage", "run:main", "--target", s.target)
        assert code == 0, err
        lines = out.splitlines()
        header = next(i for i, line in enumerate(lines) if line.startswith("RUN "))
        tree = [line.split() for line in lines[header + 1 :]]
        assert lines[header].split()[:5] == ["RUN", "SPENT", "/", "LIMIT", "HELD"]
        # Indented by depth, each with spend / limit, held, requests / cap, tokens, its end.
        assert [row[0] for row in tree] == ["main", "main-a", "main-a-1", "main-b"]
        assert lines[header + 2].startswith("  main-a ")
        assert lines[header + 3].startswith("    main-a-1 ")
        assert tree[0][1:7] == ["$1.125000001", "/", "$2.50", "$0.00", "4", "/"]
        assert tree[2][1:4] == ["$0.125", "/", "$0.50"]
        assert tree[3][1:4] == ["$1.000000001", "/", "$2.50"]
        assert all("(in 1h59m)" in line or "(in 2h)" in line for line in lines[header + 1 :])

        code, out, err = await asyncio.to_thread(
            run_cli, "runs", "end", "main-a", "--target", s.target
        )
        assert (code, err) == (0, "")
        assert out == "run main-a ended; released 0 open holds\n"
        code, out, _ = await asyncio.to_thread(run_cli, "usage", "run:main", "--target", s.target)
        assert "  main-a (ended) " in out and "main-a-1 (ended)" not in out
        code, _, err = await asyncio.to_thread(
            run_cli, "runs", "end", "no-such-run", "--target", s.target
        )
        assert code == 1 and err.startswith("error: NOT_FOUND: ")
