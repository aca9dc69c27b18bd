"""`chapterhouse db copy`: a node moved from SQLite to PostgreSQL serves the same pages
and documents, with every row of every table, and keeps working (new ids, new rows).

The source is always a SQLite node and the target always PostgreSQL, whatever engine the
run is on: on SQLite runs the test starts a PostgreSQL cluster of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chapterhouse.harness import new_storage_url
from chapterhouse.pg_cluster import Cluster
from storage.copy import TABLES
from storage.database import Database
from storage.timestamps import now, to_text
from tests.nodes import Node, run_cli

AS2 = "application/activity+json"
HTML = "text/html"
REMOTE = "https://social.example"
SUBCHAPTER = "https://far.example/actors/kerry"
# Not a reachable inbox: what the node's workers do with it is not what this test is about.
DEAD_INBOX = "http://127.0.0.1:1/inbox"


@pytest.fixture(scope="module")
def new_database(engine: str) -> Iterator[Callable[[], str]]:
    """Makes an empty PostgreSQL database; its URL."""
    if engine == "postgresql":
        def made() -> str:
            url = new_storage_url()
            assert url is not None
            return url
        yield made
        return
    with Cluster() as cluster:
        yield cluster.new_database


def sqlite_node(parent: Path) -> Node:
    node = Node.init(parent, settings={"storage.url": "chapterhouse.sqlite3"})
    assert node.engine == "sqlite"
    return node


def post(node: Node, *args: str, stdin: str = "") -> str:
    return node.run("post", *args, stdin=stdin).strip()


def build(node: Node) -> dict[str, str]:
    """A small node with a row in every table; the ids (URLs) of what it published."""
    node.chapter("ireland", "IOPS Ireland", "national", "--location", "Ireland")
    node.chapter("dublin", "IOPS Dublin", "local", "--location", "Dublin, Ireland",
                 "--summary", "Organising and bookfairs in Dublin.")
    node.run("member", "add", "ana", "--chapter", "dublin", "--name", "Ana Byrne")
    node.run("member", "add", "brian", "--chapter", "dublin")
    ids = {
        "note": post(node, "note", "Thanks to everyone who came!", "--chapter", "dublin"),
        "news": post(node, "news", "--chapter", "dublin", "--title", "Bookfair moved",
                     "--summary", "Now in the Teachers' Club.", stdin="It *moved*.\n"),
        "blog": post(node, "blog", "--member", "ana", "--title", "Why I joined",
                     stdin="Because.\n"),
        "minutes": post(node, "minutes", "--chapter", "dublin", "--title", "October meeting",
                        "--meeting-date", "2026-10-14", stdin="We met.\n"),
        "event": post(node, "event", "--chapter", "dublin", "--title", "Autumn bookfair",
                      "--start", "2030-09-12T14:00", "--end", "2030-09-12T17:30",
                      "--timezone", "Europe/Dublin", "--place-name", "Teachers' Club",
                      "--address", "36 Parnell Square", "--capacity", "40"),
        "poll": post(node, "poll", "--chapter", "dublin", "--question", "Meet on Tuesdays?",
                     "--option", "Yes", "--option", "No", "--closes", "2030-12-01T18:00+00:00"),
    }
    ((ireland,), (dublin,)) = node.sql(
        "SELECT id FROM actors WHERE handle IN ('ireland', 'dublin') ORDER BY handle DESC")
    ((ana,),) = node.sql("SELECT id FROM actors WHERE handle = 'ana'")
    ((event,),) = node.sql("SELECT id FROM items WHERE object_iri = ?", ids["event"])
    ((poll,),) = node.sql("SELECT id FROM items WHERE object_iri = ?", ids["poll"])
    ((news,),) = node.sql("SELECT id FROM objects WHERE iri = ?", ids["news"])
    ((activity,),) = node.sql("SELECT min(id) FROM activities")
    when = datetime(2026, 11, 2, 10, 0, 0, 123456, tzinfo=UTC)

    people = [f"{REMOTE}/users/p{n}" for n in range(3)]
    node.sql_many(
        "INSERT INTO remote_actors (iri, type, host, inbox, shared_inbox, username, name,"
        " document, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(iri, "Person", "social.example", DEAD_INBOX, None, f"p{n}", f"Person {n}",
          json.dumps({"id": iri, "type": "Person", "name": f"Person {n}"}), when)
         for n, iri in enumerate(people)]
        + [(SUBCHAPTER, "Group", "far.example", DEAD_INBOX, None, "kerry", "IOPS Kerry",
            json.dumps({"id": SUBCHAPTER, "type": "Group", "name": "IOPS Kerry",
                        "preferredUsername": "kerry", "level": "local"}), when)])
    ((person,),) = node.sql("SELECT id FROM remote_actors WHERE iri = ?", people[0])
    node.sql("INSERT INTO remote_keys (key_id, actor_id, algorithm, public_pem)"
             " VALUES (?, ?, 'rsa', 'PEM')", f"{people[0]}#main-key", person)
    node.sql_many(
        "INSERT INTO followers (actor_id, follower_iri, state, created_at, follow_iri)"
        " VALUES (?, ?, ?, ?, ?)",
        [(dublin, people[0], "accepted", when, f"{people[0]}#follow-1"),
         (dublin, people[1], "accepted", when, None),
         (ana, people[1], "accepted", when, None),
         (dublin, people[2], "requested", when, f"{people[2]}#follow-2")])
    node.sql("INSERT INTO following (actor_id, target_iri, state, created_at, follow_iri)"
             " VALUES (?, ?, 'accepted', ?, ?)", dublin, people[1], when, f"{node.base}/f/1")
    node.sql("INSERT INTO inbox_activities (iri, type, actor_iri, document, received_at)"
             " VALUES (?, 'Follow', ?, '{}', ?)", f"{people[0]}#follow-1", people[0], when)
    node.sql_many(
        "INSERT INTO remote_objects (iri, type, attributed_to, content, in_reply_to,"
        " published, updated, document, received_at, via, meeting_date)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(f"{people[0]}/statuses/1", "Note", people[0], "<p>See you there!</p>",
          ids["event"], when, None, json.dumps({"id": f"{people[0]}/statuses/1"}),
          when + timedelta(seconds=1), None, None),
         (f"{SUBCHAPTER}/minutes/1", "Article", SUBCHAPTER, "<p>Kerry met.</p>", None,
          when - timedelta(days=1), when,
          json.dumps({"id": f"{SUBCHAPTER}/minutes/1", "type": "Article",
                      "name": "Kerry, September", "attributedTo": SUBCHAPTER,
                      "meetingDate": "2026-09-30"}),
          when, SUBCHAPTER, "2026-09-30")])
    ((minutes,),) = node.sql("SELECT id FROM remote_objects WHERE type = 'Article'")
    node.sql("INSERT INTO remote_object_audience (object_id, actor_id) VALUES (?, ?)",
             minutes, ireland)
    node.sql("INSERT INTO reactions (object_id, kind, actor_iri, activity_iri, created_at)"
             " VALUES (?, 'like', ?, ?, ?)", news, people[1], f"{people[1]}#like-1", when)
    node.sql("INSERT INTO blocks (actor_id, blocker, created_at) VALUES (?, ?, ?)",
             dublin, "https://spam.example", when)
    node.sql_many(
        "INSERT INTO poll_votes (item_id, voter, choice, note_iri, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [(poll, voter, choice, f"{voter}#vote", when)
         for voter, choice in zip(people, ["Yes", "Yes", "No"], strict=True)])
    node.sql("INSERT INTO event_participants (item_id, participant, join_iri, created_at)"
             " VALUES (?, ?, ?, ?)", event, people[0], f"{people[0]}#join-1", when)
    node.sql("INSERT INTO parents (chapter_id, parent_iri, state, join_iri, created_at)"
             " VALUES (?, ?, 'accepted', ?, ?)",
             dublin, f"{node.base}/actors/ireland", f"{node.base}/j/1", when)
    node.sql_many(
        "INSERT INTO subchapters (chapter_id, child_iri, state, join_iri, created_at,"
        " decided_at) VALUES (?, ?, 'accepted', ?, ?, ?)",
        [(ireland, f"{node.base}/actors/dublin", f"{node.base}/j/1", when, when),
         (ireland, SUBCHAPTER, f"{SUBCHAPTER}#join", when, when)])
    node.sql("INSERT INTO passed_up (chapter_id, object_iri, via_id, created_at)"
             " VALUES (?, ?, ?, ?)", ireland, ids["minutes"], dublin, when)
    node.sql("INSERT INTO hosts (host, signature_scheme, failures, unavailable_since,"
             " next_probe_at, last_success_at, last_failure_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
             "social.example", "rfc9421", 0, None, None, when, when - timedelta(hours=1))
    node.sql("INSERT INTO deliveries (activity_id, inbox, host, state, attempts,"
             " next_attempt_at, last_status, created_at, updated_at)"
             " VALUES (?, ?, 'social.example', 'delivered', 1, ?, 202, ?, ?)",
             activity, f"{REMOTE}/inbox", now(), now(), now())
    # Accounts: ana's (with a one-time link and a session), an organiser, a failed login.
    node.run("account", "create", "ana", "--password-link")
    node.run("chapter", "organisers", "add", "dublin", "ana")
    node.sql("INSERT INTO sessions (token_hash, account_id, csrf_secret, created_at,"
             " last_seen_at) VALUES (?, ?, 'secret', ?, ?)", "0" * 64, ana, when, when)
    node.sql("INSERT INTO access_tokens (account_id, name, token_hash, created_at,"
             " last_used_at) VALUES (?, 'minutes script', ?, ?, ?)", ana, "1" * 64, when, when)
    node.sql("INSERT INTO failed_logins (username, address, attempted_at)"
             " VALUES ('ana', '192.0.2.1', ?)", when)
    # The organisation's About page in two languages, in the navigation.
    text = node.data / "about.md"
    text.write_text("We organise in **Dublin**.\n", "utf-8")
    node.run("page", "set", "--slug", "about", "--language", "en", "--title", "About us",
             "--file", str(text), "--navigation")
    text.write_text("Ni organizas en **Dublino**.\n", "utf-8")
    node.run("page", "set", "--slug", "about", "--language", "eo", "--title", "Pri ni",
             "--file", str(text))
    # A request to join waiting for dublin's organisers; ireland lets people join at once.
    node.run("chapter", "set", "ireland", "--joins", "open")
    node.sql("INSERT INTO join_requests (chapter_id, username, name, password_hash, email,"
             " message, state, created_at) VALUES ((SELECT id FROM actors WHERE handle ="
             " 'dublin'), 'cara', 'Cara', 'hash', 'cara@example.org', 'Hello', 'requested',"
             " ?)", when)
    # A mail waiting for its next attempt, and one sent; ana's account has an address.
    node.sql("UPDATE accounts SET email = 'ana@example.org' WHERE member_id = ?", ana)
    node.sql("INSERT INTO outgoing_mail (recipient, subject, body, created_at, attempts,"
             " next_attempt_at, last_error) VALUES ('ana@example.org', 'Cara asks to join',"
             " 'Approve or reject.', ?, 1, ?, '421 try later')", when, when)
    node.sql("INSERT INTO outgoing_mail (recipient, subject, body, created_at, attempts,"
             " sent_at) VALUES ('cara@example.org', 'Confirm', 'Open the link.', ?, 1, ?)",
             when, when)
    # ana liked a remote note from the web.
    node.sql("INSERT INTO member_reactions (actor_id, object_iri, kind, activity_iri,"
             " created_at) VALUES (?, ?, 'like', ?, ?)",
             ana, f"{people[0]}/statuses/1", f"{node.base}/activities/like-1", when)
    # ana voted in a remote poll and asked to go to a remote event from the web.
    node.sql("INSERT INTO member_votes (member_id, question_iri, choice, activity_iri,"
             " created_at) VALUES (?, ?, 'Yes', ?, ?)",
             ana, f"{people[0]}/questions/1", f"{node.base}/activities/vote-1", when)
    node.sql("INSERT INTO member_event_joins (member_id, event_iri, organiser, state, join_iri,"
             " created_at, answered_at) VALUES (?, ?, ?, 'going', ?, ?, ?)",
             ana, f"{people[0]}/events/1", people[0], f"{node.base}/activities/join-1", when,
             when)
    # Dublin decides: ana's ballot, a tally held, and a parent's invitation to a decision
    # from above (not here yet).
    ids["decision"] = node.run(
        "decide", "open", "--chapter", "dublin", "--question", "Move the bookfair?",
        "--option", "Yes", "--option", "No", "--closes", "+30d", "--count", "members",
    ).split()[0]
    ((decision,),) = node.sql("SELECT id FROM decisions WHERE iri = ?", ids["decision"])
    node.sql("INSERT INTO ballots (decision_id, member_id, chapter_id, choices, cast_at)"
             " VALUES (?, ?, ?, '[\"Yes\"]', ?)", decision, ana, dublin, when)
    node.sql("INSERT INTO tallies (decision_id, holder_id, chapter_iri, document, published,"
             " final, late, received_at, forwarded) VALUES (?, ?, ?, '{}', ?, 0, 0, ?, 1)",
             decision, dublin, f"{node.base}/actors/dublin", when, when)
    node.sql("INSERT INTO decision_invites (decision_iri, chapter_id, parent_iri, received_at)"
             " VALUES (?, ?, ?, ?)", f"{people[0]}/questions/2", dublin, people[0], when)
    return ids


def record(node: Node, ids: dict[str, str]) -> dict[str, Any]:
    """What readers and peers see: pages, and ActivityPub documents (collections with their
    first page)."""
    seen: dict[str, Any] = {}

    def get(url: str, accept: str) -> Any:
        path = url.removeprefix(node.base)
        response = node.get(path, accept=accept)
        assert response.status == 200, (path, accept, response.status, response.text[:300])
        body = response.json() if accept == AS2 or "json" in response.content_type \
            else response.text
        seen[f"{accept} {path}"] = body
        return body

    for path in ("/", "/@dublin", "/@ireland", "/@ana", "/@dublin/members", "/pages/about",
                 ids["event"], ids["minutes"], ids["poll"]):
        get(path, HTML)
    for path in ("/actor", "/actors/dublin", "/actors/ana", "/actors/dublin/outbox",
                 "/actors/dublin/followers", "/actors/dublin/following",
                 "/actors/ireland/followers", *ids.values(), f"{ids['event']}/replies"):
        document = get(path, AS2)
        if isinstance(document.get("first"), str):
            get(document["first"], AS2)
    for path in ("/.well-known/webfinger?resource=acct:dublin@" + node.domain,
                 "/nodeinfo/2.1", "/actors/dublin/feed.atom", "/actors/dublin/events.ics"):
        get(path, "*/*")
    return seen


def table_rows(location: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every copied table, in one form for both engines: times as SQLite's
    text, flags as 0/1."""
    import asyncio

    def same(value: object) -> object:
        if isinstance(value, datetime):
            return to_text(value)
        if isinstance(value, bool):
            return int(value)
        return value

    async def read() -> dict[str, list[tuple[Any, ...]]]:
        async with Database(location) as db:
            found = {}
            for table in TABLES:
                columns = [row[0] for row in await db.fetchall(
                    "SELECT name FROM pragma_table_info(?) ORDER BY name", [table])] \
                    if db.engine == "sqlite" else [row[0] for row in await db.fetchall(
                        "SELECT column_name FROM information_schema.columns WHERE"
                        " table_schema = current_schema() AND table_name = ?"
                        " ORDER BY column_name", [table])]
                rows = await db.fetchall(f"SELECT {', '.join(columns)} FROM {table}")
                found[table] = sorted((tuple(same(v) for v in row) for row in rows), key=repr)
            return found

    return asyncio.run(read())


