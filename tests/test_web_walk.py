"""A person's whole way in, in a real browser across two real nodes.

Node A holds dublin (a local chapter), node B holds ireland (the national chapter dublin is
affiliated to); B's poll, event and news reach dublin. In headless Chromium, with clicks and
typing only: a visitor finds dublin on A and asks to join, its organiser approves, the new
member logs in, votes in B's poll, goes to B's event, replies to B's news and writes a blog
post. B, asked over HTTP, counts the vote and the participant, shows the reply, and its
member who follows the new member has the blog post.

The tests run in order and build on each other, like tests/hierarchy/test_hierarchy.py.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.hierarchy.test_hierarchy import affiliate
from tests.nodes import Node, wait_for
from tests.web.browser import (  # noqa: F401 (fixtures)
    axe_source_fixture,
    check_page,
    chrome,
    chromium_installed_fixture,
    click_through,
    webdriver,
)

HTML = "text/html"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "a long walk home"
SHOTS = Path("/tmp/shots")
FEDERATION_WAIT = 20  # seconds a delivery between the two nodes may take


@dataclass
class Walk:
    a: Node  # dublin, the visitor's node
    b: Node  # ireland, the parent chapter's node
    items: dict[str, str] = field(default_factory=dict)  # B's poll, event, news: their IRIs
    remote_ids: dict[str, int] = field(default_factory=dict)  # the same, as A's /remote/ ids
    blog: str = ""  # the IRI of the new member's blog post


def _ok(node: Node, *args: str, stdin: str = "") -> str:
    result = node.cli(*args, stdin=stdin)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout.strip()


def received(node: Node, iri: str, what: str) -> int:
    """The node's id of a remote object, once it has arrived."""
    def stored() -> list[tuple[object, ...]]:
        return node.sql("SELECT id FROM remote_objects WHERE iri = ?", iri)
    return int(str(wait_for(stored, timeout=FEDERATION_WAIT, what=what)[0][0]))


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    root = tmp_path_factory.mktemp("walk")
    password_file = root / "password"
    password_file.write_text(PASSWORD + "\n")
    a = Node.init(root, "a", display_name="Chapterhouse Dublin").federating()
    b = Node.init(root, "b", display_name="Chapterhouse Ireland").federating()
    _ok(a, "chapter", "create", "dublin", "--name", "IOPS Dublin", "--level", "local",
        "--location", "Dublin, Ireland", "--summary", "Organising and bookfairs in Dublin.")
    _ok(a, "account", "create", "orla", "--chapter", "dublin", "--name", "Orla Keane",
        "--password-file", str(password_file))
    _ok(a, "chapter", "organisers", "add", "dublin", "orla")
    _ok(b, "chapter", "create", "ireland", "--name", "IOPS Ireland", "--level", "national",
        "--location", "Ireland")
    _ok(b, "member", "add", "brid", "--chapter", "ireland", "--name", "Bríd Ní Mháille")
    for node in (a, b):
        node.start()
    try:
        affiliate(a, "dublin", b, "ireland", accept=True)
        walk = Walk(a, b)
        walk.items["poll"] = _ok(b, "post", "poll", "--chapter", "ireland", "--question",
                                 "Hold the national assembly in Athlone?", "--option", "Yes",
                                 "--option", "No", "--closes", "2030-12-01T18:00+00:00")
        walk.items["event"] = _ok(b, "post", "event", "--chapter", "ireland", "--title",
                                  "National assembly", "--start", "2030-10-03T10:00",
                                  "--end", "2030-10-03T17:00", "--timezone", "Europe/Dublin",
                                  "--place-name", "Athlone Library", "--capacity", "100")
        walk.items["news"] = _ok(b, "post", "news", "--chapter", "ireland", "--title",
                                 "Agenda for the assembly", stdin="Motions are due by June.")
        for name, iri in walk.items.items():
            walk.remote_ids[name] = received(a, iri, f"B's {name} to reach dublin on A")
        yield walk
    finally:
        for node in (a, b):
            if node.process is not None and node.process.poll() is None:
                node.stop()


# --- The browser, as a person uses it.

def submit(driver: webdriver.Chrome, form: str) -> None:
    """Press the form's button and wait for the page the node answers with."""
    click_through(driver, driver.find_element(By.CSS_SELECTOR, f"{form} button[type=submit]"))


