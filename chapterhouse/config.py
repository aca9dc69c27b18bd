"""The node's configuration: one TOML file in the data directory, validated on load.

Every key must appear in config.example.toml (a test holds the two together), so an
operator's typo is an error at start rather than a setting that silently does nothing.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chapterhouse.reasons import N_
from storage.database import Location, is_postgres

CONFIG_FILE = "config.toml"

_HOST_RE = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("console", "json")
MAIL_TLS_PORTS = {"none": 25, "starttls": 587, "tls": 465}


# The languages the site is translated into (web/i18n.py's LANGUAGES; kept here so that
# reading a config does not load the web).
SITE_LANGUAGES = ("en", "eo")


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the key."""


@dataclass(frozen=True)
class MailConfig:
    """`[mail]`: how the node hands its mail to an SMTP server."""

    host: str
    port: int
    tls: str  # "none", "starttls" (upgrade after connecting) or "tls" (TLS from the start)
    sender: str  # the From address
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # read from password_file
    max_attempts: int = 10
    backoff_scale: float = 1.0


@dataclass(frozen=True)
class Config:
    data_dir: Path
    domain: str
    scheme: str
    name: str
    listen_host: str
    listen_port: int
    database: Location  # a SQLite file, or a postgresql:// URL (`[storage] url`)
    log_format: str
    log_level: str
    allow_private_addresses: bool = False
    signature_window_seconds: int = 3600
    authorized_fetch: bool = False
    delivery_concurrency: int = 50
    delivery_max_attempts: int = 17
    delivery_backoff_scale: float = 1.0
    delivery_unavailable_after: int = 10
    accept_subchapters_from: frozenset[str] = frozenset()
    # Decisions: a chapter's tally waits this long for more ballots before it goes up, and
    # a tally that reaches the deciding chapter later than this after the close is late.
    tally_debounce_seconds: float = 5.0
    late_tally_grace_seconds: int = 3600
    keep_delivered_days: int = 7
    keep_received_days: int = 14
    session_idle_days: int = 14
    commitments: str = ""
    mail: MailConfig | None = None  # None: the node sends no mail
    language: str = "en"  # the site's language for a visitor whose browser names none of ours
    time_zone: str = "UTC"  # moments on pages (not events') for readers who chose no zone

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def hostname(self) -> str:
        """The domain without its port."""
        return split_host_port(self.domain, default_port=None)[0]


def example_text() -> str:
    return resources.files("chapterhouse").joinpath("config.example.toml").read_text("utf-8")


def split_host_port(value: str, default_port: int | None) -> tuple[str, int | None]:
    """Split "host", "host:port", "[v6]:port"; raise ConfigError with a reason."""
    value = value.strip()
    if not value:
        raise ConfigError("is empty")
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ConfigError(f"{value!r} has an unclosed '['")
        host, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ConfigError(f"{value!r} is not HOST[:PORT]")
        port_text = rest[1:] if rest else None
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    elif ":" in value:
        raise ConfigError(f"{value!r}: write an IPv6 address as [ADDR]:PORT")
    else:
        host, port_text = value, None
    if port_text is None:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"{value!r} has an invalid port {port_text!r}")
    return host, int(port_text)


def validate_domain(domain: str) -> str:
    """A domain as it appears in ids and handles: lower-case host, optional port."""
    host, _port = split_host_port(domain, default_port=None)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != host.lower():
            raise ConfigError(f"domain {domain!r} must be lower case") from None
        if not _HOST_RE.match(host):
            raise ConfigError(f"domain {domain!r} is not a valid host name") from None
    else:
        if ":" in host:
            raise ConfigError(f"domain {domain!r}: IPv6 literals are not supported as a domain")
    return domain


def _section(raw: dict[str, Any], name: str, keys: set[str]) -> dict[str, Any]:
    section = raw.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"[{name}] must be a table")
    unknown = set(section) - keys
    if unknown:
        raise ConfigError(f"unknown key {name}.{sorted(unknown)[0]} (see config.example.toml)")
    return section


# What a person joining a chapter agrees to, unless the administrator words it otherwise.
# In the catalogue, so that the join form shows it in the reader's language while an
# administrator has not worded it otherwise (their own text is shown as written).
DEFAULT_COMMITMENTS = N_(
    "I share the aims of the organisation, I will take part in its decisions in good faith, "
    "and I will treat every member with respect.")


def _string(section: dict[str, Any], section_name: str, key: str, default: str | None) -> str:
    value = section.get(key, default)
    if value is None:
        raise ConfigError(f"{section_name}.{key} is required")
    if not isinstance(value, str):
        raise ConfigError(f"{section_name}.{key} must be a string")
    return value


