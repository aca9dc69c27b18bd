"""Actor documents, content negotiation, pages and collections, over real HTTP."""

from __future__ import annotations

import html
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from federation.multikey import decode_ed25519
from tests.conftest import FOLLOWERS_OF_IRELAND
from tests.nodes import Node

AS2 = "application/activity+json"
LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
MASTODON = "application/activity+json, application/ld+json"


def actor(node: Node, path: str) -> dict:  # type: ignore[type-arg]
    response = node.get(path, accept=AS2)
    assert response.status == 200, response.text
    return response.json()


def test_chapter_is_a_group_with_what_mastodon_reads(node: Node) -> None:
    doc = actor(node, "/actors/dublin")
    base = f"{node.base}/actors/dublin"
    assert "https://www.w3.org/ns/activitystreams" in doc["@context"]
    assert doc["id"] == base
    assert doc["type"] == "Group"
    assert doc["preferredUsername"] == "dublin"
    assert doc["name"] == "IOPS Dublin"
    assert doc["summary"] == ("<p>Organising and bookfairs in Dublin.</p>"
                              "<p>Meetings every second Tuesday.</p>")
    assert doc["url"] == f"{node.base}/@dublin"
    assert doc["inbox"] == f"{base}/inbox"
    assert doc["outbox"] == f"{base}/outbox"
    assert doc["followers"] == f"{base}/followers"
    assert doc["following"] == f"{base}/following"
    assert doc["endpoints"] == {"sharedInbox": f"{node.base}/inbox"}
    assert doc["published"].endswith("Z")
    assert doc["discoverable"] is True
    assert doc["level"] == "local"
    assert doc["location"] == {"type": "Place", "name": "Dublin, Ireland"}
    assert doc["subchapters"] == f"{base}/subchapters"
    # How many members, not who: parent nodes list the count on /chapters.
    ((members,),) = node.sql("SELECT count(*) FROM memberships m JOIN actors a"
                             " ON a.id = m.chapter_id WHERE a.handle = 'dublin'")
    assert doc["members"] == {"type": "Collection", "totalItems": members} and members >= 2
    assert "parent" not in doc  # no parent yet: omitted rather than null
    assert "icon" not in doc


def test_icon_is_an_image_when_set(node: Node) -> None:
    doc = actor(node, "/actors/ireland")
    assert doc["icon"] == {"type": "Image", "url": "https://static.example/ireland.png",
                           "mediaType": "image/png"}
    assert doc["level"] == "national"


def test_keys_are_the_ones_in_the_database_and_no_private_key_is_served(node: Node) -> None:
    doc = actor(node, "/actors/dublin")
    keys = dict(node.sql(
        "SELECT k.algorithm, k.public_key FROM actor_keys k JOIN actors a ON a.id = k.actor_id"
        " WHERE a.handle = 'dublin'"))
    assert doc["publicKey"]["id"] == f"{node.base}/actors/dublin#main-key"
    assert doc["publicKey"]["owner"] == doc["id"]
    rsa_key = load_pem_public_key(doc["publicKey"]["publicKeyPem"].encode())
    assert rsa_key.key_size == 2048  # type: ignore[union-attr]
    assert doc["publicKey"]["publicKeyPem"] == keys["rsa-2048"]
    [multikey] = doc["assertionMethod"]
    assert multikey["type"] == "Multikey"
    assert multikey["controller"] == doc["id"]
    assert multikey["id"] == f"{node.base}/actors/dublin#ed25519-key"
    assert multikey["publicKeyMultibase"] == keys["ed25519"]
    decode_ed25519(multikey["publicKeyMultibase"])  # a real Ed25519 key
    for path in ("/actors/dublin", "/actors/ana", "/actor"):
        assert "PRIVATE KEY" not in node.get(path, accept=AS2).text


def test_member_is_a_person_in_its_chapter(node: Node) -> None:
    doc = actor(node, "/actors/ana")
    assert doc["type"] == "Person"
    assert doc["name"] == "Ana Byrne"
    assert doc["memberOf"] == [f"{node.base}/actors/dublin"]
    assert "level" not in doc
    assert actor(node, "/actors/brian")["name"] == "brian"  # name defaults to the username


def test_node_actor_is_an_application(node: Node) -> None:
    doc = actor(node, "/actor")
    assert doc["type"] == "Application"
    assert doc["id"] == f"{node.base}/actor"
    assert doc["preferredUsername"] == "127.0.0.1"
    assert doc["publicKey"]["owner"] == doc["id"]
    assert doc["discoverable"] is False


@pytest.mark.parametrize("accept,media_type", [
    (AS2, AS2),
    (LD, LD),
    ("application/ld+json", LD),
    (MASTODON, AS2),
    ("application/json", AS2),
    ("text/html;q=0.5, application/activity+json", AS2),
])
def test_servers_get_as2_json(node: Node, accept: str, media_type: str) -> None:
    response = node.get("/actors/dublin", accept=accept)
    assert response.status == 200
    assert response.content_type == media_type
    assert response.json()["id"] == f"{node.base}/actors/dublin"
    assert "Accept" in response.headers["vary"]


