"""WebFinger, NodeInfo and host-meta as a Mastodon server or Fedify would ask for them."""

from __future__ import annotations

import re
from urllib.parse import quote

from tests.nodes import Node
from tests.web.conftest import Site


def webfinger(node: Node, resource: str):  # type: ignore[no-untyped-def]
    return node.get(f"/.well-known/webfinger?resource={quote(resource, safe='')}",
                    accept="application/jrd+json, application/json")


def test_webfinger_acct_for_a_chapter_points_at_its_actor(node: Node) -> None:
    response = webfinger(node, f"acct:dublin@{node.domain}")
    assert response.status == 200
    assert response.content_type.startswith("application/jrd+json")
    jrd = response.json()
    assert jrd["subject"] == f"acct:dublin@{node.domain}"
    assert f"{node.base}/actors/dublin" in jrd["aliases"]
    self_links = [link for link in jrd["links"] if link["rel"] == "self"]
    assert self_links == [{"rel": "self", "type": "application/activity+json",
                           "href": f"{node.base}/actors/dublin"}]
    profile = [link for link in jrd["links"]
               if link["rel"] == "http://webfinger.net/rel/profile-page"]
    assert profile[0]["href"] == f"{node.base}/@dublin"


def test_webfinger_self_link_dereferences_to_an_actor_with_the_same_handle(node: Node) -> None:
    # Mastodon's loop check: handle -> actor -> preferredUsername@host -> same actor.
    href = next(link["href"] for link in webfinger(node, f"acct:ana@{node.domain}").json()["links"]
                if link["rel"] == "self")
    actor = node.get(href.removeprefix(node.base), accept="application/activity+json").json()
    assert actor["id"] == href
    again = webfinger(node, f"acct:{actor['preferredUsername']}@{node.domain}").json()
    assert next(link["href"] for link in again["links"] if link["rel"] == "self") == href


def test_webfinger_by_actor_url_answers_with_the_acct_subject(node: Node) -> None:
    for resource in (f"{node.base}/actors/dublin", f"{node.base}/@dublin"):
        response = webfinger(node, resource)
        assert response.status == 200, resource
        assert response.json()["subject"] == f"acct:dublin@{node.domain}"


def test_webfinger_finds_the_node_actor(node: Node) -> None:
    by_url = webfinger(node, f"{node.base}/actor").json()
    by_acct = webfinger(node, by_url["subject"]).json()
    assert by_url["subject"] == "acct:127.0.0.1@" + node.domain
    assert by_acct["links"][0]["href"] == f"{node.base}/actor"


def test_webfinger_handles_are_case_insensitive_and_accept_a_leading_at(node: Node) -> None:
    assert webfinger(node, f"acct:Dublin@{node.domain}").json()["subject"] == (
        f"acct:dublin@{node.domain}"
    )
    assert webfinger(node, f"acct:@dublin@{node.domain}").status == 200


def test_webfinger_unknown_handles_and_other_hosts_are_404(node: Node) -> None:
    for resource in (f"acct:nobody@{node.domain}", "acct:dublin@elsewhere.example",
                     f"{node.base}/actors/nobody", "https://elsewhere.example/actors/dublin",
                     f"{node.base}/static/style.css"):
        response = webfinger(node, resource)
        assert response.status == 404, resource
        assert response.json()["error"]


def test_webfinger_malformed_resources_are_400_with_a_reason(node: Node) -> None:
    for query in ("", "?resource=", "?resource=dublin", "?resource=acct%3Adublin",
                  "?resource=acct%3A%40", "?resource=mailto%3Aa%40b", "?resource=" + "a" * 2000,
                  "?resource=acct%3Ad%2Fx%40" + node.domain):
        response = node.get(f"/.well-known/webfinger{query}")
        assert response.status == 400, query
        assert response.json()["error"], query


def test_nodeinfo_discovery_and_document(node: Node) -> None:
    links = node.get("/.well-known/nodeinfo").json()["links"]
    schema = "http://nodeinfo.diaspora.software/ns/schema/2.1"
    href = next(link["href"] for link in links if link["rel"] == schema)
    assert href == f"{node.base}/nodeinfo/2.1"
    application = next(link["href"] for link in links
                       if link["rel"] == "https://www.w3.org/ns/activitystreams#Application")
    assert application == f"{node.base}/actor"

    response = node.get("/nodeinfo/2.1")
    assert response.content_type == f'application/json; profile="{schema}#"'
    info = response.json()
    assert info["version"] == "2.1"
    assert re.fullmatch(r"[a-z0-9-]+", info["software"]["name"])
    assert info["software"]["name"] == "chapterhouse"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", info["software"]["version"])
    assert info["protocols"] == ["activitypub"]
    assert info["services"] == {"inbound": [], "outbound": []}
    assert info["openRegistrations"] is False
    assert info["usage"]["users"]["total"] == 2  # ana and brian; chapters are not users
    assert info["usage"]["localPosts"] == 0
    assert info["metadata"]["chaptersByLevel"] == {"local": 2, "national": 1}
    # NodeInfo 2.1 allows no other top-level members.
    assert set(info) == {"version", "software", "protocols", "services", "openRegistrations",
                         "usage", "metadata"}


def test_host_meta_points_at_webfinger(node: Node) -> None:
    response = node.get("/.well-known/host-meta")
    assert response.status == 200
    assert response.content_type.startswith("application/xrd+xml")
    assert (f'template="{node.base}/.well-known/webfinger?resource={{uri}}"'
            in response.text)


def test_local_posts_leave_out_deleted_posts(site: Site) -> None:
    def local_posts() -> int:
        return int(site.node.get("/nodeinfo/2.1").json()["usage"]["localPosts"])

    before = local_posts()
    note = site.node.cli("post", "note", "Posted to be deleted.", "--chapter", "galway")
    assert note.returncode == 0, note.stderr
    assert local_posts() == before + 1
    deleted = site.node.cli("delete", note.stdout.strip())
    assert deleted.returncode == 0, deleted.stderr
    assert local_posts() == before
