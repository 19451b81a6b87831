"""Staff accounts and sessions: argon2 password hashes, roles, sign-in throttled per account, per address
and overall (rxapp/staff/throttle.py), and a server-side session whose random token the browser holds in an
HttpOnly cookie (only its hash is stored). A password change or a disabled account ends every session.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from typing import Iterable, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select, update

from rxapp.domain.statuses import StaffRole
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.staff import throttle
from rxapp.staff.models import StaffSession, StaffUser
from rxapp.staff.permissions import Permission, roles_with

# The names as plain strings: the command line offers them as choices, and argparse shows those with repr().
ROLES = tuple(role.value for role in StaffRole)
SESSION_COOKIE = "vj_staff"
NOT_RIGHT = "The username or password is not right."
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")
MIN_PASSWORD = 12

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the response time the same either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


class AuthError(Exception):
    """A sign-in that failed; the message is safe to show. `minutes`: how long to wait, when throttled."""

    def __init__(self, message: str = NOT_RIGHT, minutes: Optional[int] = None):
        super().__init__(message)
        self.minutes = minutes


def too_many_attempts(minutes: int) -> str:
    """The one answer for a throttled address, a locked account, an unknown one and a busy service alike."""
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many attempts: try again in {minutes} {unit}. Sign-in is locked after too many failed attempts."


def throttled(minutes: int) -> AuthError:
    return AuthError(too_many_attempts(minutes), minutes)


@dataclass(frozen=True)
class StaffIdentity:
    user_id: int
    username: str
    display_name: str
    role: str
    # Who the person is in the force: access to cases is decided from these (rxapp/staff/permissions.py).
    collar_number: str = ""
    team: str = ""  # one team, or several separated by ";"


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_new_account(username: str, password: str, role: str) -> None:
    if not USERNAME_RE.match(username or ""):
        raise ValueError("username must be 2 to 80 lower-case letters, digits, dots, dashes or underscores")
    if role not in ROLES:
        raise ValueError(f"role must be one of: {', '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD:
        raise ValueError(f"password must be at least {MIN_PASSWORD} characters")


def create_user(session: Session, username: str, password: str, role: str, display_name: str = "") -> StaffUser:
    username = (username or "").strip().lower()
    validate_new_account(username, password, role)
    if session.exec(select(StaffUser).where(StaffUser.username == username)).first():
        raise ValueError(f"an account named {username} already exists")
    user = StaffUser(username=username, display_name=display_name or username, role=role,
                     password_hash=_hasher.hash(password))
    session.add(user)
    throttle.clear_account(session, username)  # guesses at the name before it existed do not lock it
    session.flush()
    return user


def _account(session: Session, username: str) -> StaffUser:
    user = session.exec(select(StaffUser).where(StaffUser.username == (username or "").strip().lower())).first()
    if user is None:
        raise ValueError(f"no account named {username}")
    return user


def revoke_sessions(session: Session, user_id: int) -> int:
    """End every session of one account; returns how many were still open."""
    result = session.exec(update(StaffSession).where(StaffSession.user_id == user_id,
                                                     StaffSession.revoked.is_(False)).values(revoked=True))
    return result.rowcount or 0


def set_password(session: Session, username: str, password: str) -> None:
    """A new password ends every session of the account (whoever held the old one is out) and clears a lock."""
    user = _account(session, username)
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password must be at least {MIN_PASSWORD} characters")
    user.password_hash = _hasher.hash(password)
    user.failed_attempts = 0
    user.locked_until = None
    throttle.clear_account(session, user.username)
    revoke_sessions(session, user.id)


def set_active(session: Session, username: str, active: bool) -> None:
    """Disable (every session ends, and stays ended if the account is enabled again) or enable an account."""
    user = _account(session, username)
    user.active = active
    if not active:
        revoke_sessions(session, user.id)


def _active_account(session: Session, username: str) -> Optional[StaffUser]:
    user = session.exec(select(StaffUser).where(StaffUser.username == username)).first() if username else None
    return user if user is not None and user.active else None


def password_hash_for(session: Session, username: str) -> str:
    """The hash a sign-in's password is checked against: the account's, or a made-up one when there is no such
    active account, so that both take one argon2 check."""
    user = _active_account(session, (username or "").strip().lower())
    return user.password_hash if user is not None else _DUMMY_HASH


@dataclass(frozen=True)
class PasswordCheck:
    checked_hash: str
    matches: bool
    rehashed: Optional[str] = None  # the same password under today's argon2 parameters, when they changed


def check_password(password_hash: str, password: str) -> PasswordCheck:
    """The slow part (argon2, ~50 ms and 64 MiB): run it with no transaction open, so that a flood of sign-ins
    holds no database lock (SQLite has one writer) while it hashes."""
    try:
        matches = _hasher.verify(password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return PasswordCheck(password_hash, False)
    rehashed = _hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else None
    return PasswordCheck(password_hash, matches, rehashed)


def _count_failure(session: Session, keys: list[str], user: Optional[StaffUser], now: datetime):
    """Count a failed sign-in (and mirror the account's count on its row, for administrators); returns the end
    of the block it started, if any. Two workers creating the same key at once: the loser counts again."""
    for attempt in range(2):
        try:
            until = throttle.record_failure(session, keys, now)
            if user is not None:
                user.failed_attempts, user.locked_until = throttle.account_failures(session, user.username)
            session.commit()
            return until
        except IntegrityError:
            session.rollback()
            if attempt:
                raise
    return None


def complete_sign_in(session: Session, username: str, check: PasswordCheck, now: Optional[datetime] = None,
                     address: Optional[str] = None) -> str:
    """Decide a sign-in whose password was checked (`check_password`), and open a session; returns the raw
    session token for the cookie. Known, unknown, disabled, locked and throttled accounts take the same path,
    and a refusal says only "not right" or "too many attempts: try again in N minutes"."""
    now = now or utcnow()
    username = (username or "").strip().lower()
    user = _active_account(session, username)
    keys = throttle.keys_for(username, address)
    until = throttle.blocked_until(session, keys, now)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        until = max(until or user.locked_until, user.locked_until)
    if until is not None:
        raise throttled(throttle.minutes_left(until, now))
    # A password changed while this one was being checked: the check was against the old one.
    if user is None or not check.matches or check.checked_hash != user.password_hash:
        until = _count_failure(session, keys, user, now)
        if until is not None:
            raise throttled(throttle.minutes_left(until, now))
        raise AuthError(NOT_RIGHT)
    if check.rehashed:
        user.password_hash = check.rehashed
    user.failed_attempts = 0
    user.locked_until = None
    throttle.clear_account(session, username)
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=_hash_token(token), user_id=user.id, created_at=now,
                             expires_at=now + timedelta(hours=settings().session_hours)))
    return token


def sign_in(session: Session, username: str, password: str, now: Optional[datetime] = None,
            address: Optional[str] = None) -> str:
    """The whole sign-in in one session (the command line, tests). The sign-in route runs the same three steps
    with the password check outside any transaction."""
    check = check_password(password_hash_for(session, username), password)
    return complete_sign_in(session, username, check, now, address)


def identity_for_token(session: Session, token: Optional[str],
                       now: Optional[datetime] = None) -> Optional[StaffIdentity]:
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    row = session.get(StaffSession, _hash_token(token))
    if row is None or row.revoked or row.expires_at <= now:
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        return None
    return StaffIdentity(user.id, user.username, user.display_name, user.role,
                         collar_number=user.collar_number or "", team=user.team or "")


def sign_out(session: Session, token: Optional[str]) -> None:
    if not token:
        return
    row = session.get(StaffSession, _hash_token(token))
    if row is not None:
        row.revoked = True


def token_from_cookie_header(cookie_header: str | None) -> Optional[str]:
    if not cookie_header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel else None


BOARD_ROLES = roles_with(Permission.READ_BOARD)  # from the one table of who may do what


def identity_from_cookie_header(cookie_header: str) -> Optional[StaffIdentity]:
    """The signed-in staff member for a request's Cookie header, checked afresh against the session table."""
    token = token_from_cookie_header(cookie_header)
    if not token:
        return None
    with session_scope(readonly=True) as session:
        return identity_for_token(session, token)


def live_board_sessions(hashes: Iterable[str], now: Optional[datetime] = None) -> dict[str, str]:
    """Of these session hashes, those that still check out for the board, with their account's role now."""
    hashes = list(hashes)
    if not hashes:
        return {}
    now = now or utcnow()
    with session_scope(readonly=True) as session:
        rows = session.exec(
            select(StaffSession.token_hash, StaffUser.role, StaffUser.locked_until)
            .join(StaffUser, StaffUser.id == StaffSession.user_id)
            .where(StaffSession.token_hash.in_(hashes), StaffSession.revoked == False,  # noqa: E712
                   StaffSession.expires_at > now, StaffUser.active == True)  # noqa: E712
        ).all()
    return {h: role for h, role, locked_until in rows
            if role in BOARD_ROLES and (locked_until is None or locked_until <= now)}
