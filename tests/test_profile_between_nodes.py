"""A member's new profile reaches a follower on another node: two real node processes.

Ana (node A) is followed by bob (node B); she logs in on A's web pages, changes her name
and uploads a picture; B receives the signed `Update` of her Person and keeps the new
document, whose icon is a picture A serves.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import uuid
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest
from PIL import Image

from tests.nodes import Node, Response, request, wait_for

AS2 = "application/activity+json"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    root = tmp_path_factory.mktemp("profiles")
    a, b = Node.init(root, "a").federating(), Node.init(root, "b").federating()
    secret = root / "password"
    secret.write_text(PASSWORD + "\n")
    a.run("chapter", "create", "dublin", "--name", "IOPS Dublin", "--level", "local")
    a.run("member", "add", "ana", "--chapter", "dublin", "--name", "Ana Byrne",
          "--password-file", str(secret))
    b.run("chapter", "create", "cork", "--name", "IOPS Cork", "--level", "local")
    b.run("member", "add", "bob", "--chapter", "cork")
    a.start()
    b.start()
    yield a, b
    a.stop()
    b.stop()


class Browser:
    """Cookies and form tokens against one node, as a browser keeps them."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.cookies: dict[str, str] = {}

    def send(self, path: str, method: str = "GET", body: bytes | None = None,
             content_type: str | None = None) -> Response:
        headers = {"Accept": "text/html", "Origin": self.node.base}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if content_type:
            headers["Content-Type"] = content_type
        # http.client itself: every Set-Cookie header is needed, not only the last.
        conn = http.client.HTTPConnection("127.0.0.1", self.node.port, timeout=15)
        try:
            conn.request(method, path, body=body, headers=headers)
            raw = conn.getresponse()
            for header in raw.msg.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    if morsel.value:
                        self.cookies[name] = morsel.value
                    else:
                        self.cookies.pop(name, None)
            return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()},
                            raw.read())
        finally:
            conn.close()

    def token(self, path: str) -> str:
        match = re.search(r'name="csrf_token" value="([^"]+)"', self.send(path).text)
        assert match, f"no form on {path}"
        return match[1]

    def post(self, path: str, fields: dict[str, str],
             files: dict[str, tuple[str, bytes, str]] | None = None) -> Response:
        boundary = uuid.uuid4().hex
        body = b""
        for name, value in fields.items():
            body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
                     f"\r\n\r\n{value}\r\n").encode()
        for name, (filename, data, media_type) in (files or {}).items():
            body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                     f"filename=\"{filename}\"\r\nContent-Type: {media_type}\r\n\r\n"
                     ).encode() + data + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        return self.send(path, "POST", body, f"multipart/form-data; boundary={boundary}")


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 120, 60)).save(out, "JPEG")
    return out.getvalue()


def test_a_follower_on_another_node_gets_the_new_name_and_picture(
        pair: tuple[Node, Node]) -> None:
    a, b = pair
    ana = f"{a.base}/actors/ana"
    assert b.cli("follow", ana, "--as", "bob").returncode == 0
    wait_for(lambda: a.get("/actors/ana/followers", accept=AS2).json()["totalItems"] == 1,
             what="A to accept bob's follow")
    wait_for(lambda: b.sql("SELECT name FROM remote_actors WHERE iri = ?", ana)
             == [("Ana Byrne",)], what="B to know ana")

    browser = Browser(a)
    response = browser.post("/login", {"csrf_token": browser.token("/login"),
                                       "username": "ana", "password": PASSWORD, "next": "/"})
    assert response.status == 303, response.text
    response = browser.post(
        "/account/profile",
        {"csrf_token": browser.token("/account/profile"), "name": "Ana from Dublin",
         "summary": "Reading groups, **Thursdays**."},
        {"avatar": ("me.jpg", photo(), "image/jpeg")})
    assert response.status == 303, response.text

    def document_at_b() -> dict[str, object] | None:
        rows = b.sql("SELECT name, document FROM remote_actors WHERE iri = ?", ana)
        return json.loads(rows[0][1]) if rows and rows[0][0] == "Ana from Dublin" else None

    document = wait_for(document_at_b, what="B to receive ana's Update")
    assert document is not None
    assert "<strong>Thursdays</strong>" in str(document["summary"])
    icon = document["icon"]
    assert isinstance(icon, dict) and icon["mediaType"] == "image/webp"
    url = str(icon["url"])
    assert url.startswith(f"{a.base}/media/avatars/")
    served = request(url)
    assert served.status == 200 and served.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(served.body)).size == (400, 300)
