"""Mail from an administrator's shell: `account reset-link`, `--email`, and the `[mail]`
section of the configuration and its refusals."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from chapterhouse.config import ConfigError, example_text, parse
from chapterhouse.harness import run_sql
from storage.timestamps import now
from tests.chapterhouse.test_cli import location, rows
from tests.chapterhouse.test_cli_accounts import cli, data, password_file
from tests.web.test_mail import free_port

__all__ = ["data", "password_file"]  # fixtures, shared with test_cli_accounts


def test_reset_link_prints_a_one_time_link_and_keeps_the_password(
    data: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, data, "account", "create", "ana", "--password-file",
               str(password_file))[0] == 0
    code, out, err = cli(capsys, data, "account", "reset-link", "ANA")
    assert code == 0, err
    assert "@ana sets a new password at this link, once, within 7 days" in out
    assert "https://chapters.example.org/password/set?token=" in out
    [(count, used)] = rows(data, "SELECT count(*), count(used_at) FROM password_links")
    assert (count, used) == (1, 0)
    [(hashed,)] = rows(data, "SELECT password_hash FROM accounts")
    assert hashed is not None  # the old password works until the link is used


def test_reset_link_gives_an_account_to_a_member_without_one(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, data, "account", "reset-link", "ana")
    assert code == 0, err
    assert rows(data, "SELECT password_hash FROM accounts") == [(None,)]


def test_reset_link_for_nobody_is_refused(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, data, "account", "reset-link", "nobody")
    assert code == 2 and "there is no member 'nobody' on this node" in err
    assert rows(data, "SELECT count(*) FROM password_links") == [(0,)]


def test_email_is_kept_with_the_account(
    data: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, data, "account", "create", "ana", "--password-file",
                       str(password_file), "--email", "ana@example.org")
    assert code == 0, err
    code, out, err = cli(capsys, data, "member", "add", "brian", "--chapter", "dublin",
                         "--email", "brian@example.org")
    assert code == 0, err
    assert "/password/set?token=" in out  # an account, its password set from a link
    assert rows(data, "SELECT a.email FROM accounts a JOIN actors m ON m.id = a.member_id"
                      " ORDER BY m.handle") == [("ana@example.org",), ("brian@example.org",)]
    code, _, err = cli(capsys, data, "member", "add", "cara", "--chapter", "dublin",
                       "--email", "cara@example.org, eve@example.org")
    assert code == 2 and "--email" in err
    assert rows(data, "SELECT count(*) FROM actors WHERE handle = 'cara'") == [(0,)]


MAIL = {"host": "smtp.example.org", "sender": "chapters@example.org"}


def test_without_a_mail_section_the_node_sends_no_mail() -> None:
    assert parse(tomllib.loads(example_text()), Path("/d")).mail is None


def test_mail_defaults_and_a_password_from_a_file(tmp_path: Path) -> None:
    config = parse({"node": {"domain": "a.example"}, "mail": MAIL}, tmp_path)
    assert config.mail is not None
    assert (config.mail.port, config.mail.tls, config.mail.username) == (587, "starttls", None)
    (tmp_path / "smtp-password").write_text("s3cret pass\nignored\n")
    config = parse({"node": {"domain": "a.example"}, "mail": {
        **MAIL, "tls": "tls", "username": "chapters", "password_file": "smtp-password"}},
        tmp_path)
    assert config.mail is not None
    assert (config.mail.port, config.mail.password) == (465, "s3cret pass")
    assert "s3cret" not in repr(config)  # never in a log line that prints the config


@pytest.mark.parametrize(("mail", "reason"), [
    ({"sender": "a@b.example"}, "mail.host is required"),
    ({"host": "smtp.example.org"}, "mail.sender is required"),
    ({**MAIL, "sender": "chapters"}, "mail.sender must be an address"),
    ({**MAIL, "tls": "ssl"}, "mail.tls must be one of none, starttls, tls"),
    ({**MAIL, "port": 0}, "mail.port must be a whole number from 1 to 65535"),
    ({**MAIL, "username": "u"}, "mail.username needs mail.password_file"),
    ({**MAIL, "password_file": "p"}, "mail.password_file needs mail.username"),
    ({**MAIL, "username": "u", "password_file": "missing"}, "does not exist"),
    ({**MAIL, "password": "inline"}, "unknown key mail.password"),
])
def test_bad_mail_settings_name_the_key(tmp_path: Path, mail: dict[str, object],
                                        reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse({"node": {"domain": "a.example"}, "mail": mail}, tmp_path)


def with_mail(data: Path, port: int) -> None:
    with (data / "config.toml").open("a") as config:
        config.write(f'\n[mail]\nhost = "127.0.0.1"\nport = {port}\ntls = "none"\n'
                     'sender = "chapters@chapters.example.org"\n')


def test_mail_test_sends_one_mail_now(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    received: list[tuple[list[str], bytes]] = []

    class Handler:
        async def handle_DATA(self, server: object, session: object,
                              envelope: Envelope) -> str:
            assert isinstance(envelope.content, bytes)
            received.append((list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    port = free_port()
    with_mail(data, port)
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        code, out, err = cli(capsys, data, "mail", "test", "ana@example.org")
    finally:
        controller.stop()
    assert code == 0, err
    assert f"sent to ana@example.org through 127.0.0.1:{port} (none)" in out
    ((to, content),) = received
    assert to == ["ana@example.org"]
    assert b"Subject: A test mail from Chapterhouse" in content
    assert rows(data, "SELECT count(*) FROM outgoing_mail") == [(0,)]  # not queued


def test_mail_test_says_why_it_was_not_sent(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, data, "mail", "test", "ana@example.org")
    assert code == 2 and "this node sends no mail" in err
    with_mail(data, free_port())  # nothing listens there
    code, _, err = cli(capsys, data, "mail", "test", "ana@example.org")
    assert code == 1 and "not sent" in err and "Connection refused" in err


def test_mail_list_shows_what_waits_and_what_was_given_up(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, data, "mail", "list")
    assert code == 0 and "no mail waits" in out
    when = now()
    for recipient, sent, failed, error in (
            ("ana@example.org", None, None, "421 4.3.2 try later"),
            ("bounce@example.org", None, when, "550 5.1.1 no such mailbox"),
            ("cara@example.org", when, None, None)):
        run_sql(location(data), "INSERT INTO outgoing_mail (recipient, subject, body,"
                " created_at, attempts, next_attempt_at, sent_at, failed_at, last_error)"
                " VALUES (?, 'Hello', 'Text', ?, 1, ?, ?, ?, ?)",
                (recipient, when, when if sent is None and failed is None else None, sent,
                 failed, error))
    code, out, _ = cli(capsys, data, "mail", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "STATE", "ATTEMPTS", "QUEUED", "TO", "SUBJECT", "LAST",
                                "ERROR"]
    assert "waiting" in lines[1] and "421 4.3.2 try later" in lines[1]
    assert "given up" in lines[2] and "550 5.1.1" in lines[2]
    assert len(lines) == 3
    code, out, _ = cli(capsys, data, "mail", "list", "--all")
    assert "sent" in out.splitlines()[3] and "cara@example.org" in out


def test_starttls_is_required_when_configured(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class Handler:
        async def handle_DATA(self, server: object, session: object,
                              envelope: Envelope) -> str:
            raise AssertionError("a mail went out in clear text")

    port = free_port()
    with (data / "config.toml").open("a") as config:
        config.write(f'\n[mail]\nhost = "127.0.0.1"\nport = {port}\ntls = "starttls"\n'
                     'sender = "chapters@chapters.example.org"\n')
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        code, _, err = cli(capsys, data, "mail", "test", "ana@example.org")
    finally:
        controller.stop()
    assert code == 1 and "STARTTLS extension not supported" in err
