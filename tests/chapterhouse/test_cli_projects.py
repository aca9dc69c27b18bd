"""`chapterhouse project create`: a chapter's project, started by one of its members, with
the web's validation; a bad status or a member of another chapter ends with one line and
exit 2, and nothing is made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.chapterhouse.test_cli import Init, rows, run
from tests.chapterhouse.test_cli import init as init  # the fixture, used by name


def test_a_member_starts_a_project_from_the_command_line(
    tmp_path: Path, init: Init, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path) + "/n"
    assert init(data, "--domain", "chapters.example.org")[0] == 0
    for args in (("chapter", "create", "dublin", "--name", "IOPS Dublin", "--level", "local"),
                 ("chapter", "create", "cork", "--name", "IOPS Cork", "--level", "local"),
                 ("member", "add", "ana", "--chapter", "dublin"),
                 ("member", "add", "cian", "--chapter", "cork")):
        assert run(capsys, *args[:2], args[2], "--data", data, *args[3:])[0] == 0

    code, _, err = run(capsys, "project", "create", "--data", data, "--chapter", "dublin",
                       "--member", "ana", "--title", "Tool-share", "--status", "someday")
    assert code == 2 and "status 'someday' is not one of proposed, active, finished" in err
    code, _, err = run(capsys, "project", "create", "--data", data, "--chapter", "dublin",
                       "--member", "cian", "--title", "Tool-share")
    assert code == 2 and "cian is not a member of dublin" in err
    assert rows(data, "SELECT count(*) FROM items") == [(0,)]

    body = tmp_path / "body.md"
    body.write_text("Lend and borrow **tools**.")
    code, out, _ = run(capsys, "project", "create", "--data", data, "--chapter", "dublin",
                       "--member", "ana", "--title", "Tool-share", "--status", "active",
                       "--body-file", str(body))
    assert code == 0
    iri = out.strip()
    assert iri.startswith("https://chapters.example.org/objects/")
    [(status, starter)] = rows(data, "SELECT project_status, started_by FROM items")
    assert (status, starter) == ("active", "ana")
    [(document,)] = rows(data, f"SELECT document FROM objects WHERE iri = '{iri}'")
    sent = json.loads(document)
    assert sent["attributedTo"] == "https://chapters.example.org/actors/dublin"
    assert sent["participants"]["items"] == ["https://chapters.example.org/actors/ana"]
    assert rows(data, "SELECT participant FROM event_participants") == [
        ("https://chapters.example.org/actors/ana",)]
