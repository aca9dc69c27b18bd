"""Every page a person reaches, in English and in Esperanto, with the same data: the
Esperanto page has no English left on it other than what people wrote.

One node, in-process, with a real-looking organisation on it (a national chapter and its
local subchapter with members, news, minutes, an event, a poll, blogs, a note, a request to
join, a token, a failed delivery and a post from another server). Every GET route of the
app's router maps to concrete URLs in PAGES, or is in NOT_PAGES with the reason it is not
a page; a new route in neither fails the guard test, so no page can be forgotten. Each URL
is rendered as a visitor, as an organiser and as an administrator, once with the language
cookie saying `en` and once `eo`; then every visible text of the eo page (text nodes, and
the title, aria-label, placeholder and alt attributes and the labels of input buttons)
that is also, identically, on the en page must be something people wrote (the data
below, names, handles, addresses, numbers) or else it is English nobody translated.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from babel.dates import get_month_names

from actors.accounts import hash_password, issue_password_link, new_token, token_hash
from actors.registry import add_member, create_chapter
from chapterhouse.app import create_app
from chapterhouse.config import Config, parse, render_initial
from chapterhouse.services import initialise
from decisions.ballots import cast_ballot
from decisions.opening import Opening, open_decision
from federation.urls import Urls
from hierarchy.affiliation import affiliate_local
from outbox.content import publish_item
from outbox.items import Item, body_html
from outbox.publish import post_note
from storage import access_tokens as token_store
from storage import accounts as account_store
from storage import actors as actor_store
from storage import chapter_settings as chapter_settings_store
from storage import inbox as inbox_store
from storage import joins as join_store
from storage import pages as page_store
from storage.database import Database
from storage.timestamps import now
from web import i18n
from web.language_choice import time_zones
from web.session import SESSION_COOKIE
from web.state import DB

HTML = {"Accept": "text/html"}
NODE_NAME = "Chapterhouse Ireland"
HOST = "node.test"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
REMOTE_CHAPTER = "https://far.example/actors/galway"
VOTER = "https://far.example/users/rosa"
ROLES = ("visitor", "organiser", "admin")
LOGINS = {"organiser": "ana", "admin": "siobhan"}

# What people wrote: the test's data. A text of an eo page that is also on the en page
# is fine when it is made of these (or names, handles, URLs, numbers).
CHAPTERS = {
    "ireland": ("IOPS Ireland", "national", "Ireland",
                "The chapters of Ireland, together.", datetime(2010, 5, 1, tzinfo=UTC)),
    "dublin": ("IOPS Dublin", "local", "Dublin, Ireland",
               "Organising and bookfairs in Dublin. Meetings every second Tuesday.",
               datetime(2012, 11, 20, tzinfo=UTC)),
}
MEMBERS = {  # handle: (chapter, name)
    "ana": ("dublin", "Ana Byrne"), "brian": ("dublin", "Brian Ó Súilleabháin"),
    "siobhan": ("ireland", "Siobhán Walsh"),
}
ITEMS: dict[str, tuple[str, Item]] = {
    "news": ("dublin", Item(kind="news", title="Bookfair this Saturday",
                            body="Bring **your** books and zines.")),
    "blog": ("dublin", Item(kind="blog", title="Why we organise",
                            summary="A short history of the chapter.",
                            body="We started in *2012* with six people.")),
    "member_blog": ("ana", Item(kind="blog", title="Notes from a member",
                                body="My first post, after the bookfair.")),
    "minutes": ("dublin", Item(kind="minutes", title="Minutes from the August meeting",
                               meeting_date="2026-08-25",
                               body="- Keynes reading group\n- Bookfair planning")),
    "event": ("dublin", Item(
        kind="event", title="Autumn bookfair", summary="Books, zines and tea.",
        starts_at="2030-09-12T14:00", ends_at="2030-09-12T17:30", timezone="Europe/Dublin",
        place_name="Teachers' Club", address="36 Parnell Square", capacity=40,
        body="Tables are **free**.")),
    "poll": ("dublin", Item(kind="poll", title="Should IOPS start a global party?",
                            options=["Yes, now", "No", "Not yet"],
                            closes_at="2030-12-01T18:00:00+00:00")),
    "national_news": ("ireland", Item(kind="news", title="Agenda for the assembly",
                                      body="Motions are due by June.")),
    "project": ("dublin", Item(kind="project", title="Tool-share",
                               summary="Lend and borrow tools in Phibsborough.",
                               body="Drills, ladders and a **sewing machine**.",
                               project_status="active", started_by="ana")),
}
# The organisation's pages: (owner, slug, in the navigation, {language: (title, body)}).
# "about" has no Esperanto text: an Esperanto reader is shown the English one.
SITE_PAGES = [
    (None, "welcome", False, {
        "en": ("Who we are", "IOPS is a grassroots organisation of **chapters**."),
        "eo": ("Kiuj ni estas", "IOPS estas popola organizo de **filioj**.")}),
    (None, "about", True, {"en": ("About IOPS", "Our mission, vision and structure.")}),
    ("dublin", "resources", False, {
        "en": ("Resources", "Leaflets and the meeting guide."),
        "eo": ("Rimedoj", "Flugfolioj kaj la gvidilo por kunvenoj.")}),
]
NOTE = "Thanks to everyone who came to the bookfair!"
REQUEST = ("cara", "Cara Doyle", "I live in Phibsborough and came to the bookfair.")
TOKEN_NAME = "minutes script"
FAILED_INBOX = "https://gone.example/inbox"
RELAYED = ("Galway minutes of November", "Relayed from Galway.")
# A decision of Ireland's, Dublin below it: (question, description, options).
DECISION = ("Adopt the 2027 campaign plan?", "Three campaigns and a **budget**.",
            ["Adopt it", "Reject it"])


PEOPLE_WROTE: list[str] = []  # written in the node's config


def people_wrote() -> list[str]:
    texts = [*PEOPLE_WROTE, NODE_NAME, HOST, NOTE, *REQUEST, TOKEN_NAME, FAILED_INBOX, *RELAYED,
             DECISION[0], DECISION[1], *DECISION[2],
             "HTTP 410", *i18n.LANGUAGES.values()]
    for handle, (name, _level, location, summary, _founded) in CHAPTERS.items():
        texts += [handle, name, location, summary]
    for handle, (_chapter, name) in MEMBERS.items():
        texts += [handle, name]
    for _owner, slug, _navigation, versions in SITE_PAGES:
        texts.append(slug)  # the page's address, as its list shows it
        for title, body in versions.values():
            texts += [title, body]
    for _author, item in ITEMS.values():
        texts += [item.title or "", item.summary or "", *(item.options or []),
                  item.place_name or "", item.address or "", item.body or "",
                  item.timezone or ""]
    # A Markdown body is shown as its words: "**your**" is a text node "your".
    return [" ".join(re.sub(r"[*_#>`-]+", " ", text).split()) for text in texts if text]


# Words that are the same in both languages: names of formats and software.
SAME_IN_BOTH = {"ActivityPub", "Markdown", "Mastodon", "iCalendar", "Atom", "RSS", "UTC",
                "Chapterhouse", "HTTP", "IOPS", "fediverse"}
# ActivityPub's names of activities, which the delivery queue shows as the protocol has them.
ACTIVITY_TYPES = {"Create", "Update", "Delete", "Follow", "Accept", "Reject", "Join",
                  "Leave", "Announce", "Like", "Undo", "Add", "Remove", "Question"}
ACTIVITY_PAGES = ("/admin/deliveries",)


# --- The pages: each GET route and the URLs that render it. `{name}` is an item's path
# (its object URL without the node), `{name_uuid}` its id; `{...}` others are made below.

PAGES: dict[str, list[str]] = {
    "/": ["/"],
    "/chapters": ["/chapters", "/chapters?level=local", "/chapters?level=international"],
    "/events": ["/events"],
    "/{section}": ["/news", "/blogs", "/minutes", "/polls", "/projects"],
    "/events/past": ["/events/past"],
    "/@{handle}/{section}": ["/@dublin/news", "/@dublin/blogs", "/@dublin/minutes",
                             "/@dublin/polls", "/@ireland/minutes", "/@dublin/projects"],
    "/@{handle}/events": ["/@dublin/events"],
    "/@{handle}/members": ["/@dublin/members"],
    "/@{handle}": ["/@dublin", "/@ireland", "/@ana", "/@nobody-here"],
    "/search": ["/search", "/search?q=bookfair", "/search?q=nothing-matches-this"],
    "/login": ["/login"],
    "/password/set": ["/password/set?token={password_token}", "/password/set?token=wrong"],
    "/account/password": ["/account/password"],
    "/password/forgot": ["/password/forgot"],
    "/@{slug}/reset-link": ["/@dublin/reset-link"],
    "/account/tokens": ["/account/tokens"],
    "/account/reading": ["/account/reading"],
    "/account/profile": ["/account/profile"],
    "/admin/deliveries": ["/admin/deliveries"],
    "/join": ["/join", "/join?q=dublin", "/join?q=atlantis"],
    "/join/confirm": ["/join/confirm?token=wrong"],
    "/join/{slug}": ["/join/dublin"],
    "/@{slug}/requests": ["/@dublin/requests"],
    "/@{slug}/manage": ["/@dublin/manage"],
    "/@{slug}/members/manage": ["/@dublin/members/manage"],
    "/@{slug}/members/{handle}/remove": ["/@dublin/members/brian/remove"],
    "/@{slug}/followers": ["/@dublin/followers"],
    "/@{slug}/subchapters": ["/@ireland/subchapters"],
    "/@{slug}/parent": ["/@dublin/parent"],
    "/@{slug}/settings": ["/@dublin/settings"],
    "/welcome": ["/welcome"],
    "/@{handle}/write": ["/@ana/write"],
    "/objects/{uuid}/edit": ["{member_blog}/edit", "{event}/edit", "{poll}/edit"],
    "/@{slug}/publish": ["/@dublin/publish?kind=news", "/@dublin/publish?kind=event",
                         "/@dublin/publish?kind=poll", "/@dublin/publish?kind=minutes"],
    "/remote/{id}": ["{relayed}"],
    "/objects/{uuid}": ["{news}", "{blog}", "{member_blog}", "{minutes}", "{event}",
                        "{poll}", "{note}", "{national_news}", "{project}",
                        "/objects/not-a-uuid"],
    "/@{slug}/projects/new": ["/@dublin/projects/new"],
    "/pages/{page}": ["/pages/welcome", "/pages/about", "/pages/nowhere"],
    "/admin/pages": ["/admin/pages"],
    "/admin/pages/new": ["/admin/pages/new"],
    "/admin/pages/{page}/edit": ["/admin/pages/about/edit"],
    "/@{slug}/pages": ["/@dublin/pages"],
    "/@{slug}/pages/new": ["/@dublin/pages/new"],
    "/@{slug}/pages/{page}": ["/@dublin/pages/resources"],
    "/@{slug}/pages/{page}/edit": ["/@dublin/pages/resources/edit"],
    "/admin/pages/{page}/delete": ["/admin/pages/about/delete"],
    "/@{slug}/decisions/new": ["/@dublin/decisions/new", "/@ireland/decisions/new"],
    "/@{slug}/decisions": ["/@dublin/decisions", "/@ireland/decisions"],
    "/decisions/{id}": ["{decision}", "/decisions/999999"],
    "/@{slug}/pages/{page}/delete": ["/@dublin/pages/resources/delete"],
}

# GET routes that are not pages a person reads, and why.
NOT_PAGES = {
    "/language/{code}": "a redirect that sets the cookie (tests/web/test_language_choice.py)",
    "/events.ics": "iCalendar", "/actors/{handle}/events.ics": "iCalendar",
    "/objects/{uuid}.ics": "iCalendar", "/actors/{handle}/feed.atom": "an Atom feed",
    "/media/avatars/{name}": "pictures", "/static": "stylesheets",
    "/actor": "the node's actor (JSON for servers)",
    "/actors/{handle}": "an actor's document for servers (people get /@handle)",
    "/actor/{collection}": "ActivityPub collections",
    "/actors/{handle}/{collection}": "ActivityPub collections",
    "/objects/{uuid}/replies": "an ActivityPub collection",
    "/activities/{uuid}": "ActivityPub activities",
    "/.well-known/webfinger": "discovery (JSON)", "/.well-known/nodeinfo": "discovery",
    "/.well-known/host-meta": "discovery (XML)", "/nodeinfo/2.1": "discovery (JSON)",
}

# URLs no role gets a 200 for, by design: the page that says so, with its status.
NOT_FOUND_ON_PURPOSE = {
    "/@nobody-here": 404, "/objects/not-a-uuid": 404, "/password/set?token=wrong": 404,
    "/join/confirm?token=wrong": 404, "/pages/nowhere": 404, "/decisions/999999": 404,
}


def route_name(route: web.AbstractRoute) -> str:
    info = route.resource.get_info() if route.resource else {}
    return str(info.get("path") or info.get("formatter") or info.get("prefix"))


def get_routes(app: web.Application) -> set[str]:
    return {route_name(route) for route in app.router.routes() if route.method == "GET"}


# --- The node and its data.

@dataclass
class World:
    client: TestClient[Any, Any]
    db: Database
    config: Config
    values: dict[str, str] = field(default_factory=dict)  # `{name}` in PAGES
    sessions: dict[str, str] = field(default_factory=dict)  # role -> session cookie

    def urls(self) -> Iterator[str]:
        for paths in PAGES.values():
            for path in paths:
                yield path.format(**self.values)


async def _id(db: Database, sql: str, *params: object) -> int:
    async with db.transaction() as tx:
        return int(await tx.fetchvalue(sql, params))


async def _item(tx: Any, world: World, name: str) -> int:
    return int(await tx.fetchvalue("SELECT id FROM items WHERE object_iri = ?",
                                   (world.config.base_url + world.values[name],)))


async def build(tmp_path: Path, location: Path | str, aiohttp_client: Any) -> World:
    raw = tomllib.loads(render_initial(HOST, "http", NODE_NAME))
    raw["storage"]["url"] = str(location)
    config = parse(raw, tmp_path)
    await initialise(config)
    client = await aiohttp_client(create_app(config, deliver=False))
    db = client.app[DB]
    world = World(client, db, config)
    PEOPLE_WROTE.append(config.commitments)  # the node's own words, from its config
    urls = Urls(config.base_url)
    for handle, (name, level, place, summary, founded) in CHAPTERS.items():
        chapter_id = await create_chapter(db, config.hostname, handle, name, level, place,
                                          summary)
        async with db.transaction() as tx:
            await chapter_settings_store.set_founded(tx, chapter_id, founded)
    await affiliate_local(db, urls, "dublin", "ireland", config.hostname, accept=True)
    password = await hash_password("correct horse battery")
    for handle, (chapter, name) in MEMBERS.items():
        member = await add_member(db, config.hostname, handle, chapter, name)
        await account_store.create_account(db, member, None if handle == "brian" else password,
                                           handle == "siobhan", now())
    dublin = await _id(db, "SELECT id FROM actors WHERE handle = 'dublin'")
    ireland = await _id(db, "SELECT id FROM actors WHERE handle = 'ireland'")
    ana = await _id(db, "SELECT id FROM actors WHERE handle = 'ana'")
    siobhan = await _id(db, "SELECT id FROM actors WHERE handle = 'siobhan'")
    await account_store.add_organiser(db, dublin, ana, now())
    await account_store.add_organiser(db, ireland, siobhan, now())

    for name, (author, item) in ITEMS.items():
        iri = await publish_item(db, urls, author, item)
        world.values[name] = iri.removeprefix(config.base_url)
    note = await post_note(db, urls, "dublin", NOTE)
    world.values["note"] = note.removeprefix(config.base_url)

    brian = await _id(db, "SELECT id FROM actors WHERE handle = 'brian'")
    link = await issue_password_link(db, config.base_url, brian)
    world.values["password_token"] = link.split("token=", 1)[1]
    await join_store.add_request(db, dublin, REQUEST[0], REQUEST[1], password, None,
                                 REQUEST[2], None, now())
    await token_store.create(db, ana, TOKEN_NAME, token_hash(new_token()), now())
    await token_store.create(db, siobhan, TOKEN_NAME, token_hash(new_token()), now())
    activity = await _id(db, "SELECT min(id) FROM activities")
    moment = now()
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO deliveries (activity_id, inbox, host, state, attempts,"
            " next_attempt_at, last_error, created_at, updated_at)"
            " VALUES (?, ?, ?, 'dead', 1, ?, 'HTTP 410', ?, ?)",
            (activity, FAILED_INBOX, "gone.example", moment + timedelta(hours=1), moment,
             moment))
        # One of each count, where a page says how many: "1 vote", not "1 votes".
        for table, row in (
                ("poll_votes", {"item_id": await _item(tx, world, "poll"),
                                "voter": f"{VOTER}", "choice": "No",
                                "note_iri": f"{VOTER}/votes/1", "created_at": moment}),
                ("event_participants", {"item_id": await _item(tx, world, "event"),
                                        "participant": VOTER,
                                        "join_iri": f"{VOTER}/joins/1", "created_at": moment})):
            await tx.execute(f"INSERT INTO {table} ({', '.join(row)})"
                             f" VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
        relayed = "https://far.example/objects/1"
        document = {"id": relayed, "type": "Article", "attributedTo": REMOTE_CHAPTER,
                    "name": RELAYED[0], "content": f"<p>{RELAYED[1]}</p>",
                    "meetingDate": "2026-11-03", "to": [PUBLIC],
                    "published": "2026-11-04T10:00:00+00:00"}
        await inbox_store.store_remote_object(tx, inbox_store.RemoteObjectVersion(
            iri=relayed, type="Article", attributed_to=REMOTE_CHAPTER,
            content=f"<p>{RELAYED[1]}</p>", summary=None, in_reply_to=None,
            published=datetime(2026, 11, 4, 10, tzinfo=UTC), updated=None,
            meeting_date="2026-11-03", document=document), [dublin])
    remote = await _id(db, "SELECT id FROM remote_objects WHERE iri = ?", relayed)
    node = await actor_store.node_actor(db)
    assert node is not None
    for position, (owner, slug, navigation, versions) in enumerate(SITE_PAGES):
        owner_id = node.id if owner is None else await _id(
            db, "SELECT id FROM actors WHERE handle = ?", owner)
        async with db.transaction() as tx:
            await page_store.create(tx, owner_id, slug, position, navigation, [
                page_store.PageText(code, title, body, body_html(body))
                for code, (title, body) in versions.items()], now())
    world.values["relayed"] = f"/remote/{remote}"
    decision = await open_decision(db, urls, "ireland", Opening(
        question=DECISION[0], description=DECISION[1], options=DECISION[2],
        closes_at=now() + timedelta(days=7), count_method="members", language="en"))
    for voter in ("ana", "siobhan"):  # ana's ballot shows on her page of it
        await cast_ballot(db, decision, voter, [DECISION[2][0]], timedelta(0))
    world.values["decision"] = f"/decisions/{await _id(db, 'SELECT id FROM decisions')}"

    for role, handle in LOGINS.items():
        # A session as logging in makes one (the login form is tested elsewhere).
        token = new_token()
        member = await _id(db, "SELECT id FROM actors WHERE handle = ?", handle)
        await account_store.create_session(db, member, token_hash(token), new_token(), now(),
                                           now() - timedelta(days=1))
        world.sessions[role] = token
    return world


# --- Reading a page as a person does.

class VisibleText(HTMLParser):
    """The texts a person reads or hears: text nodes outside script and style, and the
    attributes a browser shows or a screen reader says."""

    ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")

    # Not read as prose: scripts and styles, and code (a command, a header) a person types
    # as it is in any language.
    UNREAD = ("script", "style", "code", "kbd", "samp")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.lang: str | None = None
        self._hidden = 0

    def _add(self, text: str | None) -> None:
        text = " ".join((text or "").split())
        if text:
            self.texts.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in self.UNREAD:
            self._hidden += 1
        if tag == "html":
            self.lang = found.get("lang")
        for name in self.ATTRIBUTES:
            self._add(found.get(name))
        if tag == "input" and found.get("type") in ("submit", "button", "reset"):
            self._add(found.get("value"))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.UNREAD:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._add(data)


def read(page: str) -> VisibleText:
    parser = VisibleText()
    parser.feed(page)
    parser.close()
    return parser


URL = re.compile(r"(?:https?://|/)\S*|\S+@\S+|@[\w.-]+")
NOT_WORDS = re.compile(r"[\d\W_]+")


class Judge:
    """Whether a text that reads the same on the en and the eo page is people's."""

    def __init__(self) -> None:
        self.data = sorted(set(people_wrote()), key=len, reverse=True)
        # Time zones (IANA names) and languages as CLDR names them in Esperanto (some are
        # written the same as in English: "Ido", "Papiamento").
        self.exact = set(self.data) | set(time_zones()) | set(
            i18n.language("eo").locale.languages.values())
        catalogue = i18n.language("eo")
        self.catalogue = catalogue
        self.cldr_months = {name.lower() for name in
                            get_month_names("wide", locale=catalogue.locale).values()}

    def written_by_people(self, text: str, path: str = "") -> bool:
        if text in self.exact or text in SAME_IN_BOTH:
            return True
        if path.startswith(ACTIVITY_PAGES) and text in ACTIVITY_TYPES:
            return True
        # Translated on purpose to itself (a name the catalogue keeps as it is).
        worded = self.catalogue.gettext(text)
        if worded == text and self._in_catalogue(text):
            return True
        rest = text
        for written in self.data:
            rest = rest.replace(written, "\0")
        rest = URL.sub("\0", rest)
        for fragment in rest.split("\0"):
            words = NOT_WORDS.sub(" ", fragment).split()
            if not words:
                continue
            phrase = " ".join(words)
            if all(word in SAME_IN_BOTH for word in words):
                continue
            pattern = re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)")
            if not any(pattern.search(" ".join(NOT_WORDS.sub(" ", written).split()))
                       for written in self.data):
                return False
        return True

    def _in_catalogue(self, text: str) -> bool:
        messages = getattr(self.catalogue.translations, "_catalog", {})
        return text in messages and messages[text] == text


