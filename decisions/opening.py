"""Opening a decision, and a decision reaching the chapters below the one that opened it.

The electorate is the members of the deciding chapter and of every chapter below it as
the hierarchy stood at the opening (hierarchy/scope.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from chapterhouse.reasons import reason
from decisions.wire import MAX_QUESTION, question_document
from federation.languages import WRITTEN
from federation.urls import Urls
from hierarchy import relay, scope
from hierarchy.tallies import METHODS
from outbox import activities
from outbox.items import MAX_OPTION, MAX_OPTIONS
from outbox.proving import prove
from outbox.publish import PublishError, no_actor
from storage import actors as actor_store
from storage import decisions as store
from storage.database import Database
from storage.outbox import insert_activity, insert_object, queue_fanout
from storage.timestamps import utcnow

log = structlog.get_logger(__name__)

MAX_DESCRIPTION = 20_000
LONGEST = timedelta(days=366)


@dataclass(frozen=True)
class Opening:
    """What an organiser asks when opening a decision."""

    question: str
    options: list[str]
    closes_at: datetime | None
    count_method: str = "ballots"
    multiple: bool = False
    description: str = ""
    language: str | None = None


def check(opening: Opening, now: datetime) -> None:
    """PublishError with the reason a decision cannot open so."""
    if not opening.question.strip():
        raise PublishError(reason("decision.question", "a decision needs a question"))
    if len(opening.question) > MAX_QUESTION:
        raise PublishError(reason("decision.question_long", "the question is longer than "
                                  "%(num)d characters", num=MAX_QUESTION))
    if len(opening.description) > MAX_DESCRIPTION:
        raise PublishError(reason("decision.description_long", "the description is longer "
                                  "than %(num)d characters", num=MAX_DESCRIPTION))
    options = [option.strip() for option in opening.options]
    if len(options) < 2:
        raise PublishError(reason("decision.few", "a decision needs at least two options"))
    if len(options) > MAX_OPTIONS:
        raise PublishError(reason("decision.many", "a decision has at most %(num)d options",
                                  num=MAX_OPTIONS))
    if any(not option or len(option) > MAX_OPTION for option in options):
        raise PublishError(reason("decision.option", "each option needs 1 to %(num)d "
                                  "characters", num=MAX_OPTION))
    if len(set(options)) != len(options):
        raise PublishError(reason("decision.same", "the options must differ from each other"))
    if opening.count_method not in METHODS:
        raise PublishError(reason("decision.method", "count by 'ballots' (one member, one "
                                  "vote) or by 'members' (each chapter weighted by its "
                                  "members)"))
    if opening.closes_at is None:
        raise PublishError(reason("decision.no_close", "a decision needs a closing time"))
    if opening.closes_at.tzinfo is None:
        raise PublishError(reason("decision.zone", "the closing time needs its time zone"))
    if opening.closes_at <= now:
        raise PublishError(reason("decision.closed", "the closing time is in the past"))
    if opening.closes_at > now + LONGEST:
        raise PublishError(reason("decision.far", "a decision closes within a year"))
    if opening.language is not None and not WRITTEN.fullmatch(opening.language):
        raise PublishError(reason("decision.language", "%(language)s is not a language "
                                  "we know", language=opening.language))


async def open_decision(db: Database, urls: Urls, handle: str, opening: Opening) -> str:
    """Open a decision for a chapter of this node; its id (the Question's)."""
    chapter = await actor_store.actor_by_handle(db, handle)
    if chapter is None:
        raise PublishError(no_actor(handle))
    if chapter.kind != "chapter":
        raise PublishError(reason("decision.not_chapter", "only a chapter opens decisions"))
    # The wire says whole seconds: the opening is the end of this one, so that a chapter
    # accepted a moment before is in the scope on every node that reads it.
    moment = utcnow()
    now = moment.replace(microsecond=0) + (timedelta(seconds=1) if moment.microsecond else
                                           timedelta(0))
    check(opening, now)
    assert opening.closes_at is not None  # checked
    iri = urls.object(activities.new_id())
    options = [option.strip() for option in opening.options]
    async with db.transaction() as tx:
        decision_id = await store.insert(
            tx, iri, urls.actor(handle), chapter.id, opening.question.strip(),
            opening.description.strip(), options, opening.multiple, opening.count_method,
            opening.language, now, opening.closes_at)
        subchapters = await store.subchapters_at(tx, chapter.id, now)
        await store.add_part(tx, decision_id, chapter.id, None, True, subchapters, now)
        decision = await store.by_id(tx, decision_id)
        assert decision is not None  # inserted above
        document = await prove(tx, urls, chapter.id,
                               question_document(urls, decision, handle, None))
        await insert_object(tx, iri, chapter.id, "Question", document, now)
        create = activities.create(urls, handle, document)
        activity_id = await insert_activity(tx, create["id"], chapter.id, "Create", True,
                                            create, now)
        await queue_fanout(tx, activity_id, chapter.id)
        await scope.down_this_node(tx, urls, chapter.id, decision_id, iri, now)
        await scope.invite_below(tx, urls, chapter.id, iri, subchapters)
        # Chapters of this node below announce it to their own followers.
        await relay.item_published(tx, urls, chapter.id, document)
    log.info("decision opened", decision=iri, chapter=handle, method=opening.count_method)
    return iri
