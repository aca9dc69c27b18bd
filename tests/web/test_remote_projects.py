"""A project from another server, as its page here shows it: whatever its document lists,
each participant once and no more than we would list ourselves."""

from __future__ import annotations

import json

from federation.vocab import PUBLIC
from outbox.items import MAX_LISTED_PARTICIPANTS
from storage.timestamps import now
from tests.web.test_accounts import HTML, Site
from tests.web.test_chapter_tree import ELSEWHERE, local_id
from tests.web.test_events_page import site  # noqa: F401 - the fixture, shared


async def remote_project(site: Site, participants: list[str]) -> int:  # noqa: F811
    iri = f"{ELSEWHERE}/objects/tool-share"
    author = f"{ELSEWHERE}/actors/galway"
    document = {
        "id": iri, "type": "Article", "attributedTo": author, "to": [PUBLIC],
        "name": "Tool-share", "content": "<p>Lend a drill.</p>", "projectStatus": "active",
        "participants": {"type": "Collection", "totalItems": len(participants),
                         "items": participants}}
    [(row,)] = await site.sql(
        "INSERT INTO remote_objects (iri, type, attributed_to, document, published,"
        " received_at) VALUES (?, 'Article', ?, ?, ?, ?) RETURNING id",
        iri, author, json.dumps(document), now(), now())
    await site.sql("INSERT INTO remote_object_audience (object_id, actor_id) VALUES (?, ?)",
                   row, await local_id(site, "cork"))
    return int(row)


async def test_a_remote_project_lists_each_participant_once_and_not_thousands(
        site: Site) -> None:  # noqa: F811
    people = [f"https://o.example/u/{n}" for n in range(3000)]
    row = await remote_project(site, [people[0], people[0], *people])
    response = await site.client.get(f"/remote/{row}", headers=HTML)
    page = await response.text()
    assert response.status == 200
    assert "Tool-share" in page
    listed = [person for person in people if f"{person}\"" in page]
    assert listed == people[:MAX_LISTED_PARTICIPANTS]


async def test_another_server_cannot_say_that_our_member_takes_part(
        site: Site) -> None:  # noqa: F811
    # Ana never sent a Join from here: galway's list naming her (or a made-up handle
    # reaching for another path) does not put her name on our page.
    ours = f"{site.config.base_url}/actors/"
    row = await remote_project(site, [f"{ours}ana", f"{ours}a/../../logout",
                                      "https://o.example/u/zoe"])
    page = await (await site.client.get(f"/remote/{row}", headers=HTML)).text()
    assert "https://o.example/u/zoe" in page
    assert 'href="/@ana"' not in page and "Ana Byrne" not in page
    assert "logout" not in page.split("<main>")[1]