# "1 members" in English, "1 membroj" in Esperanto: a count worded without ngettext. A
# noun's plural ends in -s in English (not -ss, -us, -is: "1 class"), in -oj in Esperanto.
AFTER_ONE = {"en": re.compile(r"(?<![\w.,:/-])(1) ([a-z]+[^su\Wi]s)\b"),
             "eo": re.compile(r"(?<![\w.,:/-])(1) (\w+oj)\b")}


def plural_after_one(code: str, text: str) -> list[tuple[str, str]]:
    return [(match[1], match[2]) for match in AFTER_ONE[code].finditer(text)]


# --- The tests.

def test_every_get_route_is_a_page_here_or_said_not_to_be_one(tmp_path: Path) -> None:
    raw = tomllib.loads(render_initial(HOST, "http", NODE_NAME))
    raw["storage"]["url"] = str(tmp_path / "unused.sqlite3")
    routes = get_routes(create_app(parse(raw, tmp_path), deliver=False))
    forgotten = sorted(routes - PAGES.keys() - NOT_PAGES.keys())
    assert not forgotten, (
        "GET routes with neither URLs in PAGES nor a reason in NOT_PAGES (add them to "
        f"tests/web/test_every_page_in_both_languages.py): {forgotten}")
    gone = sorted((PAGES.keys() | NOT_PAGES.keys()) - routes)
    assert not gone, f"PAGES or NOT_PAGES name routes the app no longer has: {gone}"


