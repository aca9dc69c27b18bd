"""The pages pass axe-core (run inside headless Chromium) with no serious or critical
violation, and every form field has a label.

axe.min.js comes from tests/web/axe (npm, locked; `make test` installs it). It is put into
each page through WebDriver, which the page's Content-Security-Policy does not govern: the
policy still forbids every script the page itself would load or inline. The pages of
another node's poll, event and news are checked in tests/test_web_walk.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.nodes import Node
from tests.web.browser import (  # noqa: F401 (fixtures)
    RUN_AXE,
    UNLABELLED,
    axe_source_fixture,
    browser_fixture,
    check_page,
    chromium_installed_fixture,
    click_through,
    webdriver,
)

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def a11y_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """dublin with a poll, an event and a news item; ana organises it and has an account;
    a visitor's request to join waits."""
    root = tmp_path_factory.mktemp("a11y")
    node = Node.init(root)
    password_file = root / "password"
    password_file.write_text(PASSWORD + "\n")
    for args in (
        ("chapter", "create", "dublin", "--name", "IOPS Dublin", "--level", "local",
         "--location", "Dublin, Ireland", "--summary", "Organising and bookfairs in Dublin."),
        ("account", "create", "ana", "--chapter", "dublin", "--name", "Ana Byrne",
         "--password-file", str(password_file)),
        ("chapter", "organisers", "add", "dublin", "ana"),
        ("post", "poll", "--chapter", "dublin", "--question", "Meet on Tuesdays?",
         "--option", "Yes", "--option", "No", "--closes", "2030-12-01T18:00+00:00"),
        ("post", "event", "--chapter", "dublin", "--title", "Autumn bookfair",
         "--start", "2030-09-12T14:00", "--end", "2030-09-12T17:30",
         "--timezone", "Europe/Dublin", "--place-name", "Teachers' Club",
         "--address", "36 Parnell Square", "--summary", "Books and tea."),
    ):
        result = node.cli(*args)
        assert result.returncode == 0, (args, result.stderr)
    result = node.cli("post", "news", "--chapter", "dublin", "--title",
                      "Bookfair this Saturday", stdin="Bring **your** books.")
    assert result.returncode == 0, result.stderr
    node.start()
    yield node
    node.stop()


def object_url(node: Node, kind: str) -> str:
    [(iri,)] = node.sql("SELECT object_iri FROM items WHERE kind = ? AND deleted_at IS NULL",
                        kind)
    return str(iri)


def visit(driver: webdriver.Chrome, url: str) -> None:
    driver.get(url)
    assert "Not found" not in driver.title, url


def fill(driver: webdriver.Chrome, values: dict[str, str]) -> None:
    for field, value in values.items():
        element = driver.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)


def submit(driver: webdriver.Chrome, form: str = "form.account") -> None:
    """Press the form's button and wait for the page the node answers with."""
    click_through(driver, driver.find_element(By.CSS_SELECTOR, f"{form} button[type=submit]"))


def log_in(driver: webdriver.Chrome, node: Node, username: str = "ana") -> None:
    visit(driver, f"{node.base}/login")
    fill(driver, {"username": username, "password": PASSWORD})
    submit(driver)
    assert driver.find_element(By.CSS_SELECTOR, "a.me").text


def test_axe_runs_in_the_page_despite_its_policy(
    browser: webdriver.Chrome, a11y_node: Node, axe_source: str
) -> None:
    # The policy forbids the page's own inline scripts; WebDriver's injection is not one.
    visit(browser, f"{a11y_node.base}/")
    browser.execute_script(axe_source)
    assert browser.execute_script("return typeof axe.run") == "function"
    assert re.fullmatch(r"4\.\d+\.\d+", browser.execute_script("return axe.version"))
    # And axe does find a violation where there is one: a field with no label.
    browser.execute_script("document.querySelector('main').insertAdjacentHTML('beforeend',"
                           " '<input type=text id=nolabel><img src=/x.png>')")
    outcome = json.loads(browser.execute_async_script(RUN_AXE))
    assert {"label", "image-alt"} <= {v["id"] for v in outcome}
    assert browser.execute_script(UNLABELLED) == ['<input type="text" id="nolabel">']


