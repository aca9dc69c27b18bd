"""An organiser's work on the web and a visitor's way around, in headless Chromium across
two real nodes: issue 11's browser test.

Node 1 holds dublin (a local chapter in "Dublin, Ireland") with 60 news items and Ana, its
organiser; node 2 holds ireland (a national chapter) and Siobhán, its organiser. Only the
nodes, the chapters, the two organisers' accounts and the news are made with the CLI;
everything else is clicks and typing in Chromium. Ana sets dublin's founded date, asks
ireland to take dublin in (Siobhán accepts on node 2's web), posts minutes that reach
ireland's page, approves a visitor's request to join, and posts an event and a poll. A
visitor then finds dublin in node 2's /chapters by its place, finds the minutes with node
2's search, and pages back through dublin's 60 news items on node 1.

Ana and the others have a browser each: cookies ignore the port, so one browser on both
nodes (both 127.0.0.1) would send one node's session cookie to the other, which clears
it as stale.

The tests run in order and build on each other, like tests/test_web_walk.py.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from outbox import activities
from tests.nodes import Node, wait_for
from tests.test_web_walk import follow, log_in, log_out, main_text, submit, type_into
from tests.web.browser import (  # noqa: F401 (fixtures)
    axe_source_fixture,
    chrome,
    chromium_installed_fixture,
    click_through,
    webdriver,
)

PASSWORD = "correct horse battery"
VISITOR_PASSWORD = "a long walk home"
SHOTS = Path("/tmp/shots")
FEDERATION_WAIT = 20  # seconds a delivery between the two nodes may take
NEWS = 60
PAGE = 20  # items on an archive page
FOUNDED = "1 May 2013"
ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class Org:
    one: Node  # dublin's node
    two: Node  # ireland's node
    news: list[str] = field(default_factory=list)  # dublin's news titles, oldest first
    minutes: str = ""  # the URL of the minutes Ana posts

    @property
    def ireland(self) -> str:
        return f"@ireland@{self.two.domain}"


def post_news(node: Node, count: int, body: Path) -> list[str]:
    """`chapterhouse post news` `count` times, dated a day apart, the newest yesterday, as a
    chapter's news comes over weeks: ActivityPub's `published` is whole seconds, so 60
    items posted within two seconds would tie, and an archive shows items of one second in
    no particular order. (The suite runs commands in its own process, tests/conftest.py,
    so the clock set here is the command's.)"""
    titles = []
    today = datetime.now(UTC).replace(microsecond=0)
    with pytest.MonkeyPatch.context() as patch:
        for number in range(1, count + 1):
            title = f"Bulletin number {number:02d}"
            day = today - timedelta(days=count + 1 - number)
            patch.setattr(activities, "now_iso", lambda day=day: day.strftime(ISO))
            iri = node.run("post", "news", "--chapter", "dublin", "--title", title,
                           "--body-file", str(body))
            assert iri.startswith(node.base), iri
            titles.append(title)
    return titles


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    root = tmp_path_factory.mktemp("organiser")
    password_file = root / "password"
    password_file.write_text(PASSWORD + "\n")
    body = root / "news.md"
    body.write_text("What the chapter did this week.\n")
    one = Node.init(root, "one", display_name="Chapterhouse Dublin").federating()
    two = Node.init(root, "two", display_name="Chapterhouse Ireland").federating()
    one.run("chapter", "create", "dublin", "--name", "IOPS Dublin", "--level", "local",
            "--location", "Dublin, Ireland", "--summary", "Organising and bookfairs in Dublin.")
    one.run("account", "create", "ana", "--chapter", "dublin", "--name", "Ana Byrne",
            "--password-file", str(password_file))
    one.run("chapter", "organisers", "add", "dublin", "ana")
    two.run("chapter", "create", "ireland", "--name", "IOPS Ireland", "--level", "national",
            "--location", "Ireland")
    two.run("account", "create", "siobhan", "--chapter", "ireland",
            "--name", "Siobhán Ní Bhriain", "--password-file", str(password_file))
    two.run("chapter", "organisers", "add", "ireland", "siobhan")
    org = Org(one, two, news=post_news(one, NEWS, body))
    for node in (one, two):
        node.start()
    try:
        yield org
    finally:
        for node in (one, two):
            if node.running():
                node.stop()


def _browser(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[webdriver.Chrome]:
    profile = tmp_path_factory.mktemp(name)
    driver = chrome(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def ana(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """Ana's browser, on node 1 only."""
    yield from _browser(tmp_path_factory, "ana-chromium")


@pytest.fixture(scope="module")
def others(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """The browser Siobhán (on node 2) and the visitors use in turn, its cookies cleared
    between them."""
    yield from _browser(tmp_path_factory, "others-chromium")


# --- The browser, as a person uses it.

def shoot(driver: webdriver.Chrome, name: str) -> None:
    """The page at a phone's width and a desktop's, for a person to look at."""
    SHOTS.mkdir(exist_ok=True)
    for width in (390, 1280):
        driver.set_window_size(width, 1000)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(int(height) + 100, 4000))
        driver.save_screenshot(str(SHOTS / f"organiser-{name}-{width}.png"))
    driver.set_window_size(1280, 1000)


def fill_date(driver: webdriver.Chrome, field_id: str, typed: str, value: str) -> None:
    """Type into a date or datetime-local field as a person does, in the order the
    browser's locale (en-US) shows it, e.g. "05012013" for 2013-05-01; `value` is what
    the field must then hold, so that a different locale fails here, not later."""
    element = driver.find_element(By.ID, field_id)
    element.clear()
    element.send_keys(typed)  # a tab moves from the date to the time
    assert element.get_attribute("value") == value, (field_id, element.get_attribute("value"))


def press(driver: webdriver.Chrome, text: str) -> None:
    """Click the button whose text is `text` and wait for the next page."""
    click_through(driver, driver.find_element(
        By.XPATH, f"//button[normalize-space(.)={xpath_string(text)}]"))


def xpath_string(text: str) -> str:
    return f'"{text}"' if '"' not in text else f"'{text}'"


def link_to(driver: webdriver.Chrome, href_part: str) -> None:
    """Follow the first link in the page's main part whose address contains href_part."""
    follow(driver, f"main a[href*='{href_part}']", By.CSS_SELECTOR)


def workspace(driver: webdriver.Chrome, org: Org) -> None:
    """From dublin's page, as Ana gets there: its "Manage this chapter" link."""
    driver.get(f"{org.one.base}/@dublin")
    link_to(driver, "/@dublin/manage")
    assert driver.current_url == f"{org.one.base}/@dublin/manage"


def fact(driver: webdriver.Chrome, term: str) -> str:
    """What the chapter page's facts say for `term` ("Founded", "Part of")."""
    return str(driver.find_element(
        By.XPATH, f"//main//dt[normalize-space(.)={xpath_string(term)}]"
                  "/following-sibling::dd[1]").text)


def fresh(driver: webdriver.Chrome) -> None:
    """A visitor's browser: no session, no cookie of anyone before."""
    driver.delete_all_cookies()


# --- The organiser's work.

def test_ana_sets_dublin_s_founded_date(org: Org, ana: webdriver.Chrome) -> None:
    log_in(ana, org.one, "ana", PASSWORD)
    workspace(ana, org)
    shoot(ana, "workspace")
    link_to(ana, "/@dublin/settings")
    fill_date(ana, "founded", "05012013", "2013-05-01")
    submit(ana, "form.chapter-settings")
    assert not ana.find_elements(By.CSS_SELECTOR, "main .error"), main_text(ana)
    ana.get(f"{org.one.base}/@dublin")
    assert fact(ana, "Founded") == FOUNDED


def test_ana_asks_ireland_on_node_2_to_take_dublin_in(org: Org, ana: webdriver.Chrome) -> None:
    workspace(ana, org)
    link_to(ana, "/@dublin/parent")
    type_into(ana, {"parent": org.ireland})
    submit(ana, "form.parent")
    assert "IOPS Dublin asked to join IOPS Ireland" in main_text(ana)


def test_siobhan_accepts_dublin_on_node_2(org: Org, ana: webdriver.Chrome,
                                          others: webdriver.Chrome) -> None:
    log_in(others, org.two, "siobhan", PASSWORD)
    others.get(f"{org.two.base}/@ireland")
    link_to(others, "/@ireland/manage")
    link_to(others, "/@ireland/subchapters")

    def asking() -> bool:
        others.refresh()
        return "IOPS Dublin" in others.find_element(By.CSS_SELECTOR, "section.asking").text
    wait_for(asking, timeout=FEDERATION_WAIT, what="dublin's request on ireland's workspace")
    press(others, "Accept IOPS Dublin")
    assert "IOPS Dublin" in others.find_element(By.CSS_SELECTOR, "section.accepted").text

    def part_of_ireland() -> bool:
        ana.get(f"{org.one.base}/@dublin")
        return bool(ana.find_elements(By.XPATH, "//main//dt[normalize-space(.)='Part of']")) \
            and fact(ana, "Part of").startswith("IOPS Ireland")
    wait_for(part_of_ireland, timeout=FEDERATION_WAIT, what="dublin to know its parent")


def test_ana_posts_minutes_that_reach_ireland(org: Org, ana: webdriver.Chrome,
                                              others: webdriver.Chrome) -> None:
    workspace(ana, org)
    link_to(ana, "kind=minutes")
    shoot(ana, "publish-minutes")
    type_into(ana, {"title": "Minutes of the November meeting",
                    "body": "We agreed to start a community **allotment** in Cabra."})
    fill_date(ana, "meeting_date", "11242026", "2026-11-24")
    submit(ana, "form.publish")
    shoot(ana, "published-minutes")
    text = main_text(ana)
    assert "Minutes of the November meeting" in ana.find_element(By.TAG_NAME, "h1").text
    match = re.search(r"Its address: (\S+)", text)
    assert match, text
    org.minutes = match[1]
    assert org.minutes == ana.current_url.split("?")[0]

    def on_ireland_s_page() -> str:
        others.get(f"{org.two.base}/@ireland")
        section = others.find_element(By.CSS_SELECTOR, "section.our-minutes").text
        return section if "Minutes of the November meeting" in section else ""
    section = wait_for(on_ireland_s_page, timeout=FEDERATION_WAIT,
                       what="the minutes on ireland's page")
    assert "IOPS Dublin" in section and "meeting of 24 November 2026" in section, section
    log_out(others)


def test_ana_approves_a_visitor_s_request_to_join(org: Org, ana: webdriver.Chrome,
                                                  others: webdriver.Chrome) -> None:
    fresh(others)
    others.get(f"{org.one.base}/@dublin")
    follow(others, "main a.join", By.CSS_SELECTOR)
    assert others.current_url == f"{org.one.base}/join/dublin"
    type_into(others, {"name": "Nuala Ní Bhriain", "username": "nuala",
                       "password": VISITOR_PASSWORD,
                       "message": "I grow potatoes and would like to help."})
    others.find_element(By.CSS_SELECTOR, "label[for=agree]").click()
    submit(others, "form.join")
    assert "Your request waits for an organiser" in main_text(others)

    workspace(ana, org)
    shoot(ana, "workspace-waiting")
    waiting = ana.find_element(By.XPATH, "//main//li[a[@href='/@dublin/requests']]").text
    assert re.search(r"Requests to join\s+1 waiting", waiting), waiting
    link_to(ana, "/@dublin/requests")
    assert "I grow potatoes" in main_text(ana)
    press(ana, "Approve nuala")
    assert "No requests are waiting." in main_text(ana)
    ana.get(f"{org.one.base}/@dublin")
    assert "Nuala Ní Bhriain" in main_text(ana)  # among the members


def test_ana_posts_an_event_and_a_poll(org: Org, ana: webdriver.Chrome) -> None:
    workspace(ana, org)
    link_to(ana, "kind=event")
    shoot(ana, "publish-event")
    type_into(ana, {"title": "Seed swap at the allotment", "place_name": "Cabra Library",
                    "capacity": "40"})
    fill_date(ana, "starts_at", "03142030\t1100AM", "2030-03-14T11:00")
    fill_date(ana, "ends_at", "03142030\t0100PM", "2030-03-14T13:00")
    type_into(ana, {"timezone": "Europe/Dublin"})
    ana.find_element(By.CSS_SELECTOR, "label[for=upward]").click()  # to ireland too
    submit(ana, "form.publish")
    assert "Seed swap at the allotment" in ana.find_element(By.TAG_NAME, "h1").text
    assert "Published." in main_text(ana)
    assert ana.find_element(By.CSS_SELECTOR, "main dd.when").text == \
        "Thursday 14 March 2030, 11:00 – 13:00 (Europe/Dublin)"
    assert ana.find_element(By.CSS_SELECTOR, "main dd.where").text == "Cabra Library"
    assert ana.find_element(By.CSS_SELECTOR, "main dd.capacity").text == "40 places · 40 left"

    workspace(ana, org)
    link_to(ana, "kind=poll")
    type_into(ana, {"title": "Which day suits the allotment work?",
                    "options": "Saturday\nSunday\n", "timezone": "Europe/Dublin"})
    fill_date(ana, "closes_at", "12012030\t0600PM", "2030-12-01T18:00")
    submit(ana, "form.publish")
    assert "Which day suits the allotment work?" in ana.find_element(By.TAG_NAME, "h1").text
    poll = ana.find_element(By.CSS_SELECTOR, "main .poll").text
    assert "Saturday" in poll and "Sunday" in poll, poll

    ana.get(f"{org.one.base}/@dublin")
    text = main_text(ana)
    for title in ("Seed swap at the allotment", "Which day suits the allotment work?"):
        assert title in text, f"{title!r} is not on dublin's page"


def test_ana_sees_her_chapter_s_work_on_ireland_s_page(org: Org, ana: webdriver.Chrome) -> None:
    """Last of Ana's steps: her browser's node-1 session cookie goes to node 2 too (cookies
    ignore the port), and node 2 clears it as one it does not know."""
    ana.get(f"{org.one.base}/@dublin")
    follow(ana, "IOPS Ireland")  # "Part of"
    assert ana.current_url.startswith(org.two.base)
    assert ana.find_element(By.TAG_NAME, "h1").text == "IOPS Ireland"
    minutes = ana.find_element(By.CSS_SELECTOR, "section.our-minutes").text
    assert "Minutes of the November meeting" in minutes and "IOPS Dublin" in minutes


# --- The visitor's way around.

def test_a_visitor_finds_dublin_by_its_place_on_node_2(org: Org,
                                                       others: webdriver.Chrome) -> None:
    fresh(others)
    others.get(f"{org.two.base}/")
    follow(others, "Chapters")
    assert others.current_url == f"{org.two.base}/chapters"
    type_into(others, {"filter-place": "Dublin"})
    submit(others, "form.filter")
    shoot(others, "chapters")
    text = main_text(others)
    assert "1 chapter matches." in text
    dublin = others.find_element(By.XPATH, "//main//li[.//a[normalize-space(.)='IOPS Dublin']]")
    assert "Dublin, Ireland" in dublin.text and f"founded {FOUNDED}" in dublin.text
    # dublin under ireland, the chapter above it, named for the path.
    assert others.find_elements(
        By.XPATH, "//main//li[.//a[normalize-space(.)='IOPS Ireland']]//li//a"
                  "[normalize-space(.)='IOPS Dublin']")
    link = others.find_element(By.LINK_TEXT, "IOPS Dublin")
    assert str(link.get_attribute("href")).startswith(org.one.base)  # its home node


def test_the_visitor_finds_dublin_s_event_among_node_2_s_events(
    org: Org, others: webdriver.Chrome
) -> None:
    others.get(f"{org.two.base}/")
    follow(others, "Events")

    def listed() -> str:
        others.refresh()
        found = others.find_elements(
            By.XPATH, "//main//li[a[normalize-space(.)='Seed swap at the allotment']]")
        return str(found[0].text) if found else ""
    event = wait_for(listed, timeout=FEDERATION_WAIT, what="dublin's event on node 2")
    assert "IOPS Dublin" in event and "Cabra Library" in event, event
    assert "Thursday 14 March 2030, 11:00 – 13:00 (Europe/Dublin)" in event, event


def test_a_visitor_finds_the_minutes_by_a_word_in_them(org: Org,
                                                       others: webdriver.Chrome) -> None:
    others.get(f"{org.two.base}/")
    type_into(others, {"site-search-q": "allotment"})
    submit(others, "form.search")
    shoot(others, "search")
    results = others.find_element(By.TAG_NAME, "main")
    assert "Minutes of the November meeting" in results.text
    marks = [m.text.lower() for m in results.find_elements(By.TAG_NAME, "mark")]
    assert "allotment" in marks, marks
    follow(others, "Minutes of the November meeting", By.PARTIAL_LINK_TEXT)
    assert "allotment" in main_text(others)


def archive_titles(driver: webdriver.Chrome) -> list[str]:
    return re.findall(r"Bulletin number \d\d", main_text(driver))


def test_a_visitor_pages_back_through_dublin_s_news(org: Org, others: webdriver.Chrome) -> None:
    others.get(f"{org.one.base}/@dublin")
    link_to(others, "/@dublin/news")
    newest_first = org.news[::-1]
    for page in range(NEWS // PAGE):
        assert archive_titles(others) == newest_first[page * PAGE:(page + 1) * PAGE], page
        older = others.find_elements(By.CSS_SELECTOR, "main a[rel~=next]")
        if page < NEWS // PAGE - 1:
            assert older and older[0].text.startswith("Older"), page
            click_through(others, older[0])
    shoot(others, "news-archive-oldest")
    assert not others.find_elements(By.CSS_SELECTOR, "main a[rel~=next]")
    assert archive_titles(others)[-1] == "Bulletin number 01"
    # And forward again, by the Newer link.
    follow(others, "main a[rel~=prev]", By.CSS_SELECTOR)
    assert archive_titles(others) == newest_first[PAGE:2 * PAGE]
