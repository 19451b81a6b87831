"""The order of a numbered feed (the STORM dispatch feed): where a frame stands against the resume point, what
the gateway's heartbeat says about a frame held back because it came ahead of the stream, and when the feed
is degraded. Plain rules, no I/O; the attendance service applies them (`rxapp/attendance/service.py`).

The resume point moves one number at a time: over a frame numbered exactly one more (applied, or
dead-lettered when it cannot be), never over a frame further ahead. A frame further ahead is dead-lettered,
not applied, and held as an alert until one of these settles it:
- the stream reaches its number in order (it was early or a stray: the stream carried on without it);
- the gateway's heartbeat announces a highest seq at or beyond it while the stream has not moved since the
  frame came (nothing between the resume point and it has arrived): the gateway skipped those numbers and
  will never send them. The gap is accepted and recorded, the resume point moves to just before the held
  frame, and the client subscribes again, so the gateway replays the held frame and what follows and they
  apply in order. A stream that goes on from the resume point after the frame shows the frame was a stray,
  so it is never taken for a gap, whatever a heartbeat says;
- the heartbeat announces a highest seq below it while the resume point has reached that highest: the
  gateway disowns the number (a corrupt or misnumbered frame). It stays a dead letter and is never applied.
Heartbeats come every 15 seconds, so a genuine gap holds the feed back for at most about that long, and a
frame a thousand ahead never moves the resume point at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

DUPLICATE = "duplicate"  # at or below the resume point: already dealt with
NEXT = "next"  # exactly one more: apply it (or dead-letter it) and move the resume point
AHEAD = "ahead"  # further ahead: dead-letter it and hold an alert

REACHED = "reached"  # the stream came to the held number in order
GAP = "gap"  # the gateway vouches for the held number and never sent the ones before it
DISOWNED = "disowned"  # the gateway's highest is below the held number and everything up to it has come
WAIT = "wait"  # still catching up with the gateway: nothing can be said yet


def place(seq: int, last: int) -> str:
    """Where a frame numbered `seq` stands against the resume point `last`."""
    if seq <= last:
        return DUPLICATE
    return NEXT if seq == last + 1 else AHEAD


def judge_held(held: int, expected: int, last: int, seq_high: Optional[int]) -> str:
    """What is known of a frame numbered `held` that came when the stream expected `expected`, given the
    resume point `last` now and the highest seq `seq_high` the gateway's latest heartbeat announced (None:
    no heartbeat yet)."""
    if last >= held:
        return REACHED
    if seq_high is None:
        return WAIT
    if seq_high >= held and last + 1 == expected:
        # Frames reach us in the gateway's order and a heartbeat after them, so had it held anything between
        # `last` and `held` we would have had it before this heartbeat; and the stream has not gone on
        # from `last` since, as it would have if `held` were a stray.
        return GAP
    if last >= seq_high:
        return DISOWNED
    return WAIT


@dataclass(frozen=True)
class FeedFacts:
    """What the feed's durable record says, for the health check (all times aware UTC)."""

    now: datetime
    last_frame_at: Optional[datetime]  # an event frame (good or bad) last reached the sink
    last_accepted_at: Optional[datetime]  # an event last moved the resume point without being dead-lettered
    open_alerts: int  # frames held back ahead of the stream, not yet settled
    last_alert_at: Optional[datetime]  # the newest sequence alert, settled or not
    window: timedelta  # how far back "recently" reaches


def degraded_reasons(f: FeedFacts) -> list[str]:
    """Why the feed is degraded (frames arriving but nothing applying, or a sequence alert), or [] when it is
    not. Each reason is a sentence for administrators and monitoring, naming no frame's content."""
    reasons = []
    since = f.now - f.window
    minutes = int(f.window.total_seconds() // 60)
    if f.open_alerts:
        reasons.append(f"{f.open_alerts} frame(s) held back ahead of the stream, waiting for the gateway")
    if f.last_frame_at is not None and f.last_frame_at >= since and (
            f.last_accepted_at is None or f.last_accepted_at < since):
        reasons.append(f"frames are arriving but none has applied in the last {minutes} minutes")
    if not f.open_alerts and f.last_alert_at is not None and f.last_alert_at >= since:
        reasons.append(f"a sequence alert in the last {minutes} minutes (see the alerts on /admin/feed)")
    return reasons
