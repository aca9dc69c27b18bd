"""Members write from the web: blog posts on their own blog, replies, likes and boosts.

Routes: GET/POST /@{handle}/write (title, summary, body), GET/POST /objects/{uuid}/edit
(the same fields), POST /objects/{uuid}/delete, POST /reply (object, content, next),
POST /like and POST /boost (object, undo=1 to take back, next). Only the member writes on
their own blog and edits or deletes their own posts: nobody acts as someone else. A
chapter's items are edited and deleted by its organisers (and administrators) through the
same URLs, which hand them to web/publishing.py. The session middleware (web/session.py)
has already checked every POST's origin and CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from aiohttp import web

from federation.client import FetchError
from outbox import member_actions
from outbox.content import delete_item, edit_item, publish_item, written_in
from outbox.items import ARTICLE_KINDS, MAX_BODY, MAX_SUMMARY, MAX_TITLE, InvalidItem, Item
from outbox.items import validate as validate_item
from outbox.publish import MAX_NOTE, PublishError
from storage import actors as actor_store
from storage import items as item_store
from storage import reactions as reaction_store
from storage.items import StoredItem
from web import projects, publishing, written_languages
from web.accounts import local_path, see_other
from web.i18n import _, ngettext, sentence
from web.pages import render
from web.session import Viewer, viewer
from web.state import DB, NODE, REMOTE_ACTORS

log = structlog.get_logger(__name__)

MAX_IRI = 2000


@dataclass
class PostForm:
    title: str = ""
    summary: str = ""
    body: str = ""
    language: str = ""  # what it is written in ("eo")


def _field(form: Any, name: str, limit: int) -> str:
    value = form.get(name)
    text = value[: limit * 2] if isinstance(value, str) else ""
    return text.replace("\r\n", "\n")


def _notice(request: web.Request, heading: str, message: str, status: int,
            link: dict[str, str] | None = None) -> web.Response:
    log.info("member action refused", path=request.path, status=status, reason=message)
    response = render(request, "notice.html", heading=heading, message=message, link=link)
    response.set_status(status)
    return response


def _login(request: web.Request, back: str | None = None) -> web.Response:
    return see_other(f"/login?next={quote(back or request.path_qs, safe='/@')}")


def _not_yours(request: web.Request) -> web.Response:
    return _notice(request, _("Not your blog"),
                   _("Only its author writes on a blog and edits or deletes its posts."), 403)


def _errors_of(exc: Exception) -> dict[str, str]:
    """validate()'s one-line reason, next to the field it is about (found by its English),
    worded in the reader's language."""
    message = str(exc)
    for name in ("title", "summary", "body", "language"):
        if message.startswith(name):
            return {name: sentence(exc)}
    return {"body": sentence(exc)}


def _check(form: PostForm) -> dict[str, str]:
    errors: dict[str, str] = {}
    try:
        item = validate_item(Item(kind="blog", title=form.title, summary=form.summary,
                                  body=form.body, language=form.language or None))
    except InvalidItem as exc:
        errors = _errors_of(exc)
    else:
        form.title, form.summary, form.body = item.title, item.summary, item.body
        form.language = item.language or ""
    if not form.body.strip() and "body" not in errors:
        errors["body"] = _("Write the post's text.")
    return errors


def _form_page(request: web.Request, form: PostForm, errors: dict[str, str], action: str,
               editing: StoredItem | None = None, status: int = 200) -> web.Response:
    response = render(request, "write.html", form=form, errors=errors, action=action,
                      editing=editing,
                      written_languages=written_languages.choices(form.language),
                      limits={"title": MAX_TITLE, "summary": MAX_SUMMARY,
                                               "body": MAX_BODY})
    if errors:
        log.info("post refused", path=request.path, fields=sorted(errors))
    response.set_status(status)
    return response


async def _own_blog(request: web.Request) -> Viewer | web.Response:
    handle = request.match_info["handle"]
    member = await actor_store.actor_by_handle(request.app[DB], handle)
    if member is None or member.kind != "member":
        return _notice(request, _("No such member"),
                       _("This node has no member by that name."), 404)
    current = viewer(request)
    if current is None:
        return _login(request, f"/@{quote(member.handle or handle)}/write")
    if current.member_id != member.id:
        return _not_yours(request)
    return current


def _path(iri: str) -> str:
    return urlsplit(iri).path


async def write_form(request: web.Request) -> web.Response:
    found = await _own_blog(request)
    if isinstance(found, web.Response):
        return found
    language = await written_in(request.app[DB], found.handle,
                                written_languages.node_language(request))
    return _form_page(request, PostForm(language=language), {}, f"/@{found.handle}/write")


