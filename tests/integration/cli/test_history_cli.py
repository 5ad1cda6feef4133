"""`usage SUBJECT --history 30d [--csv]` and `top` against a real server and Redis: the CSV
parses, its amounts are exact, and its sums equal what GetUsage reports."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, Subject
from quota_sidecar.cli.usage_history import CSV_HEADER
from quota_sidecar.domain.clock import ManualClock
from tests.integration.cli.test_server_cli import run_cli
from tests.support.sidecar import ADMIN_TOKEN, running_sidecar

NANOS = 10**9


async def test_history_csv_parses_and_sums_to_get_usage(redis_url: str) -> None:
    # Tokyo, reset at 09:00: quota days and months that are not UTC's.
    clock = ManualClock(datetime(2026, 11, 27, 1, 0, tzinfo=UTC))  # Nov 27 10:00 in Tokyo
    async with running_sidecar(redis_url, clock=clock) as s:
        alice = Subject(QuotaScope.USER, "alice")
        await s.service.put_quota(
            QuotaConfig(
                scope=alice.scope, identifier=alice.identifier,
                cost_quota=CostQuota(daily_limit=Decimal(50), reset_hour=9, time_zone="Asia/Tokyo"),
            )
        )  # fmt: skip
        costs = ["0.123456789", "1.5", "2", "0.000000001", "3.25", "7"]
        for i, cost in enumerate(costs):  # Nov 27 .. Dec 2, a record per day, two on some
            await s.service.record_usage(
                subjects=[alice], cost=Decimal(cost), provider="openai", input_tokens=i + 1,
                idempotency_key=f"d{i}",
            )  # fmt: skip
            if i % 2:
                await s.service.record_usage(
                    subjects=[alice], cost_nanos=i, idempotency_key=f"e{i}"
                )
            clock.advance(timedelta(days=1))
        clock.advance(timedelta(days=-1))  # back into Dec 2, the last day recorded
        conn = ("--target", s.target)

        code, out, err = await asyncio.to_thread(
            run_cli, "usage", "user:alice", "--history", "30d", "--csv", *conn
        )
        assert (code, err) == (0, "")
        rows = list(csv.DictReader(io.StringIO(out)))
        assert tuple(rows[0].keys()) == CSV_HEADER
        assert len(rows) == 30
        assert rows[-1]["day"] == "2026-12-02" and rows[-6]["day"] == "2026-11-27"
        assert rows[-1]["starts_at"] == "2026-12-02T00:00:00Z"  # 09:00 in Tokyo
        for row in rows:  # the dollars are exact: the same amount as the nanos
            assert Decimal(row["cost_dollars"]) * NANOS == int(row["cost_nanos"])
        usage = await s.service.get_usage(alice)
        assert int(rows[-1]["cost_nanos"]) == usage.cost_today_nanos == 7 * NANOS + 5
        assert int(rows[-1]["tokens"]) == usage.tokens_today
        december = sum(int(r["cost_nanos"]) for r in rows if r["day"].startswith("2026-12"))
        assert december == usage.cost_this_month_nanos
        expected = sum(Decimal(c) for c in costs) * NANOS + 1 + 3 + 5
        assert sum(int(r["cost_nanos"]) for r in rows) == expected
        assert sum(int(r["requests"]) for r in rows) == 9

        code, out, _ = await asyncio.to_thread(
            run_cli, "usage", "user:alice", "--history", "3", *conn
        )
        assert code == 0
        lines = out.splitlines()
        assert lines[0] == "user:alice: recorded spend per quota day (quota: own)"
        assert [line.split()[0] for line in lines[2:5]] == [
            "2026-11-30", "2026-12-01", "2026-12-02",
        ]  # fmt: skip
        assert "$7.000000005" in lines[4] and "openai $7.00" in lines[4]
        assert lines[5].split()[:2] == ["total", "$10.250000009"]  # 0.000000001+3 + 3.25 + 7+5
        assert "2026-11" in out and "2026-12" in out  # the month rows

        code, _, err = await asyncio.to_thread(run_cli, "usage", "user:alice", "--csv", *conn)
        assert code == 2 and "--csv needs --history" in err

        await s.service.record_usage(subjects=[Subject(QuotaScope.USER, "bob")], cost=Decimal(9))
        code, out, _ = await asyncio.to_thread(
            run_cli, "top", "--scope", "user", "--period", "today", "--token", ADMIN_TOKEN, *conn
        )
        assert code == 0
        first, second = out.splitlines()[1:3]
        assert first.split() == ["1", "user:bob", "$9.00", "-", "-", "-"]
        assert second.split() == ["2", "user:alice", "$7.000000005", "$50.00", "14%", "own"]
        code, _, err = await asyncio.to_thread(
            run_cli, "top", "--scope", "user", "--limit", "5000", "--token", ADMIN_TOKEN, *conn
        )
        assert code == 1 and "INVALID_ARGUMENT: limit" in err
