"""A member's browser against a real node process: cookies kept, forms sent from the
node's own origin with the page's CSRF token, redirects not followed."""

from __future__ import annotations

import http.client
import re
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from tests.nodes import Node


class Browser:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, data: list[tuple[str, str]] | None = None
             ) -> tuple[int, str, str]:
        """(status, Location, body) of one request."""
        parts = urlsplit(self.node.base)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        headers = {"Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data).encode()
            headers |= {"Content-Type": "application/x-www-form-urlencoded",
                        "Origin": self.node.base}
        try:
            conn.request(method, path, body=body, headers=headers)
            raw = conn.getresponse()
            for cookie in raw.msg.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if value and "Max-Age=0" not in cookie:
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
            return raw.status, raw.getheader("Location") or "", raw.read().decode()
        finally:
            conn.close()

    def page(self, path: str) -> str:
        status, _, body = self.send("GET", path)
        assert status == 200, body[:500]
        return body

    def submit(self, path: str, data: list[tuple[str, str]], page: str) -> str:
        """Send a form found on `page`; the 303's Location."""
        match = re.search(r'name="csrf_token" value="([^"]+)"', self.page(page))
        assert match, f"no form on {page}"
        status, location, body = self.send("POST", path, [*data, ("csrf_token", match[1])])
        assert status == 303, body[:500]
        return location


def member(node: Node, secret_dir: Path, handle: str, chapter: str, name: str,
           password: str = "a long walk to the bookfair") -> Browser:
    """A new member of `chapter` with an account, logged in."""
    secret = secret_dir / f"{handle}.password"
    secret.write_text(password + "\n")
    node.run("account", "create", handle, "--chapter", chapter, "--name", name,
             "--password-file", str(secret))
    browser = Browser(node)
    browser.submit("/login", [("username", handle), ("password", password), ("next", "/")],
                   page="/login")
    return browser
