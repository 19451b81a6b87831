"""The victim portal's tables: invitations, one-time codes, server-side sessions, the conversation with the
officer in charge, changes of preference, and feedback.
Every change to them is an Alembic migration in `alembic/versions/`.

Links, codes and session tokens are stored only as hashes (rxapp/plumbing/links.py `token_hash`); what the
victim wrote is stored exactly as written and escaped wherever it is shown."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from rxapp.plumbing.columns import UTCDateTime, utc_field, utcnow


class PortalInvite(SQLModel, table=True):
    """An invitation for one victim of one case: the link texted or emailed to them. The one-time codes go to
    the same contact (`channel`, `destination`) the invitation went to. A newer invitation revokes older
    ones for the same case victim."""

    id: Optional[int] = Field(default=None, primary_key=True)
    case_victim_id: int = Field(foreign_key="casevictim.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    # The link is derived from this random nonce and the server secret (as victims' tracking links are), so the
    # server can put it in a later message without storing the link itself.
    link_nonce: str = Field(max_length=64)
    channel: str = Field(max_length=10)  # a Channel: sms, email
    destination: str = Field(max_length=320)  # personal data: never logged
    message_id: Optional[int] = Field(default=None, foreign_key="message.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    revoked_at: Optional[datetime] = utc_field()
    revoked_by: Optional[str] = Field(default=None, max_length=80)


class PortalCode(SQLModel, table=True):
    """A one-time sign-in code (6 digits, stored hashed with the invite's id), valid for a few minutes and a
    few tries; a fresh code replaces it."""

    id: Optional[int] = Field(default=None, primary_key=True)
    invite_id: int = Field(foreign_key="portalinvite.id", index=True)
    code_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    attempts: int = 0
    used_at: Optional[datetime] = utc_field()
    message_id: Optional[int] = Field(default=None, foreign_key="message.id")


class PortalSession(SQLModel, table=True):
    """A victim's server-side session; the browser holds only a random token (HttpOnly cookie) whose hash is
    the key. Ends after a spell idle, on sign-out, when staff revoke it, or when access to the case ends."""

    token_hash: str = Field(primary_key=True, max_length=64)
    invite_id: int = Field(foreign_key="portalinvite.id", index=True)
    case_victim_id: int = Field(foreign_key="casevictim.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    ended_at: Optional[datetime] = utc_field(index=True)
    ended_how: Optional[str] = Field(default=None, max_length=20)  # signed_out, idle, revoked, access_ended
    ended_by: Optional[str] = Field(default=None, max_length=80)  # the staff member who revoked it


class PortalMessage(SQLModel, table=True):
    """One message in the conversation between a victim (of one case) and the officer in charge."""

    id: Optional[int] = Field(default=None, primary_key=True)
    case_victim_id: int = Field(foreign_key="casevictim.id", index=True)
    author: str = Field(max_length=10)  # victim, officer, auto (the automatic answer)
    author_label: str = Field(default="", max_length=120)  # an officer's rank and collar number, never a name
    body: str = Field(sa_type=sa.Text)  # as written; escaped wherever it is shown
    via: str = Field(default="portal", max_length=10)  # portal, sms (a text reply), staff
    asks_for_update: bool = False
    task_id: Optional[int] = Field(default=None, foreign_key="task.id")
    inbound_text_id: Optional[int] = Field(default=None, foreign_key="inboundtext.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    read_by_victim_at: Optional[datetime] = utc_field()
    read_by_officer_at: Optional[datetime] = utc_field()


class PreferenceChange(SQLModel, table=True):
    """Each change of a victim's contact preferences, by whom and when, for the officer to see."""

    id: Optional[int] = Field(default=None, primary_key=True)
    victim_id: int = Field(foreign_key="victim.id", index=True)
    case_victim_id: Optional[int] = Field(default=None, foreign_key="casevictim.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    setting: str = Field(max_length=40)  # channel, language, routine_every_days, opt_out_all, opt_out_sms, ...
    old_value: str = Field(default="", max_length=40)
    new_value: str = Field(default="", max_length=40)
    changed_by: str = Field(default="victim", max_length=80)  # victim, or a staff member's name


class Feedback(SQLModel, table=True):
    """A victim's answer to the short survey, offered once per subject ("attendance:<incident id>" after an
    attendance, "case:<occurrence id>" at the end of a case). Stored for the compliance view."""

    __table_args__ = (sa.UniqueConstraint("victim_id", "subject", name="uq_feedback_victim_subject"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    victim_id: int = Field(foreign_key="victim.id", index=True)
    subject: str = Field(max_length=60)
    occurrence_id: Optional[int] = Field(default=None, foreign_key="occurrence.id", index=True)
    incident_id: Optional[int] = Field(default=None, foreign_key="incident.id", index=True)
    offered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    answered_at: Optional[datetime] = utc_field()
    declined: bool = False
    informed_score: Optional[int] = None  # 1 to 5: how well we kept you informed
    overall_score: Optional[int] = None  # 1 to 5: overall
    comment: str = Field(default="", sa_type=sa.Text)  # as written; escaped wherever it is shown
