"""What every feed ingest keeps: its resume point, the events already applied, and the dead letters.
Every change to them is an Alembic migration in `alembic/versions/`."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from rxapp.plumbing.columns import UTCDateTime, utc_field, utcnow


class FeedCursor(SQLModel, table=True):
    """Resume point of a feed, written in the same transaction as the events it covers."""

    feed: str = Field(primary_key=True, max_length=40)
    last_seq: int = Field(default=0, sa_type=sa.BigInteger)
    cursor: Optional[str] = Field(default=None, max_length=200)  # an opaque cursor (the records feed)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # The numbered feed's health (rxapp/domain/feed_sequence.py): the highest seq the gateway last announced in
    # a heartbeat, when an event frame last came, and when one last moved the resume point without being
    # dead-lettered. Frames arriving while nothing is accepted is what "degraded" means.
    gateway_seq_high: Optional[int] = Field(default=None, sa_type=sa.BigInteger)
    gateway_seq_at: Optional[datetime] = utc_field()
    last_frame_at: Optional[datetime] = utc_field()
    last_accepted_at: Optional[datetime] = utc_field()


class ProcessedEvent(SQLModel, table=True):
    """Event ids already applied: a repeated id changes nothing."""

    event_id: str = Field(primary_key=True, max_length=100)
    feed: str = Field(max_length=40)
    seq: int = Field(sa_type=sa.BigInteger)
    processed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # A digest of the event as applied, so an id repeated with other content is told apart from a replay.
    digest: Optional[str] = Field(default=None, max_length=64)


class DeadLetter(SQLModel, table=True):
    """A frame the product could not apply, kept with its reason for administrators."""

    id: Optional[int] = Field(default=None, primary_key=True)
    feed: str = Field(max_length=40, index=True)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    seq: Optional[int] = Field(default=None, sa_type=sa.BigInteger, index=True)
    event_id: Optional[str] = Field(default=None, max_length=100)
    reason: str = Field(max_length=500)
    raw: str = Field(sa_type=sa.Text)


class FeedAlert(SQLModel, table=True):
    """A frame that came ahead of its feed's stream (a jump or a gap in the sequence numbers): held open until
    the stream reaches it, the gateway confirms the gap, or the gateway disowns the number. Numbers only."""

    __tablename__ = "feedalert"

    id: Optional[int] = Field(default=None, primary_key=True)
    feed: str = Field(max_length=40, index=True)
    seq: int = Field(sa_type=sa.BigInteger)  # the frame's number
    expected_seq: int = Field(sa_type=sa.BigInteger)  # the number the stream was waiting for
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    resolved_at: Optional[datetime] = utc_field(index=True)
    outcome: Optional[str] = Field(default=None, max_length=300)  # how it was settled, in numbers


class RunnerStatus(SQLModel, table=True):
    """What the elected runner last said about itself and its work, so every worker's health check and the
    administrators' page tell the truth, not only the leader's. One row per component: `leader` (which
    process runs the background work, and its heartbeat), each long-running loop (`storm`, `niche`) and each
    scheduled job (by its id). Only the leader writes here; see `rxapp/plumbing/jobs.py`."""

    __tablename__ = "runner_status"

    component: str = Field(primary_key=True, max_length=60)
    kind: str = Field(max_length=10)  # leader, loop, job
    host: str = Field(default="", max_length=255)  # the leader that wrote the row
    pid: int = 0
    state: str = Field(default="", max_length=40)  # leader: leading, stepped down; loop: its state; job: running, idle
    detail: str = Field(default="{}", sa_type=sa.Text)  # JSON: a loop's status snapshot; never personal data
    every_seconds: Optional[float] = None  # a job's interval
    started_at: Optional[datetime] = utc_field()  # leader: leading since; job: its last run began
    finished_at: Optional[datetime] = utc_field()  # job: its last run ended
    outcome: Optional[str] = Field(default=None, max_length=200)  # job: "ok", or "failed: <error type>"
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)  # heartbeat
