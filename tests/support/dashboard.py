"""The dashboard under test: a sidecar on its own event loop in a thread (so a blocking browser
driver can talk to it), and headless Debian chromium driven by Selenium through chromium-driver.

    with SidecarThread(redis_url, clock=clock, http_listen="127.0.0.1:0") as s:
        s.run(s.sidecar.service.get_usage(subject))    # a coroutine on the sidecar's loop
        s.sidecar.dashboard_url, s.sidecar.target

    browser = start_browser()                          # fails (never skips) without chromium
    requested_urls(browser)                            # every URL the page asked for
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from quota_sidecar.server.app import Sidecar
from quota_sidecar.server.options import ServerOptions
from tests.support.sidecar import ADMIN_TOKEN

__all__ = ["CHROMEDRIVER", "CHROMIUM", "SidecarThread", "requested_urls", "start_browser"]

T = TypeVar("T")
CHROMIUM = os.environ.get("QUOTA_SIDECAR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("QUOTA_SIDECAR_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
INSTALL_HINT = (
    "the dashboard's browser tests need Debian's chromium and chromium-driver "
    "(apt-get install chromium chromium-driver; .ci/run installs them)"
)


class SidecarThread:
    """A started sidecar (admin token ADMIN_TOKEN) on an event loop of its own thread."""

    def __init__(self, redis_url: str, **options: Any) -> None:
        self.settings: dict[str, Any] = {
            "listen": "127.0.0.1:0",
            "redis_url": redis_url,
            "admin_token": ADMIN_TOKEN,
            "health_interval": 0.05,
            "config_interval": 0.05,
            "grace": 1.0,
            "alert_heartbeat": 1.0,
            **options,
        }
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sidecar", daemon=True)
        self._sidecar: Sidecar | None = None

    @property
    def sidecar(self) -> Sidecar:
        assert self._sidecar is not None, "not started"
        return self._sidecar

    @property
    def url(self) -> str:
        url = self.sidecar.dashboard_url
        assert url, "the dashboard is not served (no http_listen)"
        return url

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _start(self) -> Sidecar:
        sidecar = Sidecar(ServerOptions(**self.settings))
        await sidecar.start()
        return sidecar

    def __enter__(self) -> SidecarThread:
        self._thread.start()
        try:
            self._sidecar = self.run(self._start())
        except BaseException:
            self._stop_loop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._sidecar is not None:
                self.run(self._sidecar.stop())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


def start_browser(
    width: int = 1280, height: int = 900, *, accept_insecure_certs: bool = False
) -> Any:
    """Headless chromium with its network log on. Fails with an install hint when chromium or
    its driver is missing: a browser test is part of CI and is never skipped.
    accept_insecure_certs: take the test CA's certificates (the dashboard over TLS)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(path), f"{path} not found: {INSTALL_HINT}"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                     "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-default-apps",
                     f"--window-size={width},{height}", "--lang=en-US"):  # fmt: skip
        options.add_argument(argument)
    # The page's every request, read back by requested_urls().
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    options.accept_insecure_certs = accept_insecure_certs
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def requested_urls(browser: Any) -> list[str]:
    """Every URL the browser sent a request for since the last call (from its network log)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls
