"""What a person sees of news, blog posts, minutes, events and polls: the home page, a
chapter's page and each item's own page, with the replies that came from the fediverse."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from tests.nodes import Node
from tests.web.conftest import AS2, BROWSER, NOTE_REPLIES, Site
from web.i18n import human_date

BLOCKS = {"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "section",
          "article", "header", "footer", "main", "br", "meter"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("head", "script", "style"):
            self.hidden += 1
        elif tag in BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "script", "style"):
            self.hidden -= 1
        elif tag in BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(page: str) -> str:
    """The page's text as a reader sees it: no markup, whitespace collapsed."""
    parser = _Text()
    parser.feed(page)
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip()


def html_page(node: Node, path: str) -> str:
    response = node.get(path, accept=BROWSER)
    assert response.status == 200, (path, response.text)
    assert response.content_type.startswith("text/html")
    return response.text


def section(text: str, heading: str, next_heading: str) -> str:
    """The visible text between two headings."""
    start = text.index(heading)
    return text[start:text.index(next_heading, start)]


def test_home_page_shows_every_kind_across_the_node(site: Site) -> None:
    # In the order of the organisation's own home page: news, minutes, projects, events,
    # blogs, chapters, the poll; then the newest members.
    text = visible_text(html_page(site.node, "/"))
    news = section(text, "Latest news", "Latest minutes")
    assert "Bookfair this Saturday" in news and "Posted by mistake" not in news
    events = section(text, "Upcoming events", "Latest blogs")
    assert "Call with New York" in events and "Autumn bookfair" in events
    assert events.index("Call with New York") < events.index("Autumn bookfair")  # soonest first
    assert "Winter social 2020" not in events  # over
    assert "Cancelled march" not in events  # deleted
    assert "Thursday 12 September 2030, 14:00 – 17:30 (Europe/Dublin)" in events
    assert "Teachers' Club, 36 Parnell Square" in events
    blogs = section(text, "Latest blogs", "Newest chapters")
    assert "Why we organise" in blogs and "Notes from a member" in blogs
    assert "by Ana Byrne" in blogs
    minutes = section(text, "Latest minutes", "Newest projects")
    assert "Minutes from August meeting" in minutes and "meeting of 25 August 2026" in minutes
    poll = section(text, "Poll Should", "Newest members")
    assert "Should IOPS start a global party?" in poll  # the open poll, not the closed one
    assert "Total: 3" in poll and "Total number of voters: 3" in poll
    assert "Closes on 1 December 2030, 18:00 UTC" in poll
    assert "IOPS Galway" in section(text, "Newest chapters", "Poll Should")
    assert "Ana Byrne" in text[text.index("Newest members"):]


def test_chapter_page_lists_only_the_chapters_items(site: Site) -> None:
    page = html_page(site.node, "/@dublin")
    text = visible_text(page)
    for title in ("Bookfair this Saturday", "Why we organise", "Minutes from August meeting",
                  "Autumn bookfair", "Call with New York", "Should IOPS start a global party?"):
        assert title in text, title
    assert "Notes from a member" not in text  # ana's, not the chapter's
    assert "Organising and bookfairs in Dublin." in text and "Ana Byrne" in text
    poll = section(text, "Poll", "Members")
    assert "Yes 2 votes (67%)" in poll and "No 1 vote (33%)" in poll
    assert "Not yet 0 votes (0%)" in poll
    feed = f"{site.node.base}/actors/dublin/feed.atom"
    assert (f'<link rel="alternate" type="application/atom+xml" title="IOPS Dublin" '
            f'href="{feed}">') in page
    assert f'href="{site.node.base}/actors/dublin/events.ics"' in page
    # The same page at the actor URL, for a browser.
    assert visible_text(html_page(site.node, "/actors/dublin")) == text


def test_a_chapter_with_nothing_yet_says_so(site: Site) -> None:
    text = visible_text(html_page(site.node, "/@galway"))
    for empty in ("No news yet.", "No events found.", "No blog posts yet.", "No minutes yet.",
                  "No polls yet."):
        assert empty in text, empty


def test_member_page_lists_what_the_member_wrote(site: Site) -> None:
    text = visible_text(html_page(site.node, "/@ana"))
    assert "Blog post Notes from a member" in text
    assert "Bookfair this Saturday" not in text


