"""A parent on the same node: two processes, where node one holds Dublin (local) under
Leinster (regional) and Connacht (regional) under Éire (national), and node two holds
Ireland (national), the parent of Leinster, and Galway (local), a subchapter of Connacht.
Items climb and go down between chapters of one node as they do between nodes: kept by
the parent, shown on its page, announced to its followers, passed on up the chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from federation.multikey import decode_ed25519
from federation.proofs import verify_proof
from tests.nodes import Node, wait_for

AS2 = "application/activity+json"


def actor(node: Node, slug: str) -> str:
    return f"{node.base}/actors/{slug}"


def affiliate_across(child: Node, slug: str, parent: Node, parent_slug: str) -> None:
    result = child.cli("chapter", "affiliate", slug, "--parent", actor(parent, parent_slug))
    assert result.returncode == 0, result.stderr
    wait_for(lambda: actor(child, slug) in parent.cli("chapter", "requests",
                                                      parent_slug).stdout,
             what=f"{parent_slug} to see {slug}'s request")
    result = parent.cli("chapter", "accept", parent_slug, actor(child, slug))
    assert result.returncode == 0, result.stderr
    wait_for(lambda: child.get(f"/actors/{slug}", accept=AS2).json().get("parent")
             == actor(parent, parent_slug), what=f"{slug} to hear it was accepted")


def affiliate_here(node: Node, slug: str, parent_slug: str) -> None:
    result = node.cli("chapter", "affiliate", slug, "--parent", actor(node, parent_slug))
    assert result.returncode == 0, result.stderr
    result = node.cli("chapter", "accept", parent_slug, actor(node, slug))
    assert result.returncode == 0, result.stderr


def follow(follower: Node, handle: str, target: Node, slug: str) -> None:
    result = follower.cli("follow", actor(target, slug), "--as", handle)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: actor(follower, handle) in target.cli("followers", "list", slug).stdout,
             what=f"{handle} to follow {slug}")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    root = tmp_path_factory.mktemp("local-parent")
    # Node one talks to node two on 127.0.0.1, hence federating(); between its own chapters
    # it sends nothing (checked below).
    one = Node.init(root, "one").federating()
    one.chapter("dublin", "Dublin", "local", "--location", "Dublin place")
    one.chapter("leinster", "Leinster", "regional")
    one.chapter("connacht", "Connacht", "regional")
    one.chapter("eire", "Éire", "national")
    two = Node.init(root, "two").federating()
    two.chapter("ireland", "Ireland", "national")
    two.chapter("galway", "Galway", "local")
    assert two.cli("member", "add", "niamh", "--chapter", "ireland").returncode == 0
    one.start()
    two.start()
    try:
        affiliate_across(one, "leinster", two, "ireland")
        affiliate_here(one, "dublin", "leinster")
        affiliate_here(one, "connacht", "eire")
        affiliate_across(two, "galway", one, "connacht")
        follow(two, "niamh", one, "leinster")
        follow(two, "niamh", one, "dublin")
        yield one, two
    finally:
        for node in (one, two):
            if node.process is not None and node.process.poll() is None:
                node.stop()


def post_minutes(node: Node, chapter: str, title: str) -> str:
    result = node.cli("post", "minutes", "--chapter", chapter, "--title", title,
                      "--meeting-date", "2026-11-20", stdin="1. Bookfair\n2. Banners\n")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def our_minutes(node: Node, slug: str) -> str:
    """The "Minutes from our chapters" part of a chapter's page, as a visitor sees it."""
    page = node.get(f"/@{slug}", accept="text/html").text
    _, found, rest = page.partition('<section class="our-minutes">')
    return found + rest.partition("</section>")[0]


def stored(node: Node, iri: str) -> list[tuple[Any, ...]]:
    return node.sql("SELECT attributed_to, via FROM remote_objects WHERE iri = ?", iri)


def announces_of(node: Node, object_iri: str) -> list[tuple[str, dict[str, Any]]]:
    """(chapter, Announce) of every Announce of the object, oldest first."""
    rows = node.sql("SELECT a.handle, x.document FROM activities x JOIN actors a"
                    " ON a.id = x.actor_id WHERE x.type = 'Announce' ORDER BY x.id")
    found = [(handle, json.loads(document)) for handle, document in rows]
    return [(h, doc) for h, doc in found if doc["object"].get("id") == object_iri]


def delivered(node: Node, activity_iri: str) -> set[str]:
    rows = node.sql("SELECT d.inbox FROM deliveries d JOIN activities a ON a.id = d.activity_id"
                    " WHERE a.iri = ? AND d.state = 'delivered'", activity_iri)
    return {inbox for (inbox,) in rows}


