"""QuotaClient over mutual TLS: TlsOptions.from_files with the CA, client certificate and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from quota_sidecar.client import QuotaClient, RetryPolicy, SidecarUnavailable, TlsOptions
from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope
from tests.support.certs import make_test_certs
from tests.support.sidecar import ADMIN_TOKEN, running_sidecar


async def test_client_over_mutual_tls(redis_url: str, tmp_path: Path) -> None:
    make_test_certs(tmp_path)
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