@pytest.mark.parametrize("accept", [BROWSER, "text/html", "*/*", None,
                                    "application/activity+json;q=0.1, text/html"])
def test_people_get_a_page(node: Node, accept: str | None) -> None:
    response = node.get("/actors/dublin", accept=accept)
    assert response.status == 200
    assert response.content_type.startswith("text/html")


def test_chapter_page_shows_what_a_visitor_wants_to_know(node: Node) -> None:
    page = html.unescape(node.get("/@dublin", accept=BROWSER).text)
    for text in ("IOPS Dublin", "@dublin@" + node.domain, "Local chapter", "Dublin, Ireland",
                 "Founded", "Organising and bookfairs in Dublin.", "Ana Byrne", "brian"):
        assert text in page, text
    assert '<link rel="alternate" type="application/activity+json"' in page


def test_member_page_and_home_page(node: Node) -> None:
    member = html.unescape(node.get("/@ana", accept=BROWSER).text)
    assert "Ana Byrne" in member and "IOPS Dublin" in member
    home = html.unescape(node.get("/", accept=BROWSER).text)
    for text in ("IOPS Dublin", "IOPS Ireland", "National chapter", "Ana Byrne"):
        assert text in home, text
    assert node.get("/static/style.css").status == 200


def test_node_actor_sends_people_to_the_home_page(node: Node) -> None:
    response = node.get("/actor", accept=BROWSER)
    assert response.status == 302
    assert response.headers["location"] == f"{node.base}/"


def test_summary_html_is_escaped(node: Node) -> None:
    doc = actor(node, "/actors/cork")
    assert doc["summary"] == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert doc["name"] == "<b>Cork</b>"  # name is plain text in AS2; peers escape it
    page = node.get("/@cork", accept=BROWSER).text
    assert "<script>" not in page and "<b>Cork</b>" not in page


@pytest.mark.parametrize("name", ["outbox", "followers", "following"])
def test_every_actor_has_empty_collections_of_the_right_shape(node: Node, name: str) -> None:
    for path in ("/actors/dublin", "/actors/ana", "/actor"):
        collection_id = f"{node.base}{path}/{name}"
        doc = actor(node, f"{path}/{name}")
        assert doc["type"] == "OrderedCollection"
        assert doc["id"] == collection_id
        assert doc["totalItems"] == 0
        assert doc["first"] == f"{collection_id}?page=true"
        first = actor(node, doc["first"].removeprefix(node.base))
        assert first["type"] == "OrderedCollectionPage"
        assert first["partOf"] == collection_id
        assert first["orderedItems"] == []
        assert "next" not in first and "prev" not in first
        assert node.get(f"{path}/{name}?page=2", accept=AS2).status == 404


def test_followers_are_paged_and_count_only_accepted_follows(node: Node) -> None:
    base = f"{node.base}/actors/ireland/followers"
    doc = actor(node, "/actors/ireland/followers")
    assert doc["totalItems"] == FOLLOWERS_OF_IRELAND
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    url = doc["first"]
    while url:
        page = actor(node, url.removeprefix(node.base))
        assert page["partOf"] == base and page["id"] == url
        assert ("prev" in page) == bool(pages)  # only the first page has none
        seen.extend(page["orderedItems"])
        pages.append(page)
        url = page.get("next")
    assert len(seen) == len(set(seen)) == FOLLOWERS_OF_IRELAND
    assert [len(p["orderedItems"]) for p in pages] == [20, 20, 5]
    assert "https://social.example/users/pending" not in seen
    # `prev` leads back to the same pages, in the same order.
    back = actor(node, pages[2]["prev"].removeprefix(node.base))
    assert back["orderedItems"] == pages[1]["orderedItems"]
    back = actor(node, back["prev"].removeprefix(node.base))
    assert back["orderedItems"] == pages[0]["orderedItems"] and "prev" not in back
    # A cursor this node did not make is refused, not guessed at.
    assert node.get("/actors/ireland/followers?cursor=bm9wZQ", accept=AS2).status == 400


def test_subchapters_collection_exists_for_chapters_only(node: Node) -> None:
    doc = actor(node, "/actors/dublin/subchapters")
    assert doc["type"] == "OrderedCollection" and doc["totalItems"] == 0
    assert node.get("/actors/ana/subchapters", accept=AS2).status == 404


def test_chapter_page_counts_members_and_lists_them_all_on_their_own_page(node: Node) -> None:
    page = html.unescape(node.get("/@dublin", accept=BROWSER).text)
    members = page[page.index('<section class="members">'):]
    assert '<span class="count">2</span>' in members
    # Two members fit on the chapter page: no link to a longer list.
    assert "/@dublin/members" not in members
    response = node.get("/@dublin/members", accept=BROWSER)
    assert response.status == 200 and response.content_type.startswith("text/html")
    listing = html.unescape(response.text)
    assert "Ana Byrne" in listing and "brian" in listing
    assert '<a href="/@dublin">IOPS Dublin</a>' in listing
    assert 'rel="next"' not in listing and 'rel="prev"' not in listing
    assert node.get("/@ana/members", accept=BROWSER).status == 404
    assert node.get("/@dublin/members?cursor=x", accept=BROWSER).status == 400
