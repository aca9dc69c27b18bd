"""Joining a chapter: finding one, asking to join, organisers deciding, leaving.

Routes: GET /join (find a chapter), GET/POST /join/{slug} (a visitor's request),
GET/POST /join/confirm (the link mailed to confirm a request's email address),
GET /@{slug}/requests and POST /@{slug}/requests/{id}/approve|reject (its organisers),
POST /@{slug}/ask (a member of another chapter asks), POST /@{slug}/leave. The session
middleware (web/session.py) has already checked every POST's origin and CSRF token.

When the node sends mail and the visitor gives an email address, the request waits until
the address is confirmed, as Discourse and Mobilizon do: organisers are told (and see it)
only then, and a chapter open to all opens the account only then. Without an address, or
without mail, the request goes to the organisers at once.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web

from actors.accounts import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    AccountError,
    check_email,
    check_password,
    hash_password,
    new_token,
    token_hash,
)
from actors.handles import MAX_LENGTH as MAX_HANDLE
from actors.handles import InvalidHandle, validate_handle
from actors.registry import RegistryError, add_member
from chapterhouse.reasons import N_
from storage import accounts as account_store
from storage import actors as actor_store
from storage import joins as store
from storage import mail as mail_store
from storage import profiles as profile_store
from storage.mail import Mail
from storage.timestamps import now
from web import i18n, known_chapters, session
from web.accounts import see_other
from web.i18n import _, ngettext
from web.mail import MAIL, confirm_join, new_request
from web.pages import render
from web.state import DB, NODE
from web.welcome import welcome_path

COMMITMENTS = web.AppKey("commitments", str)
MAX_NAME = 100
MAX_EMAIL = 254
MAX_MESSAGE = 1000
MAX_QUERY = 100
NOT_AVAILABLE = N_("This username is not available. Choose another.")
CONFIRM_DAYS = 3


@dataclass
class JoinForm:
    name: str = ""
    username: str = ""
    email: str = ""
    message: str = ""
    agree: bool = False


def _field(form: Any, name: str, limit: int) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _printable(text: str, keep_lines: bool = False) -> str:
    """Without control characters (PostgreSQL text holds no NUL, pages show none)."""
    kept = "\n" if keep_lines else ""
    return "".join(c for c in text if c in kept or (ord(c) >= 32 and ord(c) != 127))


def _notice(request: web.Request, heading: str, message: str, status: int = 200,
            link: dict[str, str] | None = None) -> web.Response:
    response = render(request, "notice.html", heading=heading, message=message, link=link)
    response.set_status(status)
    return response


def _no_chapter(request: web.Request) -> web.Response:
    return _notice(request, _("No such chapter"), _("This node has no chapter by that name."),
                   404, link={"href": "/join", "text": _("Find a chapter")})


async def find(request: web.Request) -> web.Response:
    query = request.query.get("q", "")[:MAX_QUERY].strip()
    chapters = await store.find_chapters(request.app[DB], query)
    # And the chapters below ours on other nodes: joined there, on their own node.
    below = await known_chapters.chapters_below(request.app[DB], query)
    return render(request, "join_find.html", query=query, chapters=chapters, below=below)


def _form_page(request: web.Request, chapter: store.ChapterChoice, form: JoinForm,
               errors: dict[str, str], status: int = 200) -> web.Response:
    response = render(request, "join.html", chapter=chapter, form=form, errors=errors,
                      commitments=_(request.app[COMMITMENTS]), min_password=MIN_PASSWORD,
                      mail_on=request.app[MAIL].enabled,
                      csrf_token=session.csrf_token(request))
    response.set_status(status)
    return response


async def join_form(request: web.Request) -> web.Response:
    found = await store.chapter_choice(request.app[DB], request.match_info["slug"])
    if found is None:
        return _no_chapter(request)
    if session.viewer(request) is not None:
        # A member asks with their account, from the chapter's page.
        return see_other(f"/@{quote(found[1].handle)}")
    return _form_page(request, found[1], JoinForm(), {})


async def _username_error(request: web.Request, username: str) -> str | None:
    try:
        validate_handle(username)
    except InvalidHandle:
        return _("A username has 1 to %(num)d characters: lower-case letters a-z, digits, "
                 "'_' and '-', not starting or ending with '-'.", num=MAX_HANDLE)
    db = request.app[DB]
    if (username == request.app[NODE].username or await actor_store.handle_exists(db, username)
            or await store.username_pending(db, username)):
        return _(NOT_AVAILABLE)
    return None


async def _check(request: web.Request, form: JoinForm, password: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not form.name:
        errors["name"] = _("Enter your name.")
    username_error = await _username_error(request, form.username)
    if username_error:
        errors["username"] = username_error
    try:
        check_password(password)
    except AccountError as exc:
        errors["password"] = i18n.sentence(exc)
    if form.email:
        try:
            check_email(form.email)
        except AccountError:
            errors["email"] = _("Enter an email address such as name@example.org, "
                                "or leave it empty.")
    if not form.agree:
        errors["agree"] = _("You can join only if you agree to the commitments.")
    return errors


async def join(request: web.Request) -> web.Response:
    db = request.app[DB]
    found = await store.chapter_choice(db, request.match_info["slug"])
    if found is None:
        return _no_chapter(request)
    if session.viewer(request) is not None:
        return see_other(f"/@{quote(found[1].handle)}")
    chapter_id, chapter = found
    posted = await request.post()
    form = JoinForm(
        name=" ".join(_printable(_field(posted, "name", MAX_NAME * 2)).split())[:MAX_NAME],
        username=_printable(_field(posted, "username", 100)).strip().lower(),
        email=_printable(_field(posted, "email", MAX_EMAIL * 2)).strip()[:MAX_EMAIL],
        message=_printable(_field(posted, "message", MAX_MESSAGE * 2).replace("\r\n", "\n"),
                           keep_lines=True).strip()[:MAX_MESSAGE],
        agree=posted.get("agree") == "yes")
    password = _field(posted, "password", MAX_PASSWORD)
    # Requests never confirmed give their usernames back.
    await store.forget_unconfirmed(db, now())
    errors = await _check(request, form, password)
    if errors:
        return _form_page(request, chapter, form, errors, 400)
    password_hash = await hash_password(password)
    mailer = request.app[MAIL]
    if mailer.enabled and form.email:
        return await _ask_to_confirm(request, chapter_id, chapter, form, password_hash)
    if chapter.joins_open:
        try:
            member = await add_member(db, request.app[NODE].username, form.username,
                                      chapter.handle, form.name)
        except RegistryError:  # taken between the check and now
            return _form_page(request, chapter, form, {"username": _(NOT_AVAILABLE)}, 409)
        await account_store.create_account(db, member, password_hash, False, now(),
                                           form.email or None)
        await session.start_session(request, member)
        # Logged in for the first time, now: the Welcome, then on to the chapter.
        return see_other(welcome_path(f"/@{quote(chapter.handle)}"))
    try:
        await store.add_request(
            db, chapter_id, form.username, form.name, password_hash, form.email or None,
            form.message, None, now(),
            mail=await _tell_organisers(request, chapter_id, chapter, form.name, form.username))
    except store.RequestExists:
        return _form_page(request, chapter, form, {"username": _(NOT_AVAILABLE)}, 409)
    mailer.wake()
    return _notice(
        request, _("Your request waits for an organiser"),
        _("Thank you, %(name)s. An organiser of %(chapter)s will look at your request. "
          "Once it is approved you can log in as %(username)s with the password you chose.",
          name=form.name, chapter=chapter.name, username=form.username),
        link={"href": f"/@{quote(chapter.handle)}", "text": chapter.name})


async def _tell_organisers(request: web.Request, chapter_id: int,
                           chapter: store.ChapterChoice, name: str, username: str
                           ) -> list[Mail]:
    """A mail to each organiser of the chapter with an email address (none without mail)."""
    mailer = request.app[MAIL]
    if not mailer.enabled:
        return []
    mails = []
    for address, language in await mail_store.organiser_recipients(request.app[DB],
                                                                   chapter_id):
        # Each organiser reads it in their account's language, else the node's.
        with i18n.speaking(language or request.app[i18n.NODE_LANGUAGE]):
            mails.append(new_request(mailer, address, name, username, chapter.name,
                                     chapter.handle))
    return mails


async def _ask_to_confirm(request: web.Request, chapter_id: int, chapter: store.ChapterChoice,
                          form: JoinForm, password_hash: str) -> web.Response:
    """Keep the request, waiting, and mail a link that confirms its email address."""
    mailer = request.app[MAIL]
    token = new_token()
    moment = now()
    link = f"{mailer.base_url}/join/confirm?token={token}"
    try:
        await store.add_request(
            request.app[DB], chapter_id, form.username, form.name, password_hash, form.email,
            form.message, None, moment,
            mail=[confirm_join(mailer, form.email, form.name, chapter.name, link,
                               CONFIRM_DAYS)],
            confirm_token_hash=token_hash(token),
            confirm_by=moment + timedelta(days=CONFIRM_DAYS))
    except store.RequestExists:
        return _form_page(request, chapter, form, {"username": _(NOT_AVAILABLE)}, 409)
    mailer.wake()
    if chapter.joins_open:
        message = ngettext(
            "Thank you, %(name)s. We sent a link to %(email)s. Open it within %(num)d day "
            "to confirm your address; then your account opens.",
            "Thank you, %(name)s. We sent a link to %(email)s. Open it within %(num)d days "
            "to confirm your address; then your account opens.",
            CONFIRM_DAYS, name=form.name, email=form.email)
    else:
        message = ngettext(
            "Thank you, %(name)s. We sent a link to %(email)s. Open it within %(num)d day "
            "to confirm your address; then your request goes to the organisers.",
            "Thank you, %(name)s. We sent a link to %(email)s. Open it within %(num)d days "
            "to confirm your address; then your request goes to the organisers.",
            CONFIRM_DAYS, name=form.name, email=form.email)
    return _notice(
        request, _("Check your email"), message,
        link={"href": f"/@{quote(chapter.handle)}", "text": chapter.name})


def _bad_confirm_link(request: web.Request) -> web.Response:
    return _notice(request, _("This link cannot be used"),
                   ngettext("It was used already, it is more than %(num)d day old, or this "
                            "node never sent it. You can ask to join again.",
                            "It was used already, it is more than %(num)d days old, or this "
                            "node never sent it. You can ask to join again.", CONFIRM_DAYS),
                   404, link={"href": "/join", "text": _("Find a chapter")})


async def confirm_form(request: web.Request) -> web.Response:
    # A button, not the GET itself: mail scanners open links, and must not confirm.
    token = request.query.get("token", "")[:200]
    waiting = await store.request_to_confirm(request.app[DB], token_hash(token), now()) \
        if token else None
    if waiting is None:
        return _bad_confirm_link(request)
    response = render(request, "join_confirm.html", waiting=waiting, token=token,
                      csrf_token=session.csrf_token(request))
    response.headers["Cache-Control"] = "no-store"
    return response


async def confirm(request: web.Request) -> web.Response:
    posted = await request.post()
    token = _field(posted, "token", 200)
    db = request.app[DB]
    waiting = await store.request_to_confirm(db, token_hash(token), now()) if token else None
    chapter = None if waiting is None else await store.chapter_by_id(db, waiting.chapter_id)
    if waiting is None or chapter is None:
        return _bad_confirm_link(request)
    if not chapter.joins_open:
        mails = await _tell_organisers(request, waiting.chapter_id, chapter, waiting.name,
                                       waiting.username)
        if not await store.confirm_email(db, token_hash(token), now(), mails):
            return _bad_confirm_link(request)
        request.app[MAIL].wake()
        return _notice(
            request, _("Your email address is confirmed"),
            _("Thank you, %(name)s. An organiser of %(chapter)s will look at your request. "
              "Once it is approved you can log in as %(username)s with the password you "
              "chose.", name=waiting.name, chapter=chapter.name, username=waiting.username),
            link={"href": f"/@{quote(chapter.handle)}", "text": chapter.name})
    if not await store.confirm_email(db, token_hash(token), now()):
        return _bad_confirm_link(request)
    try:
        member = await add_member(db, request.app[NODE].username, waiting.username,
                                  chapter.handle, waiting.name)
    except RegistryError:
        await store.decide(db, waiting.id, store.REJECTED, None, now())
        return _notice(request, _("The username is taken"),
                       _("Someone else became %(username)s meanwhile. Ask to join again "
                         "with another username.", username=waiting.username), 409,
                       link={"href": f"/join/{quote(chapter.handle)}",
                             "text": _("Join %(chapter)s", chapter=chapter.name)})
    await account_store.create_account(db, member, waiting.password_hash, False, now(),
                                       waiting.email)
    await store.decide(db, waiting.id, store.APPROVED, None, now())
    await session.start_session(request, member)
    # Logged in for the first time, now: the Welcome, then on to the chapter.
    return see_other(welcome_path(f"/@{quote(chapter.handle)}"))


async def _organised(request: web.Request) -> tuple[int, store.ChapterChoice] | web.Response:
    """The chapter in the path when the viewer may decide its requests, else the answer."""
    found = await store.chapter_choice(request.app[DB], request.match_info["slug"])
    if found is None:
        return _no_chapter(request)
    current = session.viewer(request)
    if current is None:
        # After logging in, the list (a GET), whichever button sent them here.
        return see_other(f"/login?next=/@{quote(found[1].handle)}/requests")
    if not current.is_admin and found[1].handle not in {c.handle for c in current.organises}:
        return _notice(request, _("Not yours to decide"),
                       _("Only the organisers of %(chapter)s see its requests to join.",
                         chapter=found[1].name), 403)
    return found


async def requests_page(request: web.Request) -> web.Response:
    found = await _organised(request)
    if isinstance(found, web.Response):
        return found
    chapter_id, chapter = found
    return render(request, "join_requests.html", chapter=chapter,
                  requests=await store.pending(request.app[DB], chapter_id),
                  csrf_token=session.csrf_token(request))


async def _waiting(request: web.Request, chapter_id: int) -> store.JoinRequest | None:
    raw = request.match_info["id"]
    # ASCII digits that fit a bigint; anything else names no request.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        return None
    request_id = int(raw)
    found = await store.request_by_id(request.app[DB], request_id)
    if (found is None or found.chapter_id != chapter_id or found.state != store.REQUESTED
            or found.confirm_by is not None):  # still waiting for its email address
        return None
    return found


def _gone(request: web.Request, chapter: store.ChapterChoice) -> web.Response:
    return _notice(request, _("No such request"),
                   _("This request was decided already, or never existed."), 404,
                   link={"href": f"/@{quote(chapter.handle)}/requests",
                         "text": _("Requests to join")})


async def approve(request: web.Request) -> web.Response:
    found = await _organised(request)
    if isinstance(found, web.Response):
        return found
    chapter_id, chapter = found
    waiting = await _waiting(request, chapter_id)
    if waiting is None:
        return _gone(request, chapter)
    db = request.app[DB]
    current = session.viewer(request)
    assert current is not None
    if waiting.member_id is not None:
        await store.add_membership(db, waiting.member_id, chapter_id, now())
    else:
        try:
            member = await add_member(db, request.app[NODE].username, waiting.username,
                                      chapter.handle, waiting.name)
        except RegistryError:
            if await _waiting(request, chapter_id) is None:  # another organiser was quicker
                return _gone(request, chapter)
            return _notice(request, _("The username is taken"),
                           _("Someone else became %(username)s meanwhile; reject this "
                             "request and ask them to choose another username.",
                             username=waiting.username), 409,
                           link={"href": f"/@{quote(chapter.handle)}/requests",
                                 "text": _("Requests to join")})
        await account_store.create_account(db, member, waiting.password_hash, False, now(),
                                           waiting.email)
        await profile_store.await_welcome(db, member)
    await store.decide(db, waiting.id, store.APPROVED, current.member_id, now())
    return see_other(f"/@{quote(chapter.handle)}/requests")


async def reject(request: web.Request) -> web.Response:
    found = await _organised(request)
    if isinstance(found, web.Response):
        return found
    chapter_id, chapter = found
    waiting = await _waiting(request, chapter_id)
    if waiting is None:
        return _gone(request, chapter)
    current = session.viewer(request)
    assert current is not None
    await store.decide(request.app[DB], waiting.id, store.REJECTED, current.member_id, now())
    return see_other(f"/@{quote(chapter.handle)}/requests")


async def ask(request: web.Request) -> web.Response:
    db = request.app[DB]
    found = await store.chapter_choice(db, request.match_info["slug"])
    if found is None:
        return _no_chapter(request)
    chapter_id, chapter = found
    current = session.viewer(request)
    if current is None:
        return see_other(f"/join/{quote(chapter.handle)}")
    back = see_other(f"/@{quote(chapter.handle)}")
    if await store.is_member(db, current.member_id, chapter_id):
        return back
    if chapter.joins_open:
        await store.add_membership(db, current.member_id, chapter_id, now())
        return back
    # Asked already (twice in a row, two tabs): the page says it is pending.
    with contextlib.suppress(store.RequestExists):
        await store.add_request(
            db, chapter_id, current.handle, current.name, None, None, "", current.member_id,
            now(), mail=await _tell_organisers(request, chapter_id, chapter, current.name,
                                               current.handle))
        request.app[MAIL].wake()
    return back


async def leave(request: web.Request) -> web.Response:
    db = request.app[DB]
    found = await store.chapter_choice(db, request.match_info["slug"])
    if found is None:
        return _no_chapter(request)
    current = session.viewer(request)
    if current is None:
        return see_other(f"/login?next=/@{quote(found[1].handle)}")
    await store.leave(db, current.member_id, found[0])
    return see_other(f"/@{quote(found[1].handle)}")


def setup(app: web.Application, commitments: str) -> None:
    app[COMMITMENTS] = commitments
    app.router.add_get("/join", find)
    # Before /join/{slug}, which would take "confirm" for a chapter's name.
    app.router.add_get("/join/confirm", confirm_form)
    app.router.add_post("/join/confirm", confirm)
    app.router.add_get("/join/{slug}", join_form)
    app.router.add_post("/join/{slug}", join)
    app.router.add_get("/@{slug}/requests", requests_page)
    app.router.add_post("/@{slug}/requests/{id}/approve", approve)
    app.router.add_post("/@{slug}/requests/{id}/reject", reject)
    app.router.add_post("/@{slug}/ask", ask)
    app.router.add_post("/@{slug}/leave", leave)
