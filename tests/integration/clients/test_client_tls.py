"""QuotaClient over mutual TLS: TlsOptions.from_files with the CA, client certificate and key."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from quota_sidecar.client import QuotaClient, RetryPolicy, SidecarUnavailable, TlsOptions
from quota_sidecar.models import CostQuota, QuotaConfig, QuotaScope
from tests.support.sidecar import ADMIN_TOKEN, running_sidecar


def make_certs(folder: Path) -> None:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", f"{name}.key", "-out", f"{name}.csr")  # fmt: skip
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", "san.ext",
                "-out", f"{name}.pem")  # fmt: skip


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_client_over_mutual_tls(redis_url: str, tmp_path: Path) -> None:
    make_certs(tmp_path)
    async with running_sidecar(
        redis_url,
        data_dir=tmp_path,
        tls_cert=tmp_path / "server.pem",
        tls_key=tmp_path / "server.key",
        tls_client_ca=tmp_path / "ca.pem",
    ) as sidecar:
        tls = TlsOptions.from_files(
            ca=str(tmp_path / "ca.pem"),
            cert=str(tmp_path / "client.pem"),
            key=str(tmp_path / "client.key"),
        )
        async with QuotaClient(sidecar.target, admin_token=ADMIN_TOKEN, tls=tls) as client:
            await client.register_quota(
                QuotaConfig(QuotaScope.USER, "tls-user", cost_quota=CostQuota(daily_limit=1))
            )
            await client.record_usage("user", "tls-user", cost=0.5)
            assert (await client.get_quota_usage("user", "tls-user")).cost_today_nanos == 5 * 10**8

        # Without a client certificate the handshake is refused.
        no_cert = TlsOptions.from_files(ca=str(tmp_path / "ca.pem"))
        retry = RetryPolicy(attempts=2, initial=0.01)
        async with QuotaClient(sidecar.target, tls=no_cert, retry=retry) as refused:
            with pytest.raises(SidecarUnavailable):
                await refused.check_quota("user", "tls-user")
