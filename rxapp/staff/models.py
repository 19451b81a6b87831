"""Staff accounts and their server-side sessions.
Every change to them is an Alembic migration in `alembic/versions/`."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from rxapp.plumbing.columns import UTCDateTime, utc_field, utcnow


class StaffUser(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True, index=True)
    display_name: str = Field(default="", max_length=120)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=20)  # a StaffRole: fcr, officer, supervisor, admin
    active: bool = True
    failed_attempts: int = 0
    locked_until: Optional[datetime] = utc_field()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # Who the person is in the force: an officer's collar number (as the records system gives the officer in
    # charge, e.g. "PC 4127") and their team; access to cases is decided from these.
    collar_number: Optional[str] = Field(default=None, max_length=40, index=True)
    team: Optional[str] = Field(default=None, max_length=200, index=True)


class StaffSession(SQLModel, table=True):
    """Server-side staff session; the browser holds only a random token whose hash is stored here."""

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="staffuser.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    revoked: bool = False


class SignInThrottle(SQLModel, table=True):
    """Failed sign-ins counted per key ("account:<hash>", "address:<hash>", "all") in a time window, shared by
    every worker; a key over its limit is refused until `blocked_until`. No username or address in clear."""

    key: str = Field(primary_key=True, max_length=80)
    window_start: datetime = Field(sa_type=UTCDateTime, nullable=False)
    failures: int = 0
    blocked_until: Optional[datetime] = utc_field()
