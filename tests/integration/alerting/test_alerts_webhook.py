"""Webhook delivery against a local HTTP receiver: signed JSON, a retry after a 500, redelivery
of an alert left unacknowledged, each alert once across replicas, and config errors."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from quota_sidecar.alerting.webhook import load_webhooks, start_webhooks
from quota_sidecar.domain.errors import ConfigError
from quota_sidecar.domain.results import AlertKind
from quota_sidecar.store.redis import Store
from tests.integration.alerting.conftest import RaiseAlert, until

SECRET = "s3cret-for-tests"


class Receiver:
    """An HTTP server on 127.0.0.1:0 that records each POST and answers the scripted statuses."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append((dict(self.headers.items()), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    async def wait_for(self, count: int) -> list[tuple[dict[str, str], bytes]]:
        await until(lambda: len(self.requests) >= count, timeout=10)
        with self.lock:
            return list(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "quotas.yaml"
    path.write_text("quotas: []\n" + body)
    return path


def verify(headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: recompute the HMAC of the raw body and compare in constant time."""
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Quota-Sidecar-Signature"])


async def test_signed_post_and_a_retry_after_a_500(
    store: Store,
    raise_alert: RaiseAlert,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver.statuses = [500]
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    config = write_config(
        tmp_path,
        f"""
webhooks:
  - name: ops
    url: {receiver.url}
    secret_env: TEST_WEBHOOK_SECRET
    filters: {{min_severity: WARNING, scopes: [user]}}
    backoff: 0.05
""",
    )
    lags: list[float] = []  # the alert delivery lag the sidecar exports, per delivered alert
    runner = await start_webhooks(config, store, lags.append)
    assert runner is not None
    await raise_alert(AlertKind.USAGE_RESET, "alice")  # INFO: filtered out, never posted
    alert_id = await raise_alert(AlertKind.THRESHOLD_WARNING, "alice", percent=80)

    (first_headers, first), (second_headers, second) = await receiver.wait_for(2)

    async def acknowledged() -> bool:
        return int((await store.client.xpending("qs:alerts", "qs:webhook:ops"))["pending"]) == 0

    await until(acknowledged)  # XACK follows the 200: no third POST
    await runner.close()
    assert len(receiver.requests) == 2
    # One delivery (the filtered alert and the failed POST are none), its lag the retry's wait.
    assert len(lags) == 1 and 0.05 <= lags[0] < 10

    assert first == second  # the retry is the same signed body
    assert verify(first_headers, first) and verify(second_headers, second)
    assert not verify({"X-Quota-Sidecar-Signature": "sha256=" + "0" * 64}, first)
    assert [h["X-Quota-Sidecar-Delivery-Attempt"] for h in (first_headers, second_headers)] == [
        "1",
        "2",
    ]
    assert first_headers["X-Quota-Sidecar-Alert-Id"] == alert_id
    assert first_headers["Content-Type"] == "application/json"
    payload = json.loads(second)
    assert payload["id"] == alert_id
    assert payload["kind"] == "THRESHOLD_WARNING" and payload["threshold_percent"] == 80
    assert payload["subject"] == {"scope": "user", "identifier": "alice"}
    assert payload["used_usd"] == "8.000000000" and payload["limit_value_usd"] == "10.000000000"


async def test_an_alert_that_failed_its_round_is_redelivered_later(
    store: Store, raise_alert: RaiseAlert, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.statuses = [503, 503]
    config = write_config(
        tmp_path,
        f"""
webhooks:
  - {{name: flaky, url: "{receiver.url}", secret: {SECRET}, max_attempts: 2, backoff: 0.01,
     retry_after: 0.2}}
""",
    )
    runner = await start_webhooks(config, store)
    assert runner is not None
    alert_id = await raise_alert(AlertKind.EXHAUSTED, "bob", percent=100)
    requests = await receiver.wait_for(3)  # two failed tries, then reclaimed and delivered

    async def acknowledged() -> bool:
        return int((await store.client.xpending("qs:alerts", "qs:webhook:flaky"))["pending"]) == 0

    await until(acknowledged)  # XACK follows the 200
    await runner.close()
    assert [h["X-Quota-Sidecar-Alert-Id"] for h, _ in requests] == [alert_id] * 3


async def test_each_alert_is_posted_once_across_replicas(
    redis_url: str, raise_alert: RaiseAlert, receiver: Receiver, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, f"webhooks:\n  - {{name: shared, url: '{receiver.url}', secret: {SECRET}}}\n"
    )
    stores = [Store.from_url(redis_url) for _ in range(3)]
    runners = [await start_webhooks(config, store) for store in stores]
    ids = [await raise_alert(identifier=f"u{n}") for n in range(30)]
    requests = await receiver.wait_for(30)
    await asyncio.sleep(0.3)  # give a duplicate time to show up
    for runner in runners:
        assert runner is not None
        await runner.close()
    for store in stores:
        await store.close()
    posted = [headers["X-Quota-Sidecar-Alert-Id"] for headers, _ in receiver.requests]
    assert len(requests) == 30 and sorted(posted) == sorted(ids)


async def test_no_webhooks_configured_starts_nothing(store: Store, tmp_path: Path) -> None:
    assert await start_webhooks(None, store) is None
    assert await start_webhooks(write_config(tmp_path, ""), store) is None


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ("{url: 'ftp://x', secret: s}", "webhooks[0].url"),
        ("{url: 'http://x'}", "webhooks[0].secret"),
        ("{url: 'http://x', secret_env: QS_UNSET_SECRET_VAR}", "webhooks[0].secret_env"),
        ("{url: 'http://x', secret: s, filters: {kinds: [NOPE]}}", "webhooks[0].filters.kinds"),
        ("{url: 'http://x', secret: s, timeout: -1}", "webhooks[0].timeout"),
        ("{url: 'http://x', secret: s, colour: red}", "webhooks[0].colour"),
    ],
)
def test_bad_webhook_config_names_the_field(entry: str, field: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_webhooks(write_config(tmp_path, f"webhooks:\n  - {entry}\n"))
    assert caught.value.field == field
    assert "quotas.yaml" in str(caught.value)
