"""A chapter's settings, edited by its organisers: GET/POST /@{slug}/settings.

Name, summary (plain text), location, founded date, about text (Markdown, kept with the
sanitised HTML made from it, as a member's profile summary is), picture (made and served
as members' avatars are, web/profiles.py), and whether followers and joins need approval.
Validation is the command line's (actors/registry.py); bad input changes nothing. A saved
change federates as an `Update` of the chapter's Group (hierarchy/affiliation.py
queue_actor_update), queued in the transaction that saved it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import structlog
from aiohttp import web

from actors import avatars
from actors.registry import (
    EARLIEST_FOUNDING,
    MAX_LOCATION,
    MAX_NAME,
    MAX_SUMMARY,
    RegistryError,
    founding_day,
)
from federation.languages import is_language
from hierarchy.affiliation import queue_actor_update
from outbox.items import body_html
from storage import chapter_settings as store
from storage import profiles as profile_store
from storage.actors import ActorRecord
from web import session, written_languages
from web.accounts import see_other
from web.i18n import _, ngettext, sentence, word
from web.pages import render
from web.profiles import AVATARS
from web.state import DB, NODE
from web.uploads import allow_upload, picture_in
from web.workspace import organised

log = structlog.get_logger("chapterhouse.chapter_settings")

SETTINGS_ROUTE = "/@{slug}/settings"
MAX_ABOUT = 20000


@dataclass
class SettingsForm:
    name: str
    summary: str
    location: str
    founded: str  # YYYY-MM-DD, as <input type=date> sends it
    about: str
    manually_approves: bool
    joins_open: bool
    language: str = ""  # what its items are written in unless their author says


def _text(form: Any, name: str, limit: int) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _printable(text: str, keep_lines: bool) -> str:
    """Without control characters (PostgreSQL text holds no NUL); line breaks kept where
    the field is many lines."""
    return "".join(c for c in text if (keep_lines and c == "\n")
                   or (ord(c) >= 32 and ord(c) != 127))


def _form_of(current: store.Settings) -> SettingsForm:
    return SettingsForm(name=current.name, summary=current.summary,
                        location=current.location or "",
                        founded=current.founded_at.date().isoformat(), about=current.about,
                        manually_approves=current.manually_approves,
                        joins_open=current.joins_open, language=current.language or "")


def _page(request: web.Request, chapter: ActorRecord, form: SettingsForm,
          errors: dict[str, str], status: int = 200) -> web.Response:
    response = render(request, "chapter_settings.html", chapter=chapter, form=form,
                      errors=errors, max_name=MAX_NAME, max_summary=MAX_SUMMARY,
                      max_location=MAX_LOCATION, max_about=MAX_ABOUT,
                      today=datetime.now(UTC).date().isoformat(),
                      earliest=EARLIEST_FOUNDING.isoformat(),
                      max_megabytes=avatars.MAX_BYTES // (1024 * 1024),
                      max_side=avatars.MAX_SIDE, csrf_token=session.csrf_token(request),
                      written_languages=written_languages.choices(
                          form.language or written_languages.node_language(request)),
                      node_language=written_languages.node_language(request))
    response.set_status(status)
    return response


async def settings_form(request: web.Request) -> web.Response:
    chapter = await organised(request, "settings")
    if isinstance(chapter, web.Response):
        return chapter
    current = await store.settings(request.app[DB], chapter.id)
    assert current is not None  # a chapter always has its row
    return _page(request, chapter, _form_of(current), {})


def _founded(text: str) -> tuple[datetime | None, str | None]:
    """Midnight UTC of the day given, or why it is no founding date (the CLI's reasons)."""
    try:
        return founding_day(text), None
    except RegistryError as exc:
        return None, sentence(exc)


def _check(form: SettingsForm) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not form.name:
        errors["name"] = _("Enter the chapter's name.")
    elif len(form.name) > MAX_NAME:
        errors["name"] = ngettext("A name has at most %(num)d character.",
                                  "A name has at most %(num)d characters.", MAX_NAME)
    if len(form.summary) > MAX_SUMMARY:
        errors["summary"] = ngettext("The summary has at most %(num)d character.",
                                     "The summary has at most %(num)d characters.",
                                     MAX_SUMMARY)
    if len(form.location) > MAX_LOCATION:
        errors["location"] = ngettext("The location has at most %(num)d character.",
                                      "The location has at most %(num)d characters.",
                                      MAX_LOCATION)
    if len(form.about) > MAX_ABOUT:
        errors["about"] = ngettext("The about text has at most %(num)d character.",
                                   "The about text has at most %(num)d characters.",
                                   MAX_ABOUT)
    return errors


async def save_settings(request: web.Request) -> web.Response:
    chapter = await organised(request, "settings")
    if isinstance(chapter, web.Response):
        return chapter
    db = request.app[DB]
    current = await store.settings(db, chapter.id)
    assert current is not None
    posted = await request.post()
    form = SettingsForm(
        name=" ".join(_printable(_text(posted, "name", MAX_NAME * 2), False).split()),
        summary=_printable(_text(posted, "summary", MAX_SUMMARY * 2).replace("\r\n", "\n"),
                           True).strip(),
        location=" ".join(_printable(_text(posted, "location", MAX_LOCATION * 2),
                                     False).split()),
        founded=_text(posted, "founded", 40).strip(),
        about=_printable(_text(posted, "about", MAX_ABOUT * 2).replace("\r\n", "\n"),
                         True).strip(),
        manually_approves=posted.get("manually_approves") == "yes",
        joins_open=posted.get("joins_open") == "yes",
        language=written_languages.posted_language(posted))
    errors = _check(form)
    if form.language and not is_language(form.language):
        errors["language"] = written_languages.not_a_language()
    founded_at, founded_error = _founded(form.founded)
    if founded_error:
        errors["founded"] = founded_error
    avatar = None
    data = picture_in(posted)
    if data is not None:
        try:
            avatar = await asyncio.to_thread(avatars.make_avatar, data)
        except avatars.AvatarError as exc:
            errors["avatar"] = word(exc)
    if errors or founded_at is None:
        log.info("chapter settings refused", chapter=chapter.handle, fields=sorted(errors))
        return _page(request, chapter, form, errors, 400)
    new = store.Settings(
        name=form.name, summary=form.summary, location=form.location or None,
        founded_at=founded_at, about=form.about,
        about_html=body_html(form.about) or None,
        manually_approves=form.manually_approves, joins_open=form.joins_open,
        # The node's own language is kept as "not chosen", so the chapter follows the node.
        language=None if form.language in ("", written_languages.node_language(request))
        else form.language)
    remove = posted.get("remove_avatar") == "yes" and avatar is None
    directory = request.app[AVATARS]
    if avatar is not None:
        await asyncio.to_thread(avatars.save, directory, avatar)
    old_file = chapter.avatar_file
    new_file = avatar.name if avatar is not None else None if remove else old_file
    node = request.app[NODE]
    # Whether followers joining need approval is local only; everything else is in the
    # chapter's actor document, which its followers are sent again.
    federated = replace(new, joins_open=current.joins_open,
                        language=current.language) != current or new_file != old_file
    if federated or new != current:
        async with db.transaction() as tx:
            await store.save(tx, chapter.id, new)
            if avatar is not None:
                await store.set_avatar(tx, chapter.id, avatar.name,
                                       f"{node.urls.base}/media/avatars/{avatar.name}")
            elif remove:
                await store.set_avatar(tx, chapter.id, None, None)
            if federated:
                await queue_actor_update(tx, node.urls, chapter.handle or "", node.username)
        log.info("chapter settings saved", chapter=chapter.handle, federated=federated)
    if old_file and old_file != new_file and not await profile_store.avatar_in_use(db,
                                                                                   old_file):
        await asyncio.to_thread(avatars.remove, directory, old_file)
    return see_other(f"/@{quote(chapter.handle or '')}")


def setup(app: web.Application) -> None:
    """After session.setup (and profiles.setup, which serves the pictures): the upload
    limit is raised before the session middleware reads the form."""
    allow_upload(app, SETTINGS_ROUTE, "chapter settings refused")
    app.router.add_get(SETTINGS_ROUTE, settings_form)
    app.router.add_post(SETTINGS_ROUTE, save_settings)
