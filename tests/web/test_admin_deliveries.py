"""The delivery queue page as an administrator sees it: per host what waits, failed and
was delivered, what failed and why (a page at a time), and retry now."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from actors.accounts import create_account
from actors.registry import add_member
from storage import accounts as account_store
from storage import outbox as outbox_store
from storage.timestamps import at as moment
from storage.timestamps import now
from tests.web.test_accounts import HTML, Site, form_token, log_in, make_site, post

ADMIN_PASSWORD = "an administrator's password"


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    made = await make_site(tmp_path, store_location, aiohttp_client)
    await add_member(made.db, made.config.hostname, "siobhan", "dublin", "Siobhán")
    await create_account(made.db, "siobhan", ADMIN_PASSWORD, is_admin=True)
    return made


async def queue(site: Site, inbox: str, state: str = "queued", attempts: int = 0,
                due_in: timedelta = timedelta(hours=1), error: str | None = None,
                status: int | None = None, activity: str | None = None) -> int:
    """A delivery of a (new) activity of dublin's, in the given state; its activity id."""
    dublin = await account_store.chapter_id(site.db, "dublin")
    assert dublin is not None
    stamp = now()
    iri = activity or f"{site.config.base_url}/activities/{uuid.uuid4().hex}"
    async with site.db.transaction() as tx:
        activity_id = await outbox_store.insert_activity(
            tx, iri, dublin, "Create", True, {"id": iri, "type": "Create"}, stamp)
        await outbox_store.queue_delivery(tx, activity_id, inbox, stamp + due_in)
        await tx.execute(
            "UPDATE deliveries SET state = ?, attempts = ?, last_error = ?, last_status = ?"
            " WHERE activity_id = ?", (state, attempts, error, status, activity_id))
    return activity_id


async def queued_waiting(people: Any, role: str) -> tuple[str, dict[str, str]]:
    """For the authorization matrix: a delivery due in an hour, for each role to retry."""
    await queue(people.site, f"https://later.example/inbox/{next(people.serial)}")
    return "/admin/deliveries/retry", {}


async def test_only_administrators_see_the_queue(site: Site) -> None:
    response = await site.client.get("/admin/deliveries", headers=HTML, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/admin/deliveries"
    await log_in(site)  # ana, a member
    response = await site.client.get("/admin/deliveries", headers=HTML)
    assert response.status == 403 and "administrators" in await response.text()


async def test_the_page_shows_hosts_failures_and_why(site: Site) -> None:
    await queue(site, "https://mastodon.example/inbox")
    await queue(site, "https://mastodon.example/inbox", attempts=2, error="timeout")
    await queue(site, "https://mastodon.example/inbox", state="delivered", due_in=timedelta())
    await queue(site, "https://gone.example/users/x/inbox", state="dead", attempts=8,
                status=410, error="Gone <script>", activity="https://node.test/activities/dead1")
    await log_in(site, "siobhan", ADMIN_PASSWORD)
    response = await site.client.get("/admin/deliveries", headers=HTML)
    page = await response.text()
    assert response.status == 200
    row = page[page.index('<th scope="row">mastodon.example'):]
    row = row[:row.index("</tr>")]
    # waiting 2 (one retrying), failed 0, delivered 1, a next attempt, the last error
    cells = [c.split("</td>")[0] for c in row.split("<td")[1:]]
    assert cells[0].startswith(">2") and "1 retrying" in cells[0]
    assert '<input type="hidden" name="host" value="mastodon.example">' in cells[0]
    assert cells[1] == ">0" and cells[2] == ">1"
    assert "<time" in cells[3] and "timeout" in cells[4]
    assert "gone.example" in page and "HTTP 410: Gone &lt;script&gt;" in page
    assert "https://node.test/activities/dead1" in page
    assert "to https://gone.example/users/x/inbox" in page
    assert 'href="/admin/deliveries?host=gone.example"' in page
    # One host's failures only.
    page = await (await site.client.get("/admin/deliveries?host=mastodon.example",
                                        headers=HTML)).text()
    assert "No delivery has failed." in page and "dead1" not in page


async def test_failures_come_a_page_at_a_time(site: Site) -> None:
    for n in range(55):
        await queue(site, f"https://gone.example/inbox/{n}", state="dead", attempts=8,
                    error=f"failure number {n}")
    await log_in(site, "siobhan", ADMIN_PASSWORD)
    page = await (await site.client.get("/admin/deliveries", headers=HTML)).text()
    assert page.count("failure number") == 50 + 1  # and the host's last error above
    assert "failure number 54" in page and "failure number 4<" not in page
    older = page.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    page = await (await site.client.get(older, headers=HTML)).text()
    assert "failure number 4</p>" in page and "failure number 0</p>" in page
    assert "failure number 5</p>" not in page and 'rel="next"' not in page
    response = await site.client.get("/admin/deliveries?before=x", headers=HTML)
    assert response.status == 400


async def test_retry_makes_waiting_deliveries_due_now_not_failed_ones(site: Site) -> None:
    await queue(site, "https://slow.example/inbox", attempts=3, due_in=timedelta(hours=5))
    await queue(site, "https://other.example/inbox", due_in=timedelta(hours=5))
    await queue(site, "https://gone.example/inbox", state="dead", attempts=8,
                due_in=timedelta(hours=5))
    await log_in(site)
    csrf = await form_token(site.client, "/account/password")
    response = await post(site, "/admin/deliveries/retry", {"csrf_token": csrf})
    assert response.status == 403  # a member
    soon = now() + timedelta(minutes=1)
    due = await site.sql("SELECT next_attempt_at FROM deliveries")
    assert all(moment(d) > soon for (d,) in due)

    await log_in(site, "siobhan", ADMIN_PASSWORD)
    csrf = await form_token(site.client, "/admin/deliveries")
    response = await post(site, "/admin/deliveries/retry",
                          {"csrf_token": csrf, "host": "SLOW.example"})
    assert response.status == 200 and "1 waiting delivery is due now" in await response.text()
    rows = {host: (state, at) for host, state, at in await site.sql(
        "SELECT host, state, next_attempt_at FROM deliveries")}
    assert moment(rows["slow.example"][1]) <= now()
    assert moment(rows["other.example"][1]) > soon

    response = await post(site, "/admin/deliveries/retry", {"csrf_token": csrf, "host": ""})
    assert "2 waiting deliveries are due now" in await response.text()
    rows = {host: (state, at) for host, state, at in await site.sql(
        "SELECT host, state, next_attempt_at FROM deliveries")}
    assert moment(rows["other.example"][1]) <= now()
    assert rows["gone.example"][0] == "dead" and moment(rows["gone.example"][1]) > soon


async def test_the_workspace_links_administrators_to_the_queue(site: Site) -> None:
    await log_in(site, "siobhan", ADMIN_PASSWORD)
    page = await (await site.client.get("/@dublin/manage", headers=HTML)).text()
    assert 'href="/admin/deliveries"' in page and 'href="/account/tokens"' in page
