"""A member edits their profile on the web: name, Markdown summary and an avatar that the
node re-encodes and serves as a picture only; the Person document and a follower's inbox
get the change. Uploads are real images made with Pillow, and files that only pretend."""

from __future__ import annotations

import io
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient
from PIL import Image

from actors.accounts import create_account
from actors.registry import add_member, create_chapter
from chapterhouse.app import create_app
from chapterhouse.config import parse, render_initial
from chapterhouse.services import initialise, running
from storage import remote as remote_store
from storage.timestamps import utcnow
from tests.web.test_accounts import HTML, PASSWORD, Site, form_token, log_in, make_site
from web.state import DB

AS2 = "application/activity+json"
AVATAR_URL = re.compile(r"/media/avatars/([0-9a-f]{64})\.webp")


@pytest.fixture
async def site(tmp_path: Path, store_location: Path | str, aiohttp_client: Any) -> Site:
    site = await make_site(tmp_path, store_location, aiohttp_client)
    await log_in(site)  # ana, a member of dublin
    return site


def image_bytes(fmt: str, size: tuple[int, int] = (800, 600), mode: str = "RGB",
                **save: Any) -> bytes:
    image = Image.new(mode, size, (200, 40, 40) if mode == "RGB" else None)
    # Something that is not one flat colour: a diagonal band.
    for x in range(0, min(size), 4):
        image.putpixel((x, x), (10, 10, 200) if mode == "RGB" else 1)
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def with_exif(fmt: str) -> bytes:
    """A photo that says where it was taken (GPS) and by what camera."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (53.0, 20.0, 0.0)}  # GPSInfo
    return image_bytes(fmt, exif=exif.tobytes())


async def save_profile(site: Site, name: str = "Ana Byrne", summary: str = "",
                       avatar: tuple[bytes, str, str] | None = None,
                       client: TestClient[Any, Any] | None = None,
                       token: str | None = None, **extra: str) -> Any:
    client = client or site.client
    form = FormData()
    form.add_field("csrf_token", token if token is not None
                   else await form_token(client, "/account/profile"))
    form.add_field("name", name)
    form.add_field("summary", summary)
    for key, value in extra.items():
        form.add_field(key, value)
    if avatar is not None:
        data, filename, content_type = avatar
        form.add_field("avatar", data, filename=filename, content_type=content_type)
    else:  # what a browser sends when no file was chosen
        form.add_field("avatar", b"", filename="", content_type="application/octet-stream")
    return await client.post("/account/profile", data=form, allow_redirects=False,
                             headers={**site.origin, **HTML})


async def federating_site(tmp_path: Path, location: Path | str,
                          aiohttp_client: Any) -> Site:
    """make_site's node, allowed to deliver to inboxes on 127.0.0.1."""
    raw = tomllib.loads(render_initial("node.test", "http", "Test node"))
    raw["storage"]["url"] = str(location)
    raw["federation"]["allow_private_addresses"] = True
    config = parse(raw, tmp_path)
    await initialise(config)
    app = create_app(config, deliver=False)
    client = await aiohttp_client(app)
    db = app[DB]
    await create_chapter(db, config.hostname, "dublin", "IOPS Dublin", "local")
    await add_member(db, config.hostname, "ana", "dublin", "Ana Byrne")
    await create_account(db, "ana", PASSWORD)
    return Site(client, db, config)


async def actor_document(site: Site, handle: str = "ana") -> dict[str, Any]:
    response = await site.client.get(f"/actors/{handle}", headers={"Accept": AS2})
    assert response.status == 200
    document: dict[str, Any] = await response.json(content_type=None)
    return document


def avatars_on_disk(site: Site) -> list[str]:
    directory = site.config.data_dir / "media" / "avatars"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


async def test_a_member_sets_name_summary_and_a_photo_served_as_a_picture_only(
        site: Site) -> None:
    page = await (await site.client.get("/account/profile", headers=HTML)).text()
    for field in ("name", "summary", "avatar"):
        assert f'<label for="{field}">' in page
    assert 'enctype="multipart/form-data"' in page

    response = await save_profile(
        site, "Ana B.", "I organise *reading groups*.\n\n<script>alert(1)</script>",
        avatar=(with_exif("JPEG"), "me.jpg", "image/jpeg"))
    assert response.status == 303 and response.headers["Location"] == "/@ana"

    (file_name,) = avatars_on_disk(site)
    member = await (await site.client.get("/@ana", headers=HTML)).text()
    assert "<h1>Ana B.</h1>" in member
    assert "<em>reading groups</em>" in member and "<script>alert" not in member
    match = AVATAR_URL.search(member)
    assert match and f"{match[1]}.webp" == file_name
    header = member.split("</header>")[0]
    assert f'class="avatar small" src="{site.config.base_url}/media/avatars/{file_name}"' \
        in header

    served = await site.client.get(f"/media/avatars/{file_name}")
    assert served.status == 200
    assert served.headers["Content-Type"] == "image/webp"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert served.headers["Content-Disposition"] == "inline"
    assert "max-age=31536000" in served.headers["Cache-Control"]
    assert "Set-Cookie" not in served.headers  # public and cached: never a session's
    body = await served.read()
    # Re-encoded by the node: a WebP at most 400 x 400, without the photo's metadata.
    assert body[:4] == b"RIFF" and body[8:12] == b"WEBP"
    image = Image.open(io.BytesIO(body))
    assert image.format == "WEBP" and image.size == (400, 300)
    assert not image.getexif() and b"SecretCam" not in body

    document = await actor_document(site)
    assert document["name"] == "Ana B."
    assert "<em>reading groups</em>" in document["summary"]
    assert "<script" not in document["summary"]
    assert document["icon"] == {"type": "Image", "mediaType": "image/webp",
                                "url": f"{site.config.base_url}/media/avatars/{file_name}"}


