"""Feed health for administrators: the resume points, the dispatch link and whether it is degraded, its
sequence alerts, the records poller, which process runs the background work and each job's last run (all from
the database, so true on every worker), and every dead-lettered frame or change."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, func, select

from rxapp.domain.attendance import london_day, london_time
from rxapp.domain.feed_sequence import FeedFacts, degraded_reasons
from rxapp.feeds.models import DeadLetter, FeedAlert, FeedCursor
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.jobs import LEADING, runner_status

SHOWN = 200
ALERTS_SHOWN = 50


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def storm_feed_health(session: Session, now: datetime) -> dict:
    """The dispatch feed's own record of itself: `degraded` lists why it is degraded ([] when it is not).
    Numbers and times only, for /healthz's details and /admin/feed."""
    cursor = session.get(FeedCursor, "storm")
    open_alerts = session.exec(select(func.count()).select_from(FeedAlert).where(
        FeedAlert.feed == "storm", FeedAlert.resolved_at == None)).one()  # noqa: E711
    last_alert_at = session.exec(select(func.max(FeedAlert.raised_at)).where(FeedAlert.feed == "storm")).one()
    facts = FeedFacts(now=now, last_frame_at=cursor.last_frame_at if cursor else None,
                      last_accepted_at=cursor.last_accepted_at if cursor else None, open_alerts=open_alerts,
                      last_alert_at=last_alert_at, window=timedelta(minutes=settings().storm_degraded_minutes))
    return {
        "degraded": degraded_reasons(facts),
        "last_seq": cursor.last_seq if cursor else 0,
        "gateway_seq_high": cursor.gateway_seq_high if cursor else None,
        "last_frame_at": _iso(facts.last_frame_at),
        "last_accepted_at": _iso(facts.last_accepted_at),
        "open_sequence_alerts": open_alerts,
    }


def _when(iso: str | None, now: datetime) -> str:
    if not iso:
        return "never"
    at = datetime.fromisoformat(iso)
    return f"{london_day(at, now)} {london_time(at)}"


def _age(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min" if seconds < 7200 else f"{seconds // 3600} h"


def _describe_runner(status: dict, now: datetime) -> dict:
    """Which process runs the background work, whether it is still alive, and each job's last run."""
    leader = status.get("leader")
    if leader is None:
        who, heartbeat = "No process has run the background work yet", "never"
    else:
        who = f"process {leader['pid']} on {leader['host']}, since {_when(leader['since'], now)}"
        age = _age(leader["heartbeat_age_seconds"])
        if leader["state"] != LEADING:
            who = f"NONE: the last runner ({who}) stopped"
            heartbeat = f"last {age} ago"
        elif leader["stale"]:
            heartbeat = (f"STALE: last heartbeat {age} ago; that process is gone or stuck, and another takes over "
                         "once its lock is free")
        else:
            heartbeat = f"{age} ago"
    jobs = [{
        "id": job_id,
        "every": _age(job["every_seconds"] or 0),
        "started": _when(job["last_started_at"], now),
        "finished": _when(job["last_finished_at"], now),
        "outcome": "running now" if job["state"] == "running" else (job["outcome"] or "not run yet"),
    } for job_id, job in sorted(status.get("jobs", {}).items())]
    return {"runner_leader": who, "runner_heartbeat": heartbeat, "runner_ok": status.get("running", False),
            "jobs": jobs}


def load_feed_health() -> dict:
    now = utcnow()
    with session_scope(readonly=True) as session:
        cursor = session.get(FeedCursor, "storm")
        records_cursor = session.get(FeedCursor, "niche")
        # Each feed's dead letters under its own heading.
        per_feed = dict(session.exec(select(DeadLetter.feed, func.count()).group_by(DeadLetter.feed)).all())
        rows = session.exec(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(SHOWN)).all()
        storm = storm_feed_health(session, now)
        alerts = [{
            "seq": str(a.seq), "expected": str(a.expected_seq),
            "raised": f"{london_day(a.raised_at, now)} {london_time(a.raised_at)}",
            "outcome": a.outcome or "OPEN: held back, waiting for the stream or the gateway's heartbeat",
        } for a in session.exec(select(FeedAlert).where(FeedAlert.feed == "storm")
                                .order_by(FeedAlert.id.desc()).limit(ALERTS_SHOWN))]
        letters = [{
            "id": str(d.id), "feed": d.feed, "seq": "" if d.seq is None else str(d.seq),
            "when": f"{london_day(d.received_at, now)} {london_time(d.received_at)}",
            "reason": d.reason, "raw": d.raw if len(d.raw) <= 400 else d.raw[:400] + f"… ({len(d.raw)} characters)",
        } for d in rows]
    status = runner_status(now)
    # What the feed and the poller last reported; if the runner has stopped reporting, say so beside it.
    as_of = "" if status["running"] else " (as last reported; the runner is not running)"
    feed = status.get("feed")
    records = status.get("records")
    if records and records.get("state") == "stopped":
        # An alert: the records feed refused our credentials (or was stopped); nothing new arrives until fixed.
        records_state = f"STOPPED: {records.get('stopped_reason') or 'stopped'}"
    elif records:
        records_state = records.get("state", "") + (f" (last problem: {records['last_error']})"
                                                   if records.get("last_error") else "") + as_of
    else:
        records_state = "not polled here: no records poller is running (NICHE_FEED_URL not set, or no runner)"
    if feed:
        connected = ("connected" if feed.get("connected") else "not connected" + (
            f" (last problem: {feed['last_error']})" if feed.get("last_error") else "")) + as_of
    else:
        connected = "not connected: no dispatch feed client is running (STORM_FEED_URL not set, or no runner)"
    return {
        "records_cursor_at": (f"{london_day(records_cursor.updated_at, now)} {london_time(records_cursor.updated_at)}"
                              if records_cursor else "never"),
        "records_state": records_state,
        "last_seq": str(cursor.last_seq if cursor else 0),
        "cursor_at": f"{london_day(cursor.updated_at, now)} {london_time(cursor.updated_at)}" if cursor else "never",
        "connected": connected,
        "feed_state": ("DEGRADED: " + "; ".join(storm["degraded"])) if storm["degraded"] else (
            "working" if cursor and cursor.last_frame_at else "no frames received yet"),
        "gateway_seq_high": "" if storm["gateway_seq_high"] is None else str(storm["gateway_seq_high"]),
        "alerts": alerts,
        "storm_dead_letters": str(per_feed.get("storm", 0)),
        "records_dead_letters": str(per_feed.get("niche", 0)),
        "letters": letters,
        **_describe_runner(status, now),
    }
