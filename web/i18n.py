"""The reader's language: which one, its catalogue, and words, dates and numbers in it.

The catalogues are the `.po` files under `web/locale/` as translators edit them: each is
read once per process and compiled in memory (no `.mo` build step a fresh clone would
lack). Which language a request gets is decided by `choose_language` and kept in a
context variable: aiohttp serves each request in its own task, and a task has its own
copy of the context, so two requests in two languages at the same moment each word their
pages in their own. The CLI never sets it and so speaks English, the source language.

The choice, first that applies: the member's account setting; the `chapterhouse_lang`
cookie (the switcher on every page); `Accept-Language`; the node's `[node] language`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from chapterhouse.reasons import Reason

log = structlog.get_logger("chapterhouse.i18n")

# Each language as it names itself (how a switcher offers it), in the switcher's order.
LANGUAGES: dict[str, str] = {"en": "English", "eo": "Esperanto"}
SOURCE = "en"
COOKIE = "chapterhouse_lang"
COOKIE_DAYS = 365
# CLDR's data for each: Irish English writes "Tuesday 1 December 2026" and "18:00".
_CLDR = {"en": "en_IE", "eo": "eo"}
DOMAIN = "messages"


@dataclass(frozen=True)
class Language:
    code: str
    translations: NullTranslations
    locale: Locale
    zone: tzinfo  # the reader's time zone, for every moment that is not an event's

    def gettext(self, text: str) -> str:
        return self.translations.ugettext(text)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ungettext(singular, plural, n)

    @property
    def zone_name(self) -> str:
        return getattr(self.zone, "key", "UTC")


def catalogue_path(code: str) -> str:
    return f"locale/{code}/LC_MESSAGES/{DOMAIN}.po"


@cache
def translations(code: str) -> NullTranslations:
    """The catalogue of `code`, read from its `.po` and compiled in memory, once."""
    if code == SOURCE:
        return NullTranslations()
    with resources.files("web").joinpath(catalogue_path(code)).open("rb") as source:
        catalogue = read_po(source, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@cache
def language(code: str, zone: str = "UTC") -> Language:
    return Language(code=code, translations=translations(code),
                    locale=Locale.parse(_CLDR[code]), zone=_zone(zone))


def _zone(name: str) -> tzinfo:
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


_current: ContextVar[Language | None] = ContextVar("chapterhouse_language", default=None)


def current() -> Language:
    """The language of the request being served; English outside a request (the CLI)."""
    return _current.get() or language(SOURCE)


def use(code: str, zone: str | None = None) -> None:
    """From here on in this request (this task), speak `code` and show moments in `zone`."""
    if code not in LANGUAGES:
        return
    _current.set(language(code, zone or current().zone_name))


@contextmanager
def speaking(code: str | None) -> Iterator[Language]:
    """Word in `code` inside the block (a mail to someone else, in their account's
    language), then back to the request's own; an unknown code speaks English."""
    token = _current.set(language(code if code in LANGUAGES else SOURCE,
                                  current().zone_name))
    try:
        yield current()
    finally:
        _current.reset(token)


# ---- words ------------------------------------------------------------------------------

def gettext(text: str, **params: object) -> str:
    """`text` in the reader's language, with `%(name)s` filled from `params`."""
    worded = current().gettext(text)
    return worded % params if params else worded


def ngettext(singular: str, plural: str, num: int, **params: object) -> str:
    """The plural form `num` calls for in the reader's language; `%(num)d` is filled too,
    written as the language writes numbers ("12,345" / "12 345")."""
    return _counted(current().ngettext(singular, plural, num), num) % params


def _counted(worded: str, num: int) -> str:
    """The form with its count written in: "%(num)d" becomes the number as the reader's
    language writes it (a "%" in the number's text cannot occur)."""
    return worded.replace("%(num)d", number(num)).replace("%(num)s", number(num))


_ = gettext


def word(text: object) -> str:
    """A `Reason` worded in the reader's language (its parameters too); text as it is.
    An exception raised with a Reason is worded by its Reason."""
    if isinstance(text, BaseException) and len(text.args) == 1 \
            and isinstance(text.args[0], Reason):
        text = text.args[0]
    if not isinstance(text, Reason):
        return str(text)
    params = {name: word(value) if isinstance(value, Reason) else value
              for name, value in text.params.items()}
    worded = current().gettext(text.template)
    try:
        return worded % params if params else worded
    except (KeyError, TypeError, ValueError):
        # A catalogue that lost a placeholder must not turn a refusal into a 500; the
        # completeness test keeps this from shipping.
        log.warning("translation does not fit its parameters", code=text.code)
        return str(text)


def sentence(text: object) -> str:
    """A reason written as a clause ("the password must be ...") worded and shown as a
    sentence of its own: a capital first letter and a full stop."""
    worded = word(text).strip()
    if not worded:
        return worded
    worded = worded[0].upper() + worded[1:]
    return worded if worded.endswith((".", "!", "?")) else worded + "."


def lazy_label(labels: Mapping[str, str]) -> Callable[[str], str]:
    """A lookup in a table of `N_()`-marked labels, worded when called."""
    return lambda key: gettext(labels[key]) if key in labels else key


# ---- dates and numbers -------------------------------------------------------------------

def _as_moment(value: str | datetime | date) -> datetime | date | None:
    if isinstance(value, (datetime, date)):
        return value
    try:
        if len(value) == 10:  # "2026-08-25", a day as written (minutes give it so)
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, TypeError, AttributeError):
        return None


