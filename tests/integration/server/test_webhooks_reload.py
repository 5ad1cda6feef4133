"""Webhooks follow the quota file like everything else in it: a reload that adds, changes or
removes a webhook takes effect without a restart, and a bad webhook entry rejects the file whole
(the last good webhooks stay). A real sidecar on a real Redis, alerts raised by RecordUsage, and
real HTTP receivers (aiohttp) on port 0."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp import web

from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope
from quota_sidecar.server.app import Sidecar
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.sidecar import running_sidecar


class Receiver:
    """An aiohttp server on 127.0.0.1:0 that records every POST (headers, JSON body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._post)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def _post(self, request: web.Request) -> web.Response:
        self.posts.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    def alert_ids(self) -> list[str]:
        return [json.loads(body)["id"] for _headers, body in self.posts]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[Receiver, Receiver]]:
    first, second = Receiver(), Receiver()
    await first.start()
    await second.start()
    yield first, second
    await first.close()
    await second.close()


async def until(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        done = condition()
        if not isinstance(done, bool):
            done = await done
        if done:
            return
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def hooks_file(path: Path, *hooks: str) -> None:
    body = "webhooks:\n" + "".join(hooks) if hooks else ""
    path.write_text("quotas: []\n" + body)


def hook(url: str, secret: str, **extra: Any) -> str:
    more = "".join(f"    {key}: {value}\n" for key, value in extra.items())
    return (
        f"  - name: ops\n    url: {url}\n    secret: {secret}\n"
        f"    filters: {{kinds: [THRESHOLD_WARNING]}}\n    backoff: 0.05\n{more}"
    )


def running(sidecar: Sidecar) -> list[tuple[str, str, str]]:
    """The webhooks the sidecar runs now: (name, url, secret)."""
    files = sidecar._webhooks
    runner = None if files is None else files.runner
    return [] if runner is None else [(h.name, h.url, h.secret) for h in runner.webhooks]


def signed(secret: str, headers: dict[str, str], body: bytes) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Quota-Sidecar-Signature"])


async def raise_alert(sidecar: Sidecar, identifier: str) -> str:
    """RecordUsage past 80% of a fresh subject's daily budget: one THRESHOLD_WARNING."""
    await sidecar.service.put_quota(
        QuotaConfig(
            scope=QuotaScope.USER,
            identifier=identifier,
            cost_quota=CostQuota(daily_limit=Decimal(10)),
        )
    )
    subject = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier=identifier)
    async with grpc.aio.insecure_channel(sidecar.target) as channel:
        reply = await quota_pb2_grpc.QuotaServiceStub(channel).RecordUsage(
            quota_pb2.RecordUsageRequest(subjects=[subject], cost_nanos=8_500_000_000)
        )
    (alert,) = reply.alerts
    return str(alert.id)


async def test_a_reload_adds_changes_and_removes_a_webhook_without_a_restart(
    redis_url: str, tmp_path: Path, receivers: tuple[Receiver, Receiver]
) -> None:
    first, second = receivers
    path = tmp_path / "quotas.yaml"
    hooks_file(path)  # no webhooks at start
    async with running_sidecar(redis_url, config_path=path) as s:
        before = await raise_alert(s, "before")

        # Added by a reload: delivered from then on (not what was raised before it existed).
        hooks_file(path, hook(first.url, "secret-one"))
        await until(lambda: running(s) == [("ops", first.url, "secret-one")])
        added = await raise_alert(s, "added")
        await until(lambda: added in first.alert_ids())
        headers, body = first.posts[-1]
        assert signed("secret-one", headers, body)
        assert before not in first.alert_ids()

        # Changed by a reload (new URL, new secret): the next alert goes there, signed anew.
        hooks_file(path, hook(second.url, "secret-two"))
        await until(lambda: running(s) == [("ops", second.url, "secret-two")])
        changed = await raise_alert(s, "changed")
        await until(lambda: changed in second.alert_ids())
        headers, body = second.posts[-1]
        assert signed("secret-two", headers, body)
        assert changed not in first.alert_ids()

        # A bad webhook entry rejects the file whole: the last good webhook stays in force.
        errors = "quota_sidecar_config_reload_errors_total"
        path.write_text("quotas: []\nwebhooks:\n  - {name: ops, url: " + first.url + "}\n")
        await until(lambda: s.metrics.value(errors, reason="invalid") == 1)
        assert running(s) == [("ops", second.url, "secret-two")]
        kept = await raise_alert(s, "kept")
        await until(lambda: kept in second.alert_ids())

        # Removed by a reload: nothing is sent any more.
        hooks_file(path)
        await until(lambda: running(s) == [])
        removed = await raise_alert(s, "removed")
        await asyncio.sleep(1.5)  # several of the runner's 1 s reads: time enough to send
        assert removed not in first.alert_ids() + second.alert_ids()

    assert first.alert_ids() == [added]
    assert second.alert_ids() == [changed, kept]
