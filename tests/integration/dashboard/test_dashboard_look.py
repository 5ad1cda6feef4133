"""How the dashboard looks: the README's two screenshots (written to docs/ at 1280 px), no
sideways scrolling at 390 px, and dark mode, on a sidecar with a realistic fortnight of spend."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from quota_sidecar.client.sync import SyncQuotaClient
from quota_sidecar.config import load_quota_file
from quota_sidecar.domain.clock import ManualClock, from_ms
from quota_sidecar.domain.models import CostQuota, LimitKind, QuotaConfig, QuotaScope, Subject
from quota_sidecar.domain.results import Override, OverrideKind
from tests.integration.dashboard.pages import log_in, wait_live
from tests.support.dashboard import SidecarThread
from tests.support.sidecar import ADMIN_TOKEN

ROOT = Path(__file__).parents[3]
DOCS = ROOT / "docs"
CALLS = [  # provider, model, tool, typical cost in dollars
    ("openai", "gpt-4o", "createIssues", "0.42"),
    ("anthropic", "claude-sonnet-4", "searchCode", "0.65"),
    ("openai", "gpt-4o-mini", "summarize", "0.03"),
]


def _seed(dashboard: SidecarThread, clock: ManualClock) -> Subject:
    """The example quotas plus three more users; 14 days of calls; a hold, an override and
    threshold alerts. Seeded randomness: the screenshots show the same numbers every run."""
    service = dashboard.sidecar.service
    for config in load_quota_file(ROOT / "examples" / "quotas.yaml"):
        dashboard.run(service.put_quota(config, actor="config-file"))
    for name, daily in (("alice", "25"), ("bob", "10"), ("carol", "5")):
        dashboard.run(service.put_quota(QuotaConfig(
            QuotaScope.USER, name, cost_quota=CostQuota(daily_limit=Decimal(daily),
                                                        monthly_limit=Decimal(daily) * 20),
        ), actor="admin"))  # fmt: skip
    rng = random.Random(14)
    now = clock.now_ms()
    for days_ago in range(13, -1, -1):
        clock.set(from_ms(now) - timedelta(days=days_ago, hours=2))
        for user, most in (("user-123", 30), ("alice", 18), ("bob", 8), ("carol", 4)):
            # carol spends nothing today: her spike comes through the API, raising alerts.
            calls = 0 if days_ago == 0 and user == "carol" else rng.randint(most // 2, most)
            for _ in range(calls):
                provider, model, tool, typical = rng.choice(CALLS)
                cost = (Decimal(typical) * Decimal(rng.randint(50, 150)) / 100).quantize(
                    Decimal("0.0001")
                )
                dashboard.run(service.record_usage(
                    scope="user", identifier=user, cost=cost, provider=provider,
                    tool_name=tool, model=model, input_tokens=rng.randint(500, 4000),
                    output_tokens=rng.randint(100, 900),
                ))  # fmt: skip
    clock.set(from_ms(now))
    user = Subject(QuotaScope.USER, "user-123")
    dashboard.run(service.grant_override(Override(
        subject=user, kind=OverrideKind.BONUS_CREDIT, limit=LimitKind.COST_DAILY,
        value=20 * 10**9, expires_at=from_ms(now) + timedelta(hours=6),
        reason="release day", actor="ops",
    )))  # fmt: skip
    dashboard.run(service.check_quota(
        scope="user", identifier="user-123", estimated_cost=Decimal("2.5"), reserve=True,
        tool_name="createIssues", provider="openai",
    ))  # fmt: skip
    return user


def _alerts_through_the_api(dashboard: SidecarThread) -> None:
    with SyncQuotaClient(dashboard.sidecar.target) as client:
        for cost in ("4.1", "0.45"):  # carol: 82 %, then 91 % of $5
            client.record_usage(scope="user", identifier="carol", cost=cost,
                                provider="anthropic", tool_name="searchCode",
                                model="claude-sonnet-4")  # fmt: skip


def _sticking_out(browser: Any) -> list[str]:
    """The elements wider than a phone, to say what to fix."""
    return list(browser.execute_script(
        "return [...document.querySelectorAll('body *')].filter(e =>"
        " e.getBoundingClientRect().right > 391 && !e.closest('.scroll'))"
        ".map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right)"
    ))  # fmt: skip


def _settled(browser: Any) -> None:
    """Until the new alerts' highlight has faded (the screenshot shows the resting page)."""
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script("return document.getAnimations().length") == 0
    )


def _full_page(browser: Any, width: int) -> None:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(width, height)


def test_screenshots_phone_width_and_dark_mode(
    dashboard: SidecarThread, browser: Any, clock: ManualClock
) -> None:
    user = _seed(dashboard, clock)
    log_in(browser, dashboard.url, ADMIN_TOKEN)
    wait_live(browser)
    _alerts_through_the_api(dashboard)
    WebDriverWait(browser, 10).until(
        lambda b: len(b.find_elements(By.CSS_SELECTOR, "#alerts li.alert.fresh")) >= 2
    )
    DOCS.mkdir(exist_ok=True)
    _full_page(browser, 1280)
    _settled(browser)
    assert browser.execute_script("return window.innerWidth") == 1280
    browser.save_screenshot(str(DOCS / "dashboard-overview.png"))

    subject_url = f"{dashboard.url}subject?scope=user&id={user.identifier}"
    browser.set_window_size(1280, 900)
    browser.get(subject_url)
    wait_live(browser)
    _full_page(browser, 1280)
    _settled(browser)
    browser.save_screenshot(str(DOCS / "dashboard-subject.png"))
    for name in ("dashboard-overview.png", "dashboard-subject.png"):
        assert (DOCS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # 390 px (a phone): the device metrics, since a headless window is at least 500 px wide.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 390, "height": 844, "deviceScaleFactor": 1,
                             "mobile": True})  # fmt: skip
    for url in (dashboard.url, subject_url):
        browser.get(url)
        wait_live(browser)
        assert browser.execute_script("return window.innerWidth") == 390, _sticking_out(browser)
        # Nothing sticks out sideways: wide tables scroll inside their own card.
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
        chart_width = browser.execute_script(
            "const c = document.querySelector('#daily-chart canvas'); return c ? c.clientWidth : 0"
        )
        assert url == dashboard.url or 0 < chart_width <= 390

    # Dark mode follows the system's preference.
    def background() -> tuple[int, ...]:
        text = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
        return tuple(int(part) for part in text[text.index("(") + 1 : -1].split(",")[:3])

    light = background()
    dark_scheme = {"name": "prefers-color-scheme", "value": "dark"}
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [dark_scheme]})
    dark = background()
    assert sum(light) > 600 and sum(dark) < 150, (light, dark)
