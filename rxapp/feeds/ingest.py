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

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Mapping, Optional, TypeVar

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

    def repeat(self, event_id: str, digest: str, summary: Callable[[], str]) -> bool:
        """True when this event id was applied before (or held): a replay with the same content is counted
        as a duplicate; the same id with other content is a dead letter, since only the first was applied."""
        row = self.session.get(ProcessedEvent, self.key_prefix + event_id)
        if row is None:
            return False
        if row.digest is not None and row.digest != digest:
            self.dead_letter(summary(), "change id repeated with different content: the first version was "
                                        "applied, this one was not", event_id=event_id)
        else:
            self.counts.duplicates += 1
        return True

    def remember(self, event_id: str, seq: Optional[int], digest: Optional[str] = None) -> None:
        """This event id is dealt with (applied, or held for a person): a replay changes nothing."""
        self.session.add(ProcessedEvent(event_id=self.key_prefix + event_id, feed=self.feed, seq=seq or 0,
                                        processed_at=self.now, digest=digest))

    def apply(self, event_id: str, seq: Optional[int], action: Callable[[], T], summary: Callable[[], str],
              digest: Optional[str] = None):
        """Run `action` in a savepoint and remember the event id; returns its result, or NOT_APPLIED when it
        became a dead letter. Database errors are not caught: the whole batch is then retried."""
        try:
            with self.session.begin_nested():
                value = action()
                self.remember(event_id, seq, digest)
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


def digest_of(value) -> str:
    """A stable digest of a parsed event (dataclasses, mappings, sequences, dates), so that the same event
    sent again is told apart from another event under the same id, whatever the order of its JSON keys."""
    return hashlib.sha256(json.dumps(_plain(value), sort_keys=True, default=str).encode()).hexdigest()


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (frozenset, set)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
