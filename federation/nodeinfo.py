"""NodeInfo 2.1 (nodeinfo.diaspora.software) and its discovery document."""

from __future__ import annotations

from typing import Any

from federation.urls import Urls

SCHEMA_21 = "http://nodeinfo.diaspora.software/ns/schema/2.1"
MEDIA_TYPE_21 = f'application/json; profile="{SCHEMA_21}#"'
# FEP-2677: where to find the node's Application actor without a signed fetch.
APPLICATION_REL = "https://www.w3.org/ns/activitystreams#Application"
SOFTWARE_NAME = "chapterhouse"


def discovery(urls: Urls) -> dict[str, Any]:
    return {
        "links": [
            {"rel": SCHEMA_21, "href": urls.nodeinfo()},
            {"rel": APPLICATION_REL, "href": urls.node_actor()},
        ]
    }


def document(
    version: str, node_name: str, users: int, local_posts: int, chapters_by_level: dict[str, int]
) -> dict[str, Any]:
    return {
        "version": "2.1",
        "software": {"name": SOFTWARE_NAME, "version": version},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        # Members join through a chapter's organisers, not by open sign-up.
        "openRegistrations": False,
        "usage": {"users": {"total": users}, "localPosts": local_posts},
        "metadata": {
            "nodeName": node_name,
            "chapters": sum(chapters_by_level.values()),
            "chaptersByLevel": chapters_by_level,
        },
    }
