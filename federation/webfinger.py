"""WebFinger (RFC 7033) as Mastodon and Fedify use it: resource parsing and the JRD."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from chapterhouse.reasons import reason
from federation import strict_json
from federation.client import FetchError, GuardedClient, NonPublicAddress
from federation.urls import NODE, Urls
from federation.vocab import AS2_MEDIA_TYPE

JRD_MEDIA_TYPE = "application/jrd+json"
PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
MAX_RESOURCE = 1000


class BadResource(ValueError):
    """The resource parameter is malformed (answer 400)."""


class NotHere(LookupError):
    """A well-formed resource that this node does not host (answer 404)."""


class UnknownAccount(NotHere):
    """From lookup(): the handle's host answered 404 or 410, nobody by that name lives
    there."""


def parse_resource(resource: str | None, urls: Urls, domain: str, node_username: str) -> str:
    """The handle (or NODE) a resource names on this node.

    Accepts `acct:handle@domain` (also the `acct:@handle@domain` some clients send) and the
    actor's id or profile URL, which Fedify asks for when it looks an actor up by URL.
    """
    if resource is None or not resource.strip():
        raise BadResource("missing resource parameter")
    resource = resource.strip()
    if len(resource) > MAX_RESOURCE:
        raise BadResource("resource is too long")
    if resource[:5].lower() == "acct:":
        user, at, host = resource[5:].lstrip("@").rpartition("@")
        if not at or not user or not host or any(c in user for c in "/?#@ "):
            raise BadResource("an acct: resource must look like acct:handle@host")
        if host.lower() != domain:
            raise NotHere(f"{host} is not this node")
        user = user.lower()
        return NODE if user == node_username else user
    if resource[:8].lower() == "https://" or resource[:7].lower() == "http://":
        handle = urls.parse_actor_url(resource)
        if handle is None:
            raise NotHere("no actor at that URL on this node")
        return handle
    raise BadResource("resource must be acct:handle@host or an actor URL")


def jrd(subject: str, actor_id: str, profile_url: str) -> dict[str, Any]:
    return {
        "subject": subject,
        "aliases": [actor_id, profile_url],
        "links": [
            {"rel": "self", "type": AS2_MEDIA_TYPE, "href": actor_id},
            {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url},
        ],
    }


def host_meta(urls: Urls) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{urls.webfinger_template()}"/>\n'
        "</XRD>\n"
    )


def parse_handle(handle: str) -> tuple[str, str]:
    """("user", "host") from "@user@host", "user@host" or "acct:user@host"."""
    text = handle.strip()
    text = text[5:] if text.lower().startswith("acct:") else text
    user, at, host = text.lstrip("@").partition("@")
    if not at or not user or not host or "@" in host or "/" in host or "/" in user:
        raise BadResource(reason("webfinger.handle", "%(handle)r is not a handle like "
                                 "@user@host", handle=handle))
    return user, host.lower()


async def lookup(client: GuardedClient, handle: str, allow_http: bool = False) -> str:
    """The actor id behind a handle, by WebFinger. Over https; plain http too only where
    the node may talk to private addresses (local federations and tests)."""
    user, host = parse_handle(handle)
    resource = quote(f"acct:{user}@{host}", safe=":@")
    last_error, last_status = "no answer", 0
    for scheme in ("https", "http") if allow_http else ("https",):
        url = f"{scheme}://{host}/.well-known/webfinger?resource={resource}"
        try:
            response = await client.get(url, headers={"Accept": JRD_MEDIA_TYPE})
        except NonPublicAddress:
            raise  # the host itself is refused: no other scheme would reach it
        except FetchError as exc:
            last_error = str(exc)
            continue
        if response.status != 200:
            last_error, last_status = f"{host} answered {response.status}", response.status
            continue
        try:
            links = strict_json.loads_object(response.body).get("links", [])
        except strict_json.BadJson as exc:
            raise NotHere(reason("webfinger.unreadable", "%(host)s sent an unreadable "
                                 "WebFinger answer: %(why)s", host=host, why=str(exc))
                          ) from None
        for link in links if isinstance(links, list) else []:
            if (isinstance(link, dict) and link.get("rel") == "self"
                    and isinstance(link.get("href"), str)
                    and str(link.get("type", "")).startswith(("application/activity+json",
                                                               "application/ld+json"))):
                return link["href"]
        raise NotHere(reason("webfinger.no_actor", "%(handle)s has no ActivityPub actor",
                             handle=handle))
    if last_status in (404, 410):
        raise UnknownAccount(reason("webfinger.unknown", "%(host)s knows no %(handle)s",
                                    host=host, handle=handle))
    raise NotHere(reason("webfinger.unreachable", "cannot look up %(handle)s: %(why)s",
                         handle=handle, why=last_error))
