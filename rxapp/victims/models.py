"""The victim: the person a force keeps promises to, and what they told us about contact.
Every change to them is an Alembic migration in `alembic/versions/`."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from rxapp.plumbing.columns import UTCDateTime, utc_field, utcnow


class Victim(SQLModel, table=True):
    """The person a force keeps promises to. Contact details are personal data: never logged."""

    id: Optional[int] = Field(default=None, primary_key=True)
    name: Optional[str] = Field(default=None, max_length=200)
    phone: Optional[str] = Field(default=None, max_length=32)  # E.164
    email: Optional[str] = Field(default=None, max_length=320)
    sms_consent: bool = False
    language: str = Field(default="en", max_length=8)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # From the records system (NICHE) once a crime is recorded; null until then.
    person_id: Optional[str] = Field(default=None, max_length=64, index=True)
    date_of_birth: Optional[date] = None
    postal_address: Optional[str] = Field(default=None, max_length=500)
    preferred_channel: Optional[str] = Field(default=None, max_length=10)  # SMS, EMAIL, LETTER, PHONE
    contact_notes: Optional[str] = Field(default=None, max_length=1000)
    vulnerabilities: str = Field(default="", max_length=200)  # comma-separated contract codes
    intimidated: bool = False
    persistently_targeted: bool = False
    interpreter: bool = False
    accessibility: Optional[str] = Field(default=None, max_length=500)
    consent_updates: Optional[bool] = None
    consent_referral: Optional[bool] = None


class VictimContactState(SQLModel, table=True):
    """What the victim has told us about contact, and what delivery has taught us. One row per victim."""

    victim_id: int = Field(primary_key=True, foreign_key="victim.id")
    opted_out_all: bool = False
    opted_out_sms: bool = False
    opted_out_email: bool = False
    opted_out_at: Optional[datetime] = utc_field()
    safe_contact_confirmed: bool = False
    phone_failed_permanently: bool = False
    email_failed_permanently: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

