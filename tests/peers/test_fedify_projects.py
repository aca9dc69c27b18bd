"""A project's round trip between real nodes and the Fedify peer: ana, a member of dublin
on node A, starts a project from A's web page; cian, a member of galway on node B (which
follows dublin), joins it from B's page of it; alice (Fedify) joins it with a Join of
her own, signed and answered. Both nodes then show it with everyone taking part, and
cian leaves it again from B; once finished, it refuses alice's new Join."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.member_browser import Browser, member
from tests.nodes import Node, wait_for
from tests.peers.conftest import Fedify


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node, Path]]:
    """A: dublin; B: galway, which follows dublin."""
    root = tmp_path_factory.mktemp("projects")
    a, b = Node.init(root, "a").federating(), Node.init(root, "b").federating()
    a.chapter("dublin", "IOPS Dublin")
    b.chapter("galway", "IOPS Galway")
    a.start()
    b.start()
    try:
        b.run("follow", f"{a.base}/actors/dublin", "--as", "galway")
        wait_for(lambda: b.sql("SELECT state FROM following") == [("accepted",)],
                 what="dublin to accept galway")
        yield a, b, root
    finally:
        a.stop()
        b.stop()


def _held(node: Node, iri: str) -> dict[str, object]:
    [(document,)] = node.sql("SELECT document FROM remote_objects WHERE iri = ?", iri)
    parsed: dict[str, object] = json.loads(document)
    return parsed


def _taking_part(node: Node) -> list[str]:
    return [row[0] for row in node.sql("SELECT participant FROM event_participants ORDER BY id")]


def test_a_project_started_on_a_is_joined_from_b_and_by_fedify(
    pair: tuple[Node, Node, Path], fedify: Fedify
) -> None:
    a, b, root = pair
    ana = member(a, root, "ana", "dublin", "Ana Byrne")
    cian: Browser = member(b, root, "cian", "galway", "Cian Murphy")
    location = ana.submit("/@dublin/projects/new", [
        ("title", "Mutual-Aid Network"), ("status", "active"),
        ("summary", "Neighbours helping neighbours."),
        ("body", "Shopping, lifts and repairs for whoever needs them.")],
        page="/@dublin/projects/new")
    path = urlsplit(location).path
    iri = f"{a.base}{path}"
    ana_iri, cian_iri = f"{a.base}/actors/ana", f"{b.base}/actors/cian"

    # B holds the chapter's Article and shows it as a project, with a button to take part.
    [(row,)] = wait_for(lambda: b.sql("SELECT id FROM remote_objects WHERE iri = ?", iri),
                        what="B to keep the project")
    assert _held(b, iri)["projectStatus"] == "active"
    page = cian.page(f"/remote/{row}")
    assert "Mutual-Aid Network" in page and '<dd class="status active">Active</dd>' in page
    assert 'name="going" value="yes"' in page

    # cian joins from B: B sends the Join from cian's actor, A counts him and accepts.
    cian.submit("/rsvp", [("object", iri), ("going", "yes")], page=f"/remote/{row}")
    wait_for(lambda: _taking_part(a) == [ana_iri, cian_iri], what="A to count cian")
    wait_for(lambda: b.sql("SELECT state FROM member_event_joins") == [("going",)],
             what="A's Accept at B")

    # alice joins with a Join of her own, which A verifies and accepts.
    sent = fedify.post("/_control/join", {"object": iri, "to": f"{a.base}/actors/dublin"})
    wait_for(lambda: _taking_part(a) == [ana_iri, cian_iri, fedify.alice],
             what="A to count alice")
    [accept] = wait_for(lambda: [x for x in fedify.received("Accept")
                                 if x.get("objectId") == sent["activityId"]],
                        what="alice to get A's Accept")
    assert accept["actor"] == f"{a.base}/actors/dublin"
    assert accept["verifiedBy"]["method"] == "http-signature"
    # Fedify reads the project as the Article it is, with our terms kept.
    looked_up = fedify.get(f"/_control/lookup?url={iri}")
    assert "Article" in json.dumps(looked_up)

    # A's page: everyone, by name, local and remote.
    page = ana.page(path)
    assert "3 people" in page
    people = re.search(r'<ul class="names people">(.*?)</ul>', page, re.S)
    assert people, page
    assert '<a href="/@ana">Ana Byrne</a>' in people[1]
    assert f'<a href="{cian_iri}" rel="nofollow noopener">Cian Murphy</a>' in people[1]
    assert f'href="{fedify.alice}"' in people[1]

    # B's page, once A's Update with the new participants arrived.
    wait_for(lambda: len(_held(b, iri)["participants"]["items"]) == 3,  # type: ignore[index]
             what="A's Update at B")
    page = cian.page(f"/remote/{row}")
    assert "You take part in this project" in page and "3 people" in page
    people = re.search(r'<ul class="names people">(.*?)</ul>', page, re.S)
    assert people, page
    assert '<a href="/@cian">Cian Murphy</a>' in people[1]
    assert f'href="{ana_iri}"' in people[1] and f'href="{fedify.alice}"' in people[1]

    # cian leaves from B: A takes his Leave, and its new version reaches B.
    cian.submit("/rsvp", [("object", iri), ("going", "no")], page=f"/remote/{row}")
    wait_for(lambda: _taking_part(a) == [ana_iri, fedify.alice], what="A to take the Leave")
    wait_for(lambda: len(_held(b, iri)["participants"]["items"]) == 2,  # type: ignore[index]
             what="the new version at B")
    assert 'name="going" value="yes"' in cian.page(f"/remote/{row}")

    # Once ana marks it finished, alice's Leave is taken and a new Join of hers refused.
    ana.submit(f"{path}/edit", [("title", "Mutual-Aid Network"), ("status", "finished"),
                                ("summary", "Neighbours helping neighbours."),
                                ("body", "Shopping, lifts and repairs."), ("language", "en")],
               page=f"{path}/edit")
    fedify.post("/_control/leave", {"object": iri, "to": f"{a.base}/actors/dublin"})
    wait_for(lambda: _taking_part(a) == [ana_iri], what="A to take alice's Leave")
    again = fedify.post("/_control/join", {"object": iri, "to": f"{a.base}/actors/dublin"})
    wait_for(lambda: [x for x in fedify.received("Reject")
                      if x.get("objectId") == again["activityId"]],
             what="alice to get A's Reject")
    assert _taking_part(a) == [ana_iri]