def _in_reader_zone(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(current().zone)


def human_date(value: str | datetime | date) -> str:
    """The day, "27 November 2026" / "27 Novembro 2026": of a moment in the reader's time
    zone; a date as written ("2026-08-25", as minutes give it)."""
    moment = _as_moment(value)
    if moment is None:
        return str(value)
    if isinstance(moment, datetime):
        moment = _in_reader_zone(moment)
    return _cased(format_date(moment, "long", locale=current().locale))


def calendar_day(value: str | datetime | date) -> str:
    """A day kept as midnight UTC (a chapter's founding): that day, wherever the reader
    is; shifting it into their zone would found Dublin a day early in California."""
    moment = _as_moment(value)
    if moment is None:
        return str(value)
    if isinstance(moment, datetime):
        moment = (moment if moment.tzinfo is None else moment.astimezone(UTC)).date()
    return _cased(format_date(moment, "long", locale=current().locale))


def _cased(text: str) -> str:
    """Esperanto writes month names in small letters ("30 novembro 2026"); CLDR's data
    capitalises them."""
    lang = current()
    if lang.code != "eo":
        return text
    for name in lang.locale.months["format"]["wide"].values():
        text = text.replace(name, name.lower())
    return text


def day(moment: datetime) -> str:
    """"Saturday 12 September 2026" / "sabato, la 12-a de Septembro 2026", in the moment's
    own time zone (an event's)."""
    return _cased(format_date(moment, "full", locale=current().locale))


def clock(moment: datetime) -> str:
    """"18:00", in the moment's own time zone (an event's)."""
    return format_time(moment, "short", tzinfo=moment.tzinfo, locale=current().locale)


def _zone_label(moment: datetime) -> str:
    if moment.tzinfo is UTC or getattr(moment.tzinfo, "key", None) in ("UTC", "Etc/UTC"):
        return "UTC"
    return format_datetime(moment, "zzz", tzinfo=moment.tzinfo, locale=current().locale)


def human_moment(value: str | datetime) -> str:
    """A moment in the reader's time zone: "1 December 2026, 18:00 UTC"."""
    moment = _as_moment(value)
    if not isinstance(moment, datetime):
        return str(value)
    moment = _in_reader_zone(moment)
    lang = current()
    time_text = f"{format_time(moment, 'short', tzinfo=moment.tzinfo, locale=lang.locale)}" \
                f" {_zone_label(moment)}"
    pattern = lang.locale.datetime_formats["long"]
    return pattern.format(time_text, _cased(format_date(moment, "long", locale=lang.locale)))


def language_name(code: str) -> str:
    """A language as the reader calls it: "English" / "angla"."""
    return current().locale.languages.get(code, code)


def number(value: int | float) -> str:
    """"12,345" / "12 345"."""
    return format_decimal(value, locale=current().locale)


# ---- templates ---------------------------------------------------------------------------

@pass_context
def _template_gettext(context: Context, text: str, **params: object) -> str:
    worded = current().gettext(text)
    if context.eval_ctx.autoescape:
        worded = Markup(worded)
    # As jinja2's own newstyle gettext: always %-formatted, so "%%" is a percent sign.
    return worded % params


@pass_context
def _template_ngettext(context: Context, singular: str, plural: str, num: int,
                       **params: object) -> str:
    worded = _counted(current().ngettext(singular, plural, num), num)
    if context.eval_ctx.autoescape:
        worded = Markup(worded)
    return worded % params


def install(env: object) -> None:
    """Give a jinja2 Environment (with the i18n extension) the reader's language."""
    env.globals.update(  # type: ignore[attr-defined]
        gettext=_template_gettext, _=_template_gettext, ngettext=_template_ngettext,
        current_language=lambda: current().code, languages=LANGUAGES)
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    env.filters.update(  # type: ignore[attr-defined]
        date=human_date, day=day, clock=clock, moment=human_moment, number=number,
        calendar_day=calendar_day, language_name=language_name,
        word=word)


# ---- choosing ----------------------------------------------------------------------------

def from_accept_language(header: str | None) -> str | None:
    """The first language of ours the browser asks for, by its q-values."""
    if not header:
        return None
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _eq, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        code = tag.strip().lower().split("-")[0]
        if code in LANGUAGES and quality > 0:
            wanted.append((-quality, position, code))
    return min(wanted)[2] if wanted else None


NODE_LANGUAGE = web.AppKey("node_language", str)
NODE_ZONE = web.AppKey("node_time_zone", str)


def chosen(request: web.Request) -> str:
    """The visitor's language: the cookie, else Accept-Language, else the node's."""
    cookie = request.cookies.get(COOKIE)
    if cookie in LANGUAGES:
        return cookie
    return from_accept_language(request.headers.get("Accept-Language")) \
        or request.app[NODE_LANGUAGE]


@web.middleware
async def choose_language(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: every page, error pages included, is worded in the chosen language, and
    says that it depends on the cookie and on Accept-Language."""
    use(chosen(request), request.app[NODE_ZONE])
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _vary(exc)
        raise
    _vary(response)
    return response


def _vary(response: web.StreamResponse) -> None:
    if response.prepared:
        return
    present = {part.strip().lower() for part in response.headers.get("Vary", "").split(",")
               if part.strip()}
    missing = [name for name in ("Cookie", "Accept-Language") if name.lower() not in present]
    if missing:
        response.headers["Vary"] = ", ".join(
            [*([response.headers["Vary"]] if "Vary" in response.headers else []), *missing])


def remember(response: web.StreamResponse, code: str, secure: bool) -> None:
    response.set_cookie(COOKIE, code, max_age=COOKIE_DAYS * 86400, path="/",
                        samesite="Lax", secure=secure, httponly=True)


def setup(app: web.Application, default: str, zone: str) -> None:
    app[NODE_LANGUAGE] = default
    app[NODE_ZONE] = zone
    # Read every catalogue now: a broken .po stops the node at start, not a page later.
    for code in LANGUAGES:
        translations(code)
    app.middlewares.insert(0, choose_language)