def type_into(driver: webdriver.Chrome, values: dict[str, str]) -> None:
    for field_id, value in values.items():
        element = driver.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)


def follow(driver: webdriver.Chrome, text: str, by: str = By.LINK_TEXT) -> None:
    """Click the link (by its whole text, or another locator) and wait for its page."""
    click_through(driver, driver.find_element(by, text))


def main_text(driver: webdriver.Chrome) -> str:
    return str(driver.find_element(By.TAG_NAME, "main").text)


def log_in(driver: webdriver.Chrome, node: Node, username: str, password: str) -> None:
    driver.get(f"{node.base}/")
    follow(driver, "a.login", By.CSS_SELECTOR)
    type_into(driver, {"username": username, "password": password})
    submit(driver, "form.account")
    assert driver.find_element(By.CSS_SELECTOR, "a.me").text


def log_out(driver: webdriver.Chrome) -> None:
    submit(driver, "form.logout")
    assert not driver.find_elements(By.CSS_SELECTOR, "a.me")


def shoot(driver: webdriver.Chrome, name: str) -> None:
    """The page at a phone's width and a desktop's, for a person to look at."""
    SHOTS.mkdir(exist_ok=True)
    for width in (390, 1280):
        driver.set_window_size(width, 1000)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(int(height) + 100, 4000))
        driver.save_screenshot(str(SHOTS / f"walk-{name}-{width}.png"))
    driver.set_window_size(1280, 1000)