def _bool(section: dict[str, Any], section_name: str, key: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{section_name}.{key} must be true or false")
    return value


def _number(
    section: dict[str, Any], section_name: str, key: str, default: float,
    low: float, high: float, integer: bool = True,
) -> Any:
    value = section.get(key, default)
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{section_name}.{key} must be {kind} from {low} to {high}")
    return value


def storage_location(storage: dict[str, Any], data_dir: Path) -> Location:
    """`[storage] url`: a postgresql:// URL, or a SQLite file (relative to the data
    directory). `database`, the key before `url` existed, still names a SQLite file."""
    if "url" in storage and "database" in storage:
        raise ConfigError("storage.url and storage.database both set; keep storage.url")
    key = "url" if "url" in storage else "database"
    value = _string(storage, "storage", key, "chapterhouse.sqlite3").strip()
    if not value:
        raise ConfigError(f"storage.{key} must not be empty")
    if is_postgres(value):
        parts = urlsplit(value)
        if not parts.path.strip("/") and "dbname=" not in parts.query:
            raise ConfigError(f"storage.{key} must name a database: postgresql://USER@HOST/DBNAME")
        return value
    if "://" in value:
        raise ConfigError(f"storage.{key} must be a SQLite file or a postgresql:// URL")
    path = Path(value)
    return path if path.is_absolute() else data_dir / path


def _mail_password(path_text: str, data_dir: Path) -> str:
    path = Path(path_text)
    path = path if path.is_absolute() else data_dir / path
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"mail.password_file: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"mail.password_file: cannot read {path}: {exc}") from None
    if not lines or not lines[0]:
        raise ConfigError(f"mail.password_file: the first line of {path} is empty")
    return lines[0]


def mail_settings(raw: dict[str, Any], data_dir: Path) -> MailConfig | None:
    """`[mail]`, or None when the section is absent (the node sends no mail)."""
    if "mail" not in raw:
        return None
    mail = _section(raw, "mail", {"host", "port", "tls", "sender", "username",
                                  "password_file", "max_attempts", "backoff_scale"})
    host = _string(mail, "mail", "host", None).strip()
    if not host or any(c.isspace() for c in host):
        raise ConfigError("mail.host must be the SMTP server's host name or address")
    tls = _string(mail, "mail", "tls", "starttls")
    if tls not in MAIL_TLS_PORTS:
        raise ConfigError(f"mail.tls must be one of {', '.join(MAIL_TLS_PORTS)}")
    sender = _string(mail, "mail", "sender", None).strip()
    local, _, domain = sender.rpartition("@")
    if not local or not domain or any(c.isspace() or c in "<>,\"" for c in sender):
        raise ConfigError("mail.sender must be an address such as chapters@example.org")
    username = _string(mail, "mail", "username", "").strip() or None
    password_file = _string(mail, "mail", "password_file", "").strip()
    if username and not password_file:
        raise ConfigError("mail.username needs mail.password_file (the password is never "
                          "written in the configuration)")
    if password_file and not username:
        raise ConfigError("mail.password_file needs mail.username")
    return MailConfig(
        host=host, port=_number(mail, "mail", "port", MAIL_TLS_PORTS[tls], 1, 65535),
        tls=tls, sender=sender, username=username,
        password=_mail_password(password_file, data_dir) if password_file else None,
        max_attempts=_number(mail, "mail", "max_attempts", 10, 1, 100),
        backoff_scale=_number(mail, "mail", "backoff_scale", 1.0, 0.0001, 100.0,
                              integer=False),
    )


def parse(raw: dict[str, Any], data_dir: Path) -> Config:
    unknown = set(raw) - {
        "node", "server", "storage", "log", "federation", "delivery", "hierarchy", "accounts",
        "mail"}
    if unknown:
        raise ConfigError(f"unknown section [{sorted(unknown)[0]}] (see config.example.toml)")
    node = _section(raw, "node", {"domain", "scheme", "name", "language", "time_zone"})
    server = _section(raw, "server", {"listen"})
    storage = _section(
        raw, "storage", {"url", "database", "keep_delivered_days", "keep_received_days"})
    log = _section(raw, "log", {"format", "level"})
    federation = _section(
        raw, "federation",
        {"allow_private_addresses", "signature_window_seconds", "authorized_fetch"},
    )
    delivery = _section(
        raw, "delivery", {"concurrency", "max_attempts", "backoff_scale", "unavailable_after"}
    )
    hierarchy = _section(raw, "hierarchy", {"accept_subchapters_from", "tally_debounce_seconds",
                                            "late_tally_grace_seconds"})
    accounts = _section(raw, "accounts", {"session_idle_days", "commitments"})
    accept_from = hierarchy.get("accept_subchapters_from", [])
    if not isinstance(accept_from, list) or not all(isinstance(h, str) for h in accept_from):
        raise ConfigError("hierarchy.accept_subchapters_from must be a list of host names")

    try:
        domain = validate_domain(_string(node, "node", "domain", None))
    except ConfigError as exc:
        raise ConfigError(f"node.domain: {exc}") from None
    scheme = _string(node, "node", "scheme", "https")
    if scheme not in ("http", "https"):
        raise ConfigError("node.scheme must be 'http' or 'https'")
    name = _string(node, "node", "name", "Chapterhouse").strip()
    if not name:
        raise ConfigError("node.name must not be empty")
    language = _string(node, "node", "language", "en")
    if language not in SITE_LANGUAGES:
        raise ConfigError(f"node.language must be one of {', '.join(SITE_LANGUAGES)}")
    time_zone = _string(node, "node", "time_zone", "UTC")
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"node.time_zone {time_zone!r} is not a time zone "
                          "(e.g. Europe/Dublin)") from None

    try:
        listen_host, listen_port = split_host_port(
            _string(server, "server", "listen", "127.0.0.1:8080"), default_port=8080
        )
    except ConfigError as exc:
        raise ConfigError(f"server.listen: {exc}") from None

    database = storage_location(storage, data_dir)

    log_format = _string(log, "log", "format", "console")
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"log.format must be one of {', '.join(LOG_FORMATS)}")
    log_level = _string(log, "log", "level", "info")
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"log.level must be one of {', '.join(LOG_LEVELS)}")

    return Config(
        data_dir=data_dir,
        domain=domain,
        scheme=scheme,
        name=name,
        language=language,
        time_zone=time_zone,
        listen_host=listen_host,
        listen_port=listen_port or 8080,
        database=database,
        log_format=log_format,
        log_level=log_level,
        allow_private_addresses=_bool(federation, "federation", "allow_private_addresses", False),
        signature_window_seconds=_number(
            federation, "federation", "signature_window_seconds", 3600, 60, 86400
        ),
        authorized_fetch=_bool(federation, "federation", "authorized_fetch", False),
        delivery_concurrency=_number(delivery, "delivery", "concurrency", 50, 1, 1000),
        delivery_max_attempts=_number(delivery, "delivery", "max_attempts", 17, 1, 100),
        delivery_backoff_scale=_number(
            delivery, "delivery", "backoff_scale", 1.0, 0.0001, 100.0, integer=False
        ),
        delivery_unavailable_after=_number(delivery, "delivery", "unavailable_after", 10, 1, 1000),
        accept_subchapters_from=frozenset(h.lower() for h in accept_from),
        tally_debounce_seconds=_number(hierarchy, "hierarchy", "tally_debounce_seconds", 5.0,
                                       0.0, 3600.0, integer=False),
        late_tally_grace_seconds=_number(hierarchy, "hierarchy", "late_tally_grace_seconds",
                                         3600, 0, 30 * 86400),
        keep_delivered_days=_number(storage, "storage", "keep_delivered_days", 7, 1, 3650),
        # At least 4 days: a sender retries for about 3 (Mastodon), and a retry must still
        # find the record of the first copy to be recognised as one.
        keep_received_days=_number(storage, "storage", "keep_received_days", 14, 4, 3650),
        session_idle_days=_number(accounts, "accounts", "session_idle_days", 14, 1, 365),
        commitments=_string(accounts, "accounts", "commitments", DEFAULT_COMMITMENTS).strip()
        or DEFAULT_COMMITMENTS,
        mail=mail_settings(raw, data_dir),
    )


def load(data_dir: Path) -> Config:
    path = data_dir / CONFIG_FILE
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist; create a node with `chapterhouse init --data {data_dir}`"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    try:
        return parse(raw, data_dir)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_initial(domain: str, scheme: str, name: str) -> str:
    """The example file with this node's domain, scheme and name filled in."""
    text = example_text()
    for key, value in (("domain", domain), ("scheme", scheme), ("name", name)):
        line = f"{key} = {toml_string(value)}"
        # Backslashes doubled: in a replacement template they are escapes, in the value not.
        template = line.replace("\\", "\\\\")
        text, count = re.subn(rf"(?m)^{key} = \".*\"$", template, text, count=1)
        if count != 1:
            raise RuntimeError(f"config.example.toml lost its {key} line")
    return text
