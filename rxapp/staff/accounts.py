"""Staff accounts and sessions: argon2 password hashes, roles, lock-out after repeated failures, and a
server-side session whose random token the browser holds in an HttpOnly cookie (only its hash is stored).
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session, select

from rxapp.domain.statuses import StaffRole
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.staff.models import StaffSession, StaffUser

# The names as plain strings: the command line offers them as choices, and argparse shows those with repr().
ROLES = tuple(role.value for role in StaffRole)
SESSION_COOKIE = "vj_staff"
LOCKED = "This account is locked after too many failed attempts. Try again later or ask an administrator."
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")
MIN_PASSWORD = 12

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the response time the same either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


class AuthError(Exception):
    """A sign-in that failed; the message is safe to show."""


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
    session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> None:
    user = session.exec(select(StaffUser).where(StaffUser.username == username.lower())).first()
    if user is None:
        raise ValueError(f"no account named {username}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password must be at least {MIN_PASSWORD} characters")
    user.password_hash = _hasher.hash(password)
    user.failed_attempts = 0
    user.locked_until = None


def sign_in(session: Session, username: str, password: str, now: Optional[datetime] = None) -> str:
    """Check the password and open a session; returns the raw session token for the cookie."""
    now = now or utcnow()
    cfg = settings()
    username = (username or "").strip().lower()
    user = session.exec(select(StaffUser).where(StaffUser.username == username)).first() if username else None
    if user is None or not user.active:
        try:
            _hasher.verify(_DUMMY_HASH, password or "")
        except VerificationError:
            pass
        raise AuthError("The username or password is not right.")
    if user.locked_until is not None and user.locked_until > now:
        raise AuthError(LOCKED)
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        user.failed_attempts += 1
        if user.failed_attempts >= cfg.lockout_attempts:
            user.locked_until = now + timedelta(minutes=cfg.lockout_minutes)
            user.failed_attempts = 0
            session.commit()
            raise AuthError(LOCKED)
        session.commit()
        raise AuthError("The username or password is not right.") from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_attempts = 0
    user.locked_until = None
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=_hash_token(token), user_id=user.id, created_at=now,
                             expires_at=now + timedelta(hours=cfg.session_hours)))
    return token


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


BOARD_ROLES = (StaffRole.FCR, StaffRole.SUPERVISOR, StaffRole.ADMIN)


def identity_from_cookie_header(cookie_header: str) -> Optional[StaffIdentity]:
    """The signed-in staff member for a request's Cookie header, checked afresh against the session table."""
    token = token_from_cookie_header(cookie_header)
    if not token:
        return None
    with session_scope(readonly=True) as session:
        return identity_for_token(session, token)
