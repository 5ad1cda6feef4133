"""The dashboard's network rules through a real HTTP client against the real server, where a
browser cannot set the header: the Host allow-list (DNS rebinding), login throttling from
several client addresses (127.0.0.0/8 is all loopback on Linux), the open-stream cap, hostile
Last-Event-ID values, and TLS with a Secure cookie."""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest

from quota_sidecar.dashboard.live import MAX_STREAMS_PER_SESSION
from quota_sidecar.dashboard.throttle import FREE_FAILURES, GLOBAL_BURST
from quota_sidecar.domain.errors import ConfigError
from quota_sidecar.server.app import Sidecar
from tests.support.certs import make_test_certs
from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess, running_sidecar

STREAM = {"Accept": "text/event-stream"}


@pytest.fixture
async def sidecar(redis_url: str) -> AsyncIterator[Sidecar]:
    async with running_sidecar(redis_url, http_listen="127.0.0.1:0", alert_heartbeat=0.2) as s:
        yield s


def _client(sidecar: Sidecar, source: str = "127.0.0.1", **kwargs: object) -> aiohttp.ClientSession:
    """A client of its own (cookies, connection) from the loopback address `source`."""
    assert sidecar.dashboard_url
    connector = aiohttp.TCPConnector(local_addr=(source, 0), ssl=kwargs.pop("ssl", True))  # type: ignore[arg-type]
    return aiohttp.ClientSession(
        base_url=sidecar.dashboard_url,
        connector=connector,
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        headers={"Accept": "text/html"},
        **kwargs,  # type: ignore[arg-type]
    )


async def _log_in(
    http: aiohttp.ClientSession, token: str, **headers: str
) -> aiohttp.ClientResponse:
    async with http.get("/login", headers=headers) as response:
        page = await response.text()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    csrf = match.group(1) if match else ""
    async with http.post("/login", data={"csrf": csrf, "token": token}, headers=headers,
                         allow_redirects=False) as response:  # fmt: skip
        await response.read()
        return response


async def test_a_rebound_host_name_gets_no_session_and_no_page(sidecar: Sidecar) -> None:
    port = sidecar.dashboard_url.rstrip("/").rsplit(":", 1)[1]  # type: ignore[union-attr]
    evil = f"rebind.attacker.example:{port}"
    async with _client(sidecar) as http:
        # The attack: a page on the attacker's name, rebound to 127.0.0.1, posts the login.
        refused = await _log_in(http, ADMIN_TOKEN, Host=evil, Origin=f"http://{evil}")
        assert refused.status == 421, refused.status
        assert "qs_session" not in {c.key for c in http.cookie_jar}
        # A session made the honest way is no use under the rebound name either.
        assert (await _log_in(http, ADMIN_TOKEN)).status == 303
        for path in ("/", "/login", "/alerts/stream", "/static/alerts.js"):
            async with http.get(path, headers={"Host": evil}, allow_redirects=False) as r:
                assert r.status == 421, (path, r.status)
                assert r.content_type == "text/plain"
                assert "not served as" in await r.text()
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"LOCALHOST.:{port}"):
            async with http.get("/", headers={"Host": host}, allow_redirects=False) as r:
                assert r.status == 200, (host, r.status)
        for host in ("localhost:1", f"[::1]x:{port}", "", f"localhost.attacker.example:{port}"):
            async with http.get("/", headers={"Host": host}, allow_redirects=False) as r:
                assert r.status == 421, (host, r.status)


async def test_names_given_with_dashboard_host_are_served(redis_url: str) -> None:
    names = ("dash.example", "other.example:8443")
    async with (
        running_sidecar(redis_url, http_listen="127.0.0.1:0", dashboard_hosts=names) as s,
        _client(s) as http,
    ):
        for host, status in (("dash.example", 200), ("dash.example:9", 200),
                             ("other.example:8443", 200), ("other.example", 421),
                             ("evil.example", 421)):  # fmt: skip
            async with http.get("/login", headers={"Host": host}) as r:
                assert r.status == status, (host, r.status)
    with pytest.raises(ConfigError, match="dashboard_host"):
        async with running_sidecar(redis_url, http_listen="127.0.0.1:0",
                                   dashboard_hosts=("bad/name",)):  # fmt: skip
            pass


async def test_wrong_tokens_are_throttled_per_address_and_other_addresses_still_log_in(
    sidecar: Sidecar,
) -> None:
    async with _client(sidecar, "127.0.0.1") as attacker, _client(sidecar, "127.0.0.2") as owner:
        statuses = [
            (await _log_in(attacker, f"guess-{i}")).status for i in range(FREE_FAILURES + 3)
        ]
        assert statuses[:FREE_FAILURES] == [401] * FREE_FAILURES
        assert statuses[FREE_FAILURES + 1 :] == [429, 429], statuses
        throttled = await _log_in(attacker, ADMIN_TOKEN)  # even the right token must wait
        assert throttled.status == 429
        assert 1 <= int(throttled.headers["Retry-After"]) <= 300
        assert "qs_session" not in {c.key for c in attacker.cookie_jar}
        assert (await _log_in(owner, ADMIN_TOKEN)).status == 303  # another address: at once