def test_pages_a_visitor_sees_pass_axe(
    browser: webdriver.Chrome, a11y_node: Node, axe_source: str
) -> None:
    node = a11y_node
    pages = {
        "home": "/", "find a chapter": "/join?q=dublin", "join form": "/join/dublin",
        "log in": "/login", "forgot password": "/password/forgot", "chapter": "/@dublin",
        "members": "/@dublin/members",
        "member": "/@ana", "poll": object_url(node, "poll"),
        "event": object_url(node, "event"), "news": object_url(node, "news"),
        "not found": "/nowhere",
        "chapters": "/chapters", "chapters by place": "/chapters?place=dublin&level=local",
        "chapters, none match": "/chapters?level=international", "events": "/events",
        "news archive": "/news", "chapter minutes archive": "/@dublin/minutes",
        "chapter events archive": "/@dublin/events", "search": "/search",
        "search with results": "/search?q=bookfair",
    }
    for what, path in pages.items():
        browser.get(path if path.startswith("http") else f"{node.base}{path}")
        check_page(browser, axe_source, what)


def test_forms_with_their_errors_shown_pass_axe(
    browser: webdriver.Chrome, a11y_node: Node, axe_source: str
) -> None:
    node = a11y_node
    # A bad submit of the join form: the browser's own checks pass, the node's do not.
    visit(browser, f"{node.base}/join/dublin")
    fill(browser, {"name": "Cara", "username": "Not A Username!",
                   "password": "a long walk home"})
    browser.find_element(By.ID, "agree").click()
    submit(browser, "form.join")
    error = browser.find_element(By.ID, "username-error")
    assert "A username has 1 to 30 characters" in error.text
    username = browser.find_element(By.ID, "username")
    assert username.get_attribute("aria-invalid") == "true"
    assert "username-error" in (username.get_attribute("aria-describedby") or "")
    check_page(browser, axe_source, "join form with an error")

    visit(browser, f"{node.base}/login")
    fill(browser, {"username": "ana", "password": "not the password"})
    submit(browser)
    assert "Wrong username or password." in browser.find_element(By.ID, "login-error").text
    check_page(browser, axe_source, "log in with an error")

    # A visitor's request to join waits, for the organiser's page below.
    visit(browser, f"{node.base}/join/dublin")
    fill(browser, {"name": "Cara", "username": "cara", "password": "a long walk home"})
    browser.find_element(By.ID, "agree").click()
    submit(browser, "form.join")
    check_page(browser, axe_source, "request sent")


def test_pages_a_member_sees_pass_axe(
    browser: webdriver.Chrome, a11y_node: Node, axe_source: str
) -> None:
    node = a11y_node
    log_in(browser, node)
    pages = {
        "home, logged in": "/", "chapter, logged in": "/@dublin",
        "change password": "/account/password", "profile": "/account/profile",
        "welcome": "/welcome", "write a post": "/@ana/write",
        "make a reset link": "/@dublin/reset-link",
        "member, logged in": "/@ana", "poll, logged in": object_url(node, "poll"),
        "event, logged in": object_url(node, "event"),
    }
    for what, path in pages.items():
        browser.get(path if path.startswith("http") else f"{node.base}{path}")
        check_page(browser, axe_source, what)
    # The organiser's list, with the visitor's request (made above) and its buttons.
    visit(browser, f"{node.base}/@dublin/requests")
    assert "cara" in browser.find_element(By.TAG_NAME, "main").text
    check_page(browser, axe_source, "requests to join, one waiting")

    visit(browser, f"{node.base}/account/password")
    fill(browser, {"current": PASSWORD, "password": "a new password",
                   "confirm": "another password"})
    submit(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "p.error")
    check_page(browser, axe_source, "change password with an error")

    # A post written, its page with the member's own buttons, and its edit form.
    visit(browser, f"{node.base}/@ana/write")
    fill(browser, {"title": "Notes from the bookfair", "body": "We sold **forty** books."})
    submit(browser, "form.write")
    assert "Notes from the bookfair" in browser.find_element(By.TAG_NAME, "h1").text
    check_page(browser, axe_source, "a member's own post")
    visit(browser, f"{browser.current_url}/edit")
    check_page(browser, axe_source, "edit a post")

    visit(browser, f"{node.base}/account/profile")
    fill(browser, {"name": " "})
    submit(browser, "form.profile")
    assert browser.find_element(By.ID, "name-error").text
    check_page(browser, axe_source, "profile with an error")