async def fetch(world: World, role: str, path: str, code: str) -> tuple[int, str]:
    cookies = {i18n.COOKIE: code}
    if role in world.sessions:
        cookies[SESSION_COOKIE] = world.sessions[role]
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    world.client.session.cookie_jar.clear()
    response = await world.client.get(path, headers=HTML | {"Cookie": header},
                                      allow_redirects=False)
    return response.status, await response.text()


@pytest.mark.parametrize("role", ROLES)
async def test_every_page_is_in_esperanto_but_what_people_wrote(
    tmp_path: Path, store_location: Path | str, aiohttp_client: Any, role: str
) -> None:
    world = await build(tmp_path, store_location, aiohttp_client)
    judge = Judge()
    english: list[str] = []  # "page: text" left in English
    plurals: list[str] = []  # "1 members", "1 membroj"
    problems: list[str] = []
    rendered = 0
    for path in world.urls():
        en_status, en_page = await fetch(world, role, path, "en")
        eo_status, eo_page = await fetch(world, role, path, "eo")
        if en_status != eo_status:
            problems.append(f"{path}: {en_status} in en but {eo_status} in eo")
            continue
        if en_status >= 500:
            problems.append(f"{path}: {en_status}, the node failed (its log says why)")
            continue
        if en_status in (301, 302, 303, 307, 308):
            continue  # no page: a visitor sent to log in, a member on to their page
        if "<html" not in en_page:
            problems.append(f"{path}: {en_status} without an HTML page")
            continue
        rendered += 1
        en, eo = read(en_page), read(eo_page)
        if en.lang != "en" or eo.lang != "eo":
            problems.append(f"{path}: <html lang> is {en.lang!r} / {eo.lang!r}")
        for code, parsed in (("en", en), ("eo", eo)):
            for number, word in plural_after_one(code, " | ".join(parsed.texts)):
                plurals.append(f"{path} [{en_status}] {code}: {number} {word!r}")
        same = set(en.texts)
        for text in dict.fromkeys(eo.texts):
            if text in same and not judge.written_by_people(text, path):
                english.append(f"{path} [{en_status}]: {text!r}")
    assert rendered > 20, f"only {rendered} pages rendered as {role}"
    report = []
    if problems:
        report.append(f"Pages that differ between the languages ({len(problems)}):")
        report += [f"  {line}" for line in problems]
    if english:
        report.append(f"English left on the Esperanto pages, as {role} ({len(english)}):")
        report += [f"  {line}" for line in english]
    if plurals:
        report.append(f"A plural noun after the number 1, as {role} (ngettext) "
                      f"({len(plurals)}):")
        report += [f"  {line}" for line in plurals]
    if report:
        pytest.fail("\n".join(report), pytrace=False)


