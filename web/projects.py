"""Projects from the web: a chapter's members start them, their starter and the chapter's
organisers edit and delete them.

Routes: GET/POST /@{slug}/projects/new (title, summary, body, status; the chapter's
members, its organisers and the administrators). The edit form and deletion come here
from web/writing.py, whose /objects/{uuid}/edit and /objects/{uuid}/delete hand a
project over (its starter, the chapter's organisers and the administrators may). Joining
and leaving are POST /rsvp, as for events (web/taking_part.py); the archives are
/projects and /@{slug}/projects (web/archives.py). A project is an item of its chapter
(outbox/items.py): it is published, edited and deleted through outbox.content, as the
other kinds are. The session middleware has already checked every POST's CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from aiohttp import web

from outbox.content import delete_item, edit_item, publish_item, written_in
from outbox.items import (
    MAX_BODY,
    MAX_SUMMARY,
    MAX_TITLE,
    PROJECT_STATUSES,
    InvalidItem,
    Item,
    validate,
)
from outbox.publish import PublishError
from storage.actors import ActorRecord
from storage.items import StoredItem
from web import i18n, written_languages
from web.accounts import see_other
from web.i18n import _
from web.pages import render
from web.project_views import STATUS_LABELS
from web.session import Viewer, viewer
from web.state import DB, NODE
from web.workspace import chapter_in_path

log = structlog.get_logger(__name__)

# validate()'s reasons by how they begin (or their code), and the field each is about.
_FIELDS = (("title", "title"), ("summary", "summary"), ("body", "body"),
           ("status", "status"), ("language", "language"))


@dataclass
class ProjectForm:
    title: str = ""
    summary: str = ""
    body: str = ""
    status: str = "proposed"
    language: str = ""  # what it is written in ("eo"); "" on a form sent without one


def _text(posted: Any, name: str, limit: int) -> str:
    value = posted.get(name)
    # Twice the limit is kept, so that validate() says it is too long.
    return value[: limit * 2].replace("\r\n", "\n") if isinstance(value, str) else ""


def _read(posted: Any) -> ProjectForm:
    status = posted.get("status")
    return ProjectForm(title=_text(posted, "title", MAX_TITLE),
                       summary=_text(posted, "summary", MAX_SUMMARY),
                       body=_text(posted, "body", MAX_BODY),
                       status=status[:40] if isinstance(status, str) else "",
                       language=written_languages.posted_language(posted))


def errors_of(exc: Exception) -> dict[str, str]:
    """validate()'s reason, worded for the reader, next to the field it is about."""
    reason = exc.args[0] if exc.args else str(exc)
    code = getattr(reason, "code", "")
    text = i18n.sentence(reason)
    if code == "project.status":
        return {"status": text}
    lowered = str(reason).lower()
    for start, name in _FIELDS:
        if lowered.startswith(start):
            return {name: text}
    return {"form": text}


def _checked(form: ProjectForm, starter: str | None) -> Item:
    """The Item to publish, or InvalidItem saying what is wrong."""
    item = validate(Item(kind="project", title=form.title, summary=form.summary,
                         body=form.body, project_status=form.status, started_by=starter,
                         language=form.language or None))
    form.title, form.summary, form.body = item.title, item.summary, item.body
    return item


def _notice(request: web.Request, heading: str, message: str, status: int) -> web.Response:
    log.info("project refused", path=request.path, status=status, reason=message)
    response = render(request, "notice.html", heading=heading, message=message, link=None)
    response.set_status(status)
    return response


def organises(current: Viewer, handle: str) -> bool:
    return current.is_admin or handle in {chapter.handle for chapter in current.organises}


def _member_of(current: Viewer, handle: str) -> bool:
    return organises(current, handle) or handle in {c.handle for c in current.chapters}


def may_manage(current: Viewer | None, row: StoredItem) -> bool:
    """Its starter, while still a member of its chapter, and the chapter's organisers edit,
    and delete, a project: a member who left (or was removed) no longer speaks for it."""
    if current is None:
        return False
    return (current.handle == row.fields.started_by and _member_of(current, row.author)) \
        or organises(current, row.author)


def _page(request: web.Request, form: ProjectForm, errors: dict[str, str], action: str,
          chapter_name: str, chapter_handle: str, editing: StoredItem | None = None,
          status: int = 200) -> web.Response:
    if errors:
        log.info("project form refused", path=request.path, fields=sorted(errors))
    response = render(
        request, "project_form.html", form=form, errors=errors, action=action,
        editing=editing, chapter_name=chapter_name, chapter_handle=chapter_handle,
        statuses=[(key, _(STATUS_LABELS[key])) for key in PROJECT_STATUSES],
        written_languages=written_languages.choices(form.language),
        limits={"title": MAX_TITLE, "summary": MAX_SUMMARY, "body": MAX_BODY})
    response.set_status(status)
    return response


