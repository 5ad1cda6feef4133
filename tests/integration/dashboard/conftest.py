"""Fixtures of the dashboard tests: a sidecar serving the dashboard (admin and viewer tokens, a
manual clock so history can span several days) and one headless chromium for the module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from quota_sidecar.domain.clock import ManualClock
from tests.support.dashboard import SidecarThread, start_browser

VIEWER_TOKEN = "test-viewer-token"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def dashboard(redis_url: str, clock: ManualClock) -> Iterator[SidecarThread]:
    with SidecarThread(
        redis_url, clock=clock, http_listen="127.0.0.1:0", dashboard_token=VIEWER_TOKEN
    ) as sidecar:
        yield sidecar


@pytest.fixture(scope="module")
def _chromium() -> Iterator[Any]:
    browser = start_browser()
    yield browser
    browser.quit()


@pytest.fixture
def browser(_chromium: Any) -> Iterator[Any]:
    """The module's chromium, with no cookies and an empty network log, at 1280 px."""
    _chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})
    _chromium.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    _chromium.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    _chromium.set_window_size(1280, 900)
    _chromium.get_log("performance")
    _chromium.get_log("browser")
    yield _chromium
    _chromium.get("about:blank")  # closes the page's event stream before its sidecar stops
