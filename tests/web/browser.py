"""Headless Chromium from Debian's packages, driven by Selenium: the fixtures every browser
test module imports (one browser per module).

Selenium is pointed at Debian's chromium and chromedriver, so Selenium Manager never runs
and nothing is downloaded. `.ci/run` installs both packages when they are missing.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("selenium.webdriver")
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARGUMENTS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run")


# Imported by the browser test modules under these names (not the fixtures' own, so that
# a test's `browser` argument shadows no import).
@pytest.fixture(scope="module", autouse=True, name="chromium_installed")
def chromium_installed_fixture() -> None:
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    message = "needs Debian's chromium and chromium-driver (apt-get install; .ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI installs them: a skip there would hide a broken install
    pytest.skip(message)


def chrome(profile: Path, width: int = 1280, height: int = 1000) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (*ARGUMENTS, f"--user-data-dir={profile}",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    # The console, for the Content-Security-Policy check: Chromium reports there what the
    # policy blocked.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="module", name="browser")
def browser_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    driver = chrome(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def click_through(driver: webdriver.Chrome, element: Any) -> None:
    """Click a link or a form's button and wait until the browser shows the next page."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    # While the old page goes, Chromium may answer for its elements with an inspector
    # error instead of "stale": asked again, it says stale.
    WebDriverWait(driver, 20, ignored_exceptions=(WebDriverException,)).until(
        staleness_of(page))


def visible(driver: webdriver.Chrome, url: str) -> str:
    driver.get(url)
    return str(driver.find_element(By.TAG_NAME, "body").text)


# --- axe-core, from tests/web/axe (npm, locked; `make test` installs it), put into a page
# through WebDriver, which the page's Content-Security-Policy does not govern.

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")

RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']})
  .then(results => done(JSON.stringify(results.violations)))
  .catch(error => done(JSON.stringify({error: String(error)})));
"""
# Fields a person fills in, and whether each has a label (a <label for>, one around it, or
# an aria-label).
UNLABELLED = """
return Array.from(document.querySelectorAll('input, textarea, select'))
  .filter(el => !['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type))
  .filter(el => el.labels.length === 0 && !(el.getAttribute('aria-label') || '').trim())
  .map(el => el.outerHTML);
"""


@pytest.fixture(scope="module", name="axe_source")
def axe_source_fixture() -> str:
    assert AXE.is_file(), "run `npm ci --prefix tests/web/axe` (`make test` does this)"
    return AXE.read_text("utf-8")


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']}: {violation['id']} - {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"    {node['target']}: {node['html'][:160]}")
    return "\n".join(lines)


def check_page(driver: webdriver.Chrome, axe_source: str, what: str) -> None:
    """axe-core's verdict on the page the browser shows, and its fields' labels."""
    assert driver.find_element(By.TAG_NAME, "h1").text, f"{what}: no heading"
    driver.execute_script(axe_source)
    outcome = json.loads(driver.execute_async_script(RUN_AXE))
    assert isinstance(outcome, list), f"{what}: axe-core failed: {outcome}"
    serious = [v for v in outcome if v["impact"] in SERIOUS]
    assert not serious, f"{what} ({driver.current_url}):\n{describe(serious)}"
    unlabelled = driver.execute_script(UNLABELLED)
    assert not unlabelled, f"{what}: fields without a label: {unlabelled}"
