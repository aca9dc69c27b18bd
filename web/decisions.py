"""Decisions on the web: an organiser opens one for a chapter, members vote on their own
chapter's node, and anyone reads the result so far, counted both ways side by side.

Routes: GET /@{slug}/decisions/new and POST /@{slug}/decisions (the chapter's organisers
and the administrators open a decision), GET /@{slug}/decisions (the decisions a chapter
takes part in, open ones first), GET /decisions/{id} (a decision this node holds, by its
row's id: for everyone) and POST /decisions/{id}/ballot (a member with a say casts or
changes their ballot). Opening and voting go through decisions.opening and
decisions.ballots, as `chapterhouse decide` does; the page reads decisions.views, so the
web and the CLI show the same figures. The session middleware has already checked every
POST's origin and CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from aiohttp import web
from babel.lists import format_list
from babel.numbers import format_percent
from markupsafe import Markup

from chapterhouse.reasons import N_
from decisions.ballots import cast_ballot, voting_part
from decisions.opening import MAX_DESCRIPTION, MAX_QUESTION, Opening, open_decision
from decisions.views import DecisionView, decision_view
from outbox.content import written_in
from outbox.items import MAX_OPTION, MAX_OPTIONS, body_html
from outbox.publish import PublishError
from storage import actors as actor_store
from storage import decisions as store
from storage import hierarchy as hierarchy_store
from storage.actors import ActorRecord
from storage.decisions import Ballot, Decision
from storage.timestamps import utcnow
from web import i18n, written_languages
from web.accounts import see_other
from web.i18n import _, sentence
from web.pages import render
from web.publishing import zone_names
from web.session import Viewer, viewer
from web.state import DB, NODE, TALLIES
from web.workspace import chapter_in_path, may_manage, notice

log = structlog.get_logger(__name__)

MAX_MOMENT = 40
MAX_ZONE = 64
MAX_ID_DIGITS = 15  # more than any row id; a longer "id" is no decision's
CHAPTER_LIST = 100

# The two ways to count, as the form and the page explain them; worded where shown.
METHOD_NAMES = {"ballots": N_("By ballots"), "members": N_("By members")}
METHOD_WORDS = {
    "ballots": N_("One member, one vote: each option's share is its share of all ballots."),
    "members": N_("Each chapter's result is weighted by its members, so a chapter's say is "
                  "proportional to its size whatever its turnout."),
}
method_name = i18n.lazy_label(METHOD_NAMES)
method_words = i18n.lazy_label(METHOD_WORDS)

# The opening's reasons (decisions.opening.check), by code, and the field each is about.
_FIELDS = {
    "decision.question": "question", "decision.question_long": "question",
    "decision.description_long": "description", "decision.few": "options",
    "decision.many": "options", "decision.option": "options", "decision.same": "options",
    "decision.method": "count_method", "decision.no_close": "closes_at",
    "decision.zone": "timezone", "decision.closed": "closes_at", "decision.far": "closes_at",
    "decision.language": "language",
}
# A refused ballot's status, by its reason's code; the rest are the form's (400).
_BALLOT_STATUS = {"decision.not_electorate": 403, "decision.joined_later": 403,
                  "ballot.no_member": 403, "ballot.not_organiser": 403,
                  "ballot.closed": 409, "decision.unknown": 404}


def percent(share: float) -> str:
    """"42.9%" / "42,9 %": a share as the reader's language writes it, to a tenth."""
    locale = i18n.current().locale
    pattern = locale.percent_formats[None].pattern  # "#,##0%" / "#,##0 %"
    last = pattern.rfind("0")
    return format_percent(share, f"{pattern[:last + 1]}.#{pattern[last + 1:]}",
                          locale=locale)


def listing(names: list[str]) -> str:
    """"Yes, No and Later": a list as the reader's language writes it."""
    return format_list(names, locale=i18n.current().locale) if names else ""


def amount(value: float) -> str:
    """A weighted count, to a tenth: "12.5"."""
    return i18n.number(round(value, 1))


def chapter_link(iri: str, local_prefix: str) -> str:
    """A chapter of this node's page, or another node's chapter by its id."""
    return f"/@{iri.removeprefix(local_prefix)}" if iri.startswith(local_prefix) else iri


