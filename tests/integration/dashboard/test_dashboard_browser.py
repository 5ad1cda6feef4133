"""The dashboard in headless Debian chromium (Selenium + chromium-driver): login, the chart's
daily numbers, a live alert without a reload, and no request leaving the sidecar."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from quota_sidecar.client.sync import SyncQuotaClient
from quota_sidecar.domain.clock import ManualClock, from_ms
from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope, Subject
from tests.integration.dashboard.conftest import VIEWER_TOKEN
from tests.integration.dashboard.pages import log_in, wait_live
from tests.support.dashboard import SidecarThread, requested_urls
from tests.support.sidecar import ADMIN_TOKEN


def _put_budget(dashboard: SidecarThread, user: str, daily: str) -> Subject:
    config = QuotaConfig(
        QuotaScope.USER, user, cost_quota=CostQuota(daily_limit=Decimal(daily)),
        alert_thresholds=(80,),
    )  # fmt: skip
    dashboard.run(dashboard.sidecar.service.put_quota(config, actor="test"))
    return Subject(QuotaScope.USER, user)


def clock_at(now_ms: int, days_ago: int) -> datetime:
    return from_ms(now_ms) - timedelta(days=days_ago)


def test_login_is_refused_with_a_wrong_token_and_opened_by_the_viewer_token(
    dashboard: SidecarThread, browser: Any
) -> None:
    log_in(browser, dashboard.url, "not-the-token")
    error = browser.find_element(By.ID, "login-error")
    assert error.text == "That token is not valid."
    assert urlsplit(browser.current_url).path == "/login"
    assert not [c for c in browser.get_cookies() if c["name"] == "qs_session"]
    browser.get(dashboard.url)  # still outside: the overview sends back to the login
    assert urlsplit(browser.current_url).path == "/login"

    log_in(browser, dashboard.url, VIEWER_TOKEN)
    assert urlsplit(browser.current_url).path == "/"
    assert browser.find_element(By.CSS_SELECTOR, ".role").text.lower() == "viewer"
    (cookie,) = [c for c in browser.get_cookies() if c["name"] == "qs_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert VIEWER_TOKEN not in browser.current_url  # no token in any URL
    assert browser.execute_script("return document.cookie") == ""  # scripts cannot read it


def test_a_subjects_chart_shows_the_right_daily_numbers(
    dashboard: SidecarThread, browser: Any, clock: ManualClock
) -> None:
    user = _put_budget(dashboard, "chart-user", "100")
    today = clock.now_ms()
    spend = {3: ["1.25"], 2: [], 1: ["2.5", "0.000000001"], 0: ["3"]}  # days ago -> records
    for days_ago, costs in spend.items():
        clock.set(clock_at(today, days_ago))
        for cost in costs:
            dashboard.run(dashboard.sidecar.service.record_usage(
                subjects=[user], cost=Decimal(cost), provider="openai", tool_name="search",
            ))  # fmt: skip
    clock.set(clock_at(today, 0))

    log_in(browser, dashboard.url, ADMIN_TOKEN)
    browser.get(f"{dashboard.url}subject?scope=user&id={user.identifier}")
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script(
            "return !!(window.quotaDashboard && window.quotaDashboard.daily)"
        )
    )
    days, plotted = browser.execute_script(
        "const q = window.quotaDashboard; return [q.dailyDays, q.daily.data[1]];"
    )
    history = dashboard.run(dashboard.sidecar.service.usage_history(user))
    assert days == [d.day.isoformat() for d in history.days]  # every day kept, oldest first
    assert plotted[-4:] == [1.25, 0, 2500000001 / 1e9, 3]  # the bars, in dollars
    assert set(plotted[:-4]) <= {0}

    # Hovering a bar shows its day and its exact amount in the legend.
    legend = []
    for index in (len(days) - 2, len(days) - 4):
        legend.append(browser.execute_script(
            "const u = window.quotaDashboard.daily, i = arguments[0];"
            "u.setCursor({left: u.valToPos(i, 'x'), top: u.valToPos(0.5, 'y')});"
            "return [...u.root.querySelectorAll('.u-legend .u-value')].map(e => e.textContent);",
            index,
        ))  # fmt: skip
    assert legend == [[days[-2], "$2.500000001"], [days[-4], "$1.25"]]
    rows = browser.find_elements(By.CSS_SELECTOR, "#daily-table tbody tr")
    cells = [[c.get_attribute("textContent") for c in r.find_elements(By.TAG_NAME, "td")]
             for r in rows[:4]]  # fmt: skip
    assert [row[:2] for row in cells] == [
        [days[-1], "$3.00"], [days[-2], "$2.500000001"], [days[-3], "$0.00"],
        [days[-4], "$1.25"],
    ]  # fmt: skip


def test_an_alert_raised_by_record_usage_appears_on_the_open_page_without_a_reload(
    dashboard: SidecarThread, browser: Any
) -> None:
    user = _put_budget(dashboard, "live-user", "10")
    log_in(browser, dashboard.url, ADMIN_TOKEN)
    wait_live(browser)
    browser.execute_script("window.notReloaded = true;")
    with SyncQuotaClient(dashboard.sidecar.target) as client:
        client.record_usage(scope="user", identifier=user.identifier, cost="8.5",
                            provider="openai", tool_name="search")  # fmt: skip
    started = time.monotonic()

    def warning_shown(b: Any) -> Any:
        for item in b.find_elements(By.CSS_SELECTOR, "#alerts li.alert"):
            if item.find_element(By.CSS_SELECTOR, ".kind").text == "threshold warning 80 %":
                return item
        return None

    item = WebDriverWait(browser, 5).until(warning_shown)
    assert time.monotonic() - started < 5
    assert item.find_element(By.CSS_SELECTOR, ".subj").text == "user:live-user"
    assert item.find_element(By.CSS_SELECTOR, ".amounts").text == "$8.50 of $10.00 (cost today)"
    assert browser.execute_script("return window.notReloaded") is True


def test_the_pages_request_nothing_from_outside_the_sidecar(
    dashboard: SidecarThread, browser: Any
) -> None:
    user = _put_budget(dashboard, "offline-user", "10")
    dashboard.run(dashboard.sidecar.service.record_usage(
        subjects=[user], cost=Decimal("1"), provider="openai", tool_name="search",
    ))  # fmt: skip
    log_in(browser, dashboard.url, ADMIN_TOKEN)
    wait_live(browser)
    browser.get(f"{dashboard.url}subject?scope=user&id={user.identifier}")
    wait_live(browser)
    WebDriverWait(browser, 10).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#daily-chart canvas")
    )
    urls = requested_urls(browser)
    origin = dashboard.url.rstrip("/")
    outside = [u for u in urls if not (u.startswith(origin + "/") or u.startswith("data:"))]
    assert outside == []
    paths = {urlsplit(u).path for u in urls}
    # The log saw the page's real requests: the vendored chart, the styles, the event stream.
    assert {"/login", "/", "/subject", "/alerts/stream", "/static/dashboard.css",
            "/static/vendor/uplot/uPlot.iife.min.js"} <= paths  # fmt: skip
    # Nothing was blocked by the Content-Security-Policy, and no script failed.
    assert [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