async def _chapter_for_member(request: web.Request
                              ) -> tuple[Viewer, ActorRecord] | web.Response:
    chapter = await chapter_in_path(request, "projects/new")
    if not isinstance(chapter, ActorRecord):
        return chapter
    current = viewer(request)
    assert current is not None and chapter.handle is not None  # chapter_in_path saw to it
    if not _member_of(current, chapter.handle):
        return _notice(request, _("Only for members"),
                       _("Only the members of %(chapter)s start its projects.",
                         chapter=chapter.name), 403)
    return current, chapter


async def new_form(request: web.Request) -> web.Response:
    found = await _chapter_for_member(request)
    if isinstance(found, web.Response):
        return found
    _current, chapter = found
    assert chapter.handle is not None
    form = ProjectForm(language=await written_in(
        request.app[DB], chapter.handle, written_languages.node_language(request)))
    return _page(request, form, {}, f"/@{chapter.handle}/projects/new", chapter.name,
                 chapter.handle)


async def start(request: web.Request) -> web.Response:
    found = await _chapter_for_member(request)
    if isinstance(found, web.Response):
        return found
    current, chapter = found
    handle = chapter.handle
    assert handle is not None
    form = _read(await request.post())
    # A form sent without the field (a script) is in the chapter's language.
    form.language = form.language or await written_in(
        request.app[DB], handle, written_languages.node_language(request))
    action = f"/@{handle}/projects/new"
    try:
        item = _checked(form, current.handle)
        iri = await publish_item(request.app[DB], request.app[NODE].urls, handle, item)
    except (InvalidItem, PublishError) as exc:
        return _page(request, form, errors_of(exc), action, chapter.name, handle,
                     status=400)
    log.info("project started", chapter=handle, member=current.handle, object=iri)
    return see_other(f"{urlsplit(iri).path}?published=1")


# --- A project's own page hands its edit and delete here (web/writing.py)

def _allowed(request: web.Request, row: StoredItem, back: str) -> Viewer | web.Response:
    current = viewer(request)
    if current is None:
        return see_other(f"/login?next={quote(back, safe='/@')}")
    if not may_manage(current, row):
        return _notice(request, _("Not yours to change"),
                       _("Only the member who started a project and the organisers of "
                         "%(chapter)s edit or delete it.", chapter=row.author_name), 403)
    return current


async def edit_form(request: web.Request, row: StoredItem) -> web.Response:
    path = urlsplit(row.object_iri).path
    found = _allowed(request, row, f"{path}/edit")
    if isinstance(found, web.Response):
        return found
    fields = row.fields
    form = ProjectForm(fields.title, fields.summary or "", fields.body or "",
                       fields.project_status or "proposed", fields.language or "")
    return _page(request, form, {}, f"{path}/edit", row.author_name, row.author,
                 editing=row)


async def edit(request: web.Request, row: StoredItem) -> web.Response:
    path = urlsplit(row.object_iri).path
    found = _allowed(request, row, path)
    if isinstance(found, web.Response):
        return found
    form = _read(await request.post())
    try:
        _checked(form, row.fields.started_by)
        await edit_item(request.app[DB], request.app[NODE].urls, row.object_iri,
                        form.title, form.summary, form.body,
                        details={"project_status": form.status}
                        | ({"language": form.language} if form.language else {}))
    except (InvalidItem, PublishError) as exc:
        return _page(request, form, errors_of(exc), f"{path}/edit", row.author_name,
                     row.author, editing=row, status=400)
    log.info("project edited", chapter=row.author, by=found.handle, object=row.object_iri)
    return see_other(path)


async def delete(request: web.Request, row: StoredItem) -> web.Response:
    found = _allowed(request, row, urlsplit(row.object_iri).path)
    if isinstance(found, web.Response):
        return found
    try:
        await delete_item(request.app[DB], request.app[NODE].urls, row.object_iri)
    except PublishError as exc:
        return _notice(request, _("Not deleted"), i18n.sentence(exc), 409)
    log.info("project deleted", chapter=row.author, by=found.handle, object=row.object_iri)
    return see_other(f"/@{quote(row.author)}/projects")


def setup(app: web.Application) -> None:
    app.router.add_get("/@{slug}/projects/new", new_form)
    app.router.add_post("/@{slug}/projects/new", start)
