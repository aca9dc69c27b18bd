"""Four nodes as four processes: Dublin (local) → Leinster (regional) → Ireland (national)
→ International. Affiliation, minutes climbing the chain with their integrity proofs, and
what must not climb."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from federation.proofs import add_proof
from federation.signatures import CAVAGE, SigningKey, load_private_key, sign_request
from tests.nodes import Node, request, wait_for

AS2 = "application/activity+json"
CHAIN = [("dublin", "local"), ("leinster", "regional"), ("ireland", "national"),
         ("international", "international")]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Node]]:
    root = tmp_path_factory.mktemp("chain")
    nodes: dict[str, Node] = {}
    for slug, level in CHAIN:
        node = Node.init(root, slug).federating()
        assert node.cli("chapter", "create", slug, "--name", slug.title(), "--level", level,
                        "--location", f"{slug.title()} place").returncode == 0
        node.start()
        nodes[slug] = node
    assert nodes["dublin"].cli("chapter", "create", "cork", "--name", "Cork",
                               "--level", "local").returncode == 0
    yield nodes
    for node in nodes.values():
        if node.process is not None and node.process.poll() is None:
            node.stop()


def actor_id(node: Node, slug: str) -> str:
    return f"{node.base}/actors/{slug}"


def affiliate(child: Node, slug: str, parent: Node, parent_slug: str, accept: bool) -> None:
    result = child.cli("chapter", "affiliate", slug, "--parent", actor_id(parent, parent_slug))
    assert result.returncode == 0, result.stderr
    wait_for(lambda: actor_id(child, slug) in parent.cli("chapter", "requests",
                                                         parent_slug).stdout,
             what=f"{parent_slug} to see {slug}'s request")
    result = parent.cli("chapter", "accept" if accept else "reject", parent_slug,
                        actor_id(child, slug))
    assert result.returncode == 0, result.stderr


def stored(node: Node, iri: str) -> list[tuple[Any, ...]]:
    return node.sql("SELECT attributed_to, via FROM remote_objects WHERE iri = ?", iri)


def test_affiliation_up_the_chain(chain: dict[str, Node]) -> None:
    for (child, _), (parent, _) in itertools.pairwise(CHAIN):
        affiliate(chain[child], child, chain[parent], parent, accept=True)
    for (child, _), (parent, _) in itertools.pairwise(CHAIN):
        doc = wait_for(lambda c=child, p=parent: chain[c].get(
            f"/actors/{c}", accept=AS2).json().get("parent") == actor_id(chain[p], p),
            what=f"{child} to know its parent")
        assert doc
        page = chain[parent].get(f"/actors/{parent}/subchapters?page=1", accept=AS2).json()
        assert page["orderedItems"] == [actor_id(chain[child], child)]


def newest_chapters(node: Node, slug: str) -> str:
    """The "Newest chapters" part of a chapter's page ('' when the page has none)."""
    page = node.get(f"/@{slug}", accept="text/html").text
    _, found, rest = page.partition('<section class="subchapters">')
    return found + rest.partition("</section>")[0]


def test_a_chapter_page_shows_its_newest_subchapters(chain: dict[str, Node]) -> None:
    section = newest_chapters(chain["leinster"], "leinster")
    assert "Newest chapters" in section
    assert f'href="{actor_id(chain["dublin"], "dublin")}"' in section
    assert "Dublin place" in section and "Local chapter" in section


def test_rules_of_affiliation(chain: dict[str, Node]) -> None:
    dublin = chain["dublin"]
    # A second parent, a parent of the same level, the wrong kind of actor: refused.
    result = dublin.cli("chapter", "affiliate", "dublin", "--parent",
                        actor_id(chain["ireland"], "ireland"))
    assert result.returncode == 2 and "already has a parent" in result.stderr
    result = dublin.cli("chapter", "affiliate", "cork", "--parent", actor_id(dublin, "dublin"))
    assert result.returncode == 2 and "higher level" in result.stderr
    # Rejected: cork asks leinster, leinster says no, and cork has no parent.
    affiliate(dublin, "cork", chain["leinster"], "leinster", accept=False)
    wait_for(lambda: not dublin.sql(
        "SELECT 1 FROM parents p JOIN actors a ON a.id = p.chapter_id WHERE a.handle = 'cork'"),
        what="cork to hear the Reject")
    assert "parent" not in dublin.get("/actors/cork", accept=AS2).json()


