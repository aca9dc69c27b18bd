"""`chapterhouse decide open|vote|show|list`: decisions from the command line.

The same code paths as the web: `open` is decisions.opening (the operator stands for the
chapter's organisers, as with `post`), `vote` enters a paper ballot through
decisions.ballots.cast_ballot with the organiser who entered it, and `show` reads the
result through decisions.views as the decision page does. The running node's tally worker
makes the tallies; nothing here waits for it.
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from chapterhouse.cli_publishing import language_code
from chapterhouse.cli_support import (
    Parser,
    UsageError,
    data_dir_argument,
    load_config,
    table,
    with_db,
)
from chapterhouse.config import Config
from decisions.ballots import Cast, cast_ballot
from decisions.counting import TallySettings
from decisions.opening import Opening, open_decision
from decisions.views import DecisionView, decision_view
from federation.urls import Urls
from hierarchy.tallies import METHODS, Result
from outbox import content
from outbox.publish import PublishError
from storage import actors as actor_store
from storage import decisions as store
from storage import hierarchy as hierarchy_store
from storage.database import Database
from storage.decisions import Decision
from storage.timestamps import iso, utcnow

RELATIVE = re.compile(r"\+(\d{1,6})([smhd])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
METHOD_WORDS = {
    "ballots": "ballots (one member, one vote)",
    "members": "members (each chapter's result weighted by its eligible members)",
}


def closing_time(value: str, now: datetime | None = None) -> datetime:
    """--closes: an ISO 8601 moment with its offset, or `+N` s/m/h/d from now."""
    text = value.strip()
    relative = RELATIVE.fullmatch(text)
    if relative is not None:
        amount, unit = int(relative.group(1)), relative.group(2)
        return (now or utcnow()) + timedelta(**{UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--closes: {value!r} is neither a moment such as "
                         "2026-12-24T18:00:00+00:00 nor a time from now such as +2h, +30m "
                         "or +3d") from None
    if moment.tzinfo is None:
        raise UsageError(f"--closes: {value!r} has no offset; say which time zone, e.g. "
                         f"{text}+00:00")
    return moment


def settings_of(config: Config) -> TallySettings:
    return TallySettings(debounce=timedelta(seconds=config.tally_debounce_seconds),
                         grace=timedelta(seconds=config.late_tally_grace_seconds))


def page_url(config: Config, decision: Decision) -> str:
    return f"{config.base_url}/decisions/{decision.id}"


def add_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    decide = commands.add_parser(
        "decide", help="open decisions, enter paper ballots, show results",
        description="Decisions in which every member of a chapter and of the chapters "
        "below it has a proportional say.")
    actions = decide.add_subparsers(dest="action", required=True, metavar="ACTION",
                                    parser_class=Parser)

    opening = actions.add_parser(
        "open", help="open a decision for a chapter",
        description="Open a decision for a chapter: its members and those of every chapter "
        "below it (as the hierarchy stands now) have a say. Prints the decision's id and its "
        "page; the running node sends it down the hierarchy.")
    data_dir_argument(opening)
    opening.add_argument("--chapter", required=True, metavar="SLUG",
                         help="the deciding chapter")
    opening.add_argument("--question", required=True, metavar="TEXT")
    opening.add_argument("--option", action="append", default=[], metavar="TEXT",
                         help="an option; give two or more")
    opening.add_argument("--multiple", action="store_true",
                         help="members may choose several options")
    opening.add_argument("--closes", required=True, metavar="WHEN",
                         help="a moment with its offset (2026-12-24T18:00:00+00:00), or a "
                         "time from now: +30m, +2h, +3d")
    opening.add_argument("--count", required=True, choices=METHODS,
                         help="ballots: one member, one vote; members: each chapter's result "
                         "weighted by its eligible members")
    opening.add_argument("--description", default="", metavar="TEXT", help="Markdown")
    opening.add_argument("--language", type=language_code, metavar="CODE",
                         help="the language it is written in, e.g. en or eo (default: the "
                         "chapter's language setting, else the node's [node] language)")
    opening.set_defaults(run=cmd_open)

    vote = actions.add_parser(
        "vote", help="enter a member's paper ballot",
        description="Enter a ballot cast on paper, as an organiser of the member's chapter; "
        "it replaces the member's earlier ballot, if any. The running node sends the "
        "chapter's new tally up.")
    vote.add_argument("decision", metavar="DECISION_URL",
                      help="the decision's id, its page (/decisions/N) or its number N")
    data_dir_argument(vote)
    vote.add_argument("--member", required=True, metavar="USER")
    vote.add_argument("--option", action="append", required=True, metavar="TEXT",
                      help="the option chosen (repeat where several may be chosen)")
    vote.add_argument("--by", required=True, metavar="ORGANISER",
                      help="the organiser of the member's chapter who enters it")
    vote.set_defaults(run=cmd_vote)

    show = actions.add_parser(
        "show", help="show a decision's result and breakdown",
        description="The decision's result so far, counted both ways, and each chapter's "
        "tally.")
    show.add_argument("decision", metavar="DECISION_URL",
                      help="the decision's id, its page (/decisions/N) or its number N")
    data_dir_argument(show)
    show.set_defaults(run=cmd_show)

    listing = actions.add_parser(
        "list", help="list the decisions a chapter takes part in",
        description="The open and closed decisions a chapter takes part in, open first.")
    data_dir_argument(listing)
    listing.add_argument("--chapter", required=True, metavar="SLUG")
    listing.set_defaults(run=cmd_list)


async def find_decision(db: Database, config: Config, given: str) -> Decision:
    """The decision named by its id (IRI) or by its page on this node."""
    decision = await store.by_iri(db, given)
    if decision is None:
        parts = urlsplit(given)
        # Its page's URL on this node, the page's path, or the number in it.
        page = re.fullmatch(r"(?:/decisions/)?(\d{1,18})/?", parts.path)
        here = (not parts.scheme and not parts.netloc) or \
            f"{parts.scheme}://{parts.netloc}" == config.base_url
        if page is not None and here and not parts.query and (
                parts.path.startswith("/decisions/") or not parts.netloc):
            decision = await store.by_id(db, int(page.group(1)))
    if decision is None:
        raise UsageError(f"there is no decision {given!r} on this node")
    return decision


def cmd_open(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    closes_at = closing_time(args.closes)

    async def work(db: Database) -> tuple[str, Decision]:
        chapter = await actor_store.actor_by_handle(db, args.chapter)
        if chapter is None or chapter.kind != "chapter":
            raise UsageError(f"there is no chapter {args.chapter!r} on this node")
        handle = chapter.handle or args.chapter
        language = args.language or await content.written_in(db, handle, config.language)
        iri = await open_decision(db, Urls(config.base_url), handle, Opening(
            question=args.question, options=args.option, closes_at=closes_at,
            count_method=args.count, multiple=args.multiple, description=args.description,
            language=language))
        decision = await store.by_iri(db, iri)
        assert decision is not None  # just opened
        return iri, decision

    try:
        iri, decision = with_db(config, work)
    except PublishError as exc:
        raise UsageError(str(exc)) from None
    print(iri)
    print(page_url(config, decision))
    return 0


def cmd_vote(args: argparse.Namespace) -> int:
    config = load_config(args.data)

    async def work(db: Database) -> Cast:
        decision = await find_decision(db, config, args.decision)
        return await cast_ballot(db, decision.iri, args.member, args.option,
                                 settings_of(config).debounce, entered_by=args.by)

    try:
        cast = with_db(config, work)
    except PublishError as exc:
        raise UsageError(str(exc)) from None
    done = "recorded" if cast.first else "changed"
    print(f"ballot {done} for {args.member} in {cast.chapter} (entered by {args.by})")
    return 0


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def _moment(moment: datetime | None) -> str:
    return iso(moment) or "-"


def _status(view: DecisionView) -> str:
    decision = view.decision
    if decision.closed_at is None:
        return f"open, closes {_moment(decision.closes_at)}"
    if not view.result_final:
        return f"closed {_moment(decision.closed_at)}, counting (not the final result yet)"
    leading = view.result.leading()
    if not leading:
        outcome = "nobody voted"
    elif len(leading) == 1:
        outcome = leading[0]
    else:
        outcome = "no decision, a tie between " + ", ".join(leading[:-1]) + " and " + \
            leading[-1]
    return f"closed {_moment(decision.closed_at)}, final result: {outcome}"


def _options(result: Result) -> str:
    # The decision's own method is marked with * in its two columns.
    ballots = "*" if result.method == "ballots" else ""
    members = "*" if result.method == "members" else ""
    return table(
        [[option.name, str(option.ballots), _percent(option.ballot_share),
          f"{option.weighted:g}", _percent(option.weighted_share)]
         for option in result.options],
        ["OPTION", f"BALLOTS{ballots}", f"SHARE{ballots}", f"WEIGHTED{members}",
         f"SHARE{members}"])


def _state(final: bool, late: bool, heard: datetime) -> str:
    if late:
        return f"late (tally at {_moment(heard)})"
    if final:
        return "final"
    return f"not final (last tally at {_moment(heard)})"


def render(view: DecisionView) -> str:
    decision, result = view.decision, view.result
    lines = [
        f"question:   {decision.question}",
        f"deciding:   {view.deciding_name} ({view.deciding})",
        f"method:     {METHOD_WORDS.get(decision.count_method, decision.count_method)}",
        f"opened:     {_moment(decision.opened_at)}",
        f"status:     {_status(view)}",
        "",
        _options(result),
        f"* counted by {decision.count_method}: this is the count that decides",
        "",
        f"electorate: {result.eligible}",
        f"voters:     {result.voters}",
        f"turnout:    {_percent(result.turnout)}",
    ]
    if result.chapters:
        lines += ["", table(
            [[line.name, str(line.eligible), str(line.voters), _percent(line.turnout),
              _percent(line.say), _state(line.final, line.late, line.last_heard)]
             for line in result.chapters],
            ["CHAPTER", "ELIGIBLE", "VOTERS", "TURNOUT", "SAY", "STATE"])]
    else:
        lines += ["", "no tallies yet"]
    if result.missing_final:
        heard = {line.name for line in result.chapters}
        if decision.closed_at is not None:
            lines.append("missing final tallies: " + ", ".join(result.missing_final))
        elif silent := [name for name in result.missing_final if name not in heard]:
            lines.append("no tally yet from: " + ", ".join(silent))
    if view.standings:
        lines += ["", "ballots on this node (each chapter's own members):"]
        for standing in view.standings:
            chosen = ", ".join(f"{option} {standing.ballots.get(option, 0)}"
                               for option in decision.options)
            members = "member" if standing.eligible == 1 else "members"
            lines.append(f"  {standing.part.chapter_name}: {standing.voters} of "
                         f"{standing.eligible} {members} voted ({chosen})")
    return "\n".join(lines)


def cmd_show(args: argparse.Namespace) -> int:
    config = load_config(args.data)

    async def work(db: Database) -> DecisionView:
        decision = await find_decision(db, config, args.decision)
        return await decision_view(db, Urls(config.base_url), decision, settings_of(config))

    print(render(with_db(config, work)))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    urls = Urls(config.base_url)

    async def work(db: Database) -> list[list[str]]:
        chapter = await actor_store.actor_by_handle(db, args.chapter)
        if chapter is None or chapter.kind != "chapter":
            raise UsageError(f"there is no chapter {args.chapter!r} on this node")
        rows = []
        for decision, part in await store.decisions_of_chapter(db, chapter.id):
            deciding = await hierarchy_store.chapter_ref(db, decision.deciding_iri,
                                                         urls.actor(""))
            when = f"closes {_moment(decision.closes_at)}" if decision.is_open \
                else f"closed {_moment(decision.closed_at)}"
            rows.append([decision.iri, decision.question, when, deciding.name,
                         "yes" if part.in_scope else "no (joined later)"])
        return rows

    rows = with_db(config, work)
    if not rows:
        print(f"{args.chapter} takes part in no decisions yet")
        return 0
    print(table(rows, ["ID", "QUESTION", "CLOSES", "DECIDING", "IN SCOPE"]))
    return 0
