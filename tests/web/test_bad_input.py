"""Bad requests get a clear 4xx with a one-line reason; nothing gets a 500 or a traceback."""

from __future__ import annotations

import pytest

from tests.nodes import Node, request

AS2 = "application/activity+json"


@pytest.mark.parametrize("path", [
    "/nowhere", "/actors/nobody", "/@nobody", "/actors/dublin/likes", "/actors/nobody/outbox",
    "/actors/dublin/inbox/extra", "/actors/", "/@", "/actors/%2e%2e/etc", "/actors/%00",
    "/actors/" + "x" * 3000, "/actors/d%C3%BCblin", "/static/../pyproject.toml",
    "/nodeinfo/2.0", "/.well-known/nothing",
])
def test_unknown_paths_are_404(node: Node, path: str) -> None:
    for accept in (AS2, "text/html"):
        response = node.get(path, accept=accept)
        assert response.status == 404, (path, accept)
        assert "Traceback" not in response.text


@pytest.mark.parametrize("method,path", [
    ("DELETE", "/actors/dublin"), ("POST", "/actors/dublin"), ("PUT", "/"),
    ("POST", "/.well-known/webfinger"), ("GET", "/inbox"), ("GET", "/actors/dublin/inbox"),
    ("PATCH", "/actors/dublin/outbox"),
])
def test_wrong_methods_are_405_with_allow(node: Node, method: str, path: str) -> None:
    response = request(f"{node.base}{path}", method=method, headers={"Accept": AS2})
    assert response.status == 405, (method, path)
    assert response.headers["allow"]
    assert response.json()["error"]


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "page=", "page=1.5",
                                   "page=99999999999999999999", "page=%00"])
def test_bad_page_numbers_are_400(node: Node, query: str) -> None:
    response = node.get(f"/actors/dublin/outbox?{query}", accept=AS2)
    assert response.status == 400, query
    assert response.json() == {"error": "page must be a positive whole number"}


def test_a_page_past_the_end_is_404(node: Node) -> None:
    assert node.get("/actors/dublin/outbox?page=7", accept=AS2).status == 404


@pytest.mark.parametrize("accept", ["garbage", "application/activity+json;q=abc", ";;;,,,",
                                    "text/html;q=2", "*/*;q=-1", "\u00e9/\u00e9"])
def test_odd_accept_headers_still_get_an_answer(node: Node, accept: str) -> None:
    response = request(f"{node.base}/actors/dublin",
                       headers={"Accept": accept.encode("utf-8").decode("latin-1")})
    assert response.status == 200


def test_browsers_get_an_html_error_page(node: Node) -> None:
    response = node.get("/actors/nobody", accept="text/html")
    assert response.status == 404
    assert response.content_type.startswith("text/html")
    assert "There is no one called nobody on this node." in response.text


def test_refusals_are_logged(node: Node) -> None:
    node.get("/actors/logged-refusal", accept=AS2)
    assert "logged-refusal" in node.log()
    assert "Traceback" not in node.log()