def post_minutes(node: Node, title: str) -> str:
    result = node.cli("post", "minutes", "--chapter", "dublin", "--title", title,
                      "--meeting-date", "2026-11-20", stdin="1. Bookfair\n2. Banners\n")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_minutes_climb_to_the_top(chain: dict[str, Node]) -> None:
    minutes = post_minutes(chain["dublin"], "Minutes of November")
    dublin = actor_id(chain["dublin"], "dublin")
    assert wait_for(lambda: stored(chain["leinster"], minutes), what="Leinster") == [
        (dublin, dublin)]
    assert wait_for(lambda: stored(chain["ireland"], minutes), what="Ireland") == [
        (dublin, actor_id(chain["leinster"], "leinster"))]
    assert wait_for(lambda: stored(chain["international"], minutes),
                    what="International") == [(dublin, actor_id(chain["ireland"], "ireland"))]
    page = chain["international"].get("/@international", accept="text/html").text
    assert "Minutes of November" in page and "Dublin" in page


def test_minutes_verify_at_the_top_while_the_local_node_is_down(chain: dict[str, Node]) -> None:
    ireland, leinster, dublin = chain["ireland"], chain["leinster"], chain["dublin"]
    ireland.stop()
    minutes = post_minutes(dublin, "Minutes posted while Ireland was down")
    wait_for(lambda: stored(leinster, minutes), what="Leinster")
    dublin.stop()  # from now on nobody can ask Dublin anything
    ireland.start()
    assert leinster.cli("deliveries", "retry", "--host", ireland.domain).returncode == 0
    assert wait_for(lambda: stored(ireland, minutes), timeout=30, what="Ireland")
    assert wait_for(lambda: stored(chain["international"], minutes), timeout=30,
                    what="International")
    dublin.start()


def signed_post(node: Node, key_node: Node, handle: str, body: dict[str, Any]) -> int:
    (pem,) = key_node.sql(
        "SELECT k.private_key FROM actor_keys k JOIN actors a ON a.id = k.actor_id"
        " WHERE a.handle = ? AND k.algorithm = 'rsa-2048'", handle)[0]
    key = SigningKey(f"{actor_id(key_node, handle)}#main-key", load_private_key(pem))
    data = json.dumps(body).encode()
    url = f"{node.base}/inbox"
    headers = {"Content-Type": AS2}
    headers.update(sign_request(CAVAGE, "POST", url, headers, data, key))
    return request(url, method="POST", headers=headers, body=data).status


def test_a_tampered_item_is_rejected(chain: dict[str, Node]) -> None:
    minutes = post_minutes(chain["dublin"], "Minutes to tamper with")
    wait_for(lambda: stored(chain["leinster"], minutes), what="Leinster")
    original = chain["dublin"].get(minutes.removeprefix(chain["dublin"].base), accept=AS2).json()
    tampered = original | {"content": "<p>We decided to dissolve.</p>",
                           "id": f"{original['id']}x"}
    leinster = chain["leinster"]
    announce = {"@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{leinster.base}/activities/{uuid.uuid4().hex}", "type": "Announce",
                "actor": actor_id(leinster, "leinster"), "object": tampered}
    status = signed_post(chain["ireland"], leinster, "leinster", announce)
    assert status == 401
    assert stored(chain["ireland"], tampered["id"]) == []
    assert "integrity proof rejected" in chain["ireland"].log()


def test_an_item_from_an_unaffiliated_chapter_is_not_relayed(chain: dict[str, Node]) -> None:
    dublin, leinster = chain["dublin"], chain["leinster"]
    cork = actor_id(dublin, "cork")
    note = {"id": f"{dublin.base}/objects/{uuid.uuid4().hex}", "type": "Article",
            "name": "Cork minutes", "attributedTo": cork, "content": "<p>x</p>",
            "meetingDate": "2026-11-01", "to": [actor_id(leinster, "leinster")]}
    create = {"@context": "https://www.w3.org/ns/activitystreams",
              "id": f"{dublin.base}/activities/{uuid.uuid4().hex}", "type": "Create",
              "actor": cork, "object": note, "to": [actor_id(leinster, "leinster")]}
    assert signed_post(leinster, dublin, "cork", create) == 202
    assert leinster.sql("SELECT count(*) FROM activities WHERE type = 'Announce'"
                        " AND document LIKE ?", f"%{note['id']}%") == [(0,)]


