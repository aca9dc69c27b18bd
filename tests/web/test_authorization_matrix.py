"""Who may do what: every state-changing route of the node, tried by six people (a visitor,
a member of another chapter, a member of dublin, an organiser of another chapter, an
organiser of dublin and the node's administrator), each getting the answer the page gives
them, and nothing changing where they were refused. Then the same routes without a CSRF
token, and with a session that "log out everywhere" ended.

A new state-changing route must get a row here: `test_every_state_changing_route_has_a_row`
fails until it does.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from actors.accounts import hash_password, issue_password_link, new_token, token_hash
from actors.registry import add_member, create_chapter
from federation.urls import Urls
from outbox.content import publish_item
from outbox.items import Item
from storage import accounts as account_store
from storage import joins as join_store
from storage.timestamps import now
from tests.web import test_decisions as decisions_web
from tests.web import test_site_pages as site_pages
from tests.web import test_workspace as workspace
from tests.web.test_accounts import (
    HTML,
    PASSWORD,
    Site,
    form_token,
    log_in,
    logged_in_as,
    make_site,
    post,
)
from tests.web.test_admin_deliveries import queued_waiting
from tests.web.test_tokens import ana_token
from web.session import CROSS_SITE, SESSION_COOKIE

ROLES = ("visitor", "other_member", "member", "other_organiser", "organiser", "admin")
# The username each role logs in with (the visitor has none). dublin is the chapter the
# routes act on; cork is "another chapter"; the administrator belongs to galway only.
USERNAMES = {"other_member": "cian", "member": "ana", "other_organiser": "orla",
             "organiser": "dara", "admin": "siobhan"}
_hash: list[str] = []  # one argon2 hash shared by every account: hashing is slow on purpose


@dataclass
class People:
    """A site with a browser per role, each logged in (or, the visitor, holding the
    login form's pre-session token)."""

    site: Site
    clients: dict[str, TestClient[Any, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    serial: itertools.count[int] = field(default_factory=itertools.count)
    made: dict[str, str] = field(default_factory=dict)  # what targets made once, by name

    async def id_of(self, handle: str) -> int:
        found = await account_store.member_id(self.site.db, handle)
        assert found is not None, handle
        return found

    async def chapter(self, handle: str) -> int:
        found = await account_store.chapter_id(self.site.db, handle)
        assert found is not None, handle
        return found


async def _account(site: Site, handle: str, chapter: str, *, organiser: bool = False,
                   admin: bool = False) -> None:
    db = site.db
    member = await add_member(db, site.config.hostname, handle, chapter, handle.title())
    await account_store.create_account(db, member, _hash[0], admin, now())
    if organiser:
        chapter_id = await account_store.chapter_id(db, chapter)
        assert chapter_id is not None
        await account_store.add_organiser(db, chapter_id, member, now())


async def _session(site: Site, handle: str, client: TestClient[Any, Any]) -> None:
    """Logged in without the form: a session as logging in makes one, its cookie put in the
    browser; verifying five argon2 hashes per site would make the matrix slow."""
    token = new_token()
    moment = now()
    member = await account_store.member_id(site.db, handle)
    assert member is not None
    await account_store.create_session(site.db, member, token_hash(token), new_token(), moment,
                                       moment - timedelta(days=1))
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: token}, client.make_url("/"))


async def make_people(tmp_path: Path, location: Path | str, aiohttp_client: Any) -> People:
    if not _hash:
        _hash.append(await hash_password(PASSWORD))
    site = await make_site(tmp_path, location, aiohttp_client)  # dublin, ana, brian
    for slug, name in (("cork", "IOPS Cork"), ("galway", "IOPS Galway")):
        await create_chapter(site.db, site.config.hostname, slug, name, "local")
    await _account(site, "cian", "cork")
    await _account(site, "orla", "cork", organiser=True)
    await _account(site, "dara", "dublin", organiser=True)
    await _account(site, "siobhan", "galway", admin=True)
    # brian has an account without a password: he sets one from a one-time link.
    brian = await account_store.member_id(site.db, "brian")
    assert brian is not None
    await account_store.create_account(site.db, brian, None, False, now())
    people = People(site)
    for role in ROLES:
        client = site.client if role == "member" else await site.another_browser()
        people.clients[role] = client
        if role == "visitor":
            people.tokens[role] = await form_token(client, "/login")
            continue
        if role == "member":
            response = await log_in(site, USERNAMES[role], client=client)
            assert response.status == 303, await response.text()
        else:
            await _session(site, USERNAMES[role], client)
        assert await logged_in_as(client) == USERNAMES[role]
        people.tokens[role] = await form_token(client, "/account/password")
    return people


@pytest.fixture
async def people(tmp_path: Path, store_location: Path | str, aiohttp_client: Any
                 ) -> AsyncIterator[People]:
    made = await make_people(tmp_path, store_location, aiohttp_client)
    yield made
    for client in made.clients.values():
        if client is not made.site.client:
            await client.close()


# --- What each route is sent: a fresh target per request, so one role's success does not
# decide the next role's answer.

Target = Callable[[People, str], Awaitable[tuple[str, dict[str, str]]]]


def fixed(path: str, data: dict[str, str] | None = None) -> Target:
    async def target(people: People, role: str) -> tuple[str, dict[str, str]]:
        return path, dict(data or {})
    return target


async def password_link(people: People, role: str) -> tuple[str, dict[str, str]]:
    # brian (a member of dublin without a password yet) got a link; whoever holds it may use
    # it: the token is the authority.
    site = people.site
    link = await issue_password_link(site.db, site.config.base_url, await people.id_of("brian"))
    token = link.split("token=", 1)[1]
    return "/password/set", {"token": token, "password": "a new password",
                             "confirm": "a new password"}


async def join_dublin(people: People, role: str) -> tuple[str, dict[str, str]]:
    return "/join/dublin", {"name": "Nuala Ní Bhriain", "username": f"nuala{next(people.serial)}",
                            "password": "a long walk home", "agree": "yes"}


async def confirm_email(people: People, role: str) -> tuple[str, dict[str, str]]:
    # A request waiting for its email address to be confirmed (as when the node sends
    # mail); whoever holds the link mailed may confirm it: the token is the authority.
    token = new_token()
    moment = now()
    await join_store.add_request(
        people.site.db, await people.chapter("dublin"), f"mailed{next(people.serial)}",
        "Mailed", _hash[0], "mailed@example.org", "", None, moment,
        confirm_token_hash=token_hash(token), confirm_by=moment + timedelta(days=1))
    return "/join/confirm", {"token": token}


def decide(verb: str) -> Target:
    async def target(people: People, role: str) -> tuple[str, dict[str, str]]:
        serial = next(people.serial)
        request = await join_store.add_request(
            people.site.db, await people.chapter("dublin"), f"waiting{serial}", "Waiting",
            _hash[0], None, "", None, now())
        return f"/@dublin/requests/{request}/{verb}", {}
    return target


async def _ana_post(people: People) -> str:
    site = people.site
    iri = await publish_item(site.db, Urls(site.config.base_url), "ana",
                             Item(kind="blog", title=f"Post {next(people.serial)}", body="Text."))
    return iri.removeprefix(site.config.base_url)


async def edit_ana_post(people: People, role: str) -> tuple[str, dict[str, str]]:
    return f"{await _ana_post(people)}/edit", {"title": "Edited", "summary": "",
                                               "body": "New text."}


async def delete_ana_post(people: People, role: str) -> tuple[str, dict[str, str]]:
    return f"{await _ana_post(people)}/delete", {}


def at_dublin_news(content: str | None = None) -> Target:
    """A news item of dublin's to reply to, like or boost (each role acts once on it)."""
    async def target(people: People, role: str) -> tuple[str, dict[str, str]]:
        site = people.site
        if "news" not in people.made:
            people.made["news"] = await publish_item(
                site.db, Urls(site.config.base_url), "dublin",
                Item(kind="news", title="Bookfair", body="Bring books."))
        data = {"object": people.made["news"], "next": "/@dublin"}
        return "", data | ({"content": content} if content is not None else {})
    return target


def dublin_item(name: str, item: Item, data: dict[str, str]) -> Target:
    """A poll or event of dublin's (made once) that each role votes in or goes to once."""
    async def target(people: People, role: str) -> tuple[str, dict[str, str]]:
        site = people.site
        if name not in people.made:
            people.made[name] = await publish_item(site.db, Urls(site.config.base_url),
                                                   "dublin", item)
        return f"/{name}", {"object": people.made[name], **data}
    return target


async def own_profile(people: People, role: str) -> tuple[str, dict[str, str]]:
    return "/account/profile", {"name": f"New name {next(people.serial)}",
                                "summary": "I organise *bookfairs*."}


def posting_to(path: str, target: Target) -> Target:
    async def posted(people: People, role: str) -> tuple[str, dict[str, str]]:
        return path, (await target(people, role))[1]
    return posted


# --- What each role gets.

@dataclass(frozen=True)
class Answer:
    status: int
    changes: bool  # whether the probe's rows change
    location: str | None = None  # where a redirect leads (its start)


def acted(status: int, location: str | None = None) -> Answer:
    return Answer(status, True, location)


def refused(status: int, location: str | None = None) -> Answer:
    return Answer(status, False, location)


TO_LOGIN = refused(303, "/login?next=")


@dataclass(frozen=True)
class Row:
    route: str  # "METHOD /canonical/{path}" as the router names it
    target: Target
    probe: str  # SQL whose rows change when the request acted
    answers: dict[str, Answer]

    def __post_init__(self) -> None:
        assert set(self.answers) == set(ROLES), self.route


def row(route: str, target: Target, probe: str, **answers: Answer) -> Row:
    return Row(route, target, probe, answers)


def everyone(answer: Answer) -> dict[str, Answer]:
    return dict.fromkeys(ROLES, answer)


def members(answer: Answer, visitor: Answer = TO_LOGIN) -> dict[str, Answer]:
    return {**dict.fromkeys(ROLES, answer), "visitor": visitor}


def organisers_of_dublin(answer: Answer) -> dict[str, Answer]:
    """Only dublin's organisers and the administrator; other members see a 403 page."""
    return {"visitor": TO_LOGIN, "other_member": refused(403), "member": refused(403),
            "other_organiser": refused(403), "organiser": answer, "admin": answer}


SESSIONS = "SELECT id, account_id FROM sessions ORDER BY id"
REQUESTS = "SELECT id, chapter_id, username, member_id, state FROM join_requests ORDER BY id"
MEMBERSHIPS = "SELECT member_id, chapter_id FROM memberships ORDER BY member_id, chapter_id"
ORGANISERS = "SELECT chapter_id, member_id FROM organisers ORDER BY chapter_id, member_id"
FOLLOWERS = "SELECT follower_iri, state FROM followers ORDER BY id"
SUBCHAPTERS = "SELECT child_iri, state FROM subchapters ORDER BY id"
PARENTS = "SELECT chapter_id, parent_iri, state FROM parents ORDER BY chapter_id"

TABLE: list[Row] = [
    # Logging in is open to anyone with the password; a logged-in person logging in again
    # becomes whoever they named.
    row("POST /login", fixed("/login", {"username": "ana", "password": PASSWORD}), SESSIONS,
        **everyone(acted(303, "/"))),
    row("POST /logout", fixed("/logout"), SESSIONS,
        **members(acted(303, "/"), visitor=refused(303, "/"))),
    row("POST /logout/everywhere", fixed("/logout/everywhere"),
        "SELECT member_id, sessions_valid_after FROM accounts ORDER BY member_id",
        **members(acted(200))),
    row("POST /password/set", password_link,
        "SELECT password_hash FROM accounts ORDER BY member_id", **everyone(acted(303, "/@brian"))),
    row("POST /account/password",
        fixed("/account/password", {"current": PASSWORD, "password": "a new password",
                                    "confirm": "a new password"}),
        "SELECT password_hash FROM accounts ORDER BY member_id", **members(acted(200))),
    # The language switcher: a member's choice is kept in their account; a visitor's only
    # in their own cookie.
    row("POST /language", fixed("/language", {"lang": "eo", "next": "/"}),
        "SELECT member_id, language FROM accounts ORDER BY member_id",
        **members(acted(303, "/"), visitor=refused(303, "/"))),
    row("POST /account/reading",
        fixed("/account/reading", {"language": "eo", "time_zone": "Europe/Dublin"}),
        "SELECT member_id, language, time_zone FROM accounts ORDER BY member_id",
        **members(acted(303, "/account/reading?saved=1"))),
    # A member asks to join from the chapter's page, with their account: the visitor's form
    # sends them there.
    row("POST /join/{slug}", join_dublin, REQUESTS + ";" + MEMBERSHIPS,
        **{**everyone(refused(303, "/@dublin")), "visitor": acted(200)}),
    row("POST /@{slug}/requests/{id}/approve", decide("approve"),
        REQUESTS + ";" + MEMBERSHIPS, **organisers_of_dublin(acted(303, "/@dublin/requests"))),
    row("POST /@{slug}/requests/{id}/reject", decide("reject"), REQUESTS,
        **organisers_of_dublin(acted(303, "/@dublin/requests"))),
    # Asking is for members of other chapters; dublin's own members are sent back to it.
    row("POST /@{slug}/ask", fixed("/@dublin/ask"), REQUESTS + ";" + MEMBERSHIPS,
        visitor=refused(303, "/join/dublin"), other_member=acted(303, "/@dublin"),
        member=refused(303, "/@dublin"), other_organiser=acted(303, "/@dublin"),
        organiser=refused(303, "/@dublin"), admin=acted(303, "/@dublin")),
    row("POST /join/confirm", confirm_email,
        "SELECT id, email_confirmed_at FROM join_requests ORDER BY id", **everyone(acted(200))),
    # Without [mail] (this site) nobody is mailed a link, and nothing is recorded.
    row("POST /password/forgot", fixed("/password/forgot", {"name": "ana"}),
        "SELECT id FROM failed_logins ORDER BY id;SELECT id FROM password_links ORDER BY id",
        **everyone(refused(404))),
    # A one-time password link for brian, a member of dublin, shown to whoever made it.
    row("POST /@{slug}/reset-link", fixed("/@dublin/reset-link", {"member": "brian"}),
        "SELECT id FROM password_links ORDER BY id", **organisers_of_dublin(acted(200))),
    row("POST /@{slug}/leave", fixed("/@dublin/leave"), MEMBERSHIPS,
        visitor=TO_LOGIN, other_member=refused(303, "/@dublin"), member=acted(303, "/@dublin"),
        other_organiser=refused(303, "/@dublin"), organiser=acted(303, "/@dublin"),
        admin=refused(303, "/@dublin")),
    # Members write on their own blog only, and edit or delete only their own posts: an
    # organiser or the administrator is refused like anyone else.
    row("POST /@{handle}/write",
        fixed("/@ana/write", {"title": "A post", "summary": "", "body": "Text."}),
        "SELECT object_iri FROM items ORDER BY id",
        **{**everyone(refused(403)), "visitor": TO_LOGIN, "member": acted(303, "/objects/")}),
    row("POST /objects/{uuid}/edit", edit_ana_post, "SELECT title, body FROM items ORDER BY id",
        **{**everyone(refused(403)), "visitor": TO_LOGIN, "member": acted(303, "/objects/")}),
    row("POST /objects/{uuid}/delete", delete_ana_post,
        "SELECT object_iri, deleted_at FROM items ORDER BY id",
        **{**everyone(refused(403)), "visitor": TO_LOGIN, "member": acted(303, "/@ana")}),
    # Any member replies to, likes and boosts any item.
    row("POST /reply", posting_to("/reply", at_dublin_news("Count me in.")),
        "SELECT iri FROM objects WHERE type = 'Note' ORDER BY id",
        **members(acted(303, "/@dublin#replies"))),
    row("POST /like", posting_to("/like", at_dublin_news()),
        "SELECT kind, actor_iri FROM reactions ORDER BY id", **members(acted(303, "/@dublin"))),
    row("POST /boost", posting_to("/boost", at_dublin_news()),
        "SELECT kind, actor_iri FROM reactions ORDER BY id", **members(acted(303, "/@dublin"))),
    # Any member votes in a poll and goes to an event of this node (public ones, as anyone
    # in the fediverse can).
    row("POST /vote",
        dublin_item("vote", Item(kind="poll", title="Meet on Tuesdays?", options=["Yes", "No"],
                                 closes_at="2030-12-01T18:00:00+00:00"), {"choice": "Yes"}),
        "SELECT item_id, voter, choice FROM poll_votes ORDER BY item_id, voter",
        **members(acted(303, "/objects/"))),
    row("POST /rsvp",
        dublin_item("rsvp", Item(kind="event", title="Autumn bookfair",
                                 starts_at="2030-09-12T14:00", timezone="Europe/Dublin",
                                 place_name="Teachers' Club"), {"going": "yes"}),
        "SELECT item_id, participant FROM event_participants ORDER BY item_id, participant",
        **members(acted(303, "/objects/"))),
    # Everyone edits their own profile only: the form names no member.
    row("POST /account/profile", own_profile,
        "SELECT id, name, summary FROM actors ORDER BY id",
        **members(acted(303, "/@"))),
    # A chapter's organisers (and the administrator) publish for it from the web; the edit
    # and delete of its items by every role are tried in tests/web/test_publishing.py (the
    # rows above for those routes are a member's own post).
    row("POST /@{slug}/publish",
        fixed("/@dublin/publish", {"kind": "news", "title": "From the web", "body": "Text."}),
        "SELECT object_iri FROM items ORDER BY id",
        **organisers_of_dublin(acted(303, "/objects/"))),
    # Personal access tokens: every member makes their own and revokes only their own
    # (ana's token is no one else's to revoke: they get "no such token"). The
    # client-to-server outbox (POST /actors/{handle}/outbox) has no row: like the inboxes
    # it is exempt from the session middleware (CROSS_SITE), since only a Bearer token,
    # never a session cookie, authorises it; tests/test_client_to_server.py covers it.
    row("POST /account/tokens", fixed("/account/tokens", {"name": "minutes script"}),
        "SELECT id, account_id FROM access_tokens ORDER BY id", **members(acted(200))),
    row("POST /account/tokens/{id}/revoke", ana_token,
        "SELECT id, revoked_at FROM access_tokens ORDER BY id",
        **{**everyone(refused(404)), "visitor": TO_LOGIN,
           "member": acted(303, "/account/tokens")}),
    # The delivery queue is the node's administrators' alone.
    row("POST /admin/deliveries/retry", queued_waiting,
        "SELECT id, next_attempt_at FROM deliveries ORDER BY id",
        **{**everyone(refused(403)), "visitor": TO_LOGIN, "admin": acted(200)}),
    # The chapter's workspace (web/workspace.py, web/chapter_settings.py): dublin's
    # organisers and the administrators only.
    row("POST /@{slug}/members/{handle}/remove", workspace.member_to_remove, MEMBERSHIPS,
        **organisers_of_dublin(acted(303, "/@dublin/members/manage"))),
    row("POST /@{slug}/members/{handle}/appoint", workspace.member_to_appoint, ORGANISERS,
        **organisers_of_dublin(acted(303, "/@dublin/members/manage"))),
    row("POST /@{slug}/members/{handle}/dismiss", workspace.organiser_to_dismiss, ORGANISERS,
        **organisers_of_dublin(acted(303, "/@dublin/members/manage"))),
    row("POST /@{slug}/followers/approve", workspace.follower_waiting("approve"), FOLLOWERS,
        **organisers_of_dublin(acted(303, "/@dublin/followers"))),
    row("POST /@{slug}/followers/reject", workspace.follower_waiting("reject"), FOLLOWERS,
        **organisers_of_dublin(acted(303, "/@dublin/followers"))),
    row("POST /@{slug}/subchapters/accept", workspace.subchapter_asking("accept"),
        SUBCHAPTERS, **organisers_of_dublin(acted(303, "/@dublin/subchapters"))),
    row("POST /@{slug}/subchapters/reject", workspace.subchapter_asking("reject"),
        SUBCHAPTERS, **organisers_of_dublin(acted(303, "/@dublin/subchapters"))),
    row("POST /@{slug}/parent", workspace.parent_to_ask, PARENTS,
        **organisers_of_dublin(acted(303, "/@dublin/parent"))),
    row("POST /@{slug}/parent/leave", workspace.parent_to_leave, PARENTS,
        **organisers_of_dublin(acted(303, "/@dublin/parent"))),
    row("POST /@{slug}/settings", workspace.new_settings,
        "SELECT id, name FROM actors WHERE kind = 'chapter' ORDER BY id",
        **organisers_of_dublin(acted(303, "/@dublin"))),
    # A chapter's members (its organisers and the administrators too) start its projects;
    # who edits and deletes one is tried in tests/web/test_projects.py.
    row("POST /@{slug}/projects/new",
        fixed("/@dublin/projects/new", {"title": "Tool-share", "status": "proposed",
                                        "body": "Lend and borrow tools."}),
        "SELECT object_iri FROM items ORDER BY id",
        **{**organisers_of_dublin(acted(303, "/objects/")), "member": acted(303, "/objects/")}),
    # The organisation's pages (web/site_pages.py): the node's by its administrators, a
    # chapter's by its organisers and the administrators. Saving queues no delivery.
    row("POST /admin/pages/new", site_pages.new_page("/admin/pages"), site_pages.PAGE_PROBE,
        **{**everyone(refused(403)), "visitor": TO_LOGIN, "admin": acted(303, "/pages/")}),
    row("POST /admin/pages/{page}/edit", site_pages.existing_page("/admin/pages", None, "edit"),
        site_pages.PAGE_PROBE,
        **{**everyone(refused(403)), "visitor": TO_LOGIN, "admin": acted(303, "/pages/")}),
    row("POST /admin/pages/{page}/delete",
        site_pages.existing_page("/admin/pages", None, "delete"), site_pages.PAGE_PROBE,
        **{**everyone(refused(403)), "visitor": TO_LOGIN,
           "admin": acted(303, "/admin/pages?deleted=1")}),
    row("POST /@{slug}/pages/new", site_pages.new_page("/@dublin/pages"),
        site_pages.PAGE_PROBE, **organisers_of_dublin(acted(303, "/@dublin/pages/"))),
    row("POST /@{slug}/pages/{page}/edit",
        site_pages.existing_page("/@dublin/pages", "dublin", "edit"), site_pages.PAGE_PROBE,
        **organisers_of_dublin(acted(303, "/@dublin/pages/"))),
    row("POST /@{slug}/pages/{page}/delete",
        site_pages.existing_page("/@dublin/pages", "dublin", "delete"), site_pages.PAGE_PROBE,
        **organisers_of_dublin(acted(303, "/@dublin/pages?deleted=1"))),
    # Decisions (web/decisions.py): a chapter's organisers (and the administrators) open
    # one for it; only members of the chapters it was put to vote in it (the administrator
    # of galway has no say in dublin's decision), and their ballot may be changed.
    row("POST /@{slug}/decisions", decisions_web.opening_for_dublin,
        "SELECT id, question FROM decisions ORDER BY id",
        **organisers_of_dublin(acted(303, "/decisions/"))),
    row("POST /decisions/{id}/ballot", decisions_web.ballot_in_dublin,
        "SELECT decision_id, member_id, choices, cast_at FROM ballots"
        " ORDER BY decision_id, member_id",
        visitor=TO_LOGIN, other_member=refused(403), member=acted(303, "/decisions/"),
        other_organiser=refused(403), organiser=acted(303, "/decisions/"),
        admin=refused(403)),
]
BY_ROUTE = {entry.route: entry for entry in TABLE}


async def snapshot(site: Site, probe: str) -> list[list[Any]]:
    return [await site.sql(query) for query in probe.split(";")]


@dataclass
class Sent:
    status: int
    location: str
    text: str
    before: list[list[Any]]  # the probe's rows just before the request
    after: list[list[Any]]  # and just after


async def send(people: People, entry: Row, role: str, token: str | None,
               client: TestClient[Any, Any] | None = None,
               headers: dict[str, str] | None = None) -> Sent:
    path, data = await entry.target(people, role)
    if token is not None:
        data["csrf_token"] = token
    before = await snapshot(people.site, entry.probe)
    response = await post(people.site, path, data, client=client or people.clients[role],
                          headers=headers)
    return Sent(response.status, response.headers.get("Location", ""), await response.text(),
                before, await snapshot(people.site, entry.probe))


def state_changing_routes(app: web.Application) -> set[str]:
    cross_site = app[CROSS_SITE]
    return {f"{route.method} {route.resource.canonical}" for route in app.router.routes()
            if route.method not in ("GET", "HEAD") and route.handler not in cross_site
            and route.resource is not None}


async def test_every_state_changing_route_has_a_row(people: People) -> None:
    app = people.site.client.app
    assert app is not None
    routes = state_changing_routes(app)
    assert routes, "the router lists no state-changing route"
    missing = sorted(routes - set(BY_ROUTE))
    assert not missing, f"routes that change state with no row in TABLE: {missing}"
    gone = sorted(set(BY_ROUTE) - routes)
    assert not gone, f"rows in TABLE for routes the node no longer has: {gone}"


@pytest.mark.parametrize("route", [entry.route for entry in TABLE])
async def test_each_role_gets_the_answer_of_its_rights(people: People, route: str) -> None:
    entry = BY_ROUTE[route]
    for role in ROLES:
        expected = entry.answers[role]
        sent = await send(people, entry, role, people.tokens[role])
        where = f"{route} as {role}"
        assert sent.status == expected.status, f"{where}: {sent.text[:300]}"
        if expected.location is not None:
            assert sent.location.startswith(expected.location), f"{where}: {sent.location}"
        if expected.changes:
            assert sent.after != sent.before, f"{where}: answered {sent.status}, did nothing"
        else:
            assert sent.after == sent.before, f"{where}: refused, yet it changed {entry.probe}"
        if expected.status >= 400:
            assert "<h1" in sent.text, f"{where}: no page saying why"


async def test_a_member_without_the_csrf_token_is_refused_everywhere(people: People) -> None:
    for entry in TABLE:
        for token in (None, "not-the-token-" + "x" * 30):
            sent = await send(people, entry, "member", token)
            assert sent.status == 403, f"{entry.route} with token {token!r}"
            assert "security token" in sent.text
            assert sent.after == sent.before, entry.route
    assert await logged_in_as(people.clients["member"]) == "ana"


async def test_a_session_from_before_log_out_everywhere_is_logged_out(people: People) -> None:
    site = people.site
    # ana on a second device, with that page's form token.
    laptop = await site.another_browser()
    try:
        assert (await log_in(site, client=laptop)).status == 303
        stale_token = await form_token(laptop, "/account/password")
        stale_cookie = {cookie.key: cookie.value for cookie in laptop.session.cookie_jar}
        assert "chapterhouse_session" in stale_cookie
        response = await post(site, "/logout/everywhere", {"csrf_token": people.tokens["member"]},
                              client=people.clients["member"])
        assert response.status == 200
        # Sent by hand: the first answer to the laptop told it to forget the cookie.
        cookie = "; ".join(f"{key}={value}" for key, value in stale_cookie.items())
        stale = site.origin | HTML | {"Cookie": cookie}
        assert await logged_in_as(laptop) is None
        response = await laptop.get("/account/password", headers=HTML, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"].startswith("/login")
        # The old cookie and its token act nowhere.
        for entry in TABLE:
            sent = await send(people, entry, "member", stale_token, client=laptop,
                              headers=stale)
            assert sent.status == 403, entry.route
            assert sent.after == sent.before, entry.route
        # The other people's sessions are theirs: still logged in.
        assert await logged_in_as(people.clients["organiser"]) == "dara"
    finally:
        await laptop.close()  # last: it stops the shared test server
