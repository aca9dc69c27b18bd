"""Accounts of local members: passwords, random tokens and the rules they follow.

Shared by the command line and the web: both make accounts, set passwords and issue
one-time links the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable, Sequence
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chapterhouse.reasons import reason
from storage import accounts as store
from storage.database import Database
from storage.mail import Mail
from storage.timestamps import now

# argon2-cffi is the reference implementation of Argon2 (the Password Hashing
# Competition's winner), and PasswordHasher's defaults are argon2id with the parameters
# RFC 9106 and OWASP recommend. A hash records its parameters, so when a later
# argon2-cffi raises them, `needs_rehash` notices at the next login and the stored hash
# is replaced then, without anyone resetting a password.
HASHER = PasswordHasher()
# Verified against when the username is unknown, so that a wrong username takes as long
# as a wrong password and the time of the answer does not tell which it was.
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))

MIN_PASSWORD = 8  # NIST SP 800-63B's minimum for a password the person chose
MAX_PASSWORD = 1000
LINK_DAYS = 7


class AccountError(ValueError):
    """A request that breaks a rule of accounts; the message says which."""


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(reason("account.password_short",
                                  "the password must be at least %(num)d characters long",
                                  num=MIN_PASSWORD))
    if len(password) > MAX_PASSWORD:
        raise AccountError(reason("account.password_long",
                                  "the password must be at most %(num)d characters long",
                                  num=MAX_PASSWORD))
    return password


async def hash_password(password: str) -> str:
    # Argon2 is slow on purpose (tens of milliseconds): off the event loop.
    return await asyncio.to_thread(HASHER.hash, check_password(password))


def _verify(stored: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(db: Database, account: store.Account | None, password: str) -> bool:
    """Whether `password` is the account's; the same work when there is no account. A hash
    made with older parameters is replaced by one made with the current ones."""
    stored = account.password_hash if account is not None else None
    ok = await asyncio.to_thread(_verify, stored, password[:MAX_PASSWORD])
    if ok and account is not None and stored is not None and HASHER.check_needs_rehash(stored):
        await store.rehash_password(db, account.member_id, stored,
                                    await asyncio.to_thread(HASHER.hash, password))
    return ok


def new_token() -> str:
    """A random token for a cookie or a link: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a token. The token is random and long, so a fast hash
    is enough: nothing can be guessed from it, and lookups by it are exact."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def create_account(db: Database, handle: str, password: str | None,
                         is_admin: bool = False, email: str | None = None) -> int:
    """An account for the local member `handle`; with no password, one is set later
    through a one-time link."""
    member = await store.member_id(db, handle)
    if member is None:
        raise AccountError(f"there is no member {handle!r} on this node")
    hashed = None if password is None else await hash_password(password)
    try:
        await store.create_account(db, member, hashed, is_admin, now(), email)
    except store.AccountExists:
        raise AccountError(f"{handle!r} already has an account") from None
    return member


async def issue_password_link(db: Database, base_url: str, member: int,
                              mail: Callable[[str], Sequence[Mail]] | None = None) -> str:
    """A link where the member sets their password, valid for LINK_DAYS days, once.
    `mail(link)`: the mail that sends it, queued with it."""
    token = new_token()
    moment = now()
    link = f"{base_url}/password/set?token={token}"
    await store.create_password_link(db, member, token_hash(token), moment,
                                     moment + timedelta(days=LINK_DAYS),
                                     mail(link) if mail is not None else ())
    return link


def check_email(email: str) -> str:
    """An email address as people type one, or AccountError; the check is loose (the
    mail server is the judge), it keeps out what cannot be an address or a header."""
    if (len(email) > 254 or email.count("@") < 1 or email.startswith("@")
            or email.endswith("@") or any(c.isspace() or ord(c) < 32 or c in "<>,;\"\\"
                                          for c in email)):
        raise AccountError(reason("account.email",
                                  "%(email)r is not an email address such as name@example.org",
                                  email=email))
    return email
