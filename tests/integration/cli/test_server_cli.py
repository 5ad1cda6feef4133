"""The CLI end to end: validate, serve --help, and usage / admin against a real server."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from pathlib import Path

import pytest

from quota_sidecar.cli import build_parser, main
from tests.support.sidecar import ADMIN_TOKEN, running_sidecar

QUOTAS = """\
quotas:
  - scope: user
    identifier: alice
    description: interactive user
    rate_limits: {requests_per_minute: 60, failure_mode: open}
    cost_quota: {daily_limit: 5.00, monthly_limit: 100, reset_hour: 0, time_zone: UTC}
"""


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse exits for --help and usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_validate_accepts_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text(QUOTAS)
    code, out, _ = run_cli("validate", str(path))
    assert code == 0
    assert "1 quota" in out and "user:alice" in out


def test_validate_names_the_line_and_field_of_an_error(tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text(QUOTAS.replace("time_zone: UTC", "time_zone: Atlantis/Capital"))
    code, _, err = run_cli("validate", str(path))
    assert code == 1
    assert f"{path}:6: quotas[0].cost_quota.time_zone" in err


def test_serve_help_documents_every_flag_and_its_environment_variable() -> None:
    code, out, _ = run_cli("serve", "--help")
    assert code == 0
    text = " ".join(out.split())
    serve = next(
        a
        for a in build_parser()._subparsers._group_actions[0].choices.values()  # type: ignore[union-attr]
        if a.prog.endswith("serve")
    )
    for action in serve._actions:
        flag = action.option_strings[-1] if action.option_strings else ""
        if not flag.startswith("--") or flag in ("--help", "--reuse-port"):
            continue
        env = "QUOTA_SIDECAR_" + flag[2:].replace("-", "_").upper()
        assert flag in text and env in text, flag
    assert "QUOTA_SIDECAR_ADMIN_TOKEN" in text and "QUOTA_SIDECAR_DATA_TOKEN" in text


async def test_usage_and_admin_commands(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text(QUOTAS)
    async with running_sidecar(redis_url) as s:
        conn = ("--target", s.target, "--token", ADMIN_TOKEN)

        async def cli(*argv: str) -> tuple[int, str, str]:
            return await asyncio.to_thread(run_cli, *argv)

        code, out, err = await cli("admin", "put-quota", str(path), "--actor", "ops", *conn)
        assert (code, err) == (0, "") and "created user:alice (version 1)" in out

        code, out, _ = await cli("admin", "get-quota", "user:alice", *conn)
        assert code == 0 and "daily_limit: 5.00" in out and "requests_per_minute: 60" in out
        # get-quota prints the quota-file format: it round-trips through put-quota.
        code, again, _ = await cli("admin", "put-quota", "--yaml", out, "--actor", "ops", *conn)
        assert code == 0 and "updated user:alice" in again

        code, out, _ = await cli("admin", "list-quotas", *conn)
        assert code == 0 and "user:alice" in out and "cost_daily=$5.00" in out

        await s.service.record_usage(
            "user", "alice", cost="1.25", provider="openai", tool_name="search"
        )
        code, out, _ = await cli("usage", "user:alice", "--target", s.target)
        assert code == 0
        assert "$1.25" in out and "cost_daily" in out and "$3.75" in out  # remaining of $5.00
        assert "openai $1.25 (1 calls)" in out

        code, out, _ = await cli(
            "admin", "grant", "user:alice", "--kind", "bonus", "--limit", "cost_daily",
            "--value", "2.50", "--for", "1h", "--reason", "support ticket", "--actor", "ops", *conn,
        )  # fmt: skip
        assert code == 0, out
        override_id = re.search(r"override (\S+) on", out)
        assert override_id is not None
        code, out, _ = await cli("admin", "overrides", "user:alice", *conn)
        assert code == 0 and override_id[1] in out and "$2.50" in out and "bonus_credit" in out
        code, out, _ = await cli("admin", "revoke", "user:alice", override_id[1], *conn)
        assert code == 0 and "revoked" in out

        code, out, _ = await cli("admin", "reset", "user:alice", "--reason", "refund", *conn)
        assert code == 0 and "$1.25 today" in out

        code, out, _ = await cli("admin", "audit", "user:alice", *conn)
        assert code == 0 and "ops" in out and len(out.strip().splitlines()) >= 6

        code, out, _ = await cli("admin", "delete-quota", "user:alice", *conn)
        assert code == 0 and "deleted" in out
        code, _, err = await cli("admin", "get-quota", "user:alice", *conn)
        assert code == 1 and "NOT_FOUND" in err

        code, _, err = await cli("admin", "list-quotas", "--target", s.target, "--token", "nope")
        assert code == 1 and "PERMISSION_DENIED" in err


@pytest.mark.parametrize("subject", ["alice", "planet:x"])
def test_a_bad_subject_is_reported_not_crashed(subject: str) -> None:
    code, _, err = run_cli("usage", subject, "--target", "127.0.0.1:1", "--timeout", "1")
    assert code == 1 and "subject" in err
