"""Text on the wire: plain text that we hold becomes the small HTML that AS2 carries."""

from __future__ import annotations

from markupsafe import escape


def plain_to_html(text: str) -> str:
    """Paragraphs at blank lines, line breaks kept, everything escaped."""
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(
        f"<p>{'<br>'.join(str(escape(line)) for line in p.splitlines())}</p>"
        for p in paragraphs
        if p
    )