# --- Opening a decision

@dataclass
class DecisionForm:
    question: str = ""
    description: str = ""
    options: str = ""  # one per line
    multiple: bool = False
    closes_at: str = ""  # a datetime-local value, read in `timezone`
    timezone: str = "UTC"
    count_method: str = "ballots"
    language: str = ""


def _text(posted: Any, name: str, limit: int) -> str:
    value = posted.get(name)
    # Twice the limit is kept, so that the opening's check says it is too long.
    return value[: limit * 2].replace("\r\n", "\n") if isinstance(value, str) else ""


def _read(posted: Any) -> DecisionForm:
    method = posted.get("count_method")
    return DecisionForm(
        question=_text(posted, "question", MAX_QUESTION),
        description=_text(posted, "description", MAX_DESCRIPTION),
        options=_text(posted, "options", (MAX_OPTION + 1) * MAX_OPTIONS),
        multiple=posted.get("multiple") == "yes",
        closes_at=_text(posted, "closes_at", MAX_MOMENT).strip(),
        timezone=_text(posted, "timezone", MAX_ZONE).strip(),
        count_method=method[:20] if isinstance(method, str) else "",
        language=written_languages.posted_language(posted))


def _closing(form: DecisionForm) -> tuple[datetime | None, dict[str, str]]:
    """The closing moment the form names, read in its time zone; or the field's error."""
    if not form.closes_at:
        return None, {}  # the opening's check says a decision needs one
    try:
        moment = datetime.fromisoformat(form.closes_at)
    except ValueError:
        return None, {"closes_at": _("Give the closing date and time, such as "
                                     "2027-03-01 18:00.")}
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=ZoneInfo(form.timezone))
        except (ZoneInfoNotFoundError, ValueError):
            return None, {"timezone": _("%(zone)s is not a time zone we know; choose one "
                                        "such as Europe/Dublin.", zone=form.timezone)}
    try:
        return moment.astimezone(UTC), {}
    except OverflowError:  # the year 1 or 9999 shifted out of the calendar
        return None, {"closes_at": _("A decision closes within a year.")}


def _control_characters(form: DecisionForm) -> dict[str, str]:
    """Text no keyboard types (a NUL would not even be stored): refused at its field."""
    errors = {}
    for name, text in (("question", form.question), ("description", form.description),
                       ("options", form.options)):
        if any(ord(c) < 32 and c not in "\n\t" for c in text):
            errors[name] = _("This field contains control characters.")
    return errors


def _opening_errors(exc: PublishError) -> dict[str, str]:
    reason = exc.args[0] if exc.args else exc
    return {_FIELDS.get(getattr(reason, "code", ""), "form"): sentence(reason)}


def _form_page(request: web.Request, chapter: ActorRecord, form: DecisionForm,
               errors: dict[str, str], status: int = 200) -> web.Response:
    if errors:
        log.info("decision form refused", path=request.path, fields=sorted(errors))
    response = render(
        request, "decision_form.html", chapter=chapter, form=form, errors=errors,
        zones=zone_names(), written_languages=written_languages.choices(form.language),
        methods=[(key, method_name(key), method_words(key)) for key in METHOD_NAMES],
        limits={"question": MAX_QUESTION, "description": MAX_DESCRIPTION,
                "options": MAX_OPTIONS, "option": MAX_OPTION})
    response.set_status(status)
    return response


async def _organised(request: web.Request) -> ActorRecord | web.Response:
    chapter = await chapter_in_path(request, "decisions/new")
    if not isinstance(chapter, ActorRecord):
        return chapter
    if not may_manage(request, chapter):
        log.info("decision refused: not an organiser", chapter=chapter.handle)
        return notice(request, _("Not yours to open"),
                      _("Only the organisers of %(chapter)s open its decisions.",
                        chapter=chapter.name), 403)
    return chapter


