"""Refusals, form errors and mails in the reader's language: a reason raised below the web
keeps its English for the CLI and the logs, and a page words it again from its code and
parameters in the reader's language; mails go out in their recipient's language.

Expected Esperanto is read from the real catalogue (web/locale/eo), so these tests check
the mechanism whatever the translator's wording, and that the wording is not English."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from actors.accounts import AccountError, check_password, create_account
from actors.handles import InvalidHandle, validate_handle
from actors.registry import RegistryError, founding_day
from chapterhouse.reasons import Reason
from hierarchy.levels import may_join
from outbox.content import publish_item
from outbox.items import InvalidItem, Item, validate
from outbox.taking_part import Refusal
from storage import accounts as account_store
from storage.timestamps import now
from tests.web import test_mail
from tests.web.test_accounts import (
    HTML,
    PASSWORD,
    Site,
    form_token,
    log_in,
    make_site,
    post,
    token_in,
)
from tests.web.test_mail import ANA_EMAIL, Mailbox, ask_to_join, make_mail_site
from web import i18n
from web.state import NODE

EO = {i18n.COOKIE: "eo"}
# The SMTP server of test_mail, for the mail test here.
smtp_port = test_mail.smtp_port
mailbox = test_mail.mailbox


def by_hand(text: Reason, code: str = "eo") -> str:
    """What `word` should give: the catalogue's template, its parameters worded too."""
    lang = i18n.language(code)
    params = {name: by_hand(value, code) if isinstance(value, Reason) else value
              for name, value in text.params.items()}
    worded = lang.gettext(text.template)
    return worded % params if params else worded


def reason_of(raising: Any) -> Reason:
    try:
        raising()
    except (InvalidItem, InvalidHandle, AccountError, RegistryError, Refusal) as exc:
        found = exc.args[0]
        assert isinstance(found, Reason), f"{exc!r} carries no Reason"
        return found
    raise AssertionError("nothing was refused")


REASONS: list[tuple[str, Any, str]] = [
    ("item.empty", lambda: validate(Item(kind="news", title=" ")),
     "title must not be empty"),
    ("item.empty", lambda: validate(Item(kind="poll", title="")),
     "question must not be empty"),
    ("item.too_long", lambda: validate(Item(kind="news", title="t", summary="s" * 1001)),
     "summary is longer than 1000 characters"),
    ("event.zone", lambda: validate(Item(kind="event", title="t", timezone="Mars/Olympus")),
     "unknown time zone 'Mars/Olympus' (use e.g. Europe/Dublin)"),
    ("handle.suggestion", lambda: validate_handle("Dublin City"),
     "'Dublin City' must be lower case (try 'dublin-city')"),
    ("handle.reserved", lambda: validate_handle("admin"), "'admin' is reserved on every node"),
    ("account.password_short", lambda: check_password("short"),
     "the password must be at least 8 characters long"),
    ("founded.future", lambda: founding_day("2999-01-01"),
     "the founding date cannot be in the future"),
]


@pytest.mark.parametrize(("code", "raising", "english"), REASONS,
                         ids=[f"{c}-{n}" for n, (c, _r, _e) in enumerate(REASONS)])
def test_a_reason_is_the_clis_english_and_worded_in_the_readers_language(
        code: str, raising: Any, english: str) -> None:
    found = reason_of(raising)
    assert found.code == code
    assert found == english and str(found) == english  # what the CLI and the logs print
    assert i18n.word(found) == english  # outside a request: English
    with i18n.speaking("eo"):
        worded = i18n.word(found)
        assert worded == by_hand(found)
        assert worded != english, f"the catalogue has no Esperanto for {found.template!r}"
        # An exception raised with the reason is worded by it.
        assert i18n.word(InvalidItem(found)) == worded
    assert i18n.word(found) == english  # speaking() gave the language back


def test_a_level_inside_a_reason_is_worded_with_it() -> None:
    found = may_join("national", "local")
    assert found == "a national chapter can only join a chapter of a higher level (not local)"
    with i18n.speaking("eo"):
        worded = i18n.word(found)
    assert worded == by_hand(found)
    eo = i18n.language("eo")
    assert eo.gettext("national") in worded and eo.gettext("local") in worded
    assert "national" not in worded


def test_speaking_an_unknown_language_speaks_english() -> None:
    found = reason_of(lambda: check_password("x"))
    with i18n.speaking("xx"):
        assert i18n.word(found) == found
    with i18n.speaking(None):
        assert i18n.current().code == "en"


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    """dublin, organised by ana."""
    made = await make_site(tmp_path, store_location, aiohttp_client)
    chapter = await account_store.chapter_id(made.db, "dublin")
    ana = await account_store.member_id(made.db, "ana")
    assert chapter is not None and ana is not None
    await account_store.add_organiser(made.db, chapter, ana, now())
    return made


def eo(text: str, **params: object) -> str:
    worded = i18n.language("eo").gettext(text)
    assert worded != text, f"the catalogue has no Esperanto for {text!r}"
    return worded % params if params else worded


def error_of(page: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page)
    assert found, page
    return html.unescape(found[1])


async def test_an_esperanto_visitor_gets_the_join_forms_errors_in_esperanto(
        site: Site) -> None:
    site.client.session.cookie_jar.update_cookies(EO)
    token = await form_token(site.client, "/join/dublin")
    response = await post(site, "/join/dublin", {
        "csrf_token": token, "name": "", "username": "Bad Name", "password": "short",
        "email": "not an address"})
    assert response.status == 400
    page = await response.text()
    assert error_of(page, "name") == eo("Enter your name.")
    assert error_of(page, "agree") == eo("You can join only if you agree to the commitments.")
    assert error_of(page, "email") == eo("Enter an email address such as name@example.org, "
                                         "or leave it empty.")
    with i18n.speaking("eo"):
        password = i18n.sentence(reason_of(lambda: check_password("short")))
    assert error_of(page, "password") == password
    assert password.startswith(eo("the password must be at least %(num)d characters long",
                                  num=8)[:1].upper())
    assert "Enter your name." not in page and "characters long" not in page
    # Nothing was asked.
    assert await site.sql("SELECT count(*) FROM join_requests") == [(0,)]


