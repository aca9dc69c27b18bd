from __future__ import annotations

import pytest

from web.negotiation import activity_media_type

AS2 = "application/activity+json"
LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


@pytest.mark.parametrize("accept,expected", [
    (None, None), ("", None), ("*/*", None), ("text/html", None),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", None),
    (AS2, AS2), (LD, LD), ("application/ld+json", LD), ("application/json", AS2),
    ("application/activity+json, application/ld+json", AS2),  # what Mastodon sends
    ("application/activity+json;q=0.2, text/html", None),
    ("application/activity+json, */*", AS2),
    ("APPLICATION/ACTIVITY+JSON", AS2),
    ("application/activity+json;q=nonsense", None),
])
def test_activity_media_type(accept: str | None, expected: str | None) -> None:
    assert activity_media_type(accept) == expected
