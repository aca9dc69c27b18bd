"""Two nodes as two processes: Galway (regional, on its own node) joins Ireland (national).
A visitor to Ireland's node finds Galway in /chapters, under Ireland, with its place and
the founding date its node publishes, and finds the event Galway sent up in /events and in
the /events.ics subscription, at its own local time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from tests.hierarchy.test_hierarchy import actor_id, affiliate
from tests.nodes import Node, wait_for

HTML = "text/html"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Node]]:
    root = tmp_path_factory.mktemp("visitor")
    made: dict[str, Node] = {}
    for slug, name, level, place in (("ireland", "IOPS Ireland", "national", "Ireland"),
                                     ("galway", "IOPS Galway", "regional",
                                      "Galway, Connacht")):
        node = Node.init(root, slug).federating()
        result = node.cli("chapter", "create", slug, "--name", name, "--level", level,
                          "--location", place)
        assert result.returncode == 0, result.stderr
        node.start()
        made[slug] = node
    for handle, name in (("aoife", "Aoife Ní Fhlatharta"), ("colm", "Colm Ó Cualáin")):
        result = made["galway"].cli("member", "add", handle, "--chapter", "galway",
                                    "--name", name)
        assert result.returncode == 0, result.stderr
    yield made
    for node in made.values():
        if node.process is not None and node.process.poll() is None:
            node.stop()


def founded(node: Node, slug: str) -> str:
    """The founding day a node says its chapter has (`chapter list`), as /chapters shows
    it: "8 March 2019"."""
    listed = node.cli("chapter", "list")
    assert listed.returncode == 0, listed.stderr
    day = next(re.findall(r"\d{4}-\d\d-\d\d", line)[0]
               for line in listed.stdout.splitlines() if line.split()[:1] == [slug])
    moment = datetime.fromisoformat(day)
    return f"{moment.day} {moment:%B %Y}"


def test_a_subchapter_elsewhere_and_its_event_are_found_on_the_parents_node(
        nodes: dict[str, Node]) -> None:
    ireland, galway = nodes["ireland"], nodes["galway"]
    affiliate(galway, "galway", ireland, "ireland", accept=True)
    # An event sent up before galway has heard the answer would go to no parent.
    wait_for(lambda: galway.get("/actors/galway", accept="application/activity+json")
             .json().get("parent") == actor_id(ireland, "ireland"),
             what="galway to know it is ireland's")
    start = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%dT18:30")
    result = galway.cli("post", "event", "--chapter", "galway", "--upward",
                        "--title", "Galway bookfair", "--start", start,
                        "--timezone", "America/Sao_Paulo", "--place-name", "Spanish Arch")
    assert result.returncode == 0, result.stderr
    event = result.stdout.strip()
    wait_for(lambda: ireland.sql("SELECT 1 FROM remote_objects WHERE iri = ?", event),
             what="ireland to receive galway's event")

    page = ireland.get("/chapters", accept=HTML).text
    tree = re.search(r'<ul class="tree">.*</ul>', page, re.S)
    assert tree
    # Galway is drawn inside Ireland's list item, linking to its own node.
    ireland_item = tree[0].partition('href="/@ireland"')[2]
    assert f'href="{galway.base}/@galway">IOPS Galway</a>' in ireland_item
    galway_line = ireland_item.partition(">IOPS Galway</a>")[2].partition("</div>")[0]
    assert "Regional chapter" in galway_line and "Galway, Connacht" in galway_line
    assert founded(galway, "galway") in galway_line
    # Its member count, as its Group document said it when ireland last had it.
    assert "2 members" in galway_line
    found = ireland.get("/chapters?place=connacht", accept=HTML).text
    assert ">IOPS Galway</a>" in found and "1 chapter matches." in found
    assert ">IOPS Galway</a>" not in ireland.get("/chapters?level=local", accept=HTML).text

    page = ireland.get("/events", accept=HTML).text
    assert ">Galway bookfair</a>" in page
    item = page[page.rindex("<li>", 0, page.index(">Galway bookfair</a>")):]
    item = item[:item.index("</li>")]
    assert f'<a href="{actor_id(galway, "galway")}">IOPS Galway</a>' in item
    assert "18:30</time>" in item and "(America/Sao_Paulo)" in item
    assert "Spanish Arch" in item

    response = ireland.get("/events.ics")
    assert response.status == 200
    assert {k.lower(): v for k, v in response.headers.items()}["content-type"].startswith(
        "text/calendar")
    calendar = Calendar.from_ical(response.body)
    [vevent] = calendar.walk("VEVENT")
    assert str(vevent["uid"]) == event and str(vevent["summary"]) == "Galway bookfair"
    begins = vevent.decoded("dtstart")
    assert str(begins.tzinfo) == "America/Sao_Paulo" and begins.strftime("%H:%M") == "18:30"
    assert str(vevent["location"]) == "Spanish Arch"
