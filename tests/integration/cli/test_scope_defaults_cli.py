"""Scope defaults at the command line (the CLI as a subprocess against a real server on port 0
and a real Redis): `usage`, `usage --history`, `top` and `admin get-quota` show an identifier
under a default as having that quota and say where it came from; `validate` names the line and
field of a bad default."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import grpc

from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.sidecar import ADMIN_METADATA, ADMIN_TOKEN, running_sidecar

DOLLAR = 1_000_000_000


def _cli(*argv: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "quota_sidecar", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QUOTA_SIDECAR_LOG_FORMAT": "text"},
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def _user(identifier: str) -> types_pb2.Subject:
    return types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier=identifier)


def _daily(identifier: str, dollars: int) -> types_pb2.QuotaConfig:
    return types_pb2.QuotaConfig(
        subject=_user(identifier),
        cost_quota=types_pb2.CostQuota(daily_limit_nanos=dollars * DOLLAR),
    )


async def test_usage_top_and_get_quota_say_where_the_quota_comes_from(redis_url: str) -> None:
    async with (
        running_sidecar(redis_url) as sidecar,
        grpc.aio.insecure_channel(sidecar.target) as channel,
    ):
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        for config in (_daily("*", 10), _daily("*@acme", 20), _daily("vip", 50)):
            await admin.PutQuota(
                admin_pb2.PutQuotaRequest(config=config, actor="test"), metadata=ADMIN_METADATA
            )
        quota = quota_pb2_grpc.QuotaServiceStub(channel)
        for user, dollars in (("ann", 3), ("vip", 2)):
            await quota.RecordUsage(
                quota_pb2.RecordUsageRequest(subjects=[_user(user)], cost_nanos=dollars * DOLLAR)
            )
        conn = ("--target", sidecar.target)
        admin_conn = (*conn, "--token", ADMIN_TOKEN)

        code, out, err = await asyncio.to_thread(_cli, "usage", "user:ann", *conn)
        assert (code, err) == (0, "")
        assert "quota            default user:*\n" in out
        assert "cost_daily" in out and "$10.00" in out  # the default's limit, as its own
        code, out, _ = await asyncio.to_thread(_cli, "usage", "user:ann", "--tenant", "acme", *conn)
        assert code == 0 and "quota            default user:*@acme\n" in out and "$20.00" in out
        code, out, _ = await asyncio.to_thread(_cli, "usage", "user:vip", *conn)
        assert code == 0 and "quota            own\n" in out
        code, out, err = await asyncio.to_thread(_cli, "usage", "user:ann", "--history", "3", *conn)
        assert (code, err) == (0, ""), err
        assert out.splitlines()[0] == (
            "user:ann: recorded spend per quota day (quota: default user:*)"
        )

        code, out, err = await asyncio.to_thread(_cli, "top", "--scope", "user", *admin_conn)
        assert (code, err) == (0, "")
        header, ann, vip = out.splitlines()
        assert header.split()[-1] == "QUOTA"
        assert ann.split()[1:] == ["user:ann", "$3.00", "$10.00", "30%", "default", "user:*"]
        assert vip.split()[1:] == ["user:vip", "$2.00", "$50.00", "4%", "own"]

        code, out, err = await asyncio.to_thread(
            _cli, "admin", "get-quota", "user:ann", "--tenant", "acme", *admin_conn
        )
        assert (code, err) == (0, "")
        lines = out.splitlines()
        assert lines[0] == "# user:ann has no quota of its own: it follows the default user:*@acme"
        # The YAML is the default's, as the file writes it: applying it registers no one.
        assert "  identifier: '*'" in lines and "  tenant: acme" in lines
        code, out, _ = await asyncio.to_thread(_cli, "admin", "get-quota", "user:vip", *admin_conn)
        assert code == 0 and "  identifier: vip" in out.splitlines()
        assert "follows the default" not in out


def test_validate_names_the_line_and_field_of_a_bad_default(tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    cases = {
        '  - {scope: user, identifier: "*", cost_quota: {daily_limit: -1}}\n': (
            "quotas[1].cost_quota.daily_limit"
        ),
        '  - {scope: user, identifier: "*", tenant: "a b"}\n': "quotas[1].tenant",
        "  - {scope: user, identifier: bob, tenant: acme}\n": "quotas[1].tenant",
        '  - {scope: run, identifier: "*"}\n': "quotas[1].identifier",
        '  - {scope: tenant, identifier: "*", tenant: acme}\n': "quotas[1].identifier",
        '  - {scope: user, identifier: "*", rate_limits: {failure_mode: sideways}}\n': (
            "quotas[1].rate_limits.failure_mode"
        ),
    }
    good = '  - {scope: user, identifier: "*", cost_quota: {daily_limit: 5}}\n'
    for entry, field in cases.items():
        path.write_text("quotas:\n" + good + entry)
        code, out, err = _cli("validate", str(path))
        assert code == 1, (entry, out, err)
        assert f"{path}:3: {field}: " in out + err, (entry, out, err)
        assert "Traceback" not in err
    path.write_text("quotas:\n" + good)
    code, out, _ = _cli("validate", str(path))
    assert code == 0 and "user:*" in out
