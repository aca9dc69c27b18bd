"""In a real browser (headless Chromium, tests/web/browser.py): a visitor switches the site
to Esperanto, the choice holds from page to page, they join a chapter in Esperanto, and
their account remembers it: logged out, in a browser that never saw the site (a fresh
profile, no cookie), logging in brings the pages back in Esperanto.

Words are the catalogue's (`web.i18n.language("eo")`), dates CLDR's, so that the test says
which word is not translated yet instead of passing on English.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By

from tests.nodes import Node
from tests.web.browser import (  # noqa: F401 (fixtures)
    browser_fixture,
    chrome,
    chromium_installed_fixture,
    click_through,
    webdriver,
)
from web import i18n

PASSWORD = "a long walk home"
EVENT_START = datetime(2030, 9, 12, 14, 0, tzinfo=ZoneInfo("Europe/Dublin"))


@pytest.fixture(scope="module")
def open_chapter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """dublin, open to anyone who joins (no organiser to wait for), with an event."""
    node = Node.init(tmp_path_factory.mktemp("language-browser"))
    for args in (
        ("chapter", "create", "dublin", "--name", "IOPS Dublin", "--level", "local",
         "--location", "Dublin, Ireland", "--founded", "2012-11-20",
         "--summary", "Organising and bookfairs in Dublin."),
        ("chapter", "set", "dublin", "--joins", "open"),
        ("post", "event", "--chapter", "dublin", "--title", "Autumn bookfair",
         "--start", "2030-09-12T14:00", "--end", "2030-09-12T17:30",
         "--timezone", "Europe/Dublin", "--place-name", "Teachers' Club"),
    ):
        result = node.cli(*args)
        assert result.returncode == 0, (args, result.stderr)
    node.start()
    yield node
    node.stop()


def eo_word(text: str, **params: object) -> str:
    worded = i18n.language("eo").gettext(text)
    assert worded != text, f"{text!r} has no Esperanto translation yet (the catalogue's)"
    return worded % params if params else worded


def language_of(driver: webdriver.Chrome) -> str:
    return str(driver.find_element(By.TAG_NAME, "html").get_attribute("lang"))


def body_text(driver: webdriver.Chrome) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").text)


def assert_in_esperanto(driver: webdriver.Chrome, where: str) -> None:
    assert language_of(driver) == "eo", f"{where}: <html lang={language_of(driver)!r}>"
    sections = driver.find_element(By.CSS_SELECTOR, "nav.sections").text
    assert eo_word("Chapters") in sections and eo_word("Events") in sections, where
    assert "Chapters" not in sections, f"{where}: the navigation is in English"


def type_into(driver: webdriver.Chrome, values: dict[str, str]) -> None:
    for field_id, value in values.items():
        element = driver.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)


def submit(driver: webdriver.Chrome, form: str) -> None:
    click_through(driver, driver.find_element(By.CSS_SELECTOR, f"{form} button[type=submit]"))


def account_language(node: Node, handle: str) -> str | None:
    [(language,)] = node.sql("SELECT a.language FROM accounts a JOIN actors m"
                             " ON m.id = a.member_id WHERE m.handle = ?", handle)
    return None if language is None else str(language)


def test_a_visitor_switches_to_esperanto_joins_and_their_account_remembers_it(
    browser: webdriver.Chrome, open_chapter: Node, tmp_path_factory: pytest.TempPathFactory
) -> None:
    node = open_chapter
    browser.get(f"{node.base}/")
    # Chromium asks for English (its Accept-Language): the site starts in English.
    assert language_of(browser) == "en"
    click_through(browser, browser.find_element(By.CSS_SELECTOR,
                                                "nav.languages a[hreflang=eo]"))
    assert browser.current_url == f"{node.base}/"
    assert_in_esperanto(browser, "the home page")
    # The switcher now marks Esperanto and offers English.
    assert browser.find_element(By.CSS_SELECTOR, "nav.languages [aria-current]").text \
        == "Esperanto"

    # The choice holds across pages, followed by their links and typed in alike.
    with i18n.speaking("eo"):
        eo_day = i18n.day(EVENT_START)
    click_through(browser, browser.find_element(By.CSS_SELECTOR,
                                                "nav.sections a[href='/chapters']"))
    assert_in_esperanto(browser, "/chapters")
    assert eo_word("Local chapter") in body_text(browser)
    browser.get(f"{node.base}/events")
    assert_in_esperanto(browser, "/events")
    assert eo_day in body_text(browser), eo_day
    browser.get(f"{node.base}/@dublin")
    assert_in_esperanto(browser, "the chapter page")
    assert eo_day in body_text(browser)

    # Joining, in Esperanto, as the web walk does it: find the chapter, fill in the form.
    click_through(browser, browser.find_element(By.CSS_SELECTOR, "a.join"))
    assert_in_esperanto(browser, "/join")
    type_into(browser, {"q": "dublin"})
    submit(browser, "main form.search")
    click_through(browser, browser.find_element(By.LINK_TEXT, "IOPS Dublin"))
    assert browser.current_url == f"{node.base}/join/dublin"
    assert_in_esperanto(browser, "the join form")
    type_into(browser, {"name": "Nuala Ní Bhriain", "username": "nuala",
                        "password": PASSWORD})
    browser.find_element(By.CSS_SELECTOR, "label[for=agree]").click()
    submit(browser, "form.join")
    # dublin is open: the account opens at once, logged in, on the Welcome.
    assert browser.current_url.startswith(f"{node.base}/welcome")
    assert_in_esperanto(browser, "the Welcome")
    assert eo_word("Welcome, %(name)s!", name="Nuala Ní Bhriain") in body_text(browser)
    assert account_language(node, "nuala") == "eo"

    submit(browser, "form.logout")
    assert not browser.find_elements(By.CSS_SELECTOR, "a.me")

    # Another browser, that never saw the site: English, until Nuala logs in.
    profile = tmp_path_factory.mktemp("language-browser-fresh")
    fresh = chrome(profile)
    try:
        fresh.get(f"{node.base}/login")
        assert language_of(fresh) == "en"
        assert i18n.COOKIE not in {cookie["name"] for cookie in fresh.get_cookies()}
        type_into(fresh, {"username": "nuala", "password": PASSWORD})
        submit(fresh, "form.account")
        assert fresh.find_element(By.CSS_SELECTOR, "a.me").text == "Nuala Ní Bhriain"
        assert_in_esperanto(fresh, "the first page after logging in")
        for path in ("/", "/events", "/@dublin", "/chapters"):
            fresh.get(f"{node.base}{path}")
            assert_in_esperanto(fresh, f"{path}, logged in")
        # Her switcher is a form that changes the account: back to English, kept there.
        click_through(fresh, fresh.find_element(
            By.CSS_SELECTOR, "nav.languages button[value=en]"))
        assert language_of(fresh) == "en"
        assert account_language(node, "nuala") == "en"
    finally:
        fresh.quit()
        shutil.rmtree(profile, ignore_errors=True)
