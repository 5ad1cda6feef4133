"""The dashboard's HTTP side without a browser: what the login refuses (CSRF, Origin, wrong
tokens), what needs a session, the security headers, the event stream's resume from
Last-Event-ID, and how `serve` starts it (off by default; a one-time token for `make run`)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from quota_sidecar.domain.errors import ConfigError
from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope, Subject
from quota_sidecar.server.app import Sidecar
from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess, running_sidecar

VIEWER_TOKEN = "http-viewer-token"
VENDOR = Path(__file__).parents[3] / "quota_sidecar" / "dashboard" / "static" / "vendor"


@pytest.fixture
async def sidecar(redis_url: str) -> AsyncIterator[Sidecar]:
    async with running_sidecar(
        redis_url, http_listen="127.0.0.1:0", dashboard_token=VIEWER_TOKEN, alert_heartbeat=0.2
    ) as s:
        yield s


@pytest.fixture
async def http(sidecar: Sidecar) -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1, as a browser keeps them
    async with aiohttp.ClientSession(
        base_url=sidecar.dashboard_url, cookie_jar=jar, headers={"Accept": "text/html"}
    ) as session:
        yield session


async def _login_csrf(http: aiohttp.ClientSession) -> str:
    async with http.get("/login") as response:
        assert response.status == 200
        page = await response.text()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return match.group(1)


async def _log_in(http: aiohttp.ClientSession, token: str, origin: str | None = None) -> int:
    csrf = await _login_csrf(http)
    headers = {"Origin": origin} if origin else {}
    async with http.post("/login", data={"csrf": csrf, "token": token}, headers=headers,
                         allow_redirects=False) as response:  # fmt: skip
        return response.status


def _origin(sidecar: Sidecar) -> str:
    assert sidecar.dashboard_url
    return sidecar.dashboard_url.rstrip("/")


async def test_pages_need_a_session_and_the_login_refuses_wrong_tokens_and_forged_forms(
    sidecar: Sidecar, http: aiohttp.ClientSession
) -> None:
    async with http.get("/", allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == "/login"
    async with http.get("/alerts/stream", headers={"Accept": "text/event-stream"}) as response:
        assert response.status == 401
    assert await _log_in(http, "wrong", _origin(sidecar)) == 401
    assert "qs_session" not in {c.key for c in http.cookie_jar}
    # A form posted without the login page's CSRF value, or from another site, is refused.
    async with http.post("/login", data={"token": ADMIN_TOKEN}, allow_redirects=False) as r:
        assert r.status == 403
    assert await _log_in(http, ADMIN_TOKEN, origin="https://evil.example") == 403
    assert await _log_in(http, ADMIN_TOKEN, origin="null") == 403
    assert "qs_session" not in {c.key for c in http.cookie_jar}

    assert await _log_in(http, ADMIN_TOKEN, _origin(sidecar)) == 303
    async with http.get("/") as response:
        assert response.status == 200
        page = await response.text()
        headers = response.headers
    assert ADMIN_TOKEN not in page  # the token is never echoed into a page
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"


async def test_the_session_cookie_is_httponly_samesite_strict_and_logout_needs_its_csrf(
    sidecar: Sidecar, http: aiohttp.ClientSession
) -> None:
    csrf = await _login_csrf(http)
    async with http.post("/login", data={"csrf": csrf, "token": VIEWER_TOKEN},
                         allow_redirects=False) as response:  # fmt: skip
        assert response.status == 303 and response.headers["Location"] == "/"
        cookie = response.cookies["qs_session"]
    assert cookie["httponly"] is True and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    async with http.get("/") as response:
        page = await response.text()
    assert 'class="role role-viewer"' in page
    session_csrf = re.findall(r'name="csrf" value="([^"]+)"', page)[0]

    async with http.post("/logout", data={"csrf": "forged"}, allow_redirects=False) as r:
        assert r.status == 403
    async with http.get("/", allow_redirects=False) as response:
        assert response.status == 200  # still logged in
    async with http.post("/logout", data={"csrf": session_csrf}, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/login"
    async with http.get("/", allow_redirects=False) as response:
        assert response.status == 303  # the session is gone on the server, not only the cookie


async def test_bad_subject_input_is_a_400_naming_the_field(
    sidecar: Sidecar, http: aiohttp.ClientSession
) -> None:
    assert await _log_in(http, ADMIN_TOKEN) == 303
    async with http.get("/subject?scope=planet&id=x") as response:
        assert response.status == 400
        assert "scope: unknown scope" in await response.text()
    async with http.get("/subject?scope=user") as response:
        assert response.status == 400
        assert "identifier: must be a non-empty string" in await response.text()
    async with http.get("/alerts/stream?cursor=nonsense") as response:
        assert response.status == 400 and "cursor" in await response.text()


async def _events(response: aiohttp.ClientResponse, count: int) -> list[dict[str, str]]:
    """The next `count` alert events of a server-sent event stream: id and data."""
    events: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    async with asyncio.timeout(10):
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if fields.get("event") == "alert":
                events.append(fields)
                if len(events) == count:
                    return events
            fields = {}
    raise AssertionError(f"the stream ended after {events}")


async def test_the_event_stream_resumes_after_last_event_id_with_no_loss_and_no_duplicate(
    sidecar: Sidecar, http: aiohttp.ClientSession
) -> None:
    assert await _log_in(http, ADMIN_TOKEN) == 303
    service = sidecar.service
    user = Subject(QuotaScope.USER, "sse-user")
    await service.put_quota(QuotaConfig(user.scope, user.identifier,
                                        cost_quota=CostQuota(daily_limit=Decimal(10)),
                                        alert_thresholds=(50, 80)), actor="test")  # fmt: skip
    stream = "/alerts/stream?scope=user&id=sse-user&cursor=0"
    async with http.get(stream, headers={"Accept": "text/event-stream"}) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        await service.record_usage(subjects=[user], cost=Decimal(6), provider="p", tool_name="t")
        first = await _events(response, 2)  # quota changed, then 50 %
    kinds = [json.loads(e["data"])["kind"] for e in first]
    assert kinds == ["QUOTA_CHANGED", "THRESHOLD_WARNING"]

    # Away for a while: the next alert happens while no page listens.
    await service.record_usage(subjects=[user], cost=Decimal("2.5"), provider="p", tool_name="t")
    # The browser reconnects with the last id it saw; the query's older cursor loses to it.
    headers = {"Accept": "text/event-stream", "Last-Event-ID": first[-1]["id"]}
    async with http.get(stream, headers=headers) as response:
        (missed,) = await _events(response, 1)
    alert = json.loads(missed["data"])
    assert (alert["kind"], alert["percent"], alert["subject"]) == (
        "THRESHOLD_WARNING", 80, "user:sse-user"
    )  # fmt: skip
    assert alert["amounts"] == "$8.50 of $10.00 (cost today)"
    assert missed["id"] == alert["id"] and missed["id"] > first[-1]["id"]


async def test_no_dashboard_without_http_listen_and_none_without_a_token(redis_url: str) -> None:
    async with running_sidecar(redis_url) as plain:
        assert plain.dashboard_url is None
    with pytest.raises(ConfigError, match="http_listen: the dashboard needs a token"):
        async with running_sidecar(redis_url, admin_token=None, http_listen="127.0.0.1:0"):
            pass


async def test_the_vendored_chart_is_served_with_its_licence_kept_beside_it(
    sidecar: Sidecar, http: aiohttp.ClientSession
) -> None:
    licence = (VENDOR / "uplot" / "LICENSE").read_text()
    assert "MIT License" in licence or "Permission is hereby granted" in licence
    assert (VENDOR / "uplot" / "VERSION").read_text().startswith("uplot 1.6.32 ")
    async with http.get("/static/vendor/uplot/uPlot.iife.min.js") as response:  # no session
        assert response.status == 200
        assert await response.read() == (VENDOR / "uplot" / "uPlot.iife.min.js").read_bytes()


def test_serve_keeps_its_secure_defaults_and_make_run_flags_print_url_and_token(
    redis_url: str, tmp_path: Path
) -> None:
    common = ("--redis-url", redis_url, "--data-dir", str(tmp_path))
    with SidecarProcess(*common) as plain:
        assert plain.terminate() == 0
        rest = plain.next_line()
    assert rest == ""  # nothing after "listening on": no dashboard, no token
    with SidecarProcess(*common, "--generate-admin-token", "--http-listen", "127.0.0.1:0",
                        "--config", "examples/quotas.yaml") as dev:  # fmt: skip
        url_line = dev.next_line()
        assert url_line.startswith("dashboard on http://127.0.0.1:")
        assert dev.next_line().startswith("admin token for this run")
        token = dev.next_line().strip()
        assert len(token) >= 40 and token not in url_line
        assert dev.terminate() == 0
