"""The pages in a real browser: headless Chromium from Debian's packages, driven by Selenium
(tests/web/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By

from tests.nodes import Node
from tests.web.browser import (  # noqa: F401 (fixtures)
    browser_fixture,
    chromium_installed_fixture,
    visible,
    webdriver,
)
from tests.web.conftest import add_votes


@pytest.fixture(scope="module")
def chapter_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node.init(tmp_path_factory.mktemp("browser"))
    result = node.cli("chapter", "create", "dublin", "--name", "IOPS Dublin", "--level",
                      "local", "--location", "Dublin, Ireland")
    assert result.returncode == 0, result.stderr
    node.start()
    yield node
    node.stop()


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