def test_minutes_climb_from_a_local_parent_to_a_national_node(nodes: tuple[Node, Node]) -> None:
    one, two = nodes
    minutes = post_minutes(one, "dublin", "Minutes of November")
    dublin, leinster = actor(one, "dublin"), actor(one, "leinster")

    # Leinster shows them at once: they were kept in the transaction that published them.
    section = our_minutes(one, "leinster")
    assert "Minutes of November" in section and "Dublin" in section and " via " not in section
    assert f'href="{minutes}"' in section

    # Leinster announces the object itself to its followers and to its own parent.
    ((who, announce),) = announces_of(one, minutes)
    assert who == "leinster"
    assert announce["cc"] == [f"{leinster}/followers", actor(two, "ireland")]
    assert announce["object"]["proof"]["verificationMethod"] == f"{dublin}#ed25519-key"
    inboxes = wait_for(lambda: delivered(one, announce["id"]) >= {
        f"{two.base}/inbox", f"{actor(two, 'ireland')}/inbox"} and delivered(
        one, announce["id"]), what="the Announce to reach Ireland and Niamh")
    assert inboxes == {f"{two.base}/inbox", f"{actor(two, 'ireland')}/inbox"}
    # Nothing went over HTTP from node one to itself.
    assert one.sql("SELECT count(*) FROM deliveries WHERE host = ?", one.domain) == [(0,)]

    # Ireland keeps them as passed on by Leinster, with Dublin's proof, and shows them.
    assert wait_for(lambda: stored(two, minutes), what="Ireland") == [(dublin, leinster)]
    (document,) = two.sql("SELECT document FROM remote_objects WHERE iri = ?", minutes)[0]
    key = one.get("/actors/dublin", accept=AS2).json()["assertionMethod"][0]
    verify_proof(json.loads(document), decode_ed25519(key["publicKeyMultibase"]))
    section = our_minutes(two, "ireland")
    assert "Minutes of November" in section and "Dublin" in section and "via Leinster" in section


def test_an_edit_climbs_after_the_minutes(nodes: tuple[Node, Node]) -> None:
    one, two = nodes
    minutes = post_minutes(one, "dublin", "Minutes of October")
    wait_for(lambda: stored(two, minutes), what="Ireland")
    result = one.cli("edit", minutes, "--title", "Minutes of October (corrected)")
    assert result.returncode == 0, result.stderr
    assert "Minutes of October (corrected)" in our_minutes(one, "leinster")
    assert [who for who, _ in announces_of(one, minutes)] == ["leinster", "leinster"]

    def name_at_ireland() -> str:
        (document,) = two.sql("SELECT document FROM remote_objects WHERE iri = ?", minutes)[0]
        return str(json.loads(document)["name"])

    wait_for(lambda: name_at_ireland() == "Minutes of October (corrected)",
             what="the correction to reach Ireland")
    assert "Minutes of October (corrected)" in our_minutes(two, "ireland")

    # A deletion goes the same way: gone from Leinster's page at once, and from Ireland's
    # once Leinster's Announce of Dublin's proven Delete arrives.
    assert one.cli("delete", minutes).returncode == 0
    assert "Minutes of October" not in our_minutes(one, "leinster")
    wait_for(lambda: two.sql("SELECT deleted_at FROM remote_objects WHERE iri = ?",
                             minutes)[0][0], what="the deletion to reach Ireland")
    assert "Minutes of October" not in our_minutes(two, "ireland")


def test_what_a_local_parent_publishes_its_subchapters_announce(
    nodes: tuple[Node, Node]
) -> None:
    one, _ = nodes
    result = one.cli("post", "news", "--chapter", "leinster", "--title", "Regional assembly",
                     stdin="All chapters welcome.")
    assert result.returncode == 0, result.stderr
    news = result.stdout.strip()
    ((who, announce),) = announces_of(one, news)
    # Dublin tells its followers (Niamh, on node two), and nobody up the hierarchy.
    assert who == "dublin" and announce["cc"] == [f"{actor(one, 'dublin')}/followers"]
    wait_for(lambda: delivered(one, announce["id"]), what="Dublin's Announce to reach Niamh")


def test_minutes_from_another_node_climb_on_through_chapters_of_this_one(
    nodes: tuple[Node, Node]
) -> None:
    one, two = nodes
    minutes = post_minutes(two, "galway", "Minutes from Galway")
    galway = actor(two, "galway")
    assert wait_for(lambda: stored(one, minutes), what="Connacht") == [(galway, galway)]
    # Connacht passes them to Éire on the same node, which announces them in turn.
    wait_for(lambda: len(announces_of(one, minutes)) == 2, what="Éire's Announce")
    assert [who for who, _ in announces_of(one, minutes)] == ["connacht", "eire"]
    section = our_minutes(one, "connacht")
    assert "Minutes from Galway" in section and "Galway" in section and " via " not in section
    section = our_minutes(one, "eire")
    assert "Minutes from Galway" in section and "via Connacht" in section
