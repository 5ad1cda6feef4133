"""With --workers N every worker prices from the quota file's prices: (worker 0 alone applies
its quotas): records landing on any worker are priced by the override."""

from __future__ import annotations

from pathlib import Path

import grpc

from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.redis_servers import free_port
from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess

ENV = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_REDIS_URL": ""}
FILE = """
prices:
  - {provider: acme, model: house-llm, input: "1", output: "2"}
quotas:
  - {scope: user, identifier: w, cost_quota: {daily_limit: 100}}
"""


def test_every_worker_prices_from_the_overrides(redis_url: str, tmp_path: Path) -> None:
    config = tmp_path / "quotas.yaml"
    config.write_text(FILE)
    port = free_port()
    args = ("--redis-url", redis_url, "--listen", f"127.0.0.1:{port}", "--workers", "2")
    with SidecarProcess(*args, "--config", str(config), env=ENV) as sidecar:
        priced = set()
        for i in range(30):  # fresh connections spread over both workers (SO_REUSEPORT)
            with grpc.insecure_channel(sidecar.target) as channel:
                reply = quota_pb2_grpc.QuotaServiceStub(channel).RecordUsage(
                    quota_pb2.RecordUsageRequest(
                        subjects=[types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="w")],
                        provider="acme",
                        model="house-llm",
                        input_tokens=1_000,
                        output_tokens=10,
                        idempotency_key=f"w{i}",
                    ),
                    timeout=10,
                )
                priced.add((reply.priced_by, reply.cost_nanos))
        assert priced == {("override", 1_000 * 1_000 + 10 * 2_000)}
        assert sidecar.terminate() == 0
