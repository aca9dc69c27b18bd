"""AS2 OrderedCollection and OrderedCollectionPage documents, paged the way Mastodon pages."""

from __future__ import annotations

from typing import Any

from federation.vocab import COLLECTION_CONTEXT

PAGE_SIZE = 20


def first_page(collection_id: str) -> str:
    """The first page's URL; later pages are reached by following `next` (a cursor)."""
    return f"{collection_id}?page=true"


def cursor_page(collection_id: str, cursor: str) -> str:
    return f"{collection_id}?cursor={cursor}"


def ordered_collection(collection_id: str, total: int) -> dict[str, Any]:
    # No `last`: pages are cut by a cursor, so there is no page number to name the last
    # one by (Mastodon's collections have none either); peers walk `first` then `next`.
    return {
        "@context": COLLECTION_CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
        "first": first_page(collection_id),
    }


def ordered_collection_page(
    collection_id: str, page_id: str, total: int, items: list[Any],
    next_cursor: str | None = None, prev_cursor: str | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": COLLECTION_CONTEXT,
        "id": page_id,
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
        "totalItems": total,
        "orderedItems": items,
    }
    if prev_cursor is not None:
        document["prev"] = cursor_page(collection_id, prev_cursor)
    if next_cursor is not None:
        document["next"] = cursor_page(collection_id, next_cursor)
    return document