async def write(request: web.Request) -> web.Response:
    found = await _own_blog(request)
    if isinstance(found, web.Response):
        return found
    posted = await request.post()
    form = PostForm(_field(posted, "title", MAX_TITLE), _field(posted, "summary", MAX_SUMMARY),
                    _field(posted, "body", MAX_BODY), written_languages.posted_language(posted))
    form.language = form.language or await written_in(
        request.app[DB], found.handle, written_languages.node_language(request))
    errors = _check(form)
    if errors:
        return _form_page(request, form, errors, f"/@{found.handle}/write", status=400)
    try:
        iri = await publish_item(request.app[DB], request.app[NODE].urls, found.handle,
                                 Item(kind="blog", title=form.title, summary=form.summary,
                                      body=form.body, language=form.language))
    except PublishError as exc:
        return _form_page(request, form, _errors_of(exc), f"/@{found.handle}/write",
                          status=400)
    log.info("blog post published", member=found.handle, object=iri)
    return see_other(_path(iri))


async def _item_at(request: web.Request) -> StoredItem | None:
    """The item the URL names, read once whoever turns out to be its author."""
    iri = request.app[NODE].urls.object(request.match_info["uuid"])
    return await item_store.by_iri(request.app[DB], iri)


def _project(row: StoredItem | None) -> StoredItem | None:
    """The row when it is a live project: web/projects.py's to handle (its starter may
    edit it too, not only the chapter's organisers)."""
    if row is None or row.deleted_at is not None or row.kind != "project":
        return None
    return row


def _chapter_item(row: StoredItem | None) -> StoredItem | None:
    """The row when it is a live item of a chapter: web/publishing.py's to handle."""
    if row is None or row.deleted_at is not None or row.author_kind != "chapter":
        return None
    return row


def _own_post(request: web.Request, row: StoredItem | None
              ) -> tuple[Viewer, StoredItem] | web.Response:
    iri = request.app[NODE].urls.object(request.match_info["uuid"])
    if row is None or row.deleted_at is not None or row.kind not in ARTICLE_KINDS:
        return _notice(request, _("No such post"), _("This node has no such post."), 404)
    current = viewer(request)
    if current is None:
        return _login(request, _path(iri) + "/edit" if request.method == "GET" else _path(iri))
    if current.member_id != row.actor_id:
        return _not_yours(request)
    return current, row


async def edit_form(request: web.Request) -> web.Response:
    row = await _item_at(request)
    if (project := _project(row)) is not None:
        return await projects.edit_form(request, project)
    chapter_item = _chapter_item(row)
    if chapter_item is not None:
        return await publishing.edit_form(request, chapter_item)
    found = _own_post(request, row)
    if isinstance(found, web.Response):
        return found
    _, row = found
    fields = row.fields
    form = PostForm(fields.title, fields.summary or "", fields.body or "", fields.language
                    or await written_in(request.app[DB], row.author,
                                        written_languages.node_language(request)))
    return _form_page(request, form, {}, _path(row.object_iri) + "/edit", editing=row)


async def edit(request: web.Request) -> web.Response:
    row = await _item_at(request)
    if (project := _project(row)) is not None:
        return await projects.edit(request, project)
    chapter_item = _chapter_item(row)
    if chapter_item is not None:
        return await publishing.edit(request, chapter_item)
    found = _own_post(request, row)
    if isinstance(found, web.Response):
        return found
    _, row = found
    posted = await request.post()
    form = PostForm(_field(posted, "title", MAX_TITLE), _field(posted, "summary", MAX_SUMMARY),
                    _field(posted, "body", MAX_BODY), written_languages.posted_language(posted))
    action = _path(row.object_iri) + "/edit"
    errors = _check(form)
    if errors:
        return _form_page(request, form, errors, action, editing=row, status=400)
    try:
        await edit_item(request.app[DB], request.app[NODE].urls, row.object_iri,
                        form.title, form.summary, form.body,
                        details={"language": form.language} if form.language else None)
    except PublishError as exc:
        return _form_page(request, form, _errors_of(exc), action, editing=row,
                          status=400)
    log.info("blog post edited", object=row.object_iri)
    return see_other(_path(row.object_iri))


async def delete(request: web.Request) -> web.Response:
    row = await _item_at(request)
    if (project := _project(row)) is not None:
        return await projects.delete(request, project)
    chapter_item = _chapter_item(row)
    if chapter_item is not None:
        return await publishing.delete(request, chapter_item)
    # A note is no item: looked for only where no item is.
    chapter_note = None if row is not None else await publishing.chapter_note(request)
    if chapter_note is not None:
        return await publishing.delete_note(request, chapter_note)
    found = _own_post(request, row)
    if isinstance(found, web.Response):
        return found
    current, row = found
    try:
        await delete_item(request.app[DB], request.app[NODE].urls, row.object_iri)
    except PublishError as exc:
        return _notice(request, _("Not deleted"), sentence(exc), 409)
    log.info("blog post deleted", object=row.object_iri)
    return see_other(f"/@{current.handle}")


