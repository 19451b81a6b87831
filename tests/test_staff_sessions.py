"""Staff sign-in below the browser: repeated wrong passwords lock the account (even the right password is
refused while it is locked, and works again after the lock period); a session gives an identity until it
expires or is signed out, and never after."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from rxapp.plumbing import config
from rxapp.plumbing.db import session_scope
from rxapp.staff.accounts import AuthError, create_user, identity_for_token, sign_in, sign_out
from rxapp.staff.models import StaffUser

PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
LOCKED = "locked after too many failed attempts"


@pytest.fixture
def staff(db_url, monkeypatch):
    monkeypatch.setenv("STAFF_LOCKOUT_ATTEMPTS", "3")
    monkeypatch.setenv("STAFF_LOCKOUT_MINUTES", "15")
    monkeypatch.setenv("STAFF_SESSION_HOURS", "12")
    config.reset_settings()
    with session_scope() as s:
        create_user(s, "control.one", PASSWORD, "fcr", "Control One")
    return "control.one"


def attempt(username: str, password: str, now: datetime) -> str:
    """One sign-in in its own transaction, as the sign-in route makes it."""
    with session_scope() as s:
        return sign_in(s, username, password, now)


def identity(token: str | None, now: datetime):
    with session_scope(readonly=True) as s:
        return identity_for_token(s, token, now)


def account(username: str) -> StaffUser:
    with session_scope(readonly=True) as s:
        return s.exec(select(StaffUser).where(StaffUser.username == username)).one()


def test_repeated_wrong_passwords_lock_the_account(staff):
    for i in range(2):
        with pytest.raises(AuthError, match="not right"):
            attempt(staff, "wrong password " + str(i), T0 + timedelta(seconds=i))
    assert account(staff).failed_attempts == 2  # each failure is stored, though the sign-in itself failed
    with pytest.raises(AuthError, match=LOCKED):
        attempt(staff, "wrong password 3", T0 + timedelta(seconds=3))
    assert account(staff).locked_until == T0 + timedelta(seconds=3, minutes=15)


def test_the_right_password_is_refused_while_locked_and_accepted_after_the_lock_period(staff):
    for i in range(3):
        with pytest.raises(AuthError):
            attempt(staff, "wrong password", T0)
    with pytest.raises(AuthError, match=LOCKED):
        attempt(staff, PASSWORD, T0 + timedelta(minutes=1))
    with pytest.raises(AuthError, match=LOCKED):
        attempt(staff, PASSWORD, T0 + timedelta(minutes=14, seconds=59))
    token = attempt(staff, PASSWORD, T0 + timedelta(minutes=15, seconds=1))
    assert identity(token, T0 + timedelta(minutes=16)).username == staff


def test_a_right_password_before_the_limit_starts_the_count_again(staff):
    for _ in range(2):
        with pytest.raises(AuthError, match="not right"):
            attempt(staff, "wrong password", T0)
    attempt(staff, PASSWORD, T0)
    for _ in range(2):
        with pytest.raises(AuthError, match="not right"):
            attempt(staff, "wrong password", T0)
    assert attempt(staff, PASSWORD, T0)


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(staff):
    with pytest.raises(AuthError) as unknown:
        attempt("nobody.here", PASSWORD, T0)
    with pytest.raises(AuthError) as wrong:
        attempt(staff, "wrong password", T0)
    assert str(unknown.value) == str(wrong.value)


def test_a_session_gives_an_identity_until_it_expires(staff):
    token = attempt(staff, PASSWORD, T0)
    who = identity(token, T0 + timedelta(hours=11, minutes=59))
    assert (who.username, who.display_name, who.role) == (staff, "Control One", "fcr")
    assert identity(token, T0 + timedelta(hours=12)) is None
    assert identity(token, T0 + timedelta(days=3)) is None


def test_a_signed_out_session_gives_no_identity_and_others_live_on(staff):
    desk, phone = attempt(staff, PASSWORD, T0), attempt(staff, PASSWORD, T0)
    with session_scope() as s:
        sign_out(s, desk)
    assert identity(desk, T0 + timedelta(minutes=1)) is None
    assert identity(phone, T0 + timedelta(minutes=1)).username == staff


def test_a_made_up_or_missing_token_gives_no_identity(staff):
    token = attempt(staff, PASSWORD, T0)
    assert identity(token[:-1] + ("A" if token[-1] != "A" else "B"), T0) is None
    assert identity("", T0) is None and identity(None, T0) is None
    assert identity("x" * 500, T0) is None


def test_a_deactivated_account_loses_its_sessions(staff):
    token = attempt(staff, PASSWORD, T0)
    with session_scope() as s:
        s.get(StaffUser, account(staff).id).active = False
    assert identity(token, T0 + timedelta(minutes=1)) is None
    with pytest.raises(AuthError, match="not right"):
        attempt(staff, PASSWORD, T0 + timedelta(minutes=1))
