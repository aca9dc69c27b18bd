"""Commands about the fediverse: following, followers, the delivery queue.

They write rows; the running node (`chapterhouse serve`) delivers them. Commands that must
ask another server something first (follow) do that themselves, signed by the node.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from chapterhouse.cli_support import (
    Parser,
    UsageError,
    data_dir_argument,
    load_config,
    table,
    with_db,
)
from chapterhouse.config import CONFIG_FILE, Config
from chapterhouse.services import Services, running
from federation import webfinger
from federation.client import FetchError, NonPublicAddress
from federation.urls import NODE, Urls
from hierarchy import affiliation
from outbox import follows
from outbox.publish import PublishError
from storage import actors as actor_store
from storage import hierarchy as hierarchy_store
from storage import inbox as inbox_store
from storage import outbox as outbox_store
from storage.database import Database, utcnow

T = TypeVar("T")


def add_chapter_commands(
    chapter_commands: argparse._SubParsersAction[Parser],
) -> None:
    """The hierarchy: `chapter affiliate|requests|accept|reject|leave`."""
    affiliate = chapter_commands.add_parser(
        "affiliate", help="ask to join a parent chapter",
        description="Ask a chapter of a higher level, on any node, to take this chapter as a "
        "subchapter (a Join, and a Follow to receive what it publishes).")
    affiliate.add_argument("slug", metavar="SLUG")
    data_dir_argument(affiliate)
    affiliate.add_argument("--parent", required=True, metavar="HANDLE_OR_URL",
                           help="the parent chapter: its actor URL or @slug@host")
    affiliate.set_defaults(run=cmd_chapter_affiliate)
    requests = chapter_commands.add_parser(
        "requests", help="list chapters that asked to join",
        description="List the chapters that asked to join this one, and their state.")
    requests.add_argument("slug", metavar="SLUG")
    data_dir_argument(requests)
    requests.set_defaults(run=cmd_chapter_requests)
    for name, accept in (("accept", True), ("reject", False)):
        decide = chapter_commands.add_parser(
            name, help=f"{name} a chapter that asked to join",
            description=f"{name.capitalize()} a pending request to join; the chapter is told.")
        decide.add_argument("slug", metavar="SLUG")
        decide.add_argument("child", metavar="CHILD_URL", help="the asking chapter's actor URL")
        data_dir_argument(decide)
        decide.set_defaults(run=cmd_chapter_decide, accept=accept)
    leave = chapter_commands.add_parser(
        "leave", help="leave the parent chapter",
        description="Leave the parent chapter: both sides drop the link.")
    leave.add_argument("slug", metavar="SLUG")
    data_dir_argument(leave)
    leave.set_defaults(run=cmd_chapter_leave)


def add_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    deliveries = commands.add_parser(
        "deliveries", help="show or hurry the delivery queue",
        description="Show the delivery queue per host (queued, retrying, dead, delivered), "
        "or make waiting deliveries due now with `deliveries retry`.")
    # --data is checked by hand here: argparse would demand it before `retry`.
    deliveries.add_argument("--data", type=Path, metavar="DIR",
                            help="the node's data directory (config.toml and the database)")
    deliveries.set_defaults(run=cmd_deliveries)
    delivery_commands = deliveries.add_subparsers(dest="action", metavar="ACTION",
                                                  parser_class=Parser)
    retry = delivery_commands.add_parser(
        "retry", help="make every waiting delivery due now",
        description="Make every waiting delivery (to one host) due now, and forget the "
        "host's failures: for when a peer that was down is back.")
    data_dir_argument(retry)
    retry.add_argument("--host", metavar="HOST[:PORT]", help="only deliveries to this host")
    retry.set_defaults(run=cmd_deliveries_retry)

    follow = commands.add_parser("follow", help="follow a remote actor",
                                 description="Have a chapter or member follow a remote actor "
                                 "(an actor URL or @user@host).")
    follow.add_argument("target", metavar="ACTOR", help="actor URL or @user@host")
    data_dir_argument(follow)
    follow.add_argument("--as", dest="handle", required=True, metavar="HANDLE",
                        help="the local chapter or member that follows")
    follow.set_defaults(run=cmd_follow)
    unfollow = commands.add_parser("unfollow", help="stop following a remote actor",
                                   description="Undo a follow of a remote actor.")
    unfollow.add_argument("target", metavar="ACTOR", help="actor URL")
    data_dir_argument(unfollow)
    unfollow.add_argument("--as", dest="handle", required=True, metavar="HANDLE")
    unfollow.set_defaults(run=cmd_unfollow)

    followers = commands.add_parser("followers", help="list and decide followers",
                                    description="List a chapter's or member's followers, and "
                                    "approve or reject follow requests.")
    follower_commands = followers.add_subparsers(dest="action", required=True, metavar="ACTION",
                                                 parser_class=Parser)
    listing = follower_commands.add_parser("list", help="list followers and requests",
                                           description="List followers and pending requests.")
    listing.add_argument("handle", metavar="HANDLE")
    data_dir_argument(listing)
    listing.set_defaults(run=cmd_followers_list)
    for name, accept in (("approve", True), ("reject", False)):
        decide = follower_commands.add_parser(
            name, help=f"{name} a follow request",
            description=f"{name.capitalize()} a pending follow request; the follower is told.")
        decide.add_argument("handle", metavar="HANDLE", help="the chapter or member followed")
        decide.add_argument("follower", metavar="ACTOR", help="the follower's actor URL")
        data_dir_argument(decide)
        decide.set_defaults(run=cmd_followers_decide, accept=accept)


def _publishing(config: Config, work: Callable[[Database], Awaitable[T]]) -> T:
    try:
        return with_db(config, work)
    except PublishError as exc:
        raise UsageError(str(exc)) from None


# A running worker takes up due work within seconds; this long means it is not doing so.
OVERDUE_AFTER = timedelta(minutes=5)


def cmd_deliveries(args: argparse.Namespace) -> int:
    if args.data is None:
        raise UsageError("the following arguments are required: --data")
    config = load_config(args.data)

    async def work(
        db: Database,
    ) -> tuple[list[outbox_store.HostQueue], int, datetime | None, int]:
        return (await outbox_store.queue_by_host(db), await outbox_store.pending_fanouts(db),
                await outbox_store.next_due(db),
                await outbox_store.overdue(db, utcnow() - OVERDUE_AFTER))

    hosts, fanouts, next_due, overdue = with_db(config, work)
    if not hosts and not fanouts:
        print("no deliveries yet")
        return 0
    print(table(
        [[h.host, str(h.queued), str(h.retrying), str(h.dead), str(h.delivered),
          "unavailable" if h.unavailable else "ok", h.last_error or "-"] for h in hosts],
        ["HOST", "QUEUED", "RETRYING", "DEAD", "DELIVERED", "HOST STATE", "LAST ERROR"],
    ))
    if fanouts:
        print(f"{fanouts} publication(s) waiting to be fanned out to followers")
    if next_due is not None:
        due = next_due.strftime("%Y-%m-%d %H:%M:%S UTC")
        print(f"next attempt due {due}")
    if overdue:
        # The worker lives in `serve`; this command cannot ask it, but its backlog shows.
        minutes = OVERDUE_AFTER // timedelta(minutes=1)
        print(f"warning: {overdue} deliver{'y' if overdue == 1 else 'ies'} due more than"
              f" {minutes} minutes ago not yet taken up: the node is far behind"
              " or its delivery worker is not running (is `chapterhouse serve` running? its log"
              " says \"background task failed\" when the worker fails)")
    return 0


def cmd_deliveries_retry(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    host = args.host.lower() if args.host else None
    count = with_db(config, lambda db: outbox_store.retry_now(db, utcnow(), host))
    print(f"{count} waiting deliver{'y' if count == 1 else 'ies'} due now"
          + (f" for {host}" if host else ""))
    return 0


async def _resolve(node: Services, target: str, allow_http: bool) -> str:
    if target.startswith(("http://", "https://")):
        return target
    try:
        return await webfinger.lookup(node.client, target, allow_http=allow_http)
    except (webfinger.BadResource, webfinger.NotHere) as exc:
        raise UsageError(str(exc)) from None


def _online(work: Callable[[], Coroutine[Any, Any, str]], target: str) -> str:
    """Run a command that talks to another server; its failures are one-line errors."""
    try:
        return asyncio.run(work())
    except PublishError as exc:
        raise UsageError(str(exc)) from None
    except NonPublicAddress as exc:
        raise UsageError(f"cannot reach {target}: {exc}; to allow private addresses, set "
                         f"allow_private_addresses = true under [federation] in "
                         f"{CONFIG_FILE}") from None
    except FetchError as exc:
        raise UsageError(f"cannot reach {target}: {exc}") from None


def _on_this_node(config: Config, target: str) -> str | None:
    """The handle, when an actor URL or @user@host names an actor of this node."""
    if target.startswith(("http://", "https://")):
        if urlsplit(target).netloc.lower() != config.domain:
            return None
        handle = Urls(config.base_url).parse_actor_url(target)
        if handle is None or handle == NODE:
            raise UsageError(f"{target} is not a chapter of this node")
        return handle
    try:
        user, host = webfinger.parse_handle(target)
    except webfinger.BadResource:
        return None
    return user if host == config.domain else None


def cmd_chapter_affiliate(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    local_parent = _on_this_node(config, args.parent)
    if local_parent is not None:
        # Our own chapter: joined in our own database, without a request to ourselves.
        urls = Urls(config.base_url)
        try:
            join, state = with_db(config, lambda db: affiliation.affiliate_local(
                db, urls, args.slug, local_parent, config.hostname,
                accept=config.domain in config.accept_subchapters_from))
        except PublishError as exc:
            raise UsageError(str(exc)) from None
        if state == "accepted":
            print(f"joined {args.parent} ({join})")
        else:
            print(f"asked to join {args.parent} ({join}); to accept: chapterhouse chapter "
                  f"accept {local_parent} {urls.actor(args.slug)} --data {args.data}")
        return 0

    async def work() -> str:
        async with running(config) as node:
            parent = await _resolve(node, args.parent, config.allow_private_addresses)
            return await affiliation.affiliate(node.db, node.urls, node.actors, args.slug, parent)

    print(f"asked to join {args.parent} ({_online(work, args.parent)})")
    return 0


def cmd_chapter_requests(args: argparse.Namespace) -> int:
    config = load_config(args.data)

    async def work(db: Database) -> list[hierarchy_store.JoinRequest]:
        chapter = await actor_store.actor_by_handle(db, args.slug)
        if chapter is None or chapter.kind != "chapter":
            raise UsageError(f"there is no chapter {args.slug!r} on this node")
        return await hierarchy_store.requests(db, chapter.id)

    rows = with_db(config, work)
    if not rows:
        print("no requests yet")
        return 0
    print(table([[r.child_iri, r.state, r.since.date().isoformat()] for r in rows],
                ["CHAPTER", "STATE", "SINCE"]))
    return 0


def cmd_chapter_decide(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    _publishing(config, lambda db: affiliation.decide(
        db, Urls(config.base_url), args.slug, args.child, args.accept, config.hostname))
    print(f"{'accepted' if args.accept else 'rejected'} {args.child}")
    return 0


def cmd_chapter_leave(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    _publishing(config, lambda db: affiliation.leave(
        db, Urls(config.base_url), args.slug, config.hostname))
    print(f"{args.slug} left its parent")
    return 0


def cmd_follow(args: argparse.Namespace) -> int:
    config = load_config(args.data)

    async def work() -> str:
        async with running(config) as node:
            target = await _resolve(node, args.target, config.allow_private_addresses)
            return await follows.follow(node.db, node.urls, node.actors, args.handle, target)

    print(f"follow request sent as {_online(work, args.target)}")
    return 0


def cmd_unfollow(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    undo = _publishing(
        config, lambda db: follows.unfollow(db, Urls(config.base_url), args.handle, args.target)
    )
    print(f"unfollowed {args.target} ({undo})")
    return 0


def cmd_followers_list(args: argparse.Namespace) -> int:
    config = load_config(args.data)

    async def work(db: Database) -> list[inbox_store.Follower]:
        actor = await actor_store.actor_by_handle(db, args.handle)
        if actor is None:
            raise UsageError(f"there is no chapter or member {args.handle!r} on this node")
        return await inbox_store.followers_of(db, actor.id)

    followers = with_db(config, work)
    if not followers:
        print("no followers yet")
        return 0
    print(table([[f.follower_iri, f.state, f.created_at.date().isoformat()] for f in followers],
                ["FOLLOWER", "STATE", "SINCE"]))
    return 0


def cmd_followers_decide(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    _publishing(config, lambda db: follows.decide(
        db, Urls(config.base_url), args.handle, args.follower, args.accept))
    print(f"{'approved' if args.accept else 'rejected'} {args.follower}")
    return 0