def test_the_organisers_item_forms_pass_axe(
    browser: webdriver.Chrome, a11y_node: Node, axe_source: str
) -> None:
    node = a11y_node
    browser.get(f"{node.base}/")
    if not browser.find_elements(By.CSS_SELECTOR, "a.me"):
        log_in(browser, node)
    for kind in ("news", "blog", "minutes", "event", "poll", "note"):
        visit(browser, f"{node.base}/@dublin/publish?kind={kind}")
        check_page(browser, axe_source, f"publish a {kind}")
    # A title the browser takes and the node refuses (blank), with its reason at the field.
    visit(browser, f"{node.base}/@dublin/publish?kind=news")
    fill(browser, {"title": " ", "body": "Bring **books**."})
    submit(browser, "form.publish")
    assert "Title must not be empty." in browser.find_element(By.ID, "title-error").text
    check_page(browser, axe_source, "publish with an error")
    # The preview, nothing published.
    fill(browser, {"title": "Bookfair", "body": "Bring **books**."})
    click_through(browser, browser.find_element(By.CSS_SELECTOR,
                                                "form.publish button[name=preview]"))
    assert browser.find_element(By.CSS_SELECTOR, "section.preview strong").text == "books"
    check_page(browser, axe_source, "publish with a preview")
    # The organiser's buttons on an event's page, and its edit form.
    event = object_url(node, "event")
    visit(browser, event)
    assert browser.find_element(By.CSS_SELECTOR, ".author-actions a").text == "Edit"
    check_page(browser, axe_source, "an event with the organiser's buttons")
    visit(browser, f"{event}/edit")
    check_page(browser, axe_source, "edit an event")
    visit(browser, f"{object_url(node, 'poll')}/edit")
    check_page(browser, axe_source, "edit a poll")
    # Logged out again, as the tests after this one expect to find the browser.
    click_through(browser, browser.find_element(By.CSS_SELECTOR,
                                                "form.logout button[type=submit]"))
    assert not browser.find_elements(By.CSS_SELECTOR, "a.me")


def test_the_organisers_workspace_passes_axe(
    browser: webdriver.Chrome, a11y_node: Node, axe_source: str
) -> None:
    node = a11y_node
    log_in(browser, node)
    pages = {
        "manage a chapter": "/@dublin/manage", "manage members": "/@dublin/members/manage",
        "confirm removing a member": "/@dublin/members/ana/remove",
        "followers waiting": "/@dublin/followers", "subchapters": "/@dublin/subchapters",
        "parent chapter": "/@dublin/parent", "chapter settings": "/@dublin/settings",
    }
    for what, path in pages.items():
        visit(browser, f"{node.base}{path}")
        check_page(browser, axe_source, what)
    # Each form with the node's reason shown next to its field (nothing is changed).
    visit(browser, f"{node.base}/@dublin/parent")
    fill(browser, {"parent": "@dublin@" + node.base.split("://", 1)[1]})
    submit(browser, "form.parent")
    assert "cannot join itself" in browser.find_element(By.ID, "parent-error").text
    check_page(browser, axe_source, "parent chapter with an error")
    visit(browser, f"{node.base}/@dublin/settings")
    fill(browser, {"name": " "})
    submit(browser, "form.chapter-settings")
    assert browser.find_element(By.ID, "name-error").text
    check_page(browser, axe_source, "chapter settings with an error")
    # Logged out again, as the tests after this one expect to find the browser.
    click_through(browser, browser.find_element(By.CSS_SELECTOR,
                                                "form.logout button[type=submit]"))
    assert not browser.find_elements(By.CSS_SELECTOR, "a.me")


