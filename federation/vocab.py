"""The JSON-LD vocabulary we speak: context URLs, our own namespace, the inline term map.

Terms AS2 lacks are defined inline in every document's `@context`, so a peer never has to
fetch a context document from us (strict peers such as Fedify fail on contexts they
cannot load). FEDERATION.md documents each term; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Any

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_V1 = "https://w3id.org/security/v1"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"

AS2_MEDIA_TYPE = "application/activity+json"
LD_MEDIA_TYPE = f'application/ld+json; profile="{AS_CONTEXT}"'

# Our namespace IRI. It names terms; nothing is served from it and nothing needs to be.
NAMESPACE = "https://chapterhouse.network/ns#"

# Our own terms (prefix `chapterhouse:`), described in FEDERATION.md.
CHAPTERHOUSE_TERMS: dict[str, Any] = {
    "chapterhouse": NAMESPACE,
    "level": "chapterhouse:level",
    "parent": {"@id": "chapterhouse:parent", "@type": "@id"},
    "subchapters": {"@id": "chapterhouse:subchapters", "@type": "@id"},
    "memberOf": {"@id": "chapterhouse:memberOf", "@type": "@id"},
    "about": "chapterhouse:about",
    # A chapter's members, as a count only: {"type": "Collection", "totalItems": n}.
    "members": "chapterhouse:members",
}

# A project's terms (FEDERATION.md): its status (proposed, active or finished), the member
# who started it (an id) and who takes part: {"type": "Collection", "totalItems": n,
# "items": [ids]}.
PROJECT_TERMS: dict[str, Any] = {
    "projectStatus": "chapterhouse:projectStatus",
    "startedBy": {"@id": "chapterhouse:startedBy", "@type": "@id"},
    "participants": {"@id": "chapterhouse:participants"},
}

# A decision's terms (FEDERATION.md): how it is counted, who has a say, and each chapter's
# signed tally as it climbs the hierarchy.
DECISION_TERMS: dict[str, Any] = {
    "Tally": "chapterhouse:Tally",
    "countMethod": "chapterhouse:countMethod",
    "electorateSize": "chapterhouse:electorateSize",
    "scope": {"@id": "chapterhouse:scope", "@type": "@id"},
    "eligible": "chapterhouse:eligible",
    "voters": "chapterhouse:voters",
    "ballots": {"@id": "chapterhouse:ballots"},
    "final": "chapterhouse:final",
    "late": "chapterhouse:late",
    "breakdown": {"@id": "chapterhouse:breakdown"},
    "chapter": {"@id": "chapterhouse:chapter", "@type": "@id"},
    "weightedVotes": "chapterhouse:weightedVotes",
    "resultFinal": "chapterhouse:resultFinal",
    # On a Tally: the chapters that were below its chapter when the decision opened.
    "subchapters": CHAPTERHOUSE_TERMS["subchapters"],
}

# Terms from Mastodon's namespace and ActivityStreams extensions that Mastodon reads.
MASTODON_TERMS: dict[str, Any] = {
    "toot": "http://joinmastodon.org/ns#",
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
}

# FEP-521a puts Multikeys under `assertionMethod`; neither security/v1 nor multikey/v1
# defines that term, so it is defined here with the IRI the DID and CID contexts use.
KEY_TERMS: dict[str, Any] = {
    "assertionMethod": {
        "@id": "https://w3id.org/security#assertionMethod",
        "@type": "@id",
        "@container": "@set",
    },
}

ACTOR_CONTEXT: list[Any] = [
    AS_CONTEXT,
    SECURITY_V1,
    MULTIKEY_V1,
    {**MASTODON_TERMS, **KEY_TERMS, **CHAPTERHOUSE_TERMS},
]

COLLECTION_CONTEXT: list[Any] = [AS_CONTEXT]
