"""The image `make image` builds (scripts/build_image.sh), run from its OCI archive as a
container runtime would (tests/support/image.py): its entrypoint, its non-root user, a read-only
root, its data dir a volume, the host's network. It must decide, record and report usage on its
embedded Redis and on the test's Redis, and exit 0 on SIGTERM. The first run of a session
builds the image (about a minute with the Debian root cached, three without); later runs reuse
it while nothing it is made from changed."""

from __future__ import annotations

import os
import subprocess
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.image import REPO, UnpackedImage, build_image, unpack_image
from tests.support.redis_servers import free_port
from tests.support.sidecar import SidecarProcess

pytestmark = pytest.mark.timeout(900)  # the first test of a session may build the image

VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
DATA_DIR = "/var/lib/quota-sidecar"
ADMIN = "image-test-admin-token"
ALICE = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="alice")


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UnpackedImage]:
    assert os.geteuid() == 0, "running the image needs root (mount namespace, chroot)"
    archive = build_image()
    assert archive == REPO / "build" / f"quota-sidecar-{VERSION}.oci.tar"
    yield unpack_image(archive, tmp_path_factory.mktemp("image"))


def test_the_image_is_versioned_labelled_slim_and_runs_as_its_own_user(
    image: UnpackedImage,
) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    labels = image.labels
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.revision"].removesuffix("-dirty") == head
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert image.annotations["org.opencontainers.image.ref.name"] == f"quota-sidecar:{VERSION}"

    config = image.config
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["quota-sidecar", "serve"]
    assert config["Volumes"] == {DATA_DIR: {}}
    assert f"QUOTA_SIDECAR_DATA_DIR={DATA_DIR}" in config["Env"]
    owner = (image.root / DATA_DIR.lstrip("/")).stat()
    assert (owner.st_uid, owner.st_gid) == (10001, 10001)

    assert image.layer_bytes <= 200 * 10**6, f"{image.layer_bytes / 1e6:.0f} MB"
    assert not any((image.root / "var/lib/apt/lists").iterdir())
    assert not list(image.root.glob("usr/**/__pycache__"))
    assert not list(image.root.glob("usr/local/lib/python3*/dist-packages/pip"))


def _serving(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 20
        while health.Check(health_pb2.HealthCheckRequest(), timeout=5).status != (
            health_pb2.HealthCheckResponse.SERVING
        ):
            assert time.monotonic() < deadline, "the image's sidecar never became SERVING"
            time.sleep(0.1)


@pytest.mark.parametrize("store", ["embedded", "redis"])
def test_the_image_decides_records_and_reports_usage_then_exits_0_on_sigterm(
    image: UnpackedImage, store: str, redis_url: str, tmp_path: Path
) -> None:
    volume = tmp_path / "data"
    volume.mkdir()
    os.chown(volume, 10001, 10001)  # a fresh volume takes the image's folder's owner
    metrics_port = free_port()
    args = ["--metrics-listen", f"127.0.0.1:{metrics_port}"]
    if store == "redis":
        args += ["--redis-url", redis_url]
    command = image.command({DATA_DIR: volume}, env={"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN})
    with SidecarProcess(*args, command=command) as process:
        _serving(process.target)
        with grpc.insecure_channel(process.target) as channel:
            admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
            quota = quota_pb2_grpc.QuotaServiceStub(channel)
            config = types_pb2.QuotaConfig(
                subject=ALICE, rate_limits=types_pb2.RateLimits(requests_per_minute=1)
            )
            admin.PutQuota(
                admin_pb2.PutQuotaRequest(config=config, actor="image-test"),
                metadata=(("authorization", f"Bearer {ADMIN}"),),
                timeout=10,
            )
            check = quota_pb2.CheckQuotaRequest(subjects=[ALICE])
            assert quota.CheckQuota(check, timeout=10).allowed
            denied = quota.CheckQuota(check, timeout=10)
            assert denied.code == quota_pb2.DENIAL_CODE_RATE_LIMITED
            record = quota_pb2.RecordUsageRequest(
                subjects=[ALICE], cost_nanos=1234, idempotency_key="image-test-1"
            )
            assert quota.RecordUsage(record, timeout=10).recorded
            usage = quota.GetUsage(quota_pb2.GetUsageRequest(subject=ALICE), timeout=10)
            assert usage.cost_today_nanos == 1234
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert "quota_sidecar_store_up 1.0" in reply.read().decode()
        assert process.terminate() == 0, process.output()
    if store == "embedded":  # the embedded Redis kept its data on the volume, as the sidecar's user
        assert {p.stat().st_uid for p in volume.iterdir()} == {10001}
