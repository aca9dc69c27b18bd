"""What others write in several languages: a received object keeps its contentMap and
nameMap (sanitised like its content), and a page shows each reader the version in their
language, marked with its `lang`, else the plain content."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.inbox.conftest import Remote, activity, post
from tests.nodes import Node

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node.init(tmp_path_factory.mktemp("maps")).federating().chapter("dublin", "Dublin")
    node.start()
    yield node
    node.stop()


async def deliver(node: Node, remote: Remote, obj: dict[str, Any]) -> str:
    """A Create of `obj` by alice, addressed to the public and to dublin."""
    dublin = f"{node.base}/actors/dublin"
    document = {"id": f"{remote.base}/objects/{uuid.uuid4().hex}",
                "attributedTo": remote.actor("alice"), "to": [PUBLIC], "cc": [dublin],
                "published": "2026-11-20T10:00:00Z", **obj}
    status, text = await post(node, json.dumps(activity(
        remote, "Create", document, to=[PUBLIC], cc=[dublin])).encode(), remote.key("alice"))
    assert status in (200, 202), text
    return str(document["id"])


def page(node: Node, path: str, language: str) -> str:
    response = node.get(path, accept="text/html", **{"Accept-Language": language})
    assert response.status == 200
    return response.text


def remote_page(node: Node, iri: str, language: str) -> str:
    rows = node.sql("SELECT id FROM remote_objects WHERE iri = ?", iri)
    return page(node, f"/remote/{rows[0][0]}", language)


async def test_each_reader_gets_the_version_in_their_language(node: Node,
                                                              remote: Remote) -> None:
    iri = await deliver(node, remote, {
        "type": "Article", "name": "Bookfair on Saturday",
        "nameMap": {"en": "Bookfair on Saturday", "eo": "Librofoiro sabate"},
        "content": "<p>Bring books.</p>",
        "contentMap": {"en": "<p>Bring books.</p>",
                       "eo": "<p>Kunportu librojn.</p><script>alert(1)</script>",
                       "not a tag!": "<p>left out</p>"}})
    stored = json.loads(node.sql("SELECT document FROM remote_objects WHERE iri = ?",
                                 iri)[0][0])
    # Kept, sanitised as content is; a key that is no language tag is dropped.
    assert stored["contentMap"] == {"en": "<p>Bring books.</p>", "eo": "<p>Kunportu librojn.</p>"}
    assert stored["nameMap"]["eo"] == "Librofoiro sabate"

    esperanto = remote_page(node, iri, "eo")
    assert re.search(r'<h1 lang="eo">\s*Librofoiro sabate\s*</h1>', esperanto)
    assert '<div class="content" lang="eo"><p>Kunportu librojn.</p></div>' in esperanto
    assert "Bring books" not in esperanto and "alert(1)" not in esperanto
    english = remote_page(node, iri, "en")
    assert re.search(r'<h1 lang="en">\s*Bookfair on Saturday\s*</h1>', english)
    assert '<div class="content" lang="en"><p>Bring books.</p></div>' in english
    assert "Kunportu" not in english
    # The chapter page lists it by the title in the reader's language too.
    assert '<strong lang="eo">Librofoiro sabate</strong>' in page(node, "/@dublin", "eo")
    assert '<strong lang="en">Bookfair on Saturday</strong>' in page(node, "/@dublin", "en")


async def test_without_a_version_in_the_readers_language_the_content_is_shown(
        node: Node, remote: Remote) -> None:
    # Mastodon's way: content and a contentMap with the one language it is written in.
    iri = await deliver(node, remote, {
        "type": "Article", "name": "Nuacht", "content": "<p>Fáilte romhat.</p>",
        "contentMap": {"ga": "<p>Fáilte romhat.</p>"}})
    for reader in ("en", "eo"):
        shown = remote_page(node, iri, reader)
        assert '<div class="content" lang="ga"><p>Fáilte romhat.</p></div>' in shown
    # Only a map, with a regional tag: that is the content, for a reader of any language.
    only_map = await deliver(node, remote, {
        "type": "Article", "name": "Notícias",
        "contentMap": {"pt-BR": "<p>Olá a todos.</p>"}})
    shown = remote_page(node, only_map, "en")
    assert '<div class="content" lang="pt-BR"><p>Olá a todos.</p></div>' in shown
    # And nothing said about the language: no lang claimed for it.
    plain = await deliver(node, remote, {"type": "Article", "name": "Plain",
                                         "content": "<p>Just text.</p>"})
    assert '<div class="content"><p>Just text.</p></div>' in remote_page(node, plain, "eo")


async def test_a_reply_in_two_languages_is_read_in_the_readers(node: Node,
                                                                remote: Remote) -> None:
    posted = node.cli("post", "news", "--chapter", "dublin", "--title", "Bookfair",
                      stdin="Bring books.")
    assert posted.returncode == 0, posted.stderr
    item = posted.stdout.strip()
    await deliver(node, remote, {
        "type": "Note", "inReplyTo": item, "content": "<p>See you there!</p>",
        "contentMap": {"en": "<p>See you there!</p>", "eo": "<p>Ĝis tiam!</p>"}})
    path = item.removeprefix(node.base)
    assert '<div class="content" lang="eo"><p>Ĝis tiam!</p></div>' in page(node, path, "eo")
    english = page(node, path, "en")
    assert '<div class="content" lang="en"><p>See you there!</p></div>' in english
    assert "Ĝis tiam" not in english