async def test_each_url_is_a_page_for_someone(
    tmp_path: Path, store_location: Path | str, aiohttp_client: Any
) -> None:
    # A URL in PAGES that no role gets (a typo, an id not made) would check nothing.
    world = await build(tmp_path, store_location, aiohttp_client)
    nowhere = []
    for path in world.urls():
        statuses = {role: (await fetch(world, role, path, "en"))[0] for role in ROLES}
        expected = NOT_FOUND_ON_PURPOSE.get(path, 200)
        if expected not in statuses.values():
            nowhere.append(f"{path}: {statuses}, expected {expected} for one of them")
    assert not nowhere, "\n".join(nowhere)


async def test_dates_and_level_names_are_in_esperanto(
    tmp_path: Path, store_location: Path | str, aiohttp_client: Any
) -> None:
    world = await build(tmp_path, store_location, aiohttp_client)
    judge = Judge()
    eo = i18n.language("eo")
    local = eo.gettext("Local chapter")
    national = eo.gettext("National chapter")
    assert local != "Local chapter", "'Local chapter' has no Esperanto translation yet"
    assert national != "National chapter", \
        "'National chapter' has no Esperanto translation yet"
    dated = ["/", "/@dublin", "/chapters", "/events", world.values["event"],
             world.values["minutes"], world.values["news"], "/@dublin/members"]
    en_months = {name for name in get_month_names(
        "wide", locale=i18n.language("en").locale).values()}
    wrong = []
    for path in dated:
        status, page = await fetch(world, "visitor", path, "eo")
        assert status == 200, path
        text = " ".join(read(page).texts)
        months = {word for word in re.findall(r"\w+", text.lower())} & judge.cldr_months
        if not months:
            wrong.append(f"{path}: no date with an Esperanto month name")
        english_dates = re.findall(rf"\d+ (?:{'|'.join(en_months)}) \d{{4}}", text)
        if english_dates:
            wrong.append(f"{path}: English dates {english_dates}")
    for path, level in (("/chapters", local), ("/chapters", national), ("/@dublin", local),
                        ("/@ireland", national)):
        status, page = await fetch(world, "visitor", path, "eo")
        if level not in " ".join(read(page).texts):
            wrong.append(f"{path}: the level is not named {level!r}")
    assert not wrong, "\n".join(wrong)