def test_member_page_lists_the_member_s_notes(site: Site) -> None:
    node = site.node
    added = node.cli("member", "add", "cian", "--chapter", "galway", "--name", "Cian Walsh")
    assert added.returncode == 0, added.stderr
    posted = []
    for text in ("Leaflets are at the printer.\n\nPick them up on Friday.", "Sent by mistake."):
        result = node.cli("post", "note", text, "--member", "cian")
        assert result.returncode == 0, result.stderr
        posted.append(result.stdout.strip())
    assert node.cli("delete", posted[1]).returncode == 0
    page = html_page(node, "/@cian")
    posts = visible_text(page)[visible_text(page).index("Posts"):]
    assert "Nothing published yet." not in posts
    assert "Note Leaflets are at the printer. Pick them up on Friday. by Cian Walsh" in posts
    assert f'href="{posted[0]}"' in page
    assert "Sent by mistake." not in posts


def test_news_page_has_title_author_date_body_and_replies(site: Site) -> None:
    page = html_page(site.node, site.path("news"))
    published = site.node.get(site.path("news"), accept=AS2).json()["published"]
    text = visible_text(page)
    assert "<title>Bookfair this Saturday" in page
    assert "News Bookfair this Saturday by IOPS Dublin" in text
    assert human_date(published) in text
    assert '<a href="/@dublin">IOPS Dublin</a>' in page
    assert "<strong>Bring</strong> your books." in page
    assert "<script>" not in page  # neither ours (Markdown) nor a reply's
    replies = text[text.index("Replies"):]
    assert replies.startswith("Replies 2")  # the deleted one is gone
    assert "Zoë Quinn @zoe@social.example · 2 November 2026 Great news, see you!" in replies
    assert "Mal @mal@social.example" in replies and "Count me in" in replies
    assert "gone" not in replies
    assert '<a href="https://social.example/users/zoe" rel="nofollow noopener">' in page
    assert "<strong>see you</strong>" in page
    vary = site.node.get(site.path("news"), accept=BROWSER).headers["vary"]
    assert vary == "Accept, Cookie, Accept-Language"


def test_blog_page_by_a_member_links_the_member(site: Site) -> None:
    page = html_page(site.node, site.path("member_blog"))
    assert '<a href="/@ana">Ana Byrne</a>' in page
    assert "Blog post Notes from a member by Ana Byrne" in visible_text(page)


def test_minutes_page_has_the_meeting_date(site: Site) -> None:
    text = visible_text(html_page(site.node, site.path("minutes")))
    assert "Minutes of the meeting of 25 August 2026" in text
    assert "Keynes Bookfair planning" in text


def test_event_page_says_when_where_and_who_comes(site: Site) -> None:
    page = html_page(site.node, site.path("event"))
    text = visible_text(page)
    assert "Event Autumn bookfair by IOPS Dublin" in text
    assert "When Thursday 12 September 2030, 14:00 – 17:30 (Europe/Dublin)" in text
    assert '<time datetime="2030-09-12T14:00:00+01:00">' in page
    assert "Where Teachers' Club, 36 Parnell Square" in text
    assert "Capacity 40 places · 38 left" in text
    assert "Participants 2" in text
    assert "Books, zines and tea." in text and "<strong>free</strong>" in page
    assert f'<a href="{site.ids["event"]}.ics" download>' in page
    assert "Replies 0" in text


def test_online_event_page_links_the_meeting_in_its_own_zone(site: Site) -> None:
    page = html_page(site.node, site.path("online_event"))
    text = visible_text(page)
    assert "When Tuesday 15 January 2030, 19:00 – 20:00 (America/New_York)" in text
    assert "Where Online" in text
    assert '<a href="https://meet.example/iops" rel="nofollow noopener">' in page
    assert "Capacity" not in text and "Participants 0" in text


def test_past_event_still_has_its_page(site: Site) -> None:
    text = visible_text(html_page(site.node, site.path("past_event")))
    assert "When Friday 10 January 2020, 19:00 (Europe/Dublin)" in text


def test_poll_page_shows_totals_voters_and_closing(site: Site) -> None:
    text = visible_text(html_page(site.node, site.path("poll")))
    assert "Poll Should IOPS start a global party?" in text
    assert "Yes 2 votes (67%) No 1 vote (33%) Not yet 0 votes (0%)" in text
    assert "Total: 3 · Total number of voters: 3" in text
    assert "Closes on 1 December 2030, 18:00 UTC" in text
    assert "To vote" in text


def test_closed_poll_says_closed(site: Site) -> None:
    text = visible_text(html_page(site.node, site.path("closed_poll")))
    assert "Closed on 1 November 2026, 12:00 UTC" in text
    assert "Total: 0" in text and "To vote" not in text