async def new_form(request: web.Request) -> web.Response:
    chapter = await _organised(request)
    if isinstance(chapter, web.Response):
        return chapter
    assert chapter.handle is not None
    form = DecisionForm(timezone=i18n.current().zone_name,
                        language=await written_in(request.app[DB], chapter.handle,
                                                  written_languages.node_language(request)))
    return _form_page(request, chapter, form, {})


async def open_(request: web.Request) -> web.Response:
    chapter = await _organised(request)
    if isinstance(chapter, web.Response):
        return chapter
    handle = chapter.handle
    assert handle is not None
    db = request.app[DB]
    form = _read(await request.post())
    form.language = form.language or await written_in(
        db, handle, written_languages.node_language(request))
    closes_at, errors = _closing(form)
    errors = _control_characters(form) | errors
    if errors:
        return _form_page(request, chapter, form, errors, 400)
    opening = Opening(
        question=form.question, description=form.description,
        options=[line.strip() for line in form.options.splitlines() if line.strip()],
        closes_at=closes_at, count_method=form.count_method, multiple=form.multiple,
        language=form.language or None)
    try:
        iri = await open_decision(db, request.app[NODE].urls, handle, opening)
    except PublishError as exc:
        return _form_page(request, chapter, form, _opening_errors(exc), 400)
    decision = await store.by_iri(db, iri)
    assert decision is not None  # opened above
    current = viewer(request)
    log.info("decision opened from the web", chapter=handle,
             by=current.handle if current else None, decision=iri)
    return see_other(f"/decisions/{decision.id}")


# --- A decision's page

async def _decision_in_path(request: web.Request) -> Decision | web.Response:
    raw = request.match_info["id"]
    decision = None
    if raw.isascii() and raw.isdigit() and len(raw) <= MAX_ID_DIGITS:
        decision = await store.by_id(request.app[DB], int(raw))
    if decision is None:
        log.info("no such decision", path=request.path)
        return notice(request, _("No such decision"),
                      _("This node holds no decision by that number."), 404)
    return decision


@dataclass(frozen=True)
class Voting:
    """What the page offers the reader: the ballot form, or why there is none."""

    can_vote: bool
    why_not: str | None  # worded
    ballot: Ballot | None  # theirs, if they voted
    chapter_name: str | None  # the chapter their ballot counts in


async def _voting(request: web.Request, decision: Decision, current: Viewer | None
                  ) -> Voting:
    if current is None:
        return Voting(False, None, None, None)
    db = request.app[DB]
    ballot = await store.ballot(db, decision.id, current.member_id)
    part, refusal = await voting_part(db, decision, current.member_id)
    closed = decision.closed_at is not None or decision.closes_at <= utcnow()
    if part is None:
        return Voting(False, sentence(refusal) if refusal else None, ballot, None)
    if closed:
        return Voting(False, _("This decision is closed: no more ballots are taken."),
                      ballot, part.chapter_name)
    return Voting(True, None, ballot, part.chapter_name)


async def _page(request: web.Request, decision: Decision, error: str | None = None,
                choices: list[str] | None = None, status: int = 200) -> web.Response:
    db = request.app[DB]
    urls = request.app[NODE].urls
    view: DecisionView = await decision_view(db, urls, decision,
                                             request.app[TALLIES].settings)
    current = viewer(request)
    voting = await _voting(request, decision, current)
    chosen = choices if choices is not None else (voting.ballot.choices if voting.ballot
                                                  else [])
    notice_code = request.query.get("ballot") if current is not None else None
    # Closed from its closing time on, as the ballot form says, though the node's worker
    # may mark it so a moment later.
    closed = decision.closed_at is not None or decision.closes_at <= utcnow()
    response = render(
        request, "decision.html", decision=decision, view=view, result=view.result,
        description=Markup(body_html(decision.description)),
        deciding_link=chapter_link(view.deciding, urls.actor("")),
        local_prefix=urls.actor(""), chapter_link=chapter_link,
        method_name=method_name, method_words=method_words, percent=percent,
        amount=amount, voting=voting, chosen=chosen, error=error,
        choices_text=listing(voting.ballot.choices) if voting.ballot else "",
        leading=listing(view.result.leading()), leading_count=len(view.result.leading()),
        listing=listing,
        closed=closed, recorded=notice_code in ("recorded", "changed") and notice_code,
        login=f"/login?next={quote(f'/decisions/{decision.id}', safe='/')}")
    response.set_status(status)
    return response