def test_tokens_and_the_delivery_queue_pass_axe(
    browser: webdriver.Chrome, a11y_node: Node, axe_source: str, tmp_path: Path
) -> None:
    node = a11y_node
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    result = node.cli("account", "create", "siobhan", "--admin", "--chapter", "dublin",
                      "--name", "Siobhán", "--password-file", str(password_file))
    assert result.returncode == 0, result.stderr
    # A delivery that waits and one that failed, with its reason.
    [(activity,)] = node.sql("SELECT min(id) FROM activities")
    moment = datetime.now(UTC)
    for inbox, state, error in (("https://slow.example/inbox", "queued", "timeout"),
                                ("https://gone.example/inbox", "dead", "HTTP 410")):
        node.sql("INSERT INTO deliveries (activity_id, inbox, host, state, attempts,"
                 " next_attempt_at, last_error, created_at, updated_at)"
                 " VALUES (?, ?, ?, ?, 3, ?, ?, ?, ?)", activity, inbox,
                 inbox.split("/")[2], state, moment + timedelta(hours=1), error, moment, moment)
    log_in(browser, node, "siobhan")
    visit(browser, f"{node.base}/admin/deliveries")
    assert "gone.example" in browser.find_element(By.TAG_NAME, "main").text
    check_page(browser, axe_source, "delivery queue")
    visit(browser, f"{node.base}/account/tokens")
    check_page(browser, axe_source, "tokens, none yet")
    fill(browser, {"name": " "})
    submit(browser)
    assert browser.find_element(By.ID, "name-error").text
    check_page(browser, axe_source, "tokens with an error")
    fill(browser, {"name": "minutes script"})
    submit(browser)
    assert browser.find_element(By.ID, "new-token").get_attribute("value")
    check_page(browser, axe_source, "a new token, shown once")
    # Logged out again: a test after this one logs in as whoever it needs.
    click_through(browser, browser.find_element(By.CSS_SELECTOR,
                                                'form[action="/logout"] button'))


def test_the_organisations_pages_pass_axe(
    browser: webdriver.Chrome, a11y_node: Node, axe_source: str, tmp_path: Path
) -> None:
    node = a11y_node
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    result = node.cli("account", "create", "ines", "--admin", "--chapter", "dublin",
                      "--name", "Inés", "--password-file", str(password_file))
    assert result.returncode == 0, result.stderr
    log_in(browser, node, "ines")
    visit(browser, f"{node.base}/admin/pages")
    check_page(browser, axe_source, "the node's pages, none yet")
    visit(browser, f"{node.base}/admin/pages/new")
    check_page(browser, axe_source, "write a node page")
    # A title without its text, and an address that is none: reasons at the fields.
    fill(browser, {"slug": "about", "title-eo": "Pri IOPS"})
    submit(browser, "form.page-form")
    assert browser.find_element(By.ID, "body-eo-error").text
    check_page(browser, axe_source, "write a node page, with an error")
    fill(browser, {"title-en": "About IOPS", "body-en": "Launched in **2012**.",
                   "body-eo": "Fondita en **2012**."})
    browser.find_element(By.ID, "in_navigation").click()
    submit(browser, "form.page-form")
    assert browser.find_element(By.TAG_NAME, "h1").text == "About IOPS"
    check_page(browser, axe_source, "a node page, with the navigation linking it")
    visit(browser, f"{node.base}/admin/pages")
    check_page(browser, axe_source, "the node's pages, one written")
    visit(browser, f"{node.base}/admin/pages/about/delete")
    check_page(browser, axe_source, "delete a node page, asked once more")
    visit(browser, f"{node.base}/@dublin/pages/new")
    fill(browser, {"slug": "resources", "title-en": "Resources",
                   "body-en": "- [Tool-share](https://example.org/tools)"})
    submit(browser, "form.page-form")
    check_page(browser, axe_source, "a chapter page")
    visit(browser, f"{node.base}/@dublin/pages")
    check_page(browser, axe_source, "a chapter's pages")
    visit(browser, f"{node.base}/")
    check_page(browser, axe_source, "home, for an administrator")
    click_through(browser, browser.find_element(By.CSS_SELECTOR,
                                                'form[action="/logout"] button'))
    visit(browser, f"{node.base}/@dublin")
    check_page(browser, axe_source, "chapter with its pages")
    visit(browser, f"{node.base}/pages/about")
    check_page(browser, axe_source, "a node page, for a visitor")


