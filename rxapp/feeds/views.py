"""Feed health for administrators: the resume points, the dispatch link, the records poller, which process
runs the background work and each job's last run (all from the database, so true on every worker), and
every dead-lettered frame or change."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import func, select

from rxapp.domain.attendance import london_day, london_time
from rxapp.feeds.models import DeadLetter, FeedCursor
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.jobs import LEADING, runner_status

SHOWN = 200


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
        "storm_dead_letters": str(per_feed.get("storm", 0)),
        "records_dead_letters": str(per_feed.get("niche", 0)),
        "letters": letters,
        **_describe_runner(status, now),
    }
