"""A numbered feed's order inside one batch's transaction: the resume point moves only over frames taken in
order, a frame ahead of the stream is dead-lettered and held as an alert, and the gateway's heartbeats settle
held frames. The rules are `rxapp/domain/feed_sequence.py`; this keeps them in the database (the resume point,
the feed's health and `FeedAlert`), so they hold across restarts and every worker sees the same. Alerts are
logged at ERROR with sequence numbers only.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Optional

from sqlmodel import Session, select

from rxapp.domain import feed_sequence as order
from rxapp.feeds.ingest import FeedBatch
from rxapp.feeds.models import FeedAlert, FeedCursor

log = logging.getLogger(__name__)


def _open_alerts(session: Session, feed: str) -> list[FeedAlert]:
    return list(session.exec(select(FeedAlert).where(FeedAlert.feed == feed, FeedAlert.resolved_at == None)  # noqa: E711
                             .order_by(FeedAlert.seq)))


class SequenceGuard:
    """The order of one batch. `place(seq)` says where a frame stands; `advance` takes it in order; `ahead`
    dead-letters a frame that jumped; `finish` stores the resume point and the feed's health."""

    def __init__(self, batch: FeedBatch, cursor: FeedCursor):
        self.batch, self.cursor = batch, cursor
        self.session, self.feed, self.now = batch.session, batch.feed, batch.now
        self.last = cursor.last_seq
        self.accepted = False
        self._alerts: Optional[list[FeedAlert]] = None  # loaded when first needed

    def alerts(self) -> list[FeedAlert]:
        if self._alerts is None:
            self._alerts = _open_alerts(self.session, self.feed)
        return self._alerts

    def place(self, seq: int) -> str:
        return order.place(seq, self.last)

    def advance(self, seq: int, *, accepted: bool) -> None:
        """A frame taken in order: applied (or known already), or dead-lettered when `accepted` is False."""
        self.last = seq
        self.accepted = self.accepted or accepted
        for alert in [a for a in self.alerts() if a.seq <= seq]:
            _settle(alert, self.now, f"the stream reached seq {alert.seq} in order; the frame that came ahead was "
                                     "never applied")
            self._alerts.remove(alert)

    def ahead(self, raw: str, reason: Optional[str], seq: int, event_id: Optional[str]) -> None:
        """A frame numbered beyond the next one: dead-lettered (not applied), with an alert for its hole."""
        expected = self.last + 1
        why = f"seq {seq} is ahead of the stream (expected {expected}): held back, not applied"
        self.batch.dead_letter(raw, why if reason is None else f"{reason}; {why}", seq=seq, event_id=event_id)
        if any(a.expected_seq == expected or a.seq == seq for a in self.alerts()):
            return  # this hole, or this frame, is already alerted
        alert = FeedAlert(feed=self.feed, seq=seq, expected_seq=expected, raised_at=self.now)
        self.session.add(alert)
        self._alerts.append(alert)
        log.error("%s feed: seq %d is ahead of the stream (expected seq %d); dead-lettered and held back until "
                  "the stream reaches it or the gateway confirms a gap", self.feed.upper(), seq, expected)

    def finish(self, *, framed: bool) -> None:
        """Store the resume point, and when `framed` (the batch held any frame, good or bad) the feed's health."""
        if self.last != self.cursor.last_seq:
            self.cursor.last_seq = self.last
            self.cursor.updated_at = self.now
        if framed:
            self.cursor.last_frame_at = self.now
        if self.accepted:
            self.cursor.last_accepted_at = self.now


def note_heartbeat(session: Session, feed: str, seq_high: int, now: datetime) -> bool:
    """The gateway announced `seq_high`: store it and settle what it settles. True when a gap was accepted and
    the resume point moved, so the client must subscribe again for the gateway to replay from there."""
    cursor = session.get(FeedCursor, feed)
    if cursor is None:
        cursor = FeedCursor(feed=feed, last_seq=0)
        session.add(cursor)
    cursor.gateway_seq_high, cursor.gateway_seq_at = seq_high, now
    moved = False
    for alert in _open_alerts(session, feed):
        verdict = order.judge_held(alert.seq, alert.expected_seq, cursor.last_seq, seq_high)
        if verdict == order.REACHED:
            _settle(alert, now, f"the stream reached seq {alert.seq} in order")
        elif verdict == order.DISOWNED:
            _settle(alert, now, f"seq {alert.seq} is beyond the gateway's highest ({seq_high}) and every frame up "
                                "to that has come: kept as a dead letter, never applied")
            log.error("%s feed: seq %d is beyond the gateway's highest seq %d; it stays a dead letter", feed.upper(),
                      alert.seq, seq_high)
        elif verdict == order.GAP and not moved:
            first, last = cursor.last_seq + 1, alert.seq - 1
            _settle(alert, now, f"gap accepted: seq {first} to {last} never sent (the gateway's highest is "
                                f"{seq_high}); resumed from seq {alert.seq}, replayed and applied in order")
            log.error("%s feed: gap accepted: seq %d to %d were never sent by the gateway (its highest is %d); "
                      "resuming from seq %d", feed.upper(), first, last, seq_high, alert.seq)
            cursor.last_seq, cursor.updated_at = last, now
            moved = True
    return moved


def _settle(alert: FeedAlert, now: datetime, outcome: str) -> None:
    alert.resolved_at, alert.outcome = now, outcome[:300]
