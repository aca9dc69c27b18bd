"""A member's profile (name, summary, avatar) and the Welcome shown once after joining."""

from __future__ import annotations

from storage.database import Database, Reader, Tx


async def set_profile(tx: Tx, member: int, name: str, summary: str,
                      summary_html: str | None) -> None:
    """New name and summary (its Markdown source and the sanitised HTML made from it),
    inside the transaction that also queues the actor's Update."""
    await tx.execute(
        "UPDATE actors SET name = ?, summary = ?, summary_html = ?"
        " WHERE id = ? AND kind = 'member'",
        (name, summary, summary_html, member))


async def set_avatar(tx: Tx, member: int, file_name: str | None, icon_url: str | None) -> None:
    """The avatar this node made (its file under media/avatars) and the URL it is served at;
    None for both removes it."""
    await tx.execute(
        "UPDATE actors SET avatar_file = ?, icon_url = ? WHERE id = ? AND kind = 'member'",
        (file_name, icon_url, member))


async def avatar_in_use(db: Reader, file_name: str) -> bool:
    """Whether any actor still shows this file (two members may upload the same image)."""
    return await db.fetchvalue("SELECT 1 FROM actors WHERE avatar_file = ?",
                               (file_name,)) is not None


async def await_welcome(db: Database, member: int) -> None:
    """The account, just made by joining, is welcomed at its first login."""
    async with db.transaction() as tx:
        await tx.execute("UPDATE accounts SET welcome_pending = TRUE WHERE member_id = ?",
                         (member,))


async def take_welcome(db: Database, member: int) -> bool:
    """True once, for the login that is the account's first: the Welcome is due and from
    now on no longer is (two logins at once: only one of them gets it)."""
    async with db.transaction() as tx:
        changed: int = await tx.execute(
            "UPDATE accounts SET welcome_pending = FALSE"
            " WHERE member_id = ? AND welcome_pending = TRUE", (member,))
    return changed == 1


async def icon_url(db: Reader, member: int) -> str | None:
    """The member's picture, for the header of every page they see."""
    value = await db.fetchvalue("SELECT icon_url FROM actors WHERE id = ?", (member,))
    return None if value is None else str(value)