async def _acting(request: web.Request
                  ) -> tuple[Viewer, member_actions.Target, Any, str] | web.Response:
    """The member, the object the form names, the form and where to go back to."""
    posted = await request.post()
    sent_back = posted.get("next")
    back = local_path(sent_back if isinstance(sent_back, str) else None)
    current = viewer(request)
    if current is None:
        return _login(request, back)
    iri = posted.get("object")
    if not isinstance(iri, str) or not iri.startswith(("https://", "http://")) \
            or len(iri) > MAX_IRI:
        return _notice(request, _("Nothing to act on"),
                       _("The form does not name an object by its address."), 400)
    target = await member_actions.find_target(request.app[DB], request.app[NODE].urls, iri)
    if target is None or not await _may_see(request, current, target):
        return _notice(request, _("No such post"),
                       _("This node does not have that post (or it was deleted)."), 404)
    if not target.local:
        # Its author's inbox, which the activity goes to, may not be known yet.
        try:
            await request.app[REMOTE_ACTORS].get(target.author)
        except FetchError as exc:
            log.warning("author not reachable", author=target.author, error=str(exc))
            return _notice(request, _("Author not reachable"),
                           _("The author's server did not answer; try again later."), 502)
    return current, target, posted, back


async def _may_see(request: web.Request, current: Viewer, target: member_actions.Target
                   ) -> bool:
    """A post that is not public only for those it reached (the member or their chapter),
    as its page shows it."""
    if target.local or target.public:
        return True
    handles = [current.handle, *(chapter.handle for chapter in current.chapters)]
    return await reaction_store.reached(request.app[DB], target.iri, handles)


def _reply_error(text: str) -> str | None:
    if not text:
        return _("Write something to reply.")
    if len(text) > MAX_NOTE:
        return ngettext("A reply is at most %(limit)d characters; this one has %(num)d.",
                        "A reply is at most %(limit)d characters; this one has %(num)d.",
                        len(text), limit=MAX_NOTE)
    if any(ord(c) < 32 and c not in "\n\t\r" for c in text):
        return _("The reply contains control characters.")
    return None


def _reply_page(request: web.Request, iri: str, text: str, back: str, error: str
                ) -> web.Response:
    """The reply form again, with what was typed and why it was not sent."""
    log.info("reply refused", object=iri, reason=error)
    response = render(request, "reply.html", object_iri=iri, text=text, back=back,
                      error=error, limit=MAX_NOTE)
    response.set_status(400)
    return response


async def reply(request: web.Request) -> web.Response:
    found = await _acting(request)
    if isinstance(found, web.Response):
        return found
    current, target, posted, back = found
    content = posted.get("content")
    text = content[: MAX_NOTE * 2] if isinstance(content, str) else ""
    error = _reply_error(text.strip())
    if error:
        return _reply_page(request, target.iri, text, back, error)
    try:
        # In the language of the member's chapter: a reply form has no field for it.
        language = await written_in(request.app[DB], current.handle,
                                    written_languages.node_language(request))
        iri = await member_actions.reply(request.app[DB], request.app[NODE].urls,
                                         current.member_id, target, text.strip(), language)
    except PublishError as exc:
        return _reply_page(request, target.iri, text, back, sentence(exc))
    log.info("reply published", member=current.handle, object=iri, to=target.iri)
    return see_other(f"{back.split('#')[0]}#replies")


async def _react(request: web.Request, kind: str) -> web.Response:
    found = await _acting(request)
    if isinstance(found, web.Response):
        return found
    current, target, posted, back = found
    db, urls = request.app[DB], request.app[NODE].urls
    try:
        if posted.get("undo") == "1":
            await member_actions.undo(db, urls, current.member_id, kind, target)
        else:
            if kind == "announce" and not target.public:
                return _notice(request, _("Not boosted"),
                               _("Only a public post can be boosted."), 403)
            await member_actions.react(db, urls, current.member_id, kind, target)
    except PublishError as exc:
        return _notice(request, _("Not sent"), sentence(exc), 400)
    return see_other(back)


async def like(request: web.Request) -> web.Response:
    return await _react(request, "like")


async def boost(request: web.Request) -> web.Response:
    return await _react(request, "announce")


def setup(app: web.Application) -> None:
    uuid = "{uuid:[0-9a-f]{32}}"
    app.router.add_get("/@{handle}/write", write_form)
    app.router.add_post("/@{handle}/write", write)
    app.router.add_get(f"/objects/{uuid}/edit", edit_form)
    app.router.add_post(f"/objects/{uuid}/edit", edit)
    app.router.add_post(f"/objects/{uuid}/delete", delete)
    app.router.add_post("/reply", reply)
    app.router.add_post("/like", like)
    app.router.add_post("/boost", boost)