async def test_a_spread_out_attack_gets_one_guess_per_address_and_the_owner_still_logs_in(
    sidecar: Sidecar,
) -> None:
    async with AsyncExitStack() as stack:
        # One wrong token from each of many addresses empties the global budget.
        for i in range(int(GLOBAL_BURST) + 2):
            http = await stack.enter_async_context(_client(sidecar, f"127.0.1.{i + 1}"))
            assert (await _log_in(http, f"guess-{i}")).status == 401
        # Under that pressure an address that already failed waits, whatever it sends...
        again = await _log_in(http, ADMIN_TOKEN)
        assert again.status == 429 and int(again.headers["Retry-After"]) >= 1
        # ...a fresh address gets its one comparison (a wrong token: then it waits too)...
        fresh = await stack.enter_async_context(_client(sidecar, "127.0.2.1"))
        assert (await _log_in(fresh, "guess")).status == 401
        assert (await _log_in(fresh, "guess")).status == 429
        # ...and the owner, from an address that has not just failed, is in at once.
        owner = await stack.enter_async_context(_client(sidecar, "127.0.2.2"))
        assert (await _log_in(owner, ADMIN_TOKEN)).status == 303


async def test_a_session_may_hold_only_so_many_event_streams(sidecar: Sidecar) -> None:
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(_client(sidecar))
        assert (await _log_in(http, ADMIN_TOKEN)).status == 303
        for _ in range(MAX_STREAMS_PER_SESSION):
            response = await stack.enter_async_context(http.get("/alerts/stream", headers=STREAM))
            assert response.status == 200
        async with http.get("/alerts/stream", headers=STREAM) as refused:
            assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
            assert str(MAX_STREAMS_PER_SESSION) in await refused.text()
        other = await stack.enter_async_context(_client(sidecar, "127.0.0.3"))
        assert (await _log_in(other, ADMIN_TOKEN)).status == 303
        async with other.get("/alerts/stream", headers=STREAM) as response:
            assert response.status == 200  # another session is not affected


@pytest.mark.parametrize(
    "cursor",
    ["99999999999999999999", "18446744073709551616-0", "\uff11\uff12\uff13", "\u0663", "1-\u0663"],
)
async def test_a_hostile_last_event_id_is_a_400_before_the_stream_starts(
    sidecar: Sidecar, cursor: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with _client(sidecar) as http:
        assert (await _log_in(http, ADMIN_TOKEN)).status == 303
        with caplog.at_level(logging.WARNING):
            headers = {**STREAM, "Last-Event-ID": cursor}
            async with http.get("/alerts/stream?cursor=0", headers=headers) as response:
                assert response.status == 400, response.status
                assert (await response.text()).startswith("Last-Event-ID: ")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_with_tls_the_dashboard_is_https_and_its_cookie_is_secure(
    redis_url: str, tmp_path: Path
) -> None:
    make_test_certs(tmp_path)
    tls = {"tls_cert": tmp_path / "server.pem", "tls_key": tmp_path / "server.key"}
    trust = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    async with running_sidecar(redis_url, http_listen="127.0.0.1:0", **tls) as s:
        assert s.dashboard_url and s.dashboard_url.startswith("https://127.0.0.1:")
        async with _client(s, ssl=trust) as http:
            response = await _log_in(http, ADMIN_TOKEN)
            assert response.status == 303
            cookie = response.cookies["qs_session"]
            assert cookie["secure"] is True and cookie["httponly"] is True
            async with http.get("/") as page:
                assert page.status == 200
        async with _client(s, ssl=False) as plain:  # plain HTTP on the TLS port: no page
            with pytest.raises(aiohttp.ClientError):
                async with plain.get(s.dashboard_url.replace("https:", "http:")) as r:
                    await r.read()
    # Not on a network address without TLS, unless asked for (a TLS proxy in front).
    with pytest.raises(ConfigError, match=r"http_listen: .*not a loopback address"):
        async with running_sidecar(redis_url, http_listen="0.0.0.0:0"):
            pass
    async with running_sidecar(redis_url, http_listen="0.0.0.0:0", **tls) as s:
        assert s.dashboard_url and s.dashboard_url.startswith("https://")


def test_serve_refuses_a_network_dashboard_without_tls_unless_allowed_and_reads_the_env(
    redis_url: str, tmp_path: Path
) -> None:
    import urllib.error
    import urllib.request

    common = ("--redis-url", redis_url, "--data-dir", str(tmp_path), "--http-listen", "0.0.0.0:0")
    token = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN}
    refused = SidecarProcess(*common, env=token)
    with pytest.raises(RuntimeError, match="exited early"):
        refused.start()
    assert refused.process is not None and refused.process.wait(timeout=10) == 2
    assert "--http-allow-insecure" in refused.output()
    assert "not a loopback address and the dashboard has no TLS" in refused.output()
    refused.__exit__(None, None, None)

    env = {**token, "QUOTA_SIDECAR_HTTP_ALLOW_INSECURE": "true",
           "QUOTA_SIDECAR_DASHBOARD_HOST": "dash.example, other.example:1"}  # fmt: skip
    with SidecarProcess(*common, env=env) as allowed:
        url = allowed.next_line().removeprefix("dashboard on ").strip()
        port = url.rstrip("/").rsplit(":", 1)[1]
        local = f"http://127.0.0.1:{port}/login"
        for host, status in (("dash.example", 200), (f"localhost:{port}", 200),
                             ("evil.example", 421)):  # fmt: skip
            request = urllib.request.Request(local, headers={"Host": host})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    assert response.status == status, host
            except urllib.error.HTTPError as exc:
                assert exc.code == status, host
        assert allowed.terminate() == 0