def test_the_parent_s_announcements_reach_the_children(chain: dict[str, Node]) -> None:
    result = chain["ireland"].cli("post", "news", "--chapter", "ireland", "--title",
                                  "National assembly", stdin="All chapters welcome.")
    news = result.stdout.strip()
    assert wait_for(lambda: stored(chain["leinster"], news), what="Leinster")
    # Leinster passes it on to its own followers (Dublin follows it).
    assert wait_for(lambda: stored(chain["dublin"], news), what="Dublin")


def proven(node: Node, handle: str, document: dict[str, Any]) -> dict[str, Any]:
    """The document with an integrity proof by a local actor's own Ed25519 key."""
    (pem,) = node.sql(
        "SELECT k.private_key FROM actor_keys k JOIN actors a ON a.id = k.actor_id"
        " WHERE a.handle = ? AND k.algorithm = 'ed25519'", handle)[0]
    return add_proof(document, load_private_key(pem), f"{actor_id(node, handle)}#ed25519-key")


def announce(node: Node, handle: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{node.base}/activities/{uuid.uuid4().hex}", "type": "Announce",
            "actor": actor_id(node, handle), "object": obj}


def content(node: Node, iri: str) -> list[tuple[Any, ...]]:
    return node.sql("SELECT attributed_to, content FROM remote_objects WHERE iri = ?", iri)


def test_a_subchapter_cannot_rewrite_someone_else_s_object(chain: dict[str, Node]) -> None:
    ireland, leinster, dublin = chain["ireland"], chain["leinster"], chain["dublin"]
    result = ireland.cli("post", "news", "--chapter", "ireland", "--title", "Congress",
                         stdin="Congress meets in Athlone.")
    news = result.stdout.strip()
    before = wait_for(lambda: content(leinster, news), what="Leinster to hold the news")
    # Dublin, an accepted subchapter of Leinster, proves a text of its own under the id of
    # Ireland's news: its key is Dublin's, so it may only speak for objects on its origin.
    forged = proven(dublin, "dublin", {
        "id": news, "type": "Note", "attributedTo": actor_id(dublin, "dublin"),
        "content": "<p>Congress is cancelled.</p>", "to": [actor_id(leinster, "leinster")]})
    assert signed_post(leinster, dublin, "dublin", announce(dublin, "dublin", forged)) == 403
    # Nor may it claim an id on its own origin that is already stored as someone else's.
    reply = {"id": f"{dublin.base}/objects/{uuid.uuid4().hex}", "type": "Note",
             "attributedTo": actor_id(dublin, "cork"), "content": "<p>Cork's reply</p>",
             "inReplyTo": news, "to": [actor_id(leinster, "leinster")]}
    create = {"@context": "https://www.w3.org/ns/activitystreams",
              "id": f"{dublin.base}/activities/{uuid.uuid4().hex}", "type": "Create",
              "actor": actor_id(dublin, "cork"), "object": reply,
              "to": [actor_id(leinster, "leinster")]}
    assert signed_post(leinster, dublin, "cork", create) == 202
    claimed = proven(dublin, "dublin", reply | {"attributedTo": actor_id(dublin, "dublin"),
                                                "content": "<p>Dublin's now</p>"})
    assert signed_post(leinster, dublin, "dublin", announce(dublin, "dublin", claimed)) == 403
    assert content(leinster, news) == before
    assert content(leinster, reply["id"]) == [(actor_id(dublin, "cork"), "<p>Cork's reply</p>")]


