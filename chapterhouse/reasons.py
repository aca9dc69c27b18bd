"""A reason a person is told "no": a code and its parameters, worded where it is shown.

Raised deep in the outbox, storage or the hierarchy, a reason is still the English
sentence the CLI and the logs print (it *is* a `str`), but it also keeps its code, its
English template (the catalogue's msgid, found by `pybabel extract` through the
`reason:2` keyword) and its parameters, so that a web page can word it again in the
reader's language (`web.i18n.word`). Parameters may themselves be reasons (a field's
name, a level), worded the same way.
"""

from __future__ import annotations

from collections.abc import Mapping


class Reason(str):
    code: str
    template: str
    params: Mapping[str, object]

    def __new__(cls, code: str, template: str, **params: object) -> Reason:
        text = template % {name: str(value) if isinstance(value, Reason) else value
                           for name, value in params.items()} if params else template
        made = super().__new__(cls, text)
        made.code = code
        made.template = template
        made.params = params
        return made

    def __reduce__(self) -> tuple[object, ...]:  # pickles (process pools) keep the code
        return (_rebuild, (self.code, self.template, dict(self.params)))


def _rebuild(code: str, template: str, params: dict[str, object]) -> Reason:
    return Reason(code, template, **params)


def reason(code: str, template: str, **params: object) -> Reason:
    """`reason("item.too_long", "%(field)s is longer than %(limit)d characters", ...)`."""
    return Reason(code, template, **params)


def N_(text: str) -> str:
    """Marks English text for the catalogue where it is defined; worded where shown."""
    return text