async def test_the_same_form_in_english_keeps_its_english(site: Site) -> None:
    token = await form_token(site.client, "/join/dublin")
    response = await post(site, "/join/dublin", {
        "csrf_token": token, "name": "", "username": "cara", "password": "short"})
    page = await response.text()
    assert error_of(page, "name") == "Enter your name."
    assert error_of(page, "password") == "The password must be at least 8 characters long."


async def test_a_wrong_password_and_a_missing_token_are_refused_in_esperanto(
        site: Site) -> None:
    site.client.session.cookie_jar.update_cookies(EO)
    response = await log_in(site, password="not the password")
    assert response.status == 401
    assert eo("Wrong username or password.") in html.unescape(await response.text())
    response = await post(site, "/logout", {"csrf_token": "stale"})
    assert response.status == 403
    assert html.unescape(await response.text()).count(eo(
        "The form's security token is missing or out of date; reload the page and send the "
        "form again.")) == 1


async def test_an_esperanto_organiser_sees_a_publish_forms_reason_in_esperanto(
        site: Site) -> None:
    site.client.session.cookie_jar.update_cookies(EO)
    await log_in(site)
    form = await (await site.client.get("/@dublin/publish?kind=event", headers=HTML)).text()
    response = await post(site, "/@dublin/publish", {
        "csrf_token": token_in(form), "kind": "event", "title": "Bookfair",
        "starts_at": "2030-09-12T14:00", "timezone": "Mars/Olympus",
        "place_name": "Teachers' Club"})
    assert response.status == 400
    error = error_of(await response.text(), "timezone")
    template = eo("unknown time zone %(zone)r (use e.g. Europe/Dublin)", zone="Mars/Olympus")
    assert error == template[0].upper() + template[1:] + ("" if template.endswith(".")
                                                          else ".")
    assert await site.sql("SELECT count(*) FROM objects") == [(0,)]


async def test_a_refused_vote_is_worded_for_the_voter(site: Site) -> None:
    """The poll's reason from outbox/taking_part.py, on the page in Esperanto."""
    iri = await publish_item(site.db, site.client.app[NODE].urls, "dublin", Item(
        kind="poll", title="Tuesdays?", options=["Yes", "No"],
        closes_at="2030-12-01T18:00:00+00:00"))
    site.client.session.cookie_jar.update_cookies(EO)
    await log_in(site)
    page = await (await site.client.get("/", headers=HTML)).text()
    response = await post(site, "/vote", {"csrf_token": token_in(page), "object": iri})
    assert response.status == 400
    text = html.unescape(await response.text())
    assert eo("Choose an option before voting.") in text
    assert eo("Your vote was not counted") in text
    assert await site.sql("SELECT count(*) FROM poll_votes") == [(0,)]


async def test_mails_go_out_in_their_recipients_language(
        tmp_path: Path, store_location: Path | str, aiohttp_client: Any, smtp_port: int,
        mailbox: Mailbox) -> None:
    """A visitor reading in Esperanto gets the confirmation in Esperanto; the organiser,
    whose account reads English, is told in English; one whose account reads Esperanto,
    in Esperanto."""
    site = await make_mail_site(tmp_path, store_location, aiohttp_client, smtp_port)
    site.client.session.cookie_jar.update_cookies(EO)
    response = await ask_to_join(site)
    assert response.status == 200
    assert eo("Check your email") in html.unescape(await response.text())
    (mail,) = await mailbox.wait_for("cara@example.org")
    assert mail["Subject"] == eo("Confirm your email address to join %(chapter)s",
                                 chapter="IOPS Dublin")
    body = mail.get_content()
    assert eo("Hello %(name)s,", name="Cara Nic Dhomhnaill") in body
    assert "If you did not ask to join" not in body

    # The organisers: ana reads English (no language chosen, the node's), brian Esperanto.
    chapter = await account_store.chapter_id(site.db, "dublin")
    brian = await account_store.member_id(site.db, "brian")
    assert chapter is not None and brian is not None
    await create_account(site.db, "brian", PASSWORD, email="brian@dublin.example")
    await account_store.add_organiser(site.db, chapter, brian, now())
    await account_store.set_language(site.db, brian, "eo")
    confirm_path = re.search(r"http://node\.test(/join/confirm\?token=\S+)", body)
    assert confirm_path
    page = await (await site.client.get(confirm_path[1], headers=HTML)).text()
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert token
    response = await post(site, "/join/confirm", {"csrf_token": token_in(page),
                                                  "token": token[1]})
    assert response.status == 200
    (to_ana,) = await mailbox.wait_for(ANA_EMAIL)
    (to_brian,) = await mailbox.wait_for("brian@dublin.example")
    assert to_ana["Subject"] == "Cara Nic Dhomhnaill asks to join IOPS Dublin"
    assert "You receive this mail because you organise IOPS Dublin." in to_ana.get_content()
    assert to_brian["Subject"] == eo("%(name)s asks to join %(chapter)s",
                                     name="Cara Nic Dhomhnaill", chapter="IOPS Dublin")
    assert eo("You receive this mail because you organise %(chapter)s.",
              chapter="IOPS Dublin") in to_brian.get_content()
