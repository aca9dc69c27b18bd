"""An edit is always a newer version: receivers (Mastodon, our own parents) replace an
object only with one whose `updated` is later than what they hold."""

from __future__ import annotations

import json

import pytest

from actors.registry import create_chapter
from chapterhouse.services import Services
from outbox.content import edit_item, publish_item
from outbox.items import Item
from tests.outbox.conftest import DOMAIN


@pytest.fixture
async def node(services: Services) -> Services:
    await create_chapter(services.db, DOMAIN, "dublin", "Dublin", "local")
    return services


async def test_an_edit_in_the_second_of_publication_is_still_later(node: Services) -> None:
    minutes = await publish_item(node.db, node.urls, "dublin", Item(
        kind="minutes", title="AGM", body="1. Bookfair on Friday"))
    # The same second, or a clock that stepped back since: now is not after `published`.
    async with node.db.transaction() as tx:
        await tx.execute("UPDATE items SET published = '2099-01-01T00:00:00Z'")
    await edit_item(node.db, node.urls, minutes, body="1. Bookfair on Saturday")
    document = json.loads(await node.db.fetchvalue(
        "SELECT document FROM objects WHERE iri = ?", (minutes,)))
    assert document["updated"] > document["published"] == "2099-01-01T00:00:00Z"
