"""Fixtures of the client tests: a real sidecar on port 0 over the test's real Redis, and a
QuotaClient connected to it with the data-plane and admin tokens."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quota_sidecar.client import QuotaClient
from quota_sidecar.server.app import Sidecar
from tests.support.sidecar import ADMIN_TOKEN, running_sidecar

__all__ = ["ADMIN_TOKEN", "DATA_TOKEN"]

DATA_TOKEN = "data-secret"


@pytest.fixture
async def sidecar(redis_url: str, tmp_path: Path) -> AsyncIterator[Sidecar]:
    """A real sidecar (gRPC server + engine) on 127.0.0.1:0, in this test's event loop."""
    async with running_sidecar(
        redis_url, data_dir=tmp_path, data_token=DATA_TOKEN, alert_heartbeat=0.2
    ) as running:
        yield running


@pytest.fixture
async def client(sidecar: Sidecar) -> AsyncIterator[QuotaClient]:
    async with QuotaClient(sidecar.target, token=DATA_TOKEN, admin_token=ADMIN_TOKEN) as quota:
        yield quota


@pytest.fixture
def user_id() -> str:
    """A fresh user per test, so assertions never see another test's usage."""
    return f"user-{uuid.uuid4().hex[:8]}"