@pytest.mark.parametrize("fmt,mode", [("PNG", "RGBA"), ("GIF", "P"), ("WEBP", "RGB")])
async def test_png_gif_and_webp_are_taken_too(site: Site, fmt: str, mode: str) -> None:
    data = image_bytes(fmt, (120, 90), mode)
    response = await save_profile(site, avatar=(data, f"me.{fmt.lower()}", "image/png"))
    assert response.status == 303, await response.text()
    (file_name,) = avatars_on_disk(site)
    body = await (await site.client.get(f"/media/avatars/{file_name}")).read()
    assert Image.open(io.BytesIO(body)).size == (120, 90)


PRETENDERS = {
    "html": b"<!doctype html><html><script>alert(document.cookie)</script></html>",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    # HTML first, a real PNG after it: a browser sniffing would see a page.
    "polyglot": b"<html><script>alert(1)</script></html>" + image_bytes("PNG", (10, 10)),
    "truncated": image_bytes("PNG", (300, 300))[:400],
    "text": b"just some text",
}


@pytest.mark.parametrize("kind", sorted(PRETENDERS))
async def test_a_file_that_only_pretends_to_be_an_image_is_refused(
        site: Site, kind: str) -> None:
    response = await save_profile(site, "Someone Else",
                                  avatar=(PRETENDERS[kind], "me.png", "image/png"))
    assert response.status == 400
    page = await response.text()
    assert re.search(r'<p class="error" id="avatar-error">[^<]+</p>', page), page
    assert 'aria-invalid="true"' in page
    # Nothing changed: not the name sent with it, no file, no icon, no Update.
    assert avatars_on_disk(site) == []
    assert await site.sql("SELECT name, icon_url FROM actors WHERE handle = 'ana'") == [
        ("Ana Byrne", None)]
    assert await site.sql("SELECT * FROM activities WHERE type = 'Update'") == []


async def test_html_after_a_real_image_is_not_served(site: Site) -> None:
    data = image_bytes("PNG", (64, 64)) + b"<html><script>alert(1)</script></html>"
    assert (await save_profile(site, avatar=(data, "me.png", "image/png"))).status == 303
    (file_name,) = avatars_on_disk(site)
    body = await (await site.client.get(f"/media/avatars/{file_name}")).read()
    assert b"script" not in body and body[8:12] == b"WEBP"


async def test_too_large_in_bytes_or_in_pixels_is_refused(site: Site) -> None:
    # Over 4000 pixels wide, though a small file: decoding is refused before it starts.
    wide = image_bytes("PNG", (4001, 10))
    response = await save_profile(site, avatar=(wide, "wide.png", "image/png"))
    assert response.status == 400
    assert "at most 4000 x 4000" in await response.text()
    # A decompression bomb: 20000 x 20000 pixels in a few hundred kilobytes.
    bomb = image_bytes("PNG", (20000, 20000), "1")
    assert len(bomb) < 1024 * 1024
    response = await save_profile(site, avatar=(bomb, "bomb.png", "image/png"))
    assert response.status == 400
    assert "at most 4000 x 4000" in await response.text()
    # Just over 2 MB of real image (noise does not compress): refused next to the field.
    noise = Image.frombytes("RGB", (1000, 800), bytes(range(256)) * 9375)
    out = io.BytesIO()
    noise.save(out, "BMP")
    big = out.getvalue()[:2 * 1024 * 1024 + 10]
    response = await save_profile(site, avatar=(big, "big.png", "image/png"))
    assert response.status in (400, 413)
    assert "larger than 2 MB" in await response.text()
    # Far over: refused before the form is read, still saying why.
    response = await save_profile(site, avatar=(b"\0" * (3 * 1024 * 1024), "x.png",
                                                "image/png"))
    assert response.status == 413
    assert "larger than 2 MB" in await response.text()
    assert avatars_on_disk(site) == []
    assert await site.sql("SELECT icon_url FROM actors WHERE handle = 'ana'") == [(None,)]


