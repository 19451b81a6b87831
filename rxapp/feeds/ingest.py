"""The one way a feed's events reach the database, for the dispatch feed (STORM) and the records feed
(NICHE) alike.

A batch is applied in ONE transaction together with the feed's resume point, so a crash re-reads the batch
and never skips or half-applies it. Within it:
- an event id already applied changes nothing (a replay after a reconnect, a repeated page);
- each event runs in its own savepoint: one that cannot be applied is undone alone and becomes a dead letter
  with its reason, while the rest of the batch applies;
- a frame that could not even be parsed is a dead letter too, kept once however often the feed repeats it.
Reasons and log lines name types and fields, never a person's details.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional, TypeVar

from sqlmodel import Session, select

from rxapp.feeds.models import DeadLetter, FeedCursor, ProcessedEvent

log = logging.getLogger(__name__)
RAW_LIMIT = 64 * 1024  # what is kept of a dead letter's frame
T = TypeVar("T")
NOT_APPLIED = object()


class Rejected(Exception):
    """A well-formed event the product cannot apply (it names an unknown incident or occurrence, say)."""


@dataclass
class IngestCounts:
    applied: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    ignored: int = 0


class FeedBatch:
    """One batch of one feed, inside the caller's transaction.

    `numbered` feeds (STORM) give every frame a sequence number: a dead letter is the same one again when its
    number and frame match. Feeds without numbers (NICHE) match on the event id and frame instead.
    """

    def __init__(self, session: Session, feed: str, now: datetime, *, numbered: bool, key_prefix: str = "") -> None:
        self.session, self.feed, self.now = session, feed, now
        self.numbered, self.key_prefix = numbered, key_prefix
        self.counts = IngestCounts()

    def resume_point(self) -> FeedCursor:
        """The feed's stored resume point, to move forward in this same transaction."""
        cursor = self.session.get(FeedCursor, self.feed)
        if cursor is None:
            cursor = FeedCursor(feed=self.feed, last_seq=0)
            self.session.add(cursor)
        return cursor

    def seen(self, event_id: str) -> bool:
        return self.session.get(ProcessedEvent, self.key_prefix + event_id) is not None

    def apply(self, event_id: str, seq: Optional[int], action: Callable[[], T], summary: Callable[[], str]):
        """Run `action` in a savepoint and remember the event id; returns its result, or NOT_APPLIED when it
        became a dead letter. Database errors are not caught: the whole batch is then retried."""
        try:
            with self.session.begin_nested():
                value = action()
                self.session.add(ProcessedEvent(event_id=self.key_prefix + event_id, feed=self.feed, seq=seq or 0,
                                                processed_at=self.now))
        except Rejected as exc:
            self.dead_letter(summary(), str(exc), seq=seq, event_id=event_id)
            return NOT_APPLIED
        except (ValueError, LookupError, TypeError) as exc:
            # An event this code cannot handle must not block every event after it (the savepoint undid its
            # part). The type only: an exception's message or traceback may quote a person's details.
            log.error("%s event %s could not be applied (%s)", self.feed, event_id, type(exc).__name__)
            self.dead_letter(summary(), f"could not be applied ({type(exc).__name__})", seq=seq, event_id=event_id)
            return NOT_APPLIED
        return value

    def dead_letter(self, raw, reason: str, *, seq: Optional[int] = None, event_id: Optional[str] = None) -> None:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        raw = str(raw)[:RAW_LIMIT]
        self.counts.dead_letters += 1
        # A bad frame is not a resume point (its number may be as bad as the rest of it), so the feed may
        # send it again: keep one copy.
        same = select(DeadLetter.id).where(DeadLetter.feed == self.feed, DeadLetter.raw == raw)
        if self.numbered:
            same = same.where(DeadLetter.seq == seq) if seq is not None else None
        else:
            same = same.where(DeadLetter.event_id == event_id if event_id is not None
                              else DeadLetter.event_id.is_(None))
        if same is not None and self.session.exec(same).first() is not None:
            return
        self.session.add(DeadLetter(feed=self.feed, seq=seq, event_id=event_id, reason=reason[:500], raw=raw))
        log.warning("dead-lettered %s frame (seq %s, event %s): %s", self.feed, seq, event_id, reason)