def test_projects_pass_axe(
    browser: webdriver.Chrome, a11y_node: Node, axe_source: str
) -> None:
    node = a11y_node
    browser.get(f"{node.base}/")
    if not browser.find_elements(By.CSS_SELECTOR, "a.me"):
        log_in(browser, node)
    visit(browser, f"{node.base}/@dublin/projects/new")
    check_page(browser, axe_source, "start a project")
    # A blank title the browser takes and the node refuses, with its reason at the field.
    fill(browser, {"title": " ", "body": "Lend and borrow **tools**."})
    submit(browser, "form.project")
    assert browser.find_element(By.ID, "title-error").text
    check_page(browser, axe_source, "start a project, with an error")
    fill(browser, {"title": "Tool-share", "body": "Lend and borrow **tools**."})
    submit(browser, "form.project")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Tool-share"
    check_page(browser, axe_source, "a project, for its starter")
    visit(browser, f"{browser.current_url.split('?')[0]}/edit")
    check_page(browser, axe_source, "edit a project")
    for what, path in {"chapter with a project": "/@dublin",
                       "chapter projects archive": "/@dublin/projects",
                       "projects archive": "/projects"}.items():
        visit(browser, f"{node.base}{path}")
        check_page(browser, axe_source, what)
    click_through(browser, browser.find_element(By.CSS_SELECTOR,
                                                'form[action="/logout"] button'))
    visit(browser, object_url(node, "project"))
    check_page(browser, axe_source, "a project, for a visitor")


def test_decision_pages_pass_axe(
    browser: webdriver.Chrome, a11y_node: Node, axe_source: str
) -> None:
    node = a11y_node
    browser.get(f"{node.base}/")
    if not browser.find_elements(By.CSS_SELECTOR, "a.me"):
        log_in(browser, node)
    visit(browser, f"{node.base}/@dublin/decisions/new")
    check_page(browser, axe_source, "open a decision")
    # One option the browser takes and the node refuses, with its reason at the field.
    fill(browser, {"question": "Adopt the 2027 campaign plan?", "options": "Adopt it",
                   "timezone": "Europe/Dublin"})
    # A datetime-local field is typed in the browser's own format: set as its value.
    closes = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    set_closing = f"document.getElementById('closes_at').value = '{closes}'"
    browser.execute_script(set_closing)
    submit(browser, "form.decision")
    assert "at least two options" in browser.find_element(By.ID, "options-error").text
    check_page(browser, axe_source, "open a decision, with an error")
    fill(browser, {"options": "Adopt it\nReject it\nNot yet"})
    browser.execute_script(set_closing)
    submit(browser, "form.decision")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Adopt the 2027 campaign plan?"
    check_page(browser, axe_source, "a decision, with the ballot form")
    browser.find_element(By.ID, "option-1").click()
    submit(browser, "form.vote")
    assert "Your ballot was recorded." in browser.find_element(By.TAG_NAME, "main").text
    check_page(browser, axe_source, "a decision, with a ballot and the result")
    # A ballot the node refuses (none chosen, the browser's check left out): the reason
    # next to the options.
    browser.execute_script("document.querySelector('form.vote').noValidate = true;"
                           " document.querySelectorAll('input[name=option]')"
                           ".forEach(e => { e.checked = false; })")
    submit(browser, "form.vote")
    assert browser.find_element(By.ID, "option-error").text
    check_page(browser, axe_source, "a decision, with a refused ballot")
    decision = browser.current_url.split("?")[0]
    for what, path in {"chapter with a decision": "/@dublin",
                       "a chapter's decisions": "/@dublin/decisions"}.items():
        visit(browser, f"{node.base}{path}")
        check_page(browser, axe_source, what)
    click_through(browser, browser.find_element(By.CSS_SELECTOR,
                                                'form[action="/logout"] button'))
    visit(browser, decision)
    check_page(browser, axe_source, "a decision, for a visitor")
