"""The language an item is written in, from the CLI to the wire: `--language`, the
chapter's setting as the default, contentMap/nameMap/summaryMap keyed by it beside the
plain values (as Mastodon reads them), and a bad code refused with a clear reason."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from federation import jsonld
from tests.nodes import Node
from tests.outbox.test_items import assert_expands_fully, publish

AS2 = "application/activity+json"
AS = "https://www.w3.org/ns/activitystreams#"
LATER = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """dublin writes in the node's language (English); esperanto chose Esperanto."""
    node = Node.init(tmp_path_factory.mktemp("language"))
    assert node.cli("chapter", "create", "dublin", "--name", "IOPS Dublin",
                    "--level", "local").returncode == 0
    made = node.cli("chapter", "create", "esperanto", "--name", "IOPS Esperanto",
                    "--level", "local", "--language", "eo")
    assert made.returncode == 0, made.stderr
    assert node.cli("member", "add", "ana", "--chapter", "esperanto").returncode == 0
    node.start()
    yield node
    node.stop()


def tagged(expanded: list[dict[str, Any]], term: str) -> dict[str | None, str]:
    """{language: value} of one property of the expanded document (None: no language)."""
    return {value.get("@language"): value["@value"] for value in expanded[0][AS + term]}


def test_language_given_on_the_command_line_keys_every_map(node: Node) -> None:
    document = publish(node, "news", "--chapter", "dublin", "--title", "Libroj por ĉiuj",
                       "--summary", "Venu al la librofoiro.", "--language", "eo",
                       stdin="Ni havis **kvardek** vizitantojn.")
    assert document["contentMap"] == {"eo": document["content"]}
    assert document["nameMap"] == {"eo": "Libroj por ĉiuj"}
    assert document["summaryMap"] == {"eo": "Venu al la librofoiro."}
    assert "kvardek" in document["content"]
    # As a JSON-LD processor (and so Mastodon) reads it: the same text, tagged eo.
    expanded = jsonld.expand(document)
    assert tagged(expanded, "content")["eo"] == document["content"]
    assert tagged(expanded, "name") == {None: "Libroj por ĉiuj", "eo": "Libroj por ĉiuj"}
    assert tagged(expanded, "summary")["eo"] == "Venu al la librofoiro."
    assert_expands_fully(document)


def test_the_chapters_language_is_the_default(node: Node) -> None:
    document = publish(node, "blog", "--chapter", "esperanto", "--title", "Saluton",
                       stdin="Bonvenon al nia filio.")
    assert document["contentMap"] == {"eo": document["content"]}
    english = publish(node, "blog", "--chapter", "dublin", "--title", "Hello",
                      stdin="Welcome to our chapter.")
    assert english["contentMap"] == {"en": english["content"]}
    assert english["nameMap"] == {"en": "Hello"}


def test_a_member_writes_in_their_chapters_language(node: Node) -> None:
    note = publish(node, "note", "Saluton el Dublino!", "--member", "ana")
    assert note["contentMap"] == {"eo": "<p>Saluton el Dublino!</p>"}
    assert_expands_fully(note)


def test_events_and_polls_carry_the_maps_of_what_they_have(node: Node) -> None:
    event = publish(node, "event", "--chapter", "dublin", "--language", "eo",
                    "--title", "Kunveno", "--start", "2030-12-05T14:00",
                    "--timezone", "Europe/Dublin", "--place-name", "Teachers' Club",
                    "--summary", "Ĉiuj bonvenaj.")
    assert event["nameMap"] == {"eo": "Kunveno"}
    assert event["contentMap"] == {"eo": event["content"]}
    assert event["summaryMap"] == {"eo": event["summary"]}
    assert_expands_fully(event)
    poll = publish(node, "poll", "--chapter", "esperanto", "--question", "Kiam ni kunvenu?",
                   "--option", "Lundon", "--option", "Mardon", "--closes", LATER)
    assert poll["contentMap"] == {"eo": poll["content"]}
    assert "nameMap" not in poll and "summaryMap" not in poll
    assert_expands_fully(poll)


def test_a_bad_language_is_refused_with_what_a_code_looks_like(node: Node) -> None:
    for bad in ("Esperanto", "xx", "en-GB", "e"):
        result = node.cli("post", "news", "--chapter", "dublin", "--title", "T",
                          "--language", bad, stdin="text")
        assert result.returncode != 0
        assert "--language" in result.stderr and "is not a language code" in result.stderr
        assert "such as en or eo" in result.stderr
        assert result.stdout == ""
    result = node.cli("chapter", "set", "dublin", "--language", "zz")
    assert result.returncode != 0 and "is not a language code" in result.stderr


def test_the_setting_changes_and_an_edit_keeps_or_changes_the_language(node: Node) -> None:
    result = node.cli("chapter", "set", "dublin", "--language", "ga")
    assert result.returncode == 0, result.stderr
    assert "ga" in result.stdout
    irish = publish(node, "news", "--chapter", "dublin", "--title", "Nuacht",
                    stdin="Fáilte.")
    assert irish["contentMap"] == {"ga": irish["content"]}
    # An edit of the text keeps the language; --language changes it.
    edited = node.cli("edit", irish["id"], "--title", "Nuacht nua")
    assert edited.returncode == 0, edited.stderr
    document = node.get(irish["id"].removeprefix(node.base), accept=AS2).json()
    assert document["nameMap"] == {"ga": "Nuacht nua"}
    changed = node.cli("edit", irish["id"], "--language", "en")
    assert changed.returncode == 0, changed.stderr
    document = node.get(irish["id"].removeprefix(node.base), accept=AS2).json()
    assert document["nameMap"] == {"en": "Nuacht nua"}
    assert document["contentMap"] == {"en": document["content"]}
    assert node.cli("chapter", "set", "dublin", "--language", "en").returncode == 0


def test_an_item_from_before_languages_were_kept_goes_without_maps(node: Node) -> None:
    """Rows the migration left with no language (NULL) are sent as they always were: a
    guessed tag would have Mastodon translate from the wrong language."""
    document = publish(node, "news", "--chapter", "dublin", "--title", "Old news",
                       stdin="Long ago.")
    node.sql("UPDATE items SET language = NULL WHERE object_iri = ?", document["id"])
    edited = node.cli("edit", document["id"], "--title", "Old news, corrected")
    assert edited.returncode == 0, edited.stderr
    again = node.get(document["id"].removeprefix(node.base), accept=AS2).json()
    assert again["name"] == "Old news, corrected"
    assert not {"contentMap", "nameMap", "summaryMap"} & set(again)