def copy(node: Node, url: str) -> Any:
    return run_cli("db", "copy", "--from", str(node.data), "--to", url)


def test_a_copied_node_serves_the_same_pages_and_documents(
    tmp_path: Path, new_database: Callable[[], str]
) -> None:
    node = sqlite_node(tmp_path)
    ids = build(node)
    node.start()
    before = record(node, ids)
    assert node.stop() == 0
    # A publication the node had not fanned out yet when it stopped (the running node
    # takes them at once, so it is made here).
    ((activity, actor),) = node.sql("SELECT id, actor_id FROM activities ORDER BY id LIMIT 1")
    node.sql("INSERT INTO fanouts (activity_id, actor_id, created_at) VALUES (?, ?, ?)",
             activity, actor, now())
    rows = table_rows(node.database)
    empty = [table for table, found in rows.items() if not found]
    assert empty == [], "the node should have a row in every table"

    url = new_database()
    result = copy(node, url)
    assert result.returncode == 0, result.stderr
    printed = dict(line.split() for line in result.stdout.splitlines()[2:2 + len(TABLES)])
    assert printed == {table: str(len(found)) for table, found in rows.items()}
    assert f"chapterhouse config set storage.url={url}" in result.stdout
    assert table_rows(url) == rows

    node.configure({"storage.url": url})
    assert node.engine == "postgresql"
    node.start()
    after = record(node, ids)
    # Nothing differs: every time is kept to the microsecond and every id is the same.
    assert after.keys() == before.keys()
    for key in before:
        assert after[key] == before[key], key

    # New rows get new ids after the copied ones, in every table the node writes.
    node.chapter("cork", "IOPS Cork")
    node.run("member", "add", "cliona", "--chapter", "cork")
    later = post(node, "news", "--chapter", "cork", "--title", "Hello", stdin="Hi.\n")
    assert node.get(later.removeprefix(node.base), accept=AS2).status == 200
    assert node.stop() == 0


