"""Outgoing mail as a joiner, an organiser and a member who forgot their password see it,
against a real SMTP server (aiosmtpd) on 127.0.0.1: what arrives, and that its links
work once; a server that is down, one that refuses an address, and a sender that dies;
reset links from organisers, with mail and without."""

from __future__ import annotations

import asyncio
import re
import socket
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from structlog.testing import capture_logs

from actors.accounts import create_account
from actors.registry import add_member, create_chapter
from chapterhouse.app import SUPERVISOR, create_app
from chapterhouse.config import parse, render_initial
from chapterhouse.services import initialise
from storage import accounts as account_store
from storage import joins as join_store
from storage.timestamps import now
from tests.web.test_accounts import (
    HTML,
    PASSWORD,
    Site,
    form_token,
    log_in,
    logged_in_as,
    make_site,
    post,
    token_in,
)
from web.mail import MAIL
from web.state import DB

NEW_PASSWORD = "a long walk home"
ANA_EMAIL = "ana@dublin.example"


@dataclass
class Mailbox:
    """What the SMTP server received; addresses starting with "bounce" are refused (550)."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpt, m in self.messages if address in rcpt]

    async def wait_for(self, address: str, count: int = 1) -> list[EmailMessage]:
        for _ in range(200):
            if len(self.to(address)) >= count:
                return self.to(address)
            await asyncio.sleep(0.05)
        raise AssertionError(f"no mail for {address}; got {self.messages!r}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield box
    controller.stop()


async def make_mail_site(tmp_path: Path, location: Path | str, aiohttp_client: Any,
                         smtp_port: int, max_attempts: int = 10) -> Site:
    """The site of test_accounts (dublin; ana with an account, brian without), sending
    mail to 127.0.0.1:`smtp_port`, with the background tasks running; ana organises
    dublin and has an email address; cork lets people join at once."""
    raw = tomllib.loads(render_initial("node.test", "http", "Test node"))
    raw["storage"]["url"] = str(location)
    raw["mail"] = {"host": "127.0.0.1", "port": smtp_port, "tls": "none",
                   "sender": "chapters@node.test", "backoff_scale": 0.002,
                   "max_attempts": max_attempts}
    config = parse(raw, tmp_path)
    await initialise(config)
    app = create_app(config)
    client = await aiohttp_client(app)
    db = app[DB]
    await create_chapter(db, config.hostname, "dublin", "IOPS Dublin", "local")
    await add_member(db, config.hostname, "ana", "dublin", "Ana Byrne")
    await create_account(db, "ana", PASSWORD, email=ANA_EMAIL)
    await add_member(db, config.hostname, "brian", "dublin", "Brian Ó Súilleabháin")
    await create_chapter(db, config.hostname, "cork", "IOPS Cork", "local")
    await join_store.set_joins_open(db, "cork", True)
    dublin = await account_store.chapter_id(db, "dublin")
    ana = await account_store.member_id(db, "ana")
    assert dublin is not None and ana is not None
    await account_store.add_organiser(db, dublin, ana, now())
    return Site(client, db, config)


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any,
               mailbox: Mailbox, smtp_port: int) -> Site:
    return await make_mail_site(tmp_path, store_location, aiohttp_client, smtp_port)


def link_in(mail: EmailMessage, path: str) -> str:
    """The path and query of the link to `path` that the mail carries."""
    body = mail.get_content()
    match = re.search(rf"http://node\.test({re.escape(path)}\S*)", body)
    assert match, body
    return match[1]


def join_fields(**changes: str) -> dict[str, str]:
    data = {"name": "Cara Nic Dhomhnaill", "username": "cara", "password": NEW_PASSWORD,
            "email": "cara@example.org", "message": "I live in Phibsborough.", "agree": "yes"}
    data.update(changes)
    return data


async def ask_to_join(site: Site, slug: str = "dublin", **changes: str) -> Any:
    token = await form_token(site.client, f"/join/{slug}")
    return await post(site, f"/join/{slug}", {"csrf_token": token, **join_fields(**changes)})


async def confirm(site: Site, path: str) -> Any:
    page = await site.client.get(path, headers=HTML)
    assert page.status == 200, await page.text()
    text = await page.text()
    token = re.search(r'name="token" value="([^"]+)"', text)
    assert token
    return await post(site, "/join/confirm", {"csrf_token": token_in(text), "token": token[1]})


async def set_password_through(site: Site, path: str, password: str) -> Any:
    page = await site.client.get(path, headers=HTML)
    assert page.status == 200, await page.text()
    text = await page.text()
    token = re.search(r'name="token" value="([^"]+)"', text)
    assert token
    return await post(site, "/password/set", {"csrf_token": token_in(text),
                                              "token": token[1], "password": password,
                                              "confirm": password})


async def test_a_join_waits_for_its_address_then_organisers_hear_of_it(
        site: Site, mailbox: Mailbox) -> None:
    response = await ask_to_join(site)
    assert response.status == 200
    assert "Check your email" in await response.text()
    (mail,) = await mailbox.wait_for("cara@example.org")
    assert mail["Subject"] == "Confirm your email address to join IOPS Dublin"
    assert mail["From"] == "Test node <chapters@node.test>"
    assert "Test node" in mail.get_content()
    confirm_path = link_in(mail, "/join/confirm?token=")

    # Not confirmed: organisers neither see the request nor hear of it.
    await log_in(site)
    page = await (await site.client.get("/@dublin/requests", headers=HTML)).text()
    assert "Cara Nic Dhomhnaill" not in page
    assert mailbox.to(ANA_EMAIL) == []
    await post(site, "/logout", {"csrf_token": token_in(page)})

    response = await confirm(site, confirm_path)
    assert response.status == 200
    assert "Your email address is confirmed" in await response.text()
    (told,) = await mailbox.wait_for(ANA_EMAIL)
    assert told["Subject"] == "Cara Nic Dhomhnaill asks to join IOPS Dublin"
    assert link_in(told, "/@dublin/requests") == "/@dublin/requests"

    # The link works once.
    assert (await site.client.get(confirm_path, headers=HTML)).status == 404
    token = confirm_path.split("token=")[1]
    again = await post(site, "/join/confirm", {
        "csrf_token": await form_token(site.client), "token": token})
    assert again.status == 404
    assert len(mailbox.to(ANA_EMAIL)) == 1

    # The organiser approves; the account carries the confirmed address.
    await log_in(site)
    page = await (await site.client.get("/@dublin/requests", headers=HTML)).text()
    assert "Cara Nic Dhomhnaill" in page
    (request_id,) = re.findall(r'action="/@dublin/requests/(\d+)/approve"', page)
    response = await post(site, f"/@dublin/requests/{request_id}/approve",
                          {"csrf_token": token_in(page)})
    assert response.status == 303
    account = await account_store.account_by_handle(site.db, "cara")
    assert account is not None and account.email == "cara@example.org"


async def test_an_open_chapter_opens_the_account_once_the_address_is_confirmed(
        site: Site, mailbox: Mailbox) -> None:
    response = await ask_to_join(site, "cork", username="dara", email="dara@example.org")
    assert response.status == 200
    assert await account_store.account_by_handle(site.db, "dara") is None
    (mail,) = await mailbox.wait_for("dara@example.org")
    response = await confirm(site, link_in(mail, "/join/confirm?token="))
    assert response.status == 303
    assert await logged_in_as(site.client) == "dara"
    account = await account_store.account_by_handle(site.db, "dara")
    assert account is not None and account.email == "dara@example.org"


async def test_a_join_without_an_address_reaches_organisers_at_once(
        site: Site, mailbox: Mailbox) -> None:
    response = await ask_to_join(site, email="")
    assert response.status == 200
    (told,) = await mailbox.wait_for(ANA_EMAIL)
    assert "asks to join IOPS Dublin" in told["Subject"]


async def test_forgot_password_mails_a_link_that_sets_it_once(
        site: Site, mailbox: Mailbox) -> None:
    page = await (await site.client.get("/login", headers=HTML)).text()
    assert 'href="/password/forgot"' in page
    token = await form_token(site.client, "/password/forgot")
    response = await post(site, "/password/forgot", {"csrf_token": token, "name": "ANA"})
    assert response.status == 200
    (mail,) = await mailbox.wait_for(ANA_EMAIL)
    assert mail["Subject"] == "Set a new password on Test node"
    path = link_in(mail, "/password/set?token=")

    response = await set_password_through(site, path, NEW_PASSWORD)
    assert response.status == 303
    await post(site, "/logout", {"csrf_token": await form_token(site.client, "/")})
    assert (await log_in(site, password=PASSWORD)).status == 401
    assert (await log_in(site, password=NEW_PASSWORD)).status == 303
    # Used: refused the second time.
    assert (await site.client.get(path, headers=HTML)).status == 404

    # By email address too, in any case.
    await post(site, "/logout", {"csrf_token": await form_token(site.client, "/")})
    token = await form_token(site.client, "/password/forgot")
    await post(site, "/password/forgot", {"csrf_token": token, "name": ANA_EMAIL.upper()})
    await mailbox.wait_for(ANA_EMAIL, 2)


async def test_forgot_password_answers_alike_whether_or_not_the_account_exists(
        site: Site, mailbox: Mailbox) -> None:
    answers = []
    for name in ("ana", "nobody", "brian", "nobody@example.org"):
        token = await form_token(site.client, "/password/forgot")
        response = await post(site, "/password/forgot", {"csrf_token": token, "name": name})
        text = await response.text()
        answers.append((response.status, text.replace(token, "")))
    assert len(set(answers)) == 1, answers
    await mailbox.wait_for(ANA_EMAIL)
    await asyncio.sleep(0.3)
    assert [rcpt for rcpt, _ in mailbox.messages] == [[ANA_EMAIL]]


async def test_forgot_password_is_throttled_for_known_and_unknown_names_alike(
        site: Site, mailbox: Mailbox) -> None:
    for name in ("ana", "nobody"):
        statuses = []
        for _ in range(4):
            token = await form_token(site.client, "/password/forgot")
            statuses.append((await post(site, "/password/forgot",
                                        {"csrf_token": token, "name": name})).status)
        assert statuses == [200, 200, 200, 429]
    await mailbox.wait_for(ANA_EMAIL, 3)
    await asyncio.sleep(0.3)
    assert len(mailbox.to(ANA_EMAIL)) == 3


async def test_mail_waits_while_the_server_is_down_and_goes_when_it_is_back(
        tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> None:
    port = free_port()  # nothing listens here yet
    site = await make_mail_site(tmp_path, store_location, aiohttp_client, port)
    response = await ask_to_join(site)
    assert response.status == 200  # the join worked; its mail waits
    for _ in range(200):
        rows = await site.sql("SELECT attempts, sent_at, failed_at, last_error"
                              " FROM outgoing_mail")
        if rows and rows[0][0] >= 2:
            break
        await asyncio.sleep(0.05)
    ((attempts, sent_at, failed_at, last_error),) = rows
    assert attempts >= 2 and sent_at is None and failed_at is None
    assert "Connection refused" in last_error or "Errno" in last_error

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        (mail,) = await box.wait_for("cara@example.org")
        assert "Confirm your email address" in mail["Subject"]
    finally:
        controller.stop()
    ((sent_at, last_error),) = await site.sql("SELECT sent_at, last_error FROM outgoing_mail")
    assert sent_at is not None and last_error is None


async def test_an_address_the_server_refuses_is_given_up_at_once(
        site: Site, mailbox: Mailbox) -> None:
    await ask_to_join(site, email="bounce@example.org")
    for _ in range(200):
        rows = await site.sql("SELECT attempts, failed_at, next_attempt_at, last_error"
                              " FROM outgoing_mail")
        if rows and rows[0][1] is not None:
            break
        await asyncio.sleep(0.05)
    ((attempts, failed_at, next_attempt_at, last_error),) = rows
    assert attempts == 1 and failed_at is not None and next_attempt_at is None
    assert "550" in last_error
    assert mailbox.messages == []


async def test_a_sender_that_fails_is_restarted_and_says_so(
        site: Site, mailbox: Mailbox) -> None:
    health = site.client.app[SUPERVISOR].health["mail sender"]
    await site.sql("ALTER TABLE outgoing_mail RENAME TO outgoing_mail_away")
    site.client.app[MAIL].wake()  # as a web request that queued mail would
    for _ in range(200):
        if health.total_failures:
            break
        await asyncio.sleep(0.05)
    assert health.total_failures >= 1 and health.last_error is not None
    assert "outgoing_mail" in health.last_error
    await site.sql("ALTER TABLE outgoing_mail_away RENAME TO outgoing_mail")
    response = await ask_to_join(site)
    assert response.status == 200
    await mailbox.wait_for("cara@example.org")
    assert health.restarts >= 1


async def organiser_link(site: Site, slug: str, member: str) -> Any:
    token = await form_token(site.client, f"/@{slug}/reset-link")
    return await post(site, f"/@{slug}/reset-link", {"csrf_token": token, "member": member})


async def test_an_organiser_makes_a_reset_link_for_a_member_of_the_chapter(
        site: Site) -> None:
    await create_account(site.db, "brian", None)
    await log_in(site)
    members = await (await site.client.get("/@dublin/members", headers=HTML)).text()
    assert 'href="/@dublin/reset-link"' in members
    response = await organiser_link(site, "dublin", "brian")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = await response.text()
    match = re.search(r"http://node\.test(/password/set\?token=[\w-]+)", text)
    assert match
    await post(site, "/logout", {"csrf_token": token_in(text)})
    response = await set_password_through(site, match[1], NEW_PASSWORD)
    assert response.status == 303
    assert await logged_in_as(site.client) == "brian"


async def _links(site: Site) -> int:
    ((count,),) = await site.sql("SELECT count(*) FROM password_links")
    return int(count)


async def test_reset_links_are_refused_to_members_and_other_chapters_organisers(
        site: Site) -> None:
    db = site.db
    await create_account(db, "brian", PASSWORD)
    await create_chapter(db, site.config.hostname, "galway", "IOPS Galway", "local")
    await add_member(db, site.config.hostname, "eoin", "galway", "Eoin")
    await create_account(db, "eoin", PASSWORD)
    galway = await account_store.chapter_id(db, "galway")
    eoin = await account_store.member_id(db, "eoin")
    assert galway is not None and eoin is not None
    await account_store.add_organiser(db, galway, eoin, now())

    # brian, a member of dublin, for ana.
    await log_in(site, "brian")
    assert (await site.client.get("/@dublin/reset-link", headers=HTML)).status == 403
    token = await form_token(site.client, "/")
    response = await post(site, "/@dublin/reset-link", {"csrf_token": token, "member": "ana"})
    assert response.status == 403
    await post(site, "/logout", {"csrf_token": token})

    # eoin organises galway, not dublin.
    await log_in(site, "eoin")
    token = await form_token(site.client, "/")
    response = await post(site, "/@dublin/reset-link", {"csrf_token": token, "member": "brian"})
    assert response.status == 403
    # ... and in galway, brian is no member.
    response = await post(site, "/@galway/reset-link", {"csrf_token": token, "member": "brian"})
    assert response.status == 404
    await post(site, "/logout", {"csrf_token": token})

    # ana organises dublin, but brian cannot be made a link for an organiser.
    dublin = await account_store.chapter_id(db, "dublin")
    brian = await account_store.member_id(db, "brian")
    assert dublin is not None and brian is not None
    await account_store.add_organiser(db, dublin, brian, now())
    await log_in(site)
    response = await organiser_link(site, "dublin", "brian")
    assert response.status == 403
    assert await _links(site) == 0

    # A visitor is sent to log in.
    await post(site, "/logout", {"csrf_token": await form_token(site.client, "/")})
    response = await site.client.get("/@dublin/reset-link", headers=HTML,
                                     allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/@dublin/reset-link"


async def test_an_administrator_makes_links_for_anyone(site: Site) -> None:
    await create_account(site.db, "brian", PASSWORD)
    dublin = await account_store.chapter_id(site.db, "dublin")
    brian = await account_store.member_id(site.db, "brian")
    assert dublin is not None and brian is not None
    await account_store.add_organiser(site.db, dublin, brian, now())
    ana = await account_store.member_id(site.db, "ana")
    assert ana is not None
    await account_store.remove_organiser(site.db, dublin, ana)
    await account_store.set_admin(site.db, ana, True)
    await log_in(site)
    response = await organiser_link(site, "dublin", "brian")
    assert response.status == 200
    assert await _links(site) == 1


async def test_without_mail_forgot_says_to_ask_an_organiser(
        tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> None:
    site = await make_site(tmp_path, store_location, aiohttp_client)
    page = await site.client.get("/password/forgot", headers=HTML)
    text = await page.text()
    assert page.status == 200 and "Ask an organiser" in text
    assert 'action="/password/forgot"' not in text
    response = await post(site, "/password/forgot",
                          {"csrf_token": token_in(await (await site.client.get(
                              "/login", headers=HTML)).text()), "name": "ana"})
    assert response.status == 404
    assert await site.sql("SELECT * FROM outgoing_mail") == []
    # Joining with an email address asks for no confirmation: the request waits at once.
    token = await form_token(site.client, "/join/dublin")
    response = await post(site, "/join/dublin", {"csrf_token": token, **join_fields()})
    assert "waits for an organiser" in await response.text()
    assert await site.sql("SELECT confirm_by FROM join_requests") == [(None,)]


async def test_a_member_asking_to_join_another_chapter_is_announced_to_its_organisers(
        site: Site, mailbox: Mailbox) -> None:
    db = site.db
    await create_chapter(db, site.config.hostname, "galway", "IOPS Galway", "local")
    await add_member(db, site.config.hostname, "eoin", "galway", "Eoin")
    await create_account(db, "eoin", PASSWORD, email="eoin@galway.example")
    galway = await account_store.chapter_id(db, "galway")
    eoin = await account_store.member_id(db, "eoin")
    assert galway is not None and eoin is not None
    await account_store.add_organiser(db, galway, eoin, now())
    await log_in(site)
    token = await form_token(site.client, "/@galway")
    response = await post(site, "/@galway/ask", {"csrf_token": token})
    assert response.status == 303
    (told,) = await mailbox.wait_for("eoin@galway.example")
    assert told["Subject"] == "Ana Byrne asks to join IOPS Galway"
    assert link_in(told, "/@galway/requests") == "/@galway/requests"


async def test_mail_is_given_up_after_its_last_attempt_and_that_is_logged(
        tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> None:
    site = await make_mail_site(tmp_path, store_location, aiohttp_client, free_port(),
                                max_attempts=3)
    with capture_logs() as logs:
        assert (await ask_to_join(site)).status == 200
        for _ in range(200):
            rows = await site.sql("SELECT attempts, failed_at, next_attempt_at"
                                  " FROM outgoing_mail")
            if rows and rows[0][1] is not None:
                break
            await asyncio.sleep(0.05)
    ((attempts, failed_at, next_attempt_at),) = rows
    assert attempts == 3 and failed_at is not None and next_attempt_at is None
    retried = [e for e in logs if e["event"] == "mail not sent, will retry"]
    (given_up,) = [e for e in logs if e["event"] == "mail given up"]
    assert [e["attempt"] for e in retried] == [1, 2]
    assert given_up["log_level"] == "error" and given_up["attempts"] == 3
