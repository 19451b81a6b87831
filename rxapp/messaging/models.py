"""The outbox (every message to a victim), its history, and the texts victims send us.
Every change to them is an Alembic migration in `alembic/versions/`."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from rxapp.domain.statuses import InboundHandling, MessageStatus
from rxapp.plumbing.columns import UTCDateTime, utc_field, utcnow


class Message(SQLModel, table=True):
    __table_args__ = (
        # The networks' per-number limits are checked before every text: count by number and send time.
        sa.Index("ix_message_destination_sent_at", "destination", "sent_at"),
    )

    """The outbox: written in the same transaction as the change that causes it; the sender delivers it.

    `reference` is what the provider sees: random, with no personal data. `status` is a `MessageStatus`
    (`rxapp/domain/statuses.py` says what each means), `kind` a `MessageKind`, `channel` a `Channel`.
    """

    id: Optional[int] = Field(default=None, primary_key=True)
    reference: str = Field(max_length=64, unique=True, index=True)
    victim_id: Optional[int] = Field(default=None, foreign_key="victim.id", index=True)
    incident_id: Optional[int] = Field(default=None, foreign_key="incident.id", index=True)
    template: str = Field(max_length=60)
    kind: str = Field(max_length=20)  # a MessageKind: attendance, routine, service
    channel: str = Field(max_length=10)  # a Channel: sms, email
    language: str = Field(default="en", max_length=8)
    destination: str = Field(max_length=320)
    personalisation: str = Field(default="{}", sa_type=sa.Text)
    body: str = Field(default="", sa_type=sa.Text)
    status: str = Field(default=MessageStatus.QUEUED, max_length=24, index=True)  # a MessageStatus
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    attempts: int = 0
    provider_id: Optional[str] = Field(default=None, max_length=64, index=True)
    bundled_under: Optional[str] = Field(default=None, max_length=64)  # the lead's reference when sent with others
    occurrence_id: Optional[int] = Field(default=None, foreign_key="occurrence.id", index=True)
    duty_id: Optional[int] = Field(default=None, foreign_key="duty.id", index=True)
    rule: Optional[str] = Field(default=None, max_length=40)
    reason: Optional[str] = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    sending_since: Optional[datetime] = utc_field()
    sent_at: Optional[datetime] = utc_field()
    delivered_at: Optional[datetime] = utc_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class MessageEvent(SQLModel, table=True):
    """Everything that happened to a message, for the history staff read."""

    id: Optional[int] = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    status: str = Field(max_length=24)  # a MessageStatus, or a MessageNote
    detail: str = Field(default="", max_length=500)


class InboundText(SQLModel, table=True):
    """A text a victim sent us. Never dropped: a STOP opts out, anything else becomes a task for a person."""

    id: Optional[int] = Field(default=None, primary_key=True)
    provider_id: str = Field(max_length=64, unique=True, index=True)
    source_number: str = Field(max_length=32)
    body: str = Field(sa_type=sa.Text)
    received_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    victim_id: Optional[int] = Field(default=None, foreign_key="victim.id", index=True)
    incident_id: Optional[int] = Field(default=None, foreign_key="incident.id", index=True)
    handled_as: str = Field(default=InboundHandling.REPLY, max_length=20)  # an InboundHandling
    task_id: Optional[int] = Field(default=None, foreign_key="task.id")

