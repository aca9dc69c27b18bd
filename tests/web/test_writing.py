"""Members write from the web: a blog post (written, edited, deleted), a reply under an
item, likes and boosts, and everything a visitor or another member may not do."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from actors.accounts import create_account
from federation.urls import Urls
from federation.vocab import PUBLIC
from outbox.content import publish_item
from outbox.items import Item
from storage import inbox as inbox_store
from storage import remote as remote_store
from storage.inbox import RemoteObjectVersion
from tests.web.test_accounts import HTML, Site, log_in, make_site, post, token_in

AS2 = {"Accept": "application/activity+json"}


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    return await make_site(tmp_path, store_location, aiohttp_client)


def path_of(site: Site, iri: str) -> str:
    return iri.removeprefix(site.config.base_url)


async def page(site: Site, path: str) -> str:
    response = await site.client.get(path, headers=HTML)
    assert response.status == 200, await response.text()
    return await response.text()


async def write(site: Site, title: str, body: str, summary: str = "",
                handle: str = "ana") -> Any:
    form = await page(site, f"/@{handle}/write")
    return await post(site, f"/@{handle}/write", {
        "csrf_token": token_in(form), "title": title, "summary": summary, "body": body})


async def activities(site: Site, kind: str) -> list[dict[str, Any]]:
    rows = await site.sql("SELECT document FROM activities WHERE type = ? ORDER BY id", kind)
    return [json.loads(row[0]) for row in rows]


async def chapter_news(site: Site) -> str:
    return await publish_item(site.db, Urls(site.config.base_url), "dublin",
                              Item(kind="news", title="Bookfair", body="Bring books."))


async def test_a_member_writes_edits_and_deletes_a_blog_post(site: Site) -> None:
    await log_in(site)
    member_page = await page(site, "/@ana")
    assert 'href="/@ana/write"' in member_page

    response = await write(site, "My first post", "Hello **world**.", summary="A hello.")
    assert response.status == 303
    location = response.headers["Location"]
    assert re.fullmatch(r"/objects/[0-9a-f]{32}", location)
    shown = await page(site, location)
    assert "My first post" in shown and "<strong>world</strong>" in shown
    assert f'href="{site.config.base_url}{location}/edit"' in shown
    assert "My first post" in await page(site, "/@ana")
    feed = await site.client.get("/actors/ana/feed.atom")
    assert "My first post" in await feed.text()
    # Published from the member's actor, to their followers, as the CLI does.
    [create] = await activities(site, "Create")
    assert create["actor"] == f"{site.config.base_url}/actors/ana"
    assert create["object"]["type"] == "Article"
    assert f"{site.config.base_url}/actors/ana/followers" in create["object"]["cc"]

    form = await page(site, f"{location}/edit")
    assert 'value="My first post"' in form and "Hello **world**." in form
    response = await post(site, f"{location}/edit", {
        "csrf_token": token_in(form), "title": "My first post, edited", "summary": "",
        "body": "Hello again."})
    assert response.status == 303 and response.headers["Location"] == location
    assert "My first post, edited" in await page(site, location)
    [update] = await activities(site, "Update")
    assert update["object"]["name"] == "My first post, edited"

    response = await post(site, f"{location}/delete", {"csrf_token": token_in(form)})
    assert response.status == 303 and response.headers["Location"] == "/@ana"
    assert (await site.client.get(location, headers=HTML)).status == 410
    assert "My first post" not in await page(site, "/@ana")
    assert len(await activities(site, "Delete")) == 1


async def test_form_errors_show_next_to_their_field_and_nothing_is_published(
    site: Site,
) -> None:
    await log_in(site)
    response = await write(site, "", "Some text")
    assert response.status == 400
    text = await response.text()
    assert 'id="title-error"' in text and 'aria-invalid="true"' in text
    assert "Some text" in text  # what was typed is kept
    response = await write(site, "A title", "   ")
    assert response.status == 400
    assert 'id="body-error"' in await response.text()
    response = await write(site, "x" * 301, "text")
    assert response.status == 400
    assert 'id="title-error"' in await response.text()
    assert await site.sql("SELECT count(*) FROM items") == [(0,)]


async def test_nobody_writes_on_someone_elses_blog(site: Site) -> None:
    # A visitor is sent to log in and cannot post.
    response = await site.client.get("/@ana/write", headers=HTML, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/@ana/write"
    response = await post(site, "/@ana/write", {"title": "t", "body": "b"})
    assert response.status == 403  # no CSRF token from a visitor's form

    # Another member (even an admin) cannot write on ana's blog, nor edit her posts.
    await create_account(site.db, "brian", "another long password", is_admin=True)
    await log_in(site)
    response = await write(site, "Ana's post", "Mine.")
    location = response.headers["Location"]
    # Without the CSRF token the author's own forms change nothing either.
    response = await post(site, "/@ana/write", {"title": "No token", "body": "x"})
    assert response.status == 403
    response = await post(site, f"{location}/delete", {})
    assert response.status == 403

    other = await site.another_browser()
    try:
        await log_in(site, "brian", "another long password", client=other)
        token = token_in(await (await other.get("/", headers=HTML)).text())
        response = await other.get("/@ana/write", headers=HTML)
        assert response.status == 403
        response = await post(site, "/@ana/write", {"csrf_token": token, "title": "Brian's",
                                                    "body": "Not mine."}, client=other)
        assert response.status == 403
        response = await other.get(f"{location}/edit", headers=HTML)
        assert response.status == 403
        response = await post(site, f"{location}/edit", {
            "csrf_token": token, "title": "Defaced", "body": "x"}, client=other)
        assert response.status == 403
        response = await post(site, f"{location}/delete", {"csrf_token": token},
                              client=other)
        assert response.status == 403
        assert f"{location}/edit" not in await (await other.get(location, headers=HTML)).text()
        assert await site.sql("SELECT title FROM items") == [("Ana's post",)]
        assert await site.sql(
            "SELECT count(*) FROM objects WHERE deleted_at IS NOT NULL") == [(0,)]
    finally:
        await other.close()  # last: it stops the shared test server


async def test_a_reply_to_a_local_item_shows_under_it_and_in_its_replies(site: Site) -> None:
    news = await chapter_news(site)
    where = path_of(site, news)
    await log_in(site)
    shown = await page(site, where)
    assert 'action="/reply"' in shown and '<label for="reply-content">' in shown
    response = await post(site, "/reply", {
        "csrf_token": token_in(shown), "object": news, "content": "I'll bring two boxes.",
        "next": where})
    assert response.status == 303 and response.headers["Location"] == f"{where}#replies"
    shown = await page(site, where)
    assert "I&#39;ll bring two boxes." in shown or "I'll bring two boxes." in shown
    assert '<span class="count">1</span>' in shown
    assert 'href="/@ana"' in shown

    [note] = await site.sql("SELECT document FROM objects WHERE type = 'Note'")
    reply = json.loads(note[0])
    assert reply["inReplyTo"] == news
    dublin = f"{site.config.base_url}/actors/dublin"
    assert reply["to"] == [dublin]
    assert "https://www.w3.org/ns/activitystreams#Public" in reply["cc"]
    assert reply["tag"][0] == {"type": "Mention", "href": dublin, "name": "@dublin@node.test"}
    # Its own page, like a note's.
    assert "two boxes" in await page(site, path_of(site, reply["id"]))

    collection = await site.client.get(f"{where}/replies?page=true", headers=AS2)
    assert reply["id"] in (await collection.text())

    # Empty and too long replies are refused and change nothing.
    for content in ("", "   \n ", "x" * 5001):
        response = await post(site, "/reply", {
            "csrf_token": token_in(shown), "object": news, "content": content,
            "next": where})
        assert response.status == 400
        # The form again, what was typed kept, the reason next to it.
        again = await response.text()
        assert 'id="content-error"' in again and 'action="/reply"' in again
        assert f">{content}</textarea>" in again
    response = await post(site, "/reply", {
        "csrf_token": token_in(shown), "object": "https://nowhere.example/x",
        "content": "hi", "next": where})
    assert response.status == 404
    assert len(await site.sql("SELECT id FROM objects WHERE type = 'Note'")) == 1


async def test_likes_and_boosts_count_at_once_and_twice_is_once(site: Site) -> None:
    news = await chapter_news(site)
    where = path_of(site, news)
    await log_in(site)
    shown = await page(site, where)
    assert "0 likes · 0 boosts" in shown
    token = token_in(shown)
    for _ in range(2):
        response = await post(site, "/like", {"csrf_token": token, "object": news,
                                              "next": where})
        assert response.status == 303 and response.headers["Location"] == where
        await post(site, "/boost", {"csrf_token": token, "object": news, "next": where})
    shown = await page(site, where)
    assert "1 like · 1 boost" in shown
    assert "Unlike" in shown and "Unboost" in shown
    [like] = await activities(site, "Like")
    assert like["object"] == news and like["to"] == [f"{site.config.base_url}/actors/dublin"]
    [boost] = await activities(site, "Announce")
    assert boost["object"] == news
    assert f"{site.config.base_url}/actors/ana/followers" in boost["cc"]

    for path in ("/like", "/boost", "/like"):
        await post(site, path, {"csrf_token": token, "object": news, "undo": "1",
                                "next": where})
    shown = await page(site, where)
    assert "0 likes · 0 boosts" in shown and "Unlike" not in shown
    undone = await activities(site, "Undo")
    assert [u["object"]["type"] for u in undone] == ["Like", "Announce"]
    assert undone[0]["object"]["id"] == like["id"]


async def test_a_visitor_cannot_reply_like_or_boost(site: Site) -> None:
    news = await chapter_news(site)
    where = path_of(site, news)
    shown = await page(site, where)
    assert 'action="/like"' not in shown and "Log in to reply" in shown
    visitor_token = token_in(await page(site, "/login"))
    for path in ("/like", "/boost", "/reply"):
        response = await post(site, path, {"csrf_token": visitor_token, "object": news,
                                           "content": "hi", "next": where})
        assert response.status == 303
        assert response.headers["Location"] == f"/login?next={where}"
    await log_in(site)
    for path in ("/like", "/reply"):
        response = await post(site, path, {"object": news, "content": "hi", "next": where})
        assert response.status == 403  # no CSRF token
    assert await site.sql("SELECT count(*) FROM reactions") == [(0,)]
    assert await site.sql("SELECT count(*) FROM member_reactions") == [(0,)]
    assert await site.sql("SELECT count(*) FROM objects WHERE type = 'Note'") == [(0,)]


REMOTE = "https://social.example"
ZOE = f"{REMOTE}/users/zoe"


async def remote_note(site: Site, iri: str, public: bool) -> None:
    """zoe (known, with her inboxes) and a note of hers that reached the node."""
    await remote_store.save_actor(site.db, {
        "iri": ZOE, "type": "Person", "host": "social.example", "inbox": f"{ZOE}/inbox",
        "shared_inbox": f"{REMOTE}/inbox", "username": "zoe", "name": "Zoe"}, [], {})
    document = {"id": iri, "type": "Note", "attributedTo": ZOE, "content": "<p>Hello</p>",
                "to": [PUBLIC] if public else [f"{ZOE}/followers"]}
    async with site.db.transaction() as tx:
        await inbox_store.store_remote_object(tx, RemoteObjectVersion(
            iri=iri, type="Note", attributed_to=ZOE, content="<p>Hello</p>", summary=None,
            in_reply_to=None, published=None, updated=None, meeting_date=None,
            document=document), audience=[])


async def test_a_remote_note_is_liked_boosted_and_replied_to_through_its_authors_inbox(
    site: Site,
) -> None:
    note = f"{REMOTE}/users/zoe/statuses/1"
    await remote_note(site, note, public=True)
    await log_in(site)
    token = token_in(await page(site, "/@ana"))
    for path in ("/like", "/like", "/boost"):
        response = await post(site, path, {"csrf_token": token, "object": note, "next": "/"})
        assert response.status == 303 and response.headers["Location"] == "/"
    response = await post(site, "/reply", {"csrf_token": token, "object": note,
                                           "content": "Hello Zoe", "next": "/"})
    assert response.status == 303
    # The member's own like and boost are kept; no count of someone else's object here.
    assert sorted(await site.sql("SELECT kind FROM member_reactions")) == [
        ("announce",), ("like",)]
    assert await site.sql("SELECT count(*) FROM reactions") == [(0,)]
    # Each went to zoe's server; the like once.
    sent = await site.sql(
        "SELECT a.type, d.inbox FROM deliveries d JOIN activities a ON a.id = d.activity_id"
        " ORDER BY d.id")
    assert sent == [("Like", f"{REMOTE}/inbox"), ("Announce", f"{REMOTE}/inbox"),
                    ("Create", f"{REMOTE}/inbox")]
    [reply] = await activities(site, "Create")
    assert reply["object"]["inReplyTo"] == note and reply["object"]["to"] == [ZOE]
    assert reply["object"]["tag"][0]["name"] == "@zoe@social.example"
    # The note's page on this node shows ana's reply under it.
    [(row_id,)] = await site.sql("SELECT id FROM remote_objects WHERE iri = ?", note)
    shown = await page(site, f"/remote/{row_id}")
    replies = shown[shown.index('id="replies"'):]
    assert "Hello Zoe" in replies and "Ana Byrne" in replies

    response = await post(site, "/like", {"csrf_token": token, "object": note, "undo": "1",
                                          "next": "/"})
    assert response.status == 303
    assert await site.sql("SELECT kind FROM member_reactions") == [("announce",)]
    [undo] = await activities(site, "Undo")
    assert undo["object"]["type"] == "Like" and undo["object"]["object"] == note


async def test_a_note_not_addressed_to_public_is_not_boosted(site: Site) -> None:
    note = f"{REMOTE}/users/zoe/statuses/2"
    await remote_note(site, note, public=False)
    await log_in(site)
    token = token_in(await page(site, "/@ana"))
    # Not addressed to ana nor to dublin: as if the node did not have it.
    for path in ("/like", "/boost", "/reply"):
        response = await post(site, path, {"csrf_token": token, "object": note,
                                           "content": "hi", "next": "/"})
        assert response.status == 404
    # Addressed to ana's chapter: she may like it, yet not boost it.
    async with site.db.transaction() as tx:
        [dublin] = await inbox_store.actor_ids(tx, ["dublin"])
        await inbox_store.store_remote_object(tx, RemoteObjectVersion(
            iri=note, type="Note", attributed_to=ZOE, content="<p>Hello</p>", summary=None,
            in_reply_to=None, published=None, updated=None, meeting_date=None,
            document={"id": note, "type": "Note", "attributedTo": ZOE,
                      "to": [f"{ZOE}/followers"]}), audience=[dublin])
    response = await post(site, "/boost", {"csrf_token": token, "object": note, "next": "/"})
    assert response.status == 403
    response = await post(site, "/like", {"csrf_token": token, "object": note, "next": "/"})
    assert response.status == 303
    assert await site.sql("SELECT kind FROM member_reactions") == [("like",)]
    assert await activities(site, "Announce") == []