@pytest.fixture(scope="module")
def person(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """One browser the visitor, the organiser and then the new member use in turn."""
    profile = tmp_path_factory.mktemp("walk-chromium")
    driver = chrome(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# --- The walk.

def test_a_visitor_finds_dublin_and_asks_to_join(walk: Walk, person: webdriver.Chrome) -> None:
    person.get(f"{walk.a.base}/")
    follow(person, "a.join", By.CSS_SELECTOR)
    type_into(person, {"q": "dublin"})
    submit(person, "main form.search")
    shoot(person, "join")
    follow(person, "IOPS Dublin")
    assert person.current_url == f"{walk.a.base}/join/dublin"
    type_into(person, {"name": "Nuala Ní Bhriain", "username": "nuala",
                       "password": NEW_PASSWORD,
                       "message": "I live in Phibsborough and came to the bookfair."})
    person.find_element(By.CSS_SELECTOR, "label[for=agree]").click()
    submit(person, "form.join")
    assert "Your request waits for an organiser" in main_text(person)
    assert walk.a.sql("SELECT username, state FROM join_requests") == [("nuala", "requested")]
    # Not a member yet: logging in does not work.
    person.get(f"{walk.a.base}/login")
    shoot(person, "login")
    type_into(person, {"username": "nuala", "password": NEW_PASSWORD})
    submit(person, "form.account")
    assert "Wrong username or password." in main_text(person)


def test_the_organiser_approves_the_request(walk: Walk, person: webdriver.Chrome) -> None:
    log_in(person, walk.a, "orla", PASSWORD)
    person.get(f"{walk.a.base}/@dublin/requests")
    text = main_text(person)
    assert "Nuala Ní Bhriain" in text and "I live in Phibsborough" in text
    click_through(person, person.find_element(
        By.XPATH, "//button[normalize-space(.)='Approve nuala']"))
    assert "No requests are waiting." in main_text(person)
    log_out(person)


def test_the_new_member_logs_in_and_finds_the_parent_chapter_s_items(
    walk: Walk, person: webdriver.Chrome, axe_source: str
) -> None:
    log_in(person, walk.a, "nuala", NEW_PASSWORD)
    assert person.current_url.startswith(f"{walk.a.base}/welcome")  # the first login's
    assert "Welcome, Nuala Ní Bhriain!" in main_text(person)
    shoot(person, "welcome")
    check_page(person, axe_source, "the Welcome")
    follow(person, "a.my-chapter", By.CSS_SELECTOR)
    assert person.current_url == f"{walk.a.base}/@dublin"
    shoot(person, "chapter")
    text = main_text(person)
    assert "Nuala Ní Bhriain" in text  # among the members
    for title in ("Hold the national assembly in Athlone?", "National assembly",
                  "Agenda for the assembly"):
        assert title in text, f"{title!r} is not on dublin's page"
    # ireland is dublin's parent ("Part of"), not one of the chapters below it, though its
    # items reached dublin.
    assert not person.find_elements(By.CSS_SELECTOR, "section.subchapters")
    check_page(person, axe_source, "the chapter page with its parent's items")
    person.get(f"{walk.a.base}/@nuala")
    shoot(person, "member")


def b_page(walk: Walk, name: str) -> str:
    response = walk.b.get(walk.items[name].removeprefix(walk.b.base), accept=HTML)
    assert response.status == 200
    return response.text


def eventually_on_b(walk: Walk, name: str, pattern: str) -> None:
    """B's page of its item comes to show `pattern` (a regular expression): federation is
    asynchronous, so B is asked again until it does, for a bounded time."""
    wait_for(lambda: re.search(pattern, b_page(walk, name)), timeout=FEDERATION_WAIT,
             what=f"B's {name} page to show {pattern!r}")


def test_the_member_votes_in_the_parent_chapter_s_poll(
    walk: Walk, person: webdriver.Chrome, axe_source: str
) -> None:
    person.get(f"{walk.a.base}/@dublin")
    follow(person, "Hold the national assembly in Athlone?")
    assert person.current_url == f"{walk.a.base}/remote/{walk.remote_ids['poll']}"
    shoot(person, "remote-poll")
    check_page(person, axe_source, "another node's poll")
    person.find_element(By.XPATH, "//form[@class='vote']//label[normalize-space(.)='Yes']"
                        ).click()
    submit(person, "form.vote")
    assert "You voted: Yes" in main_text(person)
    eventually_on_b(walk, "poll", r"Total number of voters: 1\b")
    page = b_page(walk, "poll")
    assert "1 vote (100%)" in page and "0 votes (0%)" in page  # Yes, and No


def test_the_member_goes_to_the_parent_chapter_s_event(
    walk: Walk, person: webdriver.Chrome, axe_source: str
) -> None:
    person.get(f"{walk.a.base}/@dublin")
    follow(person, "National assembly")
    assert person.current_url == f"{walk.a.base}/remote/{walk.remote_ids['event']}"
    check_page(person, axe_source, "another node's event")
    submit(person, "form.rsvp")
    # B's organiser (the node, for a chapter's event) accepts; until then the page says so.
    assert re.search("You asked to go|You are going", main_text(person))
    eventually_on_b(walk, "event", r'<dd class="participants">1</dd>')

    def going() -> bool:
        person.refresh()
        return "You are going" in main_text(person)
    wait_for(going, timeout=FEDERATION_WAIT, what="B's Accept to reach A")
    assert "99 places left" in main_text(person)


def test_the_member_replies_to_the_parent_chapter_s_news(
    walk: Walk, person: webdriver.Chrome, axe_source: str
) -> None:
    person.get(f"{walk.a.base}/@dublin")
    follow(person, "Agenda for the assembly")
    check_page(person, axe_source, "another node's news")
    type_into(person, {"reply-content": "Dublin will bring a motion on housing."})
    submit(person, "form.reply")
    eventually_on_b(walk, "news", "Dublin will bring a motion on housing.")
    assert "Nuala" in b_page(walk, "news")


def test_the_member_s_blog_post_reaches_a_follower_on_b(
    walk: Walk, person: webdriver.Chrome
) -> None:
    # Bríd, a member of ireland on B, follows the new member.
    _ok(walk.b, "follow", f"{walk.a.base}/actors/nuala", "--as", "brid")
    wait_for(lambda: "brid" in walk.a.cli("followers", "list", "nuala").stdout,
             timeout=FEDERATION_WAIT, what="A to record B's follower")
    person.get(f"{walk.a.base}/@nuala/write")
    type_into(person, {"title": "Why I joined",
                       "body": "Because the **bookfair** was wonderful."})
    submit(person, "form.write")
    assert "Why I joined" in person.find_element(By.TAG_NAME, "h1").text
    walk.blog = person.current_url
    page = walk.b.get(f"/remote/{received(walk.b, walk.blog, 'the blog post to reach B')}",
                      accept=HTML)
    assert page.status == 200
    assert "Why I joined" in page.text and "bookfair" in page.text