def test_edited_minutes_climb_and_an_old_version_cannot_come_back(
    chain: dict[str, Node]
) -> None:
    dublin, leinster, top = chain["dublin"], chain["leinster"], chain["international"]
    minutes = post_minutes(dublin, "Minutes of the AGM")
    wait_for(lambda: content(top, minutes), what="the minutes at the top")
    first = dublin.get(minutes.removeprefix(dublin.base), accept=AS2).json()
    body = dublin.data / "corrected.md"
    body.write_text("1. Bookfair moved to Saturday\n")
    result = dublin.cli("edit", minutes, "--body-file", str(body))
    assert result.returncode == 0, result.stderr
    # The correction climbs all the way, like the minutes did.
    wait_for(lambda: "Saturday" in content(top, minutes)[0][1], what="the correction at the top")
    # Leinster passing on the first version again (its proof is still valid) restores nothing.
    assert signed_post(chain["ireland"], leinster, "leinster",
                       announce(leinster, "leinster", first)) == 202
    assert "Saturday" in content(chain["ireland"], minutes)[0][1]


def test_deleted_minutes_go_from_every_level(chain: dict[str, Node]) -> None:
    dublin, leinster, ireland = chain["dublin"], chain["leinster"], chain["ireland"]
    minutes = post_minutes(dublin, "Minutes posted by mistake")
    wait_for(lambda: content(chain["international"], minutes), what="the minutes at the top")
    # Leinster cannot delete Dublin's minutes at Ireland, in its own name or in Dublin's.
    for actor in ("leinster", "dublin"):
        delete = proven(leinster, "leinster", {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{leinster.base}/activities/{uuid.uuid4().hex}", "type": "Delete",
            "actor": actor_id(leinster if actor == "leinster" else dublin, actor),
            "object": {"id": minutes, "type": "Tombstone"}})
        assert signed_post(ireland, leinster, "leinster",
                           announce(leinster, "leinster", delete)) in (401, 403)
    assert "Minutes posted by mistake" in ireland.get("/@ireland", accept="text/html").text
    assert dublin.cli("delete", minutes).returncode == 0
    for name in ("leinster", "ireland", "international"):
        node = chain[name]
        wait_for(lambda n=node: n.sql("SELECT deleted_at IS NOT NULL FROM remote_objects"
                                      " WHERE iri = ?", minutes) == [(1,)],
                 what=f"the deletion at {name}")
        page = node.get(f"/@{name}", accept="text/html").text
        assert "Minutes posted by mistake" not in page


def test_leaving_undoes_the_link_on_both_sides(chain: dict[str, Node]) -> None:
    dublin, leinster = chain["dublin"], chain["leinster"]
    result = dublin.cli("chapter", "leave", "dublin")
    assert result.returncode == 0, result.stderr
    assert "parent" not in dublin.get("/actors/dublin", accept=AS2).json()
    wait_for(lambda: leinster.get("/actors/leinster/subchapters",
                                  accept=AS2).json()["totalItems"] == 0,
             what="Leinster to drop Dublin")
    assert dublin.sql("SELECT count(*) FROM following f JOIN actors a ON a.id = f.actor_id"
                      " WHERE a.handle = 'dublin'") == [(0,)]
    again = dublin.cli("chapter", "leave", "dublin")
    assert again.returncode == 2 and "has no parent" in again.stderr


def test_a_configured_host_is_accepted_without_an_organiser(tmp_path: Any) -> None:
    local = Node.init(tmp_path, "galway").federating()
    national = Node.init(tmp_path, "eire").federating()
    national.configure({"hierarchy.accept_subchapters_from": [local.domain]})
    assert local.cli("chapter", "create", "galway", "--name", "Galway",
                     "--level", "local").returncode == 0
    assert national.cli("chapter", "create", "eire", "--name", "Éire",
                        "--level", "national").returncode == 0
    local.start()
    national.start()
    try:
        result = local.cli("chapter", "affiliate", "galway", "--parent",
                           actor_id(national, "eire"))
        assert result.returncode == 0, result.stderr
        wait_for(lambda: local.get("/actors/galway", accept=AS2).json().get("parent")
                 == actor_id(national, "eire"), what="the automatic Accept")
        assert "accepted" in national.cli("chapter", "requests", "eire").stdout
    finally:
        local.stop()
        national.stop()