def test_note_keeps_its_simple_page_with_replies(site: Site) -> None:
    page = html_page(site.node, site.path("note"))
    text = visible_text(page)
    assert "Thanks to everyone who came!" in text
    assert "0 likes · 0 boosts" in text
    assert f"Replies {NOTE_REPLIES}" in text and "reply 19" in text
    # One page of replies at a time: the last one is on the next page, a link away.
    assert "reply 20" not in text
    later = re.search(r'<a href="([^"]+)" rel="next">Later replies</a>', page)
    assert later is not None
    text = visible_text(html_page(site.node, html.unescape(later[1])))
    assert f"Replies {NOTE_REPLIES}" in text and "reply 20" in text and "reply 19" not in text
    assert "Earlier replies" in text and "Later replies" not in text


@pytest.mark.parametrize("name", ["news", "event", "poll", "note"])
def test_servers_still_get_as2_at_the_same_url(site: Site, name: str) -> None:
    response = site.node.get(site.path(name), accept=AS2)
    assert response.status == 200
    assert response.content_type == AS2
    document = response.json()
    assert document["id"] == site.ids[name]
    assert response.headers["vary"] == "Accept, Cookie, Accept-Language"


@pytest.mark.parametrize("name", ["deleted_news", "deleted_event"])
def test_deleted_items_stay_gone(site: Site, name: str) -> None:
    assert site.node.get(site.path(name), accept=BROWSER).status == 410
    gone = site.node.get(site.path(name), accept=AS2)
    assert gone.status == 410 and gone.json()["type"] == "Tombstone"
    assert site.node.get(site.path(name, "/replies"), accept=AS2).status == 410
    assert site.node.get(site.path(name, ".ics")).status == 410


def test_replies_collection_pages_the_reply_ids(site: Site) -> None:
    node, base = site.node, f"{site.ids['note']}/replies"
    collection = node.get(site.path("note", "/replies"), accept=AS2)
    assert collection.status == 200 and collection.content_type == AS2
    doc = collection.json()
    assert doc["type"] == "OrderedCollection" and doc["id"] == base
    assert doc["totalItems"] == NOTE_REPLIES
    assert doc["first"] == f"{base}?page=true"
    first = node.get(site.path("note", "/replies?page=true"), accept=AS2).json()
    assert first["type"] == "OrderedCollectionPage" and first["partOf"] == base
    assert first["next"].startswith(f"{base}?cursor=") and "prev" not in first
    second = node.get(first["next"].removeprefix(node.base), accept=AS2).json()
    assert second["prev"].startswith(f"{base}?cursor=") and "next" not in second
    ids = first["orderedItems"] + second["orderedItems"]
    assert ids == [f"https://social.example/users/zoe/statuses/{100 + n}"
                   for n in range(NOTE_REPLIES)]  # in the order they arrived
    assert node.get(site.path("note", "/replies?page=2"), accept=AS2).status == 404
    assert node.get(site.path("note", "/replies?page=0"), accept=AS2).status == 400


def test_replies_collection_counts_live_replies_only(site: Site) -> None:
    doc = site.node.get(site.path("news", "/replies?page=1"), accept=AS2).json()
    assert doc["orderedItems"] == ["https://social.example/users/zoe/statuses/1",
                                   "https://social.example/users/mal/statuses/3"]
    empty = site.node.get(site.path("event", "/replies"), accept=AS2).json()
    assert empty["totalItems"] == 0
    # The collection every item document names is the one served.
    document = site.node.get(site.path("event"), accept=AS2).json()
    assert document["replies"] == empty["id"]


UNKNOWN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("path", [
    f"/objects/{UNKNOWN}", f"/objects/{UNKNOWN}/replies", f"/objects/{UNKNOWN}.ics",
    f"/objects/{UNKNOWN}.ICS", f"/objects/{UNKNOWN}/replies/extra", "/objects/xyz.ics",
    f"/objects/{UNKNOWN}.atom", "/actors/nobody/feed.atom", "/actors/nobody/events.ics",
    "/actor/feed.atom", "/actors/dublin/feed.rss", "/@nobody",
])
def test_unknown_things_are_404(site: Site, path: str) -> None:
    for accept in (BROWSER, AS2, None):
        response = site.node.get(path, accept=accept)
        assert response.status == 404, (path, accept)
        assert "Traceback" not in response.text


@pytest.mark.parametrize("name", ["news", "poll", "note"])
def test_only_events_have_an_ics(site: Site, name: str) -> None:
    response = site.node.get(site.path(name, ".ics"))
    assert response.status == 404
    assert response.json()["error"]
