"""Personal access tokens as a member sees them: made on the web, shown once, listed
without the secret, revoked, and only ever their owner's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from actors.accounts import create_account, new_token, token_hash
from actors.registry import add_member
from storage import access_tokens as token_store
from storage import accounts as account_store
from storage.timestamps import now
from tests.web.test_accounts import HTML, Site, form_token, log_in, make_site, post
from web.session import CROSS_SITE


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    return await make_site(tmp_path, store_location, aiohttp_client)


def shown_token(page: str) -> str | None:
    match = re.search(r'id="new-token" class="token" value="([^"]+)"', page)
    return match[1] if match else None


async def make_token(site: Site, handle: str = "ana", name: str = "script") -> tuple[int, str]:
    """A token of `handle`'s made as the page makes one: (its id, the token)."""
    member = await account_store.member_id(site.db, handle)
    assert member is not None
    token = new_token()
    return await token_store.create(site.db, member, name, token_hash(token), now()), token


async def ana_token(people: Any, role: str) -> tuple[str, dict[str, str]]:
    """For the authorization matrix: a token of ana's (the member) for each role to revoke."""
    token_id, _ = await make_token(people.site)
    return f"/account/tokens/{token_id}/revoke", {}


async def test_a_member_makes_a_token_sees_it_once_and_revokes_it(site: Site) -> None:
    response = await site.client.get("/account/tokens", headers=HTML, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login?next=/account/tokens"
    await log_in(site)
    page = await (await site.client.get("/account/tokens", headers=HTML)).text()
    assert "You have no tokens." in page and "do not revoke tokens" in page
    assert 'for="name"' in page

    response = await post(site, "/account/tokens",
                          {"csrf_token": await form_token(site.client, "/account/tokens"),
                           "name": "  minutes   script "})
    page = await response.text()
    assert response.status == 200
    assert "no-store" in response.headers["Cache-Control"]
    token = shown_token(page)
    assert token is not None and len(token) >= 43  # 256 bits, URL-safe base64
    assert "minutes script" in page and "never used" in page
    # Stored as its sha256 only.
    rows = await site.sql("SELECT name, token_hash FROM access_tokens")
    assert rows == [("minutes script", token_hash(token))]
    assert token not in str(await site.sql("SELECT * FROM access_tokens"))
    # Listed afterwards without the token.
    page = await (await site.client.get("/account/tokens", headers=HTML)).text()
    assert shown_token(page) is None and token not in page and "minutes script" in page

    (token_id,) = (await site.sql("SELECT id FROM access_tokens"))[0]
    response = await post(site, f"/account/tokens/{token_id}/revoke",
                          {"csrf_token": await form_token(site.client, "/account/tokens")})
    assert response.status == 303 and response.headers["Location"] == "/account/tokens"
    page = await (await site.client.get("/account/tokens", headers=HTML)).text()
    assert "revoked" in page and f"/account/tokens/{token_id}/revoke" not in page
    assert await token_store.account_for(site.db, token_hash(token), now()) is None
    # Revoking twice finds nothing to revoke.
    response = await post(site, f"/account/tokens/{token_id}/revoke",
                          {"csrf_token": await form_token(site.client, "/account/tokens")})
    assert response.status == 404


async def test_a_token_needs_a_name_and_bad_input_changes_nothing(site: Site) -> None:
    await log_in(site)
    csrf = await form_token(site.client, "/account/tokens")
    for name, reason in (("   ", "Give the token a name"), ("x" * 101, "at most 100"),
                         ("tab\x01", "control characters")):
        response = await post(site, "/account/tokens", {"csrf_token": csrf, "name": name})
        page = await response.text()
        assert response.status == 400, name
        assert reason in page and 'id="name-error"' in page and shown_token(page) is None
    for raw in ("abc", "99999999999999999999999", "-1"):
        response = await post(site, f"/account/tokens/{raw}/revoke", {"csrf_token": csrf})
        assert response.status == 404, raw
    assert await site.sql("SELECT * FROM access_tokens") == []


async def test_a_member_cannot_revoke_or_see_someone_elses_token(site: Site) -> None:
    await add_member(site.db, site.config.hostname, "cian", "dublin", "Cian")
    await create_account(site.db, "cian", "another long password")
    cian_token_id, cian_token = await make_token(site, "cian", "cian's script")
    await log_in(site)
    page = await (await site.client.get("/account/tokens", headers=HTML)).text()
    assert "cian&#39;s script" not in page and "cian's script" not in page
    response = await post(site, f"/account/tokens/{cian_token_id}/revoke",
                          {"csrf_token": await form_token(site.client, "/account/tokens")})
    assert response.status == 404
    account = await token_store.account_for(site.db, token_hash(cian_token), now())
    assert account is not None and account.handle == "cian"


async def test_logging_out_everywhere_leaves_tokens_working(site: Site) -> None:
    _, token = await make_token(site)
    await log_in(site)
    response = await post(site, "/logout/everywhere",
                          {"csrf_token": await form_token(site.client, "/account/password")})
    assert response.status == 200
    account = await token_store.account_for(site.db, token_hash(token), now())
    assert account is not None and account.handle == "ana"


async def test_a_member_has_at_most_twenty_tokens_in_use(site: Site) -> None:
    for n in range(20):
        await make_token(site, name=f"script {n}")
    await log_in(site)
    csrf = await form_token(site.client, "/account/tokens")
    response = await post(site, "/account/tokens", {"csrf_token": csrf, "name": "one more"})
    assert response.status == 400 and "revoke one" in await response.text()
    (first,) = (await site.sql("SELECT min(id) FROM access_tokens"))[0]
    await post(site, f"/account/tokens/{first}/revoke", {"csrf_token": csrf})
    response = await post(site, "/account/tokens", {"csrf_token": csrf, "name": "one more"})
    assert response.status == 200 and shown_token(await response.text())


async def test_the_profile_page_links_to_the_tokens(site: Site) -> None:
    await log_in(site)
    page = await (await site.client.get("/account/profile", headers=HTML)).text()
    assert 'href="/account/tokens"' in page


async def test_a_session_never_publishes_to_an_outbox_only_a_token_does(site: Site) -> None:
    """The client-to-server outbox is exempt from the session middleware, as the inboxes
    are: a page elsewhere could make a logged-in browser post there, so a session (with
    its cookie, our origin and even the CSRF token) counts for nothing."""
    app = site.client.app
    assert app is not None
    exempt = {handler.__name__ for handler in app[CROSS_SITE]}
    assert {"shared_inbox", "actor_inbox", "post_to_outbox"} <= exempt
    await log_in(site)
    csrf = await form_token(site.client, "/account/tokens")
    note = {"type": "Note", "content": "Posted by a page elsewhere?"}
    response = await site.client.post(
        "/actors/ana/outbox", json=note, headers={
            **site.origin, "Content-Type": "application/activity+json", "X-CSRF-Token": csrf})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert await site.sql("SELECT iri FROM objects") == []
    _, token = await make_token(site)
    response = await site.client.post(
        "/actors/ana/outbox", json=note, headers={
            "Content-Type": "application/activity+json", "Authorization": f"Bearer {token}"})
    assert response.status == 201, await response.text()
    assert len(await site.sql("SELECT iri FROM objects")) == 1


async def test_a_body_that_cannot_be_decompressed_is_400_and_publishes_nothing(
        site: Site) -> None:
    _, token = await make_token(site)
    response = await site.client.post(
        "/actors/ana/outbox", data=b"not gzip at all", headers={
            "Content-Type": "application/activity+json", "Content-Encoding": "gzip",
            "Authorization": f"Bearer {token}"})
    assert response.status == 400
    assert (await response.json())["error"] == "the body cannot be read"
    assert await site.sql("SELECT iri FROM objects") == []
