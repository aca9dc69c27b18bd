"""Projects as pages show them: the status in the reader's language, and who takes part
(local members by name, linking to their page; people elsewhere by their address)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from chapterhouse.reasons import N_
from federation.urls import Urls
from storage import actors as actor_store
from storage import projects as store
from storage.database import Reader
from web import i18n

# A project's status as people read it; worded in the reader's language where shown.
STATUS_LABELS = {
    "proposed": N_("Proposed"),
    "active": N_("Active"),
    "finished": N_("Finished"),
}
status_label = i18n.lazy_label(STATUS_LABELS)


@dataclass(frozen=True)
class ParticipantView:
    name: str
    link: str | None  # a member's page here, or the actor's address elsewhere
    handle: str  # @ana (a member here) or @ana@b.example


def _elsewhere(iri: str) -> tuple[str, str]:
    """A fallback name and handle for an actor this node never fetched: the last part of
    its address and its host."""
    parts = urlsplit(iri)
    name = parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.netloc
    return name, f"@{name}@{parts.netloc}"


async def member_view(db: Reader, handle: str) -> ParticipantView:
    """A member of this node, by name, linking to their page."""
    member = await actor_store.actor_by_handle(db, handle)
    return ParticipantView(member.name if member else handle, f"/@{handle}", f"@{handle}")


async def participant_views(db: Reader, urls: Urls, item_id: int) -> list[ParticipantView]:
    views = []
    prefix = urls.actor("")
    for person in await store.participants(db, item_id):
        if person.iri.startswith(prefix):
            views.append(await member_view(db, person.iri.removeprefix(prefix)))
            continue
        views.append(_remote(person.iri, person))
    return views


def _remote(iri: str, known: store.Participant | None) -> ParticipantView:
    """Someone elsewhere: by the name and address their server gave, when this node
    fetched them, else by their id's last part and host."""
    fallback, address = _elsewhere(iri)
    name = fallback
    if known is not None:
        name = known.name or known.username or fallback
        if known.username and known.host:
            address = f"@{known.username}@{known.host}"
    link = iri if iri.startswith(("https://", "http://")) else None
    return ParticipantView(name, link, address)


async def remote_participant_views(urls: Urls, db: Reader, project: str, iris: list[str]
                                   ) -> list[ParticipantView]:
    """Who takes part in a project of another node, from the ids its document lists. That
    node vouches for people elsewhere, not for our members: one of ours is shown only if
    their Join went from here."""
    views = []
    prefix = urls.actor("")
    known = await store.known_actors(db, [i for i in iris if not i.startswith(prefix)])
    ours = await store.members_who_joined(db, project)
    for iri in iris:
        if iri.startswith(prefix):
            if iri.removeprefix(prefix) in ours:
                views.append(await member_view(db, iri.removeprefix(prefix)))
        elif iri.startswith(("https://", "http://")):
            views.append(_remote(iri, known.get(iri)))
    return views
