"""The Esperanto catalogue is complete and fits the code: every message the templates and
the Python code mark (found as `make messages` finds them, with babel.cfg's map and the
Makefile's keywords) has an Esperanto translation that is not fuzzy, keeps the same named
placeholders, has eo's two plural forms where the code asks for a plural; no message
has an unnamed placeholder a translator could not reorder.

Each test fails with the whole list of what is wrong (file of first use, msgid), so that
the translator can work through it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from web import i18n

ROOT = Path(__file__).resolve().parents[2]
BABEL_CFG = ROOT / "babel.cfg"
PO = ROOT / "web" / i18n.catalogue_path("eo")
# The keywords of the Makefile's `pybabel extract` (-k N_ -k reason:2, on top of Babel's
# own `_`, `gettext`, `ngettext`): a message marked any other way is not in the catalogue.
KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "reason": (2,),
}
EO_PLURAL_FORMS = "nplurals=2; plural=(n != 1);"

MessageId = str | tuple[str, str]
# A printf conversion: `%(name)s`, `%s`, `%5.2f`, `%%`.
CONVERSION = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?(?P<flags>[-#0 +]*)(?:\*|\d+)?(?:\.(?:\*|\d+))?"
    r"(?P<type>[diouxXeEfFgGcrsa%])")


@cache
def extracted() -> dict[MessageId, list[str]]:
    """Every message marked in the sources: msgid (a pair for a plural) -> where used."""
    with BABEL_CFG.open() as config:
        method_map, options_map = parse_mapping_cfg(config, str(BABEL_CFG))
    found: dict[MessageId, list[str]] = defaultdict(list)
    for filename, line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        if isinstance(message, (tuple, list)):
            # A plural keyword's message; Babel gives None for an argument that was not a
            # string literal (then the singular alone is what the catalogue can hold).
            singular, plural = message[0], message[1] if len(message) > 1 else None
            if not singular:
                continue
            key: MessageId = (singular, plural) if plural else singular
        else:
            if not message:
                continue
            key = message
        found[key].append(f"{filename}:{line}")
    return dict(found)


@cache
def catalogue() -> Catalog:
    with PO.open("rb") as source:
        return read_po(source, locale="eo", domain=i18n.DOMAIN)


def singular_of(key: MessageId) -> str:
    return key[0] if isinstance(key, tuple) else key


def where(key: MessageId) -> str:
    return extracted()[key][0]


def report(title: str, lines: list[str]) -> str:
    return f"{title} ({len(lines)}):\n" + "\n".join(f"  {line}" for line in sorted(lines))


def fail_listing(problems: list[str]) -> None:
    """Fail with the list as it is, not pytest's repr of it: a translator reads it."""
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def placeholders(text: str) -> tuple[set[tuple[str, str]], list[str]]:
    """The named placeholders of `text` as (name, conversion type), and its unnamed ones."""
    named: set[tuple[str, str]] = set()
    unnamed: list[str] = []
    for match in CONVERSION.finditer(text):
        if match["type"] == "%":
            continue
        if match["name"] is None:
            unnamed.append(match[0])
        else:
            named.add((match["name"], _kind(match["type"])))
    return named, unnamed


def _kind(conversion: str) -> str:
    # `%(num)d` and `%(num)i` take the same values; a translator may write either.
    return {"i": "d", "u": "d"}.get(conversion, conversion)


def entry(key: MessageId) -> Message | None:
    found = catalogue().get(singular_of(key))
    return found if isinstance(found, Message) else None


def translation_forms(message: Message) -> list[str]:
    if isinstance(message.string, (tuple, list)):
        return [form or "" for form in message.string]
    return [message.string or ""]


def test_the_sources_have_messages_and_the_catalogue_reads() -> None:
    # A broken extraction (a moved template folder, a wrong map) would make every test
    # below pass on nothing.
    messages = extracted()
    assert len(messages) > 300, len(messages)
    assert any(where(key).startswith("web/templates/") for key in messages)
    assert any(where(key).split(":")[0].endswith(".py") for key in messages)
    assert "Local chapter" in messages  # an N_() label (web/pages.py)
    assert any(isinstance(key, tuple) for key in messages)  # ngettext
    assert catalogue().locale is not None and str(catalogue().locale) == "eo"


def test_every_message_has_an_esperanto_translation() -> None:
    missing, empty, fuzzy = [], [], []
    for key in extracted():
        message = entry(key)
        line = f"{where(key)}: {singular_of(key)!r}"
        if message is None:
            missing.append(line)
        elif message.fuzzy:
            fuzzy.append(line)
        elif not all(form.strip() for form in translation_forms(message)):
            empty.append(line)
    problems = [report(title, lines) for title, lines in (
        ("not in the .po (run `make messages`)", missing),
        ("with an empty msgstr", empty),
        ("marked fuzzy", fuzzy)) if lines]
    fail_listing([f"{PO.relative_to(ROOT)}:", *problems] if problems else [])


def test_no_message_used_in_the_code_is_only_obsolete_in_the_catalogue() -> None:
    obsolete = catalogue().obsolete
    only_obsolete = [f"{where(key)}: {singular_of(key)!r}" for key in extracted()
                     if entry(key) is None and singular_of(key) in obsolete]
    fail_listing([report("used in the code but only obsolete (#~) in the .po",
                         only_obsolete)] if only_obsolete else [])


def test_messages_have_only_named_placeholders() -> None:
    # "%s %s" cannot be reordered by a translator whose sentence puts them the other way.
    unnamed = []
    for key in extracted():
        for text in (key if isinstance(key, tuple) else (key,)):
            _named, positional = placeholders(text)
            if positional:
                unnamed.append(f"{where(key)}: {text!r} has {', '.join(positional)}")
    fail_listing([report("messages with unnamed placeholders (use %(name)s)", unnamed)]
                 if unnamed else [])


