"""A chapter's level, and which levels may join which: only a lower one joins a higher
one, which also rules out cycles."""

from __future__ import annotations

from chapterhouse.reasons import Reason, reason

RANKS = {"local": 0, "regional": 1, "national": 2, "international": 3}
# A level as a reason names it, worded with the reason.
LEVEL_WORDS = {
    "local": reason("level.local", "local"),
    "regional": reason("level.regional", "regional"),
    "national": reason("level.national", "national"),
    "international": reason("level.international", "international"),
}


def may_join(child_level: str | None, parent_level: str | None) -> Reason | None:
    """Why a chapter of one level may not join one of another, or None if it may."""
    if child_level not in RANKS or parent_level not in RANKS:
        return reason("hierarchy.no_level", "both must be Chapterhouse chapters with a level")
    if RANKS[child_level] >= RANKS[parent_level]:
        return reason("hierarchy.level", "a %(child)s chapter can only join a chapter of a "
                      "higher level (not %(parent)s)", child=LEVEL_WORDS[child_level],
                      parent=LEVEL_WORDS[parent_level])
    return None
