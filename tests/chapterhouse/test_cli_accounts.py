"""`account`, `chapter organisers` and the password options of `member add`, as an
administrator with a shell uses them: what they print, what they store, their errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from chapterhouse.harness import new_storage_url, run_sql
from storage.timestamps import now
from tests.chapterhouse.test_cli import location, rows, run

PASSWORD = "correct horse battery"


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A node on the run's engine with the chapter dublin and its member ana."""
    data = tmp_path / "node"
    url = new_storage_url()
    storage = ["--set", f"storage.url={url}"] if url else []
    for args in (
        ("init", "--data", str(data), "--domain", "chapters.example.org", *storage),
        ("chapter", "create", "dublin", "--data", str(data), "--name", "IOPS Dublin",
         "--level", "local"),
        ("member", "add", "ana", "--data", str(data), "--chapter", "dublin",
         "--name", "Ana Byrne"),
    ):
        code, _, err = run(capsys, *args)
        assert code == 0, err
    return data


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    return path


def accounts(data: Path) -> list[tuple[Any, ...]]:
    return rows(data, "SELECT m.handle, a.is_admin, a.password_hash FROM accounts a"
                      " JOIN actors m ON m.id = a.member_id ORDER BY m.handle")


def cli(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[int, str, str]:
    return run(capsys, *args, "--data", str(data))


def test_account_create_makes_an_administrator_from_a_password_file(
    data: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, data, "account", "create", "ana", "--admin",
                       "--password-file", str(password_file))
    assert code == 0
    assert "account for @ana@chapters.example.org (administrator) created" in out
    [(handle, is_admin, hashed)] = accounts(data)
    assert handle == "ana" and bool(is_admin)
    assert hashed.startswith("$argon2id$")
    assert PasswordHasher().verify(hashed, PASSWORD)


def test_account_create_can_make_the_member_too(
    data: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, data, "account", "create", "niamh", "--admin", "--chapter",
                         "dublin", "--name", "The Administrator", "--password-file",
                         str(password_file))
    assert code == 0, err
    assert rows(data, "SELECT name FROM actors WHERE handle = 'niamh'") == [
        ("The Administrator",)]
    assert [row[0] for row in accounts(data)] == ["niamh"]


@pytest.mark.parametrize(("args", "message"), [
    (("account", "create", "nobody"), "there is no member 'nobody' on this node"),
    (("account", "create", "dublin"), "there is no member 'dublin' on this node"),
    (("account", "create", "ana", "--name", "Ana"), "--name names a new member"),
    (("account", "create", "ana", "--password-file", "/no/such/file"), "does not exist"),
    (("account", "create", "zed", "--chapter", "atlantis"), "no chapter 'atlantis'"),
    (("account", "create", "ana", "--chapter", "dublin"), "'ana' is already taken"),
])
def test_account_create_refuses_bad_input_and_writes_nothing(
    data: Path, password_file: Path, capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...], message: str,
) -> None:
    extra = () if "--password-file" in args else ("--password-file", str(password_file))
    code, _, err = cli(capsys, data, *args, *extra)
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert accounts(data) == []