# --- Forms sent back with a mistake: the reasons shown next to the fields are worded in
# the reader's language too (they are not on any GET page).

class FormFields(HTMLParser):
    """The fields of the form posting to `action`, as a browser would send them."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action = action
        self.fields: dict[str, str] = {}
        self.found = False
        self._inside = False
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._inside = found.get("action") == self.action and not self.found
            self.found = self.found or self._inside
        if not self._inside or "name" not in found:
            if tag == "option" and self._inside and self._select is not None \
                    and "selected" in found:
                self.fields[self._select] = found.get("value", "")
            return
        name = found["name"]
        if tag == "input" and found.get("type") not in ("submit", "button", "checkbox",
                                                        "radio", "file"):
            self.fields[name] = found.get("value", "")
        elif tag == "input" and found.get("type") in ("checkbox", "radio") \
                and "checked" in found:
            self.fields[name] = found.get("value", "on")
        elif tag == "textarea":
            self._textarea = name
            self.fields[name] = ""
        elif tag == "select":
            self._select = name
            self.fields.setdefault(name, "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.fields[self._textarea] += data


# role, the form's page, where it posts, what is changed in it (a mistake), the status.
MISTAKES: list[tuple[str, str, str, dict[str, str], int]] = [
    ("visitor", "/login", "/login", {"username": "ana", "password": "not it"}, 401),
    ("visitor", "/join/dublin", "/join/dublin",
     {"name": "Cara", "username": "Not A Username!", "password": "short"}, 400),
    ("organiser", "/@dublin/publish?kind=news", "/@dublin/publish",
     {"title": " ", "body": "Bring books.", "publish": "1"}, 400),
    ("organiser", "/@dublin/publish?kind=event", "/@dublin/publish",
     {"title": "Bookfair", "starts_at": "not a time", "timezone": "Mars/Olympus",
      "publish": "1"}, 400),
    ("organiser", "/@dublin/publish?kind=poll", "/@dublin/publish",
     {"title": "Tuesdays?", "options": "Only one", "publish": "1"}, 400),
    ("organiser", "/@dublin/settings", "/@dublin/settings", {"name": " "}, 400),
    ("admin", "/@ireland/parent", "/@ireland/parent", {"parent": "@ireland@node.test"},
     400),
    ("organiser", "/@dublin/reset-link", "/@dublin/reset-link", {"member": "nobody"}, 404),
    ("organiser", "/@dublin/projects/new", "/@dublin/projects/new",
     {"title": " ", "status": "someday"}, 400),
    ("organiser", "/@dublin/pages/new", "/@dublin/pages/new", {"slug": "Not a slug!"}, 400),
    ("organiser", "/@ana/write", "/@ana/write", {"title": " ", "body": " "}, 400),
    ("organiser", "/account/profile", "/account/profile", {"name": " "}, 400),
    ("organiser", "/account/tokens", "/account/tokens", {"name": " "}, 400),
    ("organiser", "/account/reading", "/account/reading", {"time_zone": "Mars/Olympus"},
     400),
    ("organiser", "/account/password", "/account/password",
     {"current": "not it", "password": "a new password", "confirm": "another one"}, 400),
    ("admin", "/admin/pages/new", "/admin/pages/new", {"slug": "Not a slug!"}, 400),
    ("organiser", "/@dublin/decisions/new", "/@dublin/decisions",
     {"question": "Tuesdays?", "options": "Only one",
      "closes_at": (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")}, 400),
]


async def send_mistake(world: World, role: str, page: str, action: str,
                       changes: dict[str, str], code: str) -> tuple[int, str]:
    status, form_page = await fetch(world, role, page, code)
    assert status == 200, (page, status)
    fields = FormFields(action)
    fields.feed(form_page)
    assert fields.found, f"{page} has no form posting to {action}"
    cookies = {i18n.COOKIE: code, **{cookie.key: cookie.value for cookie in
                                     world.client.session.cookie_jar}}
    if role in world.sessions:
        cookies[SESSION_COOKIE] = world.sessions[role]
    world.client.session.cookie_jar.clear()
    response = await world.client.post(action, data=fields.fields | changes,
                                       allow_redirects=False, headers=HTML | {
        "Origin": world.config.base_url,
        "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())})
    return response.status, await response.text()


async def test_reasons_shown_next_to_fields_are_in_esperanto(
    tmp_path: Path, store_location: Path | str, aiohttp_client: Any
) -> None:
    world = await build(tmp_path, store_location, aiohttp_client)
    # What the forms were sent comes back in their fields: written by people too.
    PEOPLE_WROTE.extend(value for *_, changes, _status in MISTAKES
                        for value in changes.values())
    judge = Judge()
    problems, english = [], []
    for role, page, action, changes, expected in MISTAKES:
        en_status, en_page = await send_mistake(world, role, page, action, changes, "en")
        eo_status, eo_page = await send_mistake(world, role, page, action, changes, "eo")
        if (en_status, eo_status) != (expected, expected):
            problems.append(f"{action} as {role}: {en_status} / {eo_status}, "
                            f"expected {expected}")
            continue
        en, eo = read(en_page), read(eo_page)
        if eo.lang != "eo":
            problems.append(f"{action}: <html lang={eo.lang!r}>")
        reasons = re.findall(r'class="error"[^>]*>([^<]+)<', eo_page)
        if not reasons:
            problems.append(f"{action}: no reason shown next to a field (class=error)")
        same = set(en.texts)
        for text in dict.fromkeys(eo.texts):
            if text in same and not judge.written_by_people(text, action):
                english.append(f"{action} as {role} [{eo_status}]: {text!r}")
    report = []
    if problems:
        report += [f"Forms that did not refuse as expected ({len(problems)}):",
                   *(f"  {line}" for line in problems)]
    if english:
        report += [f"English left on the refused forms in Esperanto ({len(english)}):",
                   *(f"  {line}" for line in english)]
    if report:
        pytest.fail("\n".join(report), pytrace=False)