async def test_a_visitor_cannot_edit_and_is_sent_to_log_in(site: Site) -> None:
    visitor = await site.another_browser()
    try:
        response = await visitor.get("/account/profile", headers=HTML,
                                     allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == "/login?next=/account/profile"
        # With a visitor's own valid form token, a POST still changes nothing.
        token = await form_token(visitor)
        response = await save_profile(site, "Mallory", client=visitor, token=token,
                                      avatar=(image_bytes("PNG"), "x.png", "image/png"))
        assert response.status == 303
        assert response.headers["Location"] == "/login?next=/account/profile"
        # And without a token, the session middleware refuses it first.
        response = await save_profile(site, "Mallory", client=visitor, token="")
        assert response.status == 403
        # Checked before the second browser's close stops the shared test server.
        assert await site.sql(
            "SELECT name FROM actors WHERE kind = 'member' ORDER BY id") == [
            ("Ana Byrne",), ("Brian Ó Súilleabháin",)]
        assert avatars_on_disk(site) == []
    finally:
        await visitor.close()


async def test_names_and_summaries_are_checked_next_to_their_field(site: Site) -> None:
    response = await save_profile(site, "   ")
    assert response.status == 400
    assert 'id="name-error"' in await response.text()
    response = await save_profile(site, "Ana", "x" * 2001)
    assert response.status == 400
    assert 'id="summary-error"' in await response.text()
    assert await site.sql("SELECT name, summary FROM actors WHERE handle = 'ana'") == [
        ("Ana Byrne", "")]


@pytest.mark.parametrize("name", ["..%2F..%2Fconfig.toml", "..", "config.toml",
                                  "a" * 64 + ".png", "A" * 64 + ".webp",
                                  "%2e%2e%2fchapterhouse.sqlite3"])
async def test_only_avatar_names_are_served(site: Site, name: str) -> None:
    (site.config.data_dir / "media" / "avatars").mkdir(parents=True, exist_ok=True)
    (site.config.data_dir / "media" / "avatars" / ("a" * 64 + ".png")).write_bytes(b"x")
    response = await site.client.get(f"/media/avatars/{name}")
    assert response.status == 404


async def test_a_removed_or_replaced_picture_is_gone_from_disk(site: Site) -> None:
    await save_profile(site, avatar=(image_bytes("PNG", (50, 50)), "a.png", "image/png"))
    (first,) = avatars_on_disk(site)
    await save_profile(site, avatar=(image_bytes("JPEG", (60, 50)), "b.jpg", "image/jpeg"))
    (second,) = avatars_on_disk(site)
    assert second != first
    assert (await site.client.get(f"/media/avatars/{first}")).status == 404
    response = await save_profile(site, remove_avatar="yes")
    assert response.status == 303
    assert avatars_on_disk(site) == []
    assert "icon" not in await actor_document(site)


async def test_a_follower_is_sent_the_update_of_the_person(
        tmp_path: Path, store_location: Path | str, aiohttp_client: Any,
        aiohttp_server: Any) -> None:
    received: list[tuple[dict[str, Any], str]] = []

    async def inbox(request: web.Request) -> web.Response:
        received.append((json.loads(await request.read()), request.headers.get(
            "Signature", request.headers.get("Signature-Input", ""))))
        return web.Response(status=202)

    peer = web.Application()
    peer.router.add_post("/users/f1/inbox", inbox)
    server = await aiohttp_server(peer, host="127.0.0.1")
    base = f"http://127.0.0.1:{server.port}"
    site = await federating_site(tmp_path, store_location, aiohttp_client)
    await log_in(site)
    iri = f"{base}/users/f1"
    await remote_store.save_actor(site.db, {
        "iri": iri, "type": "Person", "host": f"127.0.0.1:{server.port}",
        "inbox": f"{iri}/inbox", "shared_inbox": None, "username": "f1", "name": "f1"},
        [], {})
    async with site.db.transaction() as tx:
        await tx.execute(
            "INSERT INTO followers (actor_id, follower_iri, state, created_at)"
            " SELECT id, ?, 'accepted', ? FROM actors WHERE handle = 'ana'", (iri, utcnow()))

    response = await save_profile(site, "Ana the Reader",
                                  avatar=(image_bytes("PNG"), "a.png", "image/png"))
    assert response.status == 303
    # The site runs without its delivery worker: a second one on the same storage, as a
    # second serve process would, delivers what the first queued.
    async with running(site.config) as services:
        await services.worker.run_once()
        await services.worker.run_once()
    ((update, signature),) = received
    assert signature, "deliveries are signed"
    assert update["type"] == "Update"
    assert update["actor"] == f"{site.config.base_url}/actors/ana"
    person = update["object"]
    assert person["type"] == "Person" and person["id"] == update["actor"]
    assert person["name"] == "Ana the Reader"
    assert person["icon"]["mediaType"] == "image/webp"
    assert AVATAR_URL.search(person["icon"]["url"])
    assert f"{site.config.base_url}/actors/ana/followers" in update["cc"]
    # Saving again without a change sends nothing more.
    assert (await save_profile(site, "Ana the Reader")).status == 303
    assert await site.sql("SELECT count(*) FROM activities WHERE type = 'Update'") == [(1,)]
