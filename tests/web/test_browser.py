"""The pages in a real browser: headless Chromium from Debian's packages, driven by Selenium.

Selenium is pointed at Debian's chromium and chromedriver, so Selenium Manager never runs
and nothing is downloaded. `.ci/run` installs both packages when they are missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nodes import Node
from tests.web.conftest import add_votes

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARGUMENTS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run")


@pytest.fixture(scope="module", autouse=True)
def _chromium_installed() -> None:
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    message = "needs Debian's chromium and chromium-driver (apt-get install; .ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI installs them: a skip there would hide a broken install
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (*ARGUMENTS, f"--user-data-dir={profile}"):
        options.add_argument(argument)
    # The console, for the Content-Security-Policy check: Chromium reports there what the
    # policy blocked.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def chapter_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node.init(tmp_path_factory.mktemp("browser"))
    result = node.cli("chapter", "create", "dublin", "--name", "IOPS Dublin", "--level",
                      "local", "--location", "Dublin, Ireland")
    assert result.returncode == 0, result.stderr
    node.start()
    yield node
    node.stop()


def visible(driver: webdriver.Chrome, url: str) -> str:
    driver.get(url)
    return str(driver.find_element(By.TAG_NAME, "body").text)


def test_chapter_and_event_pages_in_a_browser(
    browser: webdriver.Chrome, chapter_node: Node
) -> None:
    node = chapter_node
    text = visible(browser, f"{node.base}/@dublin")
    assert browser.title.startswith("IOPS Dublin")
    assert "IOPS Dublin" in text and "Dublin, Ireland" in text
    assert "No events found." in text
    assert "No polls yet." in text

    event = node.cli("post", "event", "--chapter", "dublin", "--title", "Autumn bookfair",
                     "--start", "2030-09-12T14:00", "--end", "2030-09-12T17:30",
                     "--timezone", "Europe/Dublin", "--place-name", "Teachers' Club",
                     "--address", "36 Parnell Square", "--summary", "Books and tea.")
    assert event.returncode == 0, event.stderr
    poll = node.cli("post", "poll", "--chapter", "dublin", "--question", "Meet on Tuesdays?",
                    "--option", "Yes", "--option", "No",
                    "--closes", "2030-12-01T18:00+00:00")
    assert poll.returncode == 0, poll.stderr
    add_votes(node, poll.stdout.strip(), ["Yes", "Yes", "Yes", "No"])

    text = visible(browser, f"{node.base}/@dublin")
    assert "No events found." not in text
    assert "Autumn bookfair" in text
    assert "Thursday 12 September 2030, 14:00 – 17:30 (Europe/Dublin)" in text
    assert "Teachers' Club, 36 Parnell Square" in text
    assert "Meet on Tuesdays?" in text
    assert "3 votes (75%)" in text and "1 vote (25%)" in text
    assert "Total: 4" in text and "Total number of voters: 4" in text
    assert "Closes on 1 December 2030, 18:00 UTC" in text

    browser.find_element(By.LINK_TEXT, "Autumn bookfair").click()
    assert browser.current_url == event.stdout.strip()
    assert browser.title.startswith("Autumn bookfair")
    text = str(browser.find_element(By.TAG_NAME, "body").text)
    assert "Autumn bookfair" in text and "by IOPS Dublin" in text
    assert "Thursday 12 September 2030, 14:00 – 17:30 (Europe/Dublin)" in text
    assert "Teachers' Club, 36 Parnell Square" in text
    assert "Books and tea." in text
    link = browser.find_element(By.PARTIAL_LINK_TEXT, "Add to my calendar")
    assert link.get_attribute("href") == f"{event.stdout.strip()}.ics"


def policy_violations(driver: webdriver.Chrome) -> list[str]:
    """What Chromium's console said the Content-Security-Policy blocked since last asked."""
    return [str(entry["message"]) for entry in driver.get_log("browser")
            if "Content Security Policy" in str(entry["message"])]


def test_pages_break_no_rule_of_their_content_security_policy(
    browser: webdriver.Chrome, chapter_node: Node
) -> None:
    node = chapter_node
    policy_violations(browser)  # what earlier tests left in the log
    for path in ("/", "/@dublin", "/@dublin/members", "/nowhere"):
        browser.get(f"{node.base}{path}")
        assert browser.find_element(By.TAG_NAME, "body").text, path
        # The stylesheet is allowed and applied: the page is on the paper colour, not white.
        body = browser.find_element(By.TAG_NAME, "body")
        assert body.value_of_css_property("background-color") == "rgba(251, 250, 247, 1)", path
        assert policy_violations(browser) == [], path

    # The same console does report a violation: a script element put into the page, as an
    # injection would, is refused.
    browser.get(f"{node.base}/@dublin")
    browser.execute_script(
        "const s = document.createElement('script');"
        "s.textContent = 'document.title = \"injected\"';"
        "document.head.appendChild(s);")
    assert browser.title != "injected"
    assert any("script-src 'self'" in message for message in policy_violations(browser))
