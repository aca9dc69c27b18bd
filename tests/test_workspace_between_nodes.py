"""A chapter's organiser works on the web only, between two real node processes.

Dublin (local, node A) is followed by bob on node B. Ana, dublin's organiser, sets its
name and real founding date on A's settings page: B receives the `Update` of the Group and
keeps the new name and founded date. Then she asks ireland (national, node B) to take
dublin in, by its handle, from A's workspace; bob, ireland's organiser, accepts on B's
workspace; dublin then has its parent on A, and ireland's page on B lists dublin with the
founding date it set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.nodes import Node, wait_for
from tests.test_profile_between_nodes import Browser

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    root = tmp_path_factory.mktemp("workspace")
    a, b = Node.init(root, "a").federating(), Node.init(root, "b").federating()
    secret = root / "password"
    secret.write_text(PASSWORD + "\n")
    a.run("chapter", "create", "dublin", "--name", "IOPS Dublin", "--level", "local")
    a.run("member", "add", "ana", "--chapter", "dublin", "--name", "Ana Byrne",
          "--password-file", str(secret))
    a.run("chapter", "organisers", "add", "dublin", "ana")
    b.run("chapter", "create", "ireland", "--name", "IOPS Ireland", "--level", "national")
    b.run("member", "add", "bob", "--chapter", "ireland", "--name", "Bob Kelly",
          "--password-file", str(secret))
    b.run("chapter", "organisers", "add", "ireland", "bob")
    a.start()
    b.start()
    yield a, b
    a.stop()
    b.stop()


def logged_in(node: Node, username: str) -> Browser:
    browser = Browser(node)
    response = browser.post("/login", {"csrf_token": browser.token("/login"),
                                       "username": username, "password": PASSWORD,
                                       "next": "/"})
    assert response.status == 303, response.text
    return browser


def test_settings_reach_a_follower_and_a_parent_accepts_on_its_own_web(
        pair: tuple[Node, Node]) -> None:
    a, b = pair
    dublin = f"{a.base}/actors/dublin"
    assert b.cli("follow", dublin, "--as", "bob").returncode == 0
    wait_for(lambda: b.sql("SELECT name FROM remote_actors WHERE iri = ?", dublin)
             == [("IOPS Dublin",)], what="B to know dublin")
    wait_for(lambda: a.sql("SELECT state FROM followers") == [("accepted",)],
             what="A to accept bob's follow")

    ana = logged_in(a, "ana")
    response = ana.post("/@dublin/settings", {
        "csrf_token": ana.token("/@dublin/settings"), "name": "IOPS Dublin City",
        "summary": "Organising in Dublin.", "location": "Dublin, Ireland",
        "founded": "2012-06-15", "about": "We meet on *Tuesdays*."})
    assert response.status == 303, response.text

    def document_at_b() -> dict[str, object] | None:
        rows = b.sql("SELECT name, document FROM remote_actors WHERE iri = ?", dublin)
        return json.loads(rows[0][1]) if rows and rows[0][0] == "IOPS Dublin City" else None

    document = wait_for(document_at_b, what="B to receive dublin's Update")
    assert document["published"] == "2012-06-15T00:00:00Z"
    assert document["location"] == {"type": "Place", "name": "Dublin, Ireland"}
    assert "<em>Tuesdays</em>" in str(document["about"])

    # A handle B knows nothing of is refused as such, and nothing is asked.
    response = ana.post("/@dublin/parent", {"csrf_token": ana.token("/@dublin/parent"),
                                            "parent": f"@irlande@{b.domain}"})
    assert response.status == 400
    assert f"There is no chapter @irlande@{b.domain}." in response.text
    assert a.sql("SELECT * FROM parents") == []
    # Ana asks ireland, by its handle, on A's web.
    response = ana.post("/@dublin/parent", {"csrf_token": ana.token("/@dublin/parent"),
                                            "parent": f"@ireland@{b.domain}"})
    assert response.status == 303, response.text
    assert "asked to join" in ana.send("/@dublin/parent").text

    bob = logged_in(b, "bob")
    wait_for(lambda: "IOPS Dublin City" in bob.send("/@ireland/subchapters").text,
             what="ireland's organiser to see dublin asking")
    manage = bob.send("/@ireland/manage").text
    assert re.search(r'href="/@ireland/subchapters">[^<]+</a> <span class="count some">1', manage)
    response = bob.post("/@ireland/subchapters/accept",
                        {"csrf_token": bob.token("/@ireland/subchapters"), "child": dublin})
    assert response.status == 303, response.text

    wait_for(lambda: a.sql("SELECT state FROM parents") == [("accepted",)],
             what="A to hear dublin was accepted")
    assert "is part of" in ana.send("/@dublin/parent").text
    newest = b.get("/@ireland", accept="text/html").text
    assert re.search(r"IOPS Dublin City</strong></a><br>\s*<span class=\"meta\">Local chapter"
                     r" · Dublin, Ireland · founded 15 June 2012", newest), newest[-3000:]