def test_translations_keep_every_placeholder() -> None:
    wrong = []
    for key in extracted():
        message = entry(key)
        if message is None:
            continue
        sources = list(key) if isinstance(key, tuple) else [key]
        for number, form in enumerate(translation_forms(message)):
            if not form:
                continue  # reported as untranslated
            # eo's forms are English's: one (n == 1), then every other number.
            source = sources[min(number, len(sources) - 1)]
            expected, _ = placeholders(source)
            found, positional = placeholders(form)
            if found != expected or positional:
                dropped = sorted(f"%({n}){t}" for n, t in expected - found)
                added = sorted(f"%({n}){t}" for n, t in found - expected) + positional
                wrong.append(f"{where(key)}: {singular_of(key)!r} form {number}: "
                             f"dropped {dropped or 'nothing'}, added {added or 'nothing'}"
                             f" in {form!r}")
    fail_listing([report("translations whose placeholders differ from the msgid's", wrong)]
                 if wrong else [])


def test_plural_messages_have_eo_s_two_forms_and_others_none() -> None:
    wrong = []
    for key in extracted():
        message = entry(key)
        if message is None:
            continue
        line = f"{where(key)}: {singular_of(key)!r}"
        if isinstance(key, tuple):
            if not message.pluralizable:
                wrong.append(f"{line}: the code asks for a plural, the .po has no msgid_plural")
            elif message.id[1] != key[1]:
                wrong.append(f"{line}: msgid_plural is {message.id[1]!r}, the code's {key[1]!r}")
            elif len(translation_forms(message)) != 2:
                wrong.append(f"{line}: {len(translation_forms(message))} forms, eo has 2")
        elif message.pluralizable:
            wrong.append(f"{line}: a plural in the .po, a single message in the code")
    fail_listing([report("plural forms that do not fit", wrong)] if wrong else [])


def test_the_header_says_esperanto_s_plural_rule() -> None:
    header = dict(catalogue().mime_headers)
    assert header.get("Plural-Forms", "").strip() == EO_PLURAL_FORMS, header
    assert catalogue().num_plurals == 2
    assert header.get("Language") == "eo"
    assert "charset=utf-8" in header.get("Content-Type", "").lower()


def test_babel_s_own_format_check_passes() -> None:
    errors = [f"{message.id!r}: {'; '.join(str(error) for error in problems)}"
              for message, problems in catalogue().check() if problems]
    fail_listing([report("catalogue.check() (python-format) errors", errors)] if errors else [])


def test_the_served_catalogue_is_the_one_checked_here() -> None:
    # What the node loads per request (web/i18n.py) is this very file, compiled in memory:
    # a translated message here reads translated there.
    translated = [(message.id, message.string) for message in catalogue()
                  if isinstance(message.id, str) and message.id
                  and isinstance(message.string, str) and message.string
                  and not message.fuzzy]
    assert translated, "no message of the .po is translated yet"
    eo = i18n.language("eo")
    for msgid, msgstr in translated:
        assert eo.gettext(msgid) == msgstr, msgid


# --- Sentences glued from fragments, in the templates: a translator gets the pieces apart
# and cannot reorder them ("joined" + a date; "as" <code>command</code> "does.").
TEMPLATES = ROOT / "web" / "templates"
_MESSAGE = r"""_\(\s*(?P<q>["'])(?P<text>(?:(?!(?P=q)).)*)(?P=q)[^)]*\)\s*\}\}"""
# What may stand between two parts of one sentence: inline markup and values, but not the
# end of a field, a list item or a paragraph (a label and its value are not one sentence).
_INLINE = r"""(?:\s|<(?!/?(?:dt|dd|li|p|td|th|h\d|label|option|div|br)\b)[^>]*>)*"""
_BETWEEN = (r"""\s*(?:<(?P<tag>(?!(?:dt|dd|li|p|td|th|label|option|div)\b)\w+)[^>]*>"""
            r""".*?</(?P=tag)>|\{\{(?:(?!\}\}).)*\}\}|<(?!/?(?:dt|dd|li|p|td|th|h\d|label"""
            r"""|option|div|br)\b)[^>]*>)+\s*""")
_NEXT_MESSAGE = r"""\{\{\s*_\(\s*(?P<q2>["'])(?P<after>(?:(?!(?P=q2)).)*)(?P=q2)"""
GLUED_TO_A_DATE = re.compile(
    _MESSAGE + _INLINE + r"""\{\{[^}]*\|\s*(?:date|moment|day)\b[^}]*\}\}""")
GLUED_TO_A_MESSAGE = re.compile(_MESSAGE + _BETWEEN + _NEXT_MESSAGE)


def test_no_sentence_is_glued_together_from_fragments() -> None:
    glued = []
    for template in sorted(TEMPLATES.glob("**/*.html")):
        name = template.relative_to(ROOT)
        for number, line in enumerate(template.read_text("utf-8").splitlines(), 1):
            for match in GLUED_TO_A_DATE.finditer(line):
                if not match["text"].endswith(":"):  # "Founded:" and its date: a label
                    glued.append(f"{name}:{number}: {match['text']!r} + a date "
                                 f"(one message with %(date)s)")
            for match in GLUED_TO_A_MESSAGE.finditer(line):
                if not re.search(r"[.!?:]$", match["text"]):
                    glued.append(f"{name}:{number}: {match['text']!r} + … + "
                                 f"{match['after']!r} (one message with placeholders)")
    fail_listing([report("sentences glued from fragments", glued)] if glued else [])