async def decision_page(request: web.Request) -> web.Response:
    decision = await _decision_in_path(request)
    if isinstance(decision, web.Response):
        return decision
    return await _page(request, decision)


def _choices(posted: Any, decision: Decision) -> list[str]:
    """The options the form sent, each cut to a length no option has (so that an unknown
    one is refused by name, not stored), and no more of them than the decision has."""
    sent = [value[: MAX_OPTION + 1] for value in posted.getall("option", [])
            if isinstance(value, str)]
    return sent[: len(decision.options) + 1]


async def vote(request: web.Request) -> web.Response:
    decision = await _decision_in_path(request)
    if isinstance(decision, web.Response):
        return decision
    current = viewer(request)
    if current is None:
        return see_other(f"/login?next={quote(f'/decisions/{decision.id}', safe='/')}")
    posted = await request.post()
    choices = _choices(posted, decision)
    try:
        cast = await cast_ballot(request.app[DB], decision.iri, current.handle, choices,
                                 request.app[TALLIES].settings.debounce)
    except PublishError as exc:
        reason = exc.args[0] if exc.args else exc
        code = getattr(reason, "code", "")
        status = _BALLOT_STATUS.get(code, 400)
        log.info("ballot refused", decision=decision.iri, member=current.handle, code=code,
                 status=status)
        if status == 400:
            # The form again, with what was chosen and why it cannot count.
            return await _page(request, decision, sentence(reason),
                               [c for c in choices if c in decision.options], 400)
        return notice(request, _("Ballot not recorded"), sentence(reason), status,
                      link={"href": f"/decisions/{decision.id}",
                            "text": _("Back to the decision")})
    request.app[TALLIES].wake()
    log.info("ballot cast from the web", decision=decision.iri, chapter=cast.chapter,
             first=cast.first)
    return see_other(f"/decisions/{decision.id}?ballot={'recorded' if cast.first else 'changed'}")


# --- A chapter's decisions

@dataclass(frozen=True)
class Listed:
    decision: Decision
    deciding_name: str
    deciding_link: str
    in_scope: bool
    voted: bool | None  # None: the reader is not logged in


async def chapter_decisions(request: web.Request) -> web.Response:
    db = request.app[DB]
    slug = request.match_info["slug"]
    chapter = await _chapter(request, slug)
    if chapter is None:
        return notice(request, _("No such chapter"),
                      _("This node has no chapter by that name."), 404)
    prefix = request.app[NODE].urls.actor("")
    current = viewer(request)
    # Whether "you" voted, for the chapter's own members: others vote elsewhere, or not.
    member = current is not None and chapter.handle in {c.handle for c in current.chapters}
    listed = []
    names: dict[str, str] = {}
    for decision, part in await store.decisions_of_chapter(db, chapter.id, CHAPTER_LIST):
        if decision.deciding_iri not in names:
            names[decision.deciding_iri] = (await hierarchy_store.chapter_ref(
                db, decision.deciding_iri, prefix)).name
        voted = None if current is None or not member else (
            await store.ballot(db, decision.id, current.member_id) is not None)
        listed.append(Listed(decision, names[decision.deciding_iri],
                             chapter_link(decision.deciding_iri, prefix), part.in_scope,
                             voted))
    return render(request, "decision_list.html", chapter=chapter, decisions=listed,
                  may_open=may_manage(request, chapter))


async def _chapter(request: web.Request, slug: str) -> ActorRecord | None:
    chapter = await actor_store.actor_by_handle(request.app[DB], slug)
    if chapter is None or chapter.kind != "chapter" or chapter.handle is None:
        return None
    return chapter


def setup(app: web.Application) -> None:
    app.router.add_get("/@{slug}/decisions/new", new_form)
    app.router.add_post("/@{slug}/decisions", open_)
    app.router.add_get("/@{slug}/decisions", chapter_decisions)
    app.router.add_get("/decisions/{id}", decision_page)
    app.router.add_post("/decisions/{id}/ballot", vote)
