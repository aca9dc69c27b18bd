"""AS2 OrderedCollection and OrderedCollectionPage documents, paged the way Mastodon pages."""

from __future__ import annotations

from typing import Any

from federation.vocab import COLLECTION_CONTEXT

PAGE_SIZE = 20


def page_count(total: int, page_size: int = PAGE_SIZE) -> int:
    """Pages in a collection; an empty collection still has one (empty) first page."""
    return max(1, -(-total // page_size))


def ordered_collection(
    collection_id: str, total: int, page_size: int = PAGE_SIZE
) -> dict[str, Any]:
    return {
        "@context": COLLECTION_CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
        "first": f"{collection_id}?page=1",
        "last": f"{collection_id}?page={page_count(total, page_size)}",
    }


def ordered_collection_page(
    collection_id: str, page: int, total: int, items: list[Any], page_size: int = PAGE_SIZE
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": COLLECTION_CONTEXT,
        "id": f"{collection_id}?page={page}",
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
        "totalItems": total,
        "orderedItems": items,
    }
    if page > 1:
        document["prev"] = f"{collection_id}?page={page - 1}"
    if page < page_count(total, page_size):
        document["next"] = f"{collection_id}?page={page + 1}"
    return document
