"""`chapterhouse page set|list`: the organisation's pages from the shell (what `make run`
seeds), one language at a time, and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chapterhouse.test_cli import rows
from tests.chapterhouse.test_cli_accounts import cli, data

__all__ = ["data"]  # the fixture, shared with test_cli_accounts

TEXTS = ("SELECT p.slug, p.in_navigation, t.language, t.title, t.body, t.body_html"
         " FROM pages p JOIN page_texts t ON t.page_id = p.id ORDER BY p.slug, t.language")


def test_page_set_writes_one_language_at_a_time_and_keeps_the_others(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    english, esperanto = tmp_path / "about.en.md", tmp_path / "about.eo.md"
    english.write_text("We were founded in **2012**.\n", encoding="utf-8")
    esperanto.write_text("Ni estis fonditaj en **2012**.\n", encoding="utf-8")
    code, out, err = cli(capsys, data, "page", "set", "--slug", "about", "--language", "en",
                         "--title", "About us", "--navigation", "--file", str(english))
    assert code == 0, err
    assert out.strip() == "https://chapters.example.org/pages/about (en): About us"
    code, _, err = cli(capsys, data, "page", "set", "--slug", "about", "--language", "eo",
                       "--title", "Pri ni", "--file", str(esperanto))
    assert code == 0, err
    found = [(slug, bool(nav), lang, title, body, html)
             for slug, nav, lang, title, body, html in rows(data, TEXTS)]
    assert found == [
        ("about", True, "en", "About us", "We were founded in **2012**.",
         "<p>We were founded in <strong>2012</strong>.</p>"),
        ("about", True, "eo", "Pri ni", "Ni estis fonditaj en **2012**.",
         "<p>Ni estis fonditaj en <strong>2012</strong>.</p>")]
    code, out, _ = cli(capsys, data, "page", "list")
    assert code == 0 and "about" in out and "en,eo" in out and "About us / Pri ni" in out
    # A chapter's page belongs to the chapter, not to the node.
    code, out, err = cli(capsys, data, "page", "set", "--chapter", "dublin", "--slug",
                         "resources", "--language", "en", "--title", "Resources",
                         "--file", str(english))
    assert code == 0, err
    assert "https://chapters.example.org/@dublin/pages/resources" in out
    [(kind,)] = rows(data, "SELECT a.kind FROM pages p JOIN actors a ON a.id = p.actor_id"
                           " WHERE p.slug = 'resources'")
    assert kind == "chapter"


@pytest.mark.parametrize(("args", "reason"), [
    (("--slug", "Not a slug"), "--slug: 1 to 60 small letters"),
    (("--slug", "new"), "--slug: 1 to 60 small letters"),
    (("--slug", "about", "--chapter", "nowhere"), "--chapter: no chapter 'nowhere'"),
    (("--slug", "about", "--title", " "), "--title: 1 to 200 characters"),
    (("--slug", "about", "--title", "A\x07B"), "--title: no control characters"),
])
def test_page_set_refuses_bad_input_and_writes_nothing(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
    reason: str
) -> None:
    text = tmp_path / "text.md"
    text.write_text("Some text.\n", encoding="utf-8")
    options = {"--title": "About", **dict(zip(args[::2], args[1::2], strict=True))}
    flat = [item for pair in options.items() for item in pair]
    code, _, err = cli(capsys, data, "page", "set", "--language", "en", *flat,
                       "--file", str(text))
    assert code == 2 and reason in err
    assert rows(data, "SELECT id FROM pages") == []
