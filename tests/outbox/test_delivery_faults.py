"""Nothing promised to a follower is lost: not to a receiver that is down, not to a
sender killed with SIGKILL in the middle of a fan-out, not when that sender is one of two
processes sharing the queue of one PostgreSQL database."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chapterhouse.harness import free_port
from tests.nodes import Node, wait_for
from tests.receivers import Receivers

KNOWN_SINCE = datetime(2026, 11, 1, tzinfo=UTC)


def add_followers(node: Node, receivers: Receivers, per_host: int) -> None:
    """Followers of dublin on every receiver port, as the inbox would have stored them."""
    (dublin,) = node.sql("SELECT id FROM actors WHERE handle = 'dublin'")[0]
    actors, followers = [], []
    for port in receivers.ports:
        base = receivers.base(port)
        for i in range(per_host):
            iri = f"{base}/users/u{i}"
            actors.append((iri, f"127.0.0.1:{port}", f"{iri}/inbox", f"{base}/inbox",
                           KNOWN_SINCE))
            followers.append((dublin, iri, KNOWN_SINCE))
    node.sql_many(
        "INSERT INTO remote_actors (iri, type, host, inbox, shared_inbox, document,"
        " fetched_at) VALUES (?, 'Person', ?, ?, ?, '{}', ?)", actors)
    node.sql_many(
        "INSERT INTO followers (actor_id, follower_iri, state, created_at)"
        " VALUES (?, ?, 'accepted', ?)", followers)


def chapter_node(tmp_path: Path) -> Node:
    node = Node.init(tmp_path).federating()
    assert node.cli("chapter", "create", "dublin", "--name", "IOPS Dublin",
                    "--level", "local").returncode == 0
    return node


def post(node: Node, text: str) -> str:
    result = node.cli("post", "note", text, "--chapter", "dublin")
    assert result.returncode == 0, result.stderr
    (activity_id,) = node.sql(
        "SELECT a.iri FROM activities a JOIN objects o ON o.actor_id = a.actor_id"
        " WHERE a.type = 'Create' AND o.iri = ? AND a.document LIKE '%' || o.iri || '%'",
        result.stdout.split()[-1])[0]
    return str(activity_id)


def all_recorded(node: Node) -> bool:
    """Whether no delivery is waiting: a receiver counts a post before its sender has
    read the answer and written the outcome down."""
    return node.sql("SELECT count(*) FROM deliveries WHERE state = 'queued'") == [(0,)]


def test_a_receiver_that_was_down_gets_the_post_when_it_is_back(tmp_path: Path) -> None:
    node = chapter_node(tmp_path)
    receivers = Receivers(hosts=1)
    add_followers(node, receivers, per_host=3)
    node.start()
    try:
        # Given the follower's server is down when dublin posts
        activity = post(node, "Meeting moved to Thursday")
        wait_for(lambda: (node.sql("SELECT max(attempts) FROM deliveries")[0][0] or 0) >= 1,
                 what="a failed attempt")
        assert node.sql("SELECT state FROM deliveries") == [("queued",)]
        assert "RETRYING" in node.cli("deliveries").stdout
        # When it comes back, the retry schedule delivers the post, once
        with receivers:
            wait_for(lambda: receivers.distinct(activity), timeout=30, what="the retry")
            assert receivers.distinct(activity) == {receivers.ports[0]: 1}
        assert node.sql("SELECT state FROM deliveries") == [("delivered",)]
    finally:
        node.stop()


def test_deliveries_retry_sends_waiting_deliveries_at_once(tmp_path: Path) -> None:
    node = chapter_node(tmp_path)
    # The next automatic try would be in ~13 minutes.
    node.configure({"delivery.backoff_scale": 50.0})
    receivers = Receivers(hosts=1)
    add_followers(node, receivers, per_host=1)
    node.start()
    try:
        activity = post(node, "Bookfair")
        wait_for(lambda: (node.sql("SELECT max(attempts) FROM deliveries")[0][0] or 0) >= 1,
                 what="a failed attempt")
        with receivers:
            host = f"127.0.0.1:{receivers.ports[0]}"
            result = node.cli("deliveries", "retry", "--host", host)
            assert result.returncode == 0 and "1 waiting delivery due now" in result.stdout
            wait_for(lambda: receivers.distinct(activity), what="the delivery")
    finally:
        node.stop()


def test_sigkill_in_the_middle_of_a_fan_out_loses_nothing(tmp_path: Path) -> None:
    node = chapter_node(tmp_path)
    node.configure({"delivery.concurrency": 4})
    with Receivers(hosts=60, delay=0.2) as receivers:
        add_followers(node, receivers, per_host=5)  # 300 followers on 60 hosts
        node.start()
        activity = post(node, "Minutes of the August meeting")
        wait_for(lambda: sum(receivers.distinct(activity).values()) >= 8,
                 what="the fan-out to begin")
        assert node.stop(signal.SIGKILL) == -signal.SIGKILL
        delivered_before = len(receivers.distinct(activity))
        assert delivered_before < 60, "the fan-out finished before the kill; slow it down"
        node.start()
        wait_for(lambda: len(receivers.distinct(activity)) == 60, timeout=60,
                 what="every host to get the post after the restart")
        wait_for(lambda: all_recorded(node), what="the last outcomes to be written down")
        node.stop()
        counts = receivers.distinct(activity)
        # One delivery per host (shared inbox), not one per follower.
        assert set(counts) == set(receivers.ports)
        # What was in flight or not yet written down at the kill may arrive twice
        # (receivers dedupe by id): at most the 4 in flight and 7 unwritten outcomes.
        assert sum(counts.values()) <= 60 + 4 + 7
        assert node.sql("SELECT state, count(*) FROM deliveries GROUP BY state") == [
            ("delivered", 60)]


def test_sigkill_of_one_of_two_processes_sharing_a_fan_out_loses_nothing(
    tmp_path: Path, engine: str
) -> None:
    if engine != "postgresql":
        pytest.skip("several `serve` processes share one database only on PostgreSQL")
    node = chapter_node(tmp_path)
    node.configure({"delivery.concurrency": 4})
    # A second process of the same node: same data directory and database, its own port.
    other = Node(node.data, free_port())
    other.log_path = tmp_path / "other.log"
    with Receivers(hosts=60, delay=0.2) as receivers:
        add_followers(node, receivers, per_host=5)  # 300 followers on 60 hosts
        node.start()
        other.start()
        try:
            activity = post(node, "Minutes of the August meeting")
            wait_for(lambda: sum(receivers.distinct(activity).values()) >= 8,
                     what="the fan-out to begin")
            assert other.stop(signal.SIGKILL) == -signal.SIGKILL
            delivered_before = len(receivers.distinct(activity))
            assert delivered_before < 60, "the fan-out finished before the kill; slow it down"
            other.start()
            wait_for(lambda: len(receivers.distinct(activity)) == 60, timeout=60,
                     what="every host to get the post after the restart")
            wait_for(lambda: all_recorded(node), what="the last outcomes to be written down")
        finally:
            for process in (node, other):
                if process.running():
                    process.stop()
        counts = receivers.distinct(activity)
        # One delivery per host (shared inbox), not one per follower, whichever process
        # sent it: two processes never lease the same row.
        assert set(counts) == set(receivers.ports)
        # What the killed process had in flight or not yet written down may arrive twice
        # (at most its 4 in flight and 7 unwritten outcomes): receivers dedupe by id. The
        # restarted process frees only its own old leases (they carry its name), never
        # what its neighbour has in flight.
        assert sum(counts.values()) <= 60 + 4 + 7
        assert node.sql("SELECT state, count(*) FROM deliveries GROUP BY state") == [
            ("delivered", 60)]


def test_deliveries_warns_when_due_work_is_not_taken_up(tmp_path: Path) -> None:
    node = chapter_node(tmp_path)  # never started: nothing takes the work up
    add_followers(node, Receivers(hosts=1), per_host=1)
    post(node, "Bookfair")
    assert "warning" not in node.cli("deliveries").stdout  # just queued: not late yet
    node.sql("UPDATE fanouts SET created_at = ?", datetime(2026, 1, 1, tzinfo=UTC))
    result = node.cli("deliveries")
    assert result.returncode == 0
    assert "warning: 1 delivery due more than 5 minutes ago not yet taken up" in result.stdout
    assert "background task failed" in result.stdout
