"""The dashboard's security rules in headless chromium: throttled logins, a hostile stream
cursor that stops the page's EventSource instead of a reconnect loop, what the read-only token
sees (what gRPC shows it), and the dashboard over TLS with a Secure cookie."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By

from quota_sidecar.dashboard.throttle import FREE_FAILURES
from quota_sidecar.domain.clock import ManualClock, from_ms
from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope, Subject
from quota_sidecar.domain.results import Override, OverrideKind
from tests.integration.dashboard.conftest import VIEWER_TOKEN
from tests.integration.dashboard.pages import log_in, wait_live
from tests.support.certs import make_test_certs
from tests.support.dashboard import SidecarThread, requested_urls, start_browser
from tests.support.sidecar import ADMIN_TOKEN


def test_repeated_wrong_tokens_are_throttled_with_a_message_even_for_the_right_one(
    dashboard: SidecarThread, browser: Any
) -> None:
    for attempt in range(FREE_FAILURES):
        log_in(browser, dashboard.url, f"guess-{attempt}")
        assert browser.find_element(By.ID, "login-error").text == "That token is not valid."
    log_in(browser, dashboard.url, "one-more-guess")
    log_in(browser, dashboard.url, ADMIN_TOKEN)  # now throttled: not even compared
    error = browser.find_element(By.ID, "login-error").text
    assert error.startswith("Too many wrong tokens: try again in "), error
    assert not [c for c in browser.get_cookies() if c["name"] == "qs_session"]


def _stream_requests(urls: list[str]) -> int:
    return sum(1 for url in urls if "/alerts/stream" in url and "cursor=%EF%BC%91" in url)


def test_a_hostile_cursor_closes_the_event_source_instead_of_reconnecting(
    dashboard: SidecarThread, browser: Any
) -> None:
    log_in(browser, dashboard.url, ADMIN_TOKEN)
    wait_live(browser)
    requested_urls(browser)  # forget the page's own requests
    browser.execute_script(
        "window.hostile = new EventSource('/alerts/stream?cursor=' + "
        "encodeURIComponent('\\uff11\\uff12\\uff13'));"
    )
    time.sleep(5)  # more than two of the stream's 2 s retry intervals
    assert browser.execute_script("return window.hostile.readyState") == 2  # CLOSED
    assert _stream_requests(requested_urls(browser)) == 1


def _subject_with_admin_data(dashboard: SidecarThread, clock: ManualClock) -> Subject:
    service = dashboard.sidecar.service
    user = Subject(QuotaScope.USER, "viewer-check")
    config = QuotaConfig(user.scope, user.identifier,
                         cost_quota=CostQuota(daily_limit=Decimal(10)))  # fmt: skip
    dashboard.run(service.put_quota(config, actor="alice-admin", reason="audit-reason-7"))
    dashboard.run(service.record_usage(subjects=[user], cost=Decimal(1), provider="p",
                                       tool_name="t"))  # fmt: skip
    override = Override(
        subject=user, kind=OverrideKind.BLOCK, reason="override-reason-9", actor="alice-admin",
        expires_at=from_ms(clock.now_ms() + 3_600_000),
    )  # fmt: skip
    dashboard.run(service.grant_override(override))
    return user


def test_the_viewer_sees_only_what_grpc_shows_a_non_admin_and_the_admin_sees_it_all(
    dashboard: SidecarThread, browser: Any, clock: ManualClock
) -> None:
    user = _subject_with_admin_data(dashboard, clock)
    subject_url = f"{dashboard.url}subject?scope=user&id={user.identifier}"
    admin_only = ("#top-today", "#top-month", "#budgets", "#holds", "#overrides", "#audit")

    log_in(browser, dashboard.url, VIEWER_TOKEN)
    assert browser.find_elements(By.ID, "live-alerts")
    assert not browser.find_elements(By.CSS_SELECTOR, ", ".join(admin_only))
    assert browser.find_elements(By.ID, "admin-only")  # says what is left out, and why
    browser.get(subject_url)
    assert browser.find_element(By.ID, "cost-today").text == "$1.00"  # GetUsage: allowed
    assert not browser.find_elements(By.CSS_SELECTOR, ", ".join(admin_only))
    # The reasons are only in the override and the audit entry (admin reads over gRPC); the
    # alerts about them (StreamAlerts, which a data-plane client reads too) stay.
    for secret in ("override-reason-9", "audit-reason-7"):
        assert secret not in browser.page_source
    assert "override granted" in browser.find_element(By.ID, "live-alerts").text.lower()

    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    log_in(browser, dashboard.url, ADMIN_TOKEN)
    assert browser.find_elements(By.CSS_SELECTOR, "#top-today, #budgets")
    browser.get(subject_url)
    assert "override-reason-9" in browser.find_element(By.ID, "overrides").text
    assert "audit-reason-7" in browser.find_element(By.ID, "audit").text


def test_over_tls_the_page_is_https_and_the_session_cookie_is_secure(
    redis_url: str, tmp_path: Path
) -> None:
    make_test_certs(tmp_path)
    tls = {"tls_cert": tmp_path / "server.pem", "tls_key": tmp_path / "server.key"}
    with SidecarThread(redis_url, http_listen="127.0.0.1:0", **tls) as dashboard:
        # The browser goes first: its connections (some still in their TLS handshake, which
        # the server does not track yet) close while the sidecar's loop still runs.
        browser = start_browser(accept_insecure_certs=True)
        try:
            assert dashboard.url.startswith("https://127.0.0.1:")
            log_in(browser, dashboard.url, ADMIN_TOKEN)
            assert browser.current_url == dashboard.url
            (cookie,) = [c for c in browser.get_cookies() if c["name"] == "qs_session"]
            assert cookie["secure"] is True and cookie["httpOnly"] is True
            wait_live(browser)  # the event stream runs over TLS too
        finally:
            browser.quit()
