"""JSON-LD processing with the contexts shipped in this package; never the network.

pyld is slow (milliseconds per document), so nothing on a request path calls this module;
it is for checks and tests, and later for integrity proofs off the request path.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from pyld import jsonld

from federation.vocab import AS_CONTEXT, MULTIKEY_V1, SECURITY_V1

# Context URL -> file in federation/contexts/, taken from the npm packages that publish them:
# activitystreams-context 3.1.0, security-context 4.0.0, @digitalbazaar/multikey-context 2.0.1.
SHIPPED_CONTEXTS = {
    AS_CONTEXT: "activitystreams.jsonld",
    SECURITY_V1: "security-v1.jsonld",
    MULTIKEY_V1: "multikey-v1.jsonld",
}


class ContextNotShipped(Exception):
    """A document referred to a context that we do not ship; we never fetch one."""


@cache
def _context_document(url: str) -> dict[str, Any]:
    name = SHIPPED_CONTEXTS[url]
    text = resources.files("federation").joinpath("contexts", name).read_text("utf-8")
    return json.loads(text)


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    key = url.split("#", 1)[0]
    if key.endswith("/") and key.rstrip("/") in SHIPPED_CONTEXTS:
        key = key.rstrip("/")
    if key not in SHIPPED_CONTEXTS:
        raise ContextNotShipped(f"context {url} is not shipped with Chapterhouse")
    return {
        "contextUrl": None,
        "documentUrl": url,
        "document": _context_document(key),
    }


def expand(document: dict[str, Any]) -> list[Any]:
    return jsonld.expand(document, {"documentLoader": document_loader})


def compact(document: Any, context: Any) -> dict[str, Any]:
    return jsonld.compact(document, context, {"documentLoader": document_loader})