def test_a_second_copy_into_the_same_database_is_refused(
    tmp_path: Path, new_database: Callable[[], str]
) -> None:
    node = sqlite_node(tmp_path)
    node.chapter("dublin", "IOPS Dublin")
    url = new_database()
    assert copy(node, url).returncode == 0
    before = table_rows(url)

    result = copy(node, url)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "already holds a node; copy into an empty database" in result.stderr
    assert table_rows(url) == before


def test_bad_targets_and_sources_are_clear_errors(
    tmp_path: Path, new_database: Callable[[], str]
) -> None:
    node = sqlite_node(tmp_path)
    for target, code, message in (
        ("sqlite:///elsewhere.db", 2, "--to must be a postgresql:// URL"),
        ("postgresql://someone@127.0.0.1", 2, "--to must name a database"),
        ("postgresql://someone@127.0.0.1:1/nowhere", 1, "cannot connect"),
    ):
        result = copy(node, target)
        assert result.returncode == code, (target, result.stderr)
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr

    result = run_cli("db", "copy", "--from", str(tmp_path / "nothing"), "--to", new_database())
    assert result.returncode == 2 and "chapterhouse init" in result.stderr, result.stderr

    url = new_database()
    node.configure({"storage.url": url})
    result = copy(node, new_database())
    assert result.returncode == 2
    assert "on PostgreSQL already" in result.stderr


def test_a_source_at_an_older_schema_is_refused(
    tmp_path: Path, new_database: Callable[[], str]
) -> None:
    import asyncio

    node = sqlite_node(tmp_path)
    assert isinstance(node.database, Path)
    for suffix in ("", "-wal", "-shm"):
        node.database.with_name(node.database.name + suffix).unlink(missing_ok=True)

    async def old() -> None:
        async with Database(node.database, migrate=True, up_to=6):
            pass

    asyncio.run(old())
    result = copy(node, new_database())
    assert result.returncode == 2
    assert f"upgrade it with `chapterhouse migrate --data {node.data}`" in result.stderr
