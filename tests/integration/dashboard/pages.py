"""What the browser tests do on the page: log in, wait for the live stream, read the chart."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

__all__ = ["log_in", "wait_live"]


def log_in(browser: Any, url: str, token: str) -> None:
    browser.get(url + "login")
    field = browser.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token)
    browser.find_element(By.ID, "login").click()
    WebDriverWait(browser, 10).until(
        lambda b: (
            b.execute_script("return document.readyState") == "complete"
            and b.find_elements(By.CSS_SELECTOR, "#login-error, main .page-head")
        )
    )


def wait_live(browser: Any, timeout: float = 10.0) -> None:
    """Until the page's alert stream is open."""
    WebDriverWait(browser, timeout).until(
        lambda b: b.find_element(By.ID, "live-state").get_attribute("data-state") == "live"
    )