def test_a_short_password_is_refused(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = tmp_path / "short"
    short.write_text("1234567\n")
    code, _, err = cli(capsys, data, "account", "create", "ana", "--password-file", str(short))
    assert code == 2 and "at least 8 characters" in err
    assert accounts(data) == []


def test_without_a_terminal_the_password_must_come_from_a_file(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, data, "account", "create", "ana")
    assert code == 2 and "--password-file" in err
    assert accounts(data) == []


def test_a_second_account_for_one_member_is_refused(
    data: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, data, "account", "create", "ana", "--password-file",
               str(password_file))[0] == 0
    code, _, err = cli(capsys, data, "account", "create", "ana", "--admin",
                       "--password-file", str(password_file))
    assert code == 2 and "'ana' already has an account" in err
    assert [bool(row[1]) for row in accounts(data)] == [False]


def test_password_file_and_link_exclude_each_other(
    data: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, data, "account", "create", "ana", "--password-link",
                       "--password-file", str(password_file))
    assert code == 2 and "not allowed with argument" in err


def test_member_add_with_a_password_or_a_one_time_link(
    data: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, data, "member", "add", "brian", "--chapter", "dublin",
                         "--password-file", str(password_file))
    assert code == 0, err
    assert "can log in" in out
    code, out, err = cli(capsys, data, "member", "add", "cara", "--chapter", "dublin",
                         "--password-link")
    assert code == 0, err
    link = out.strip().splitlines()[-1].split()[-1]
    assert link.startswith("https://chapters.example.org/password/set?token=")
    token = link.split("token=")[1]
    assert len(token) >= 40
    stored = rows(data, "SELECT token_hash FROM password_links")
    assert len(stored) == 1 and token not in stored[0][0]  # only a hash is kept
    handles = [(row[0], row[2] is None) for row in accounts(data)]
    assert handles == [("brian", False), ("cara", True)]
    # Without either option, a member has no account.
    assert cli(capsys, data, "member", "add", "dara", "--chapter", "dublin")[0] == 0
    assert [row[0] for row in accounts(data)] == ["brian", "cara"]


def test_member_add_with_a_bad_password_file_adds_no_member(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    code, _, err = cli(capsys, data, "member", "add", "brian", "--chapter", "dublin",
                       "--password-file", str(empty))
    assert code == 2 and "at least 8 characters" in err
    assert rows(data, "SELECT handle FROM actors WHERE handle = 'brian'") == []


def test_chapter_organisers_add_list_remove(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, data, "chapter", "organisers", "list", "dublin")
    assert code == 0 and "dublin has no organisers yet" in out
    assert cli(capsys, data, "member", "add", "brian", "--chapter", "dublin")[0] == 0
    for username in ("ana", "brian"):
        code, out, _ = cli(capsys, data, "chapter", "organisers", "add", "dublin", username)
        assert code == 0 and f"@{username} now organises dublin" in out
    code, out, _ = cli(capsys, data, "chapter", "organisers", "add", "dublin", "ana")
    assert code == 0 and "already organises" in out
    code, out, _ = cli(capsys, data, "chapter", "organisers", "list", "dublin")
    assert out.splitlines()[0].split() == ["HANDLE", "APPOINTED", "NAME"]
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["ana", "brian"]

    code, out, _ = cli(capsys, data, "chapter", "organisers", "remove", "dublin", "ana")
    assert code == 0 and "@ana no longer organises dublin" in out
    code, _, err = cli(capsys, data, "chapter", "organisers", "remove", "dublin", "ana")
    assert code == 2 and "'ana' is not an organiser of 'dublin'" in err
    assert rows(data, "SELECT count(*) FROM organisers") == [(1,)]


@pytest.mark.parametrize(("args", "message"), [
    (("add", "atlantis", "ana"), "there is no chapter 'atlantis'"),
    (("add", "dublin", "nobody"), "there is no member 'nobody'"),
    (("add", "dublin", "dublin"), "there is no member 'dublin'"),
    (("remove", "atlantis", "ana"), "there is no chapter 'atlantis'"),
    (("list", "atlantis"), "there is no chapter 'atlantis'"),
])
def test_chapter_organisers_refuse_bad_input(
    data: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, _, err = cli(capsys, data, "chapter", "organisers", *args)
    assert code == 2 and message in err
    assert rows(data, "SELECT count(*) FROM organisers") == [(0,)]


def test_logout_everywhere_ends_every_session(
    data: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, data, "account", "logout-everywhere", "ana")
    assert code == 2 and "there is no account for 'ana'" in err
    assert cli(capsys, data, "account", "create", "ana", "--password-file",
               str(password_file))[0] == 0
    ((ana,),) = rows(data, "SELECT id FROM actors WHERE handle = 'ana'")
    for n in range(2):
        run_sql(location(data), "INSERT INTO sessions (token_hash, account_id, csrf_secret,"
                " created_at, last_seen_at) VALUES (?, ?, 's', ?, ?)",
                [f"{n}" * 64, ana, now(), now()])
    code, out, _ = cli(capsys, data, "account", "logout-everywhere", "ana")
    assert code == 0 and "2 session(s) ended" in out
    assert rows(data, "SELECT count(*) FROM sessions") == [(0,)]


def test_the_password_is_asked_for_twice_on_a_terminal(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: list[str] = []
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: answers.pop(0))
    answers[:] = [PASSWORD, "something else"]
    code, _, err = cli(capsys, data, "account", "create", "ana", "--admin")
    assert code == 2 and "the two passwords are not the same" in err
    assert accounts(data) == []
    answers[:] = [PASSWORD, PASSWORD]
    assert cli(capsys, data, "account", "create", "ana", "--admin")[0] == 0
    assert PasswordHasher().verify(accounts(data)[0][2], PASSWORD)
