"""Feed health for administrators: the resume points, the dispatch link, the records poller, and every
dead-lettered frame or change."""
from __future__ import annotations

import asyncio

import reflex as rx
from sqlmodel import func, select

from rxapp.plumbing.db import session_scope
from rxapp.domain.attendance import london_day, london_time
from rxapp.feeds.models import DeadLetter, FeedCursor
from rxapp.plumbing.columns import utcnow
from rxapp.staff.states import StaffState, current_staff

ADMIN_ROLES = ("admin", "supervisor")
SHOWN = 200


def load_feed_health() -> dict:
    now = utcnow()
    with session_scope(readonly=True) as session:
        cursor = session.get(FeedCursor, "storm")
        records_cursor = session.get(FeedCursor, "niche")
        total = session.exec(select(func.count()).select_from(DeadLetter)).one()
        rows = session.exec(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(SHOWN)).all()
        letters = [{
            "id": str(d.id), "feed": d.feed, "seq": "" if d.seq is None else str(d.seq),
            "when": f"{london_day(d.received_at, now)} {london_time(d.received_at)}",
            "reason": d.reason, "raw": d.raw if len(d.raw) <= 400 else d.raw[:400] + f"… ({len(d.raw)} characters)",
        } for d in rows]
    from rxapp.plumbing.runner import runner_status

    status = runner_status()
    feed = status.get("feed") or {}
    records = status.get("records") or {}
    if records.get("state") == "stopped":
        # An alert: the records feed refused our credentials (or was stopped); nothing new arrives until fixed.
        records_state = f"STOPPED: {records.get('stopped_reason') or 'stopped'}"
    elif records:
        records_state = records.get("state", "") + (f" (last problem: {records['last_error']})"
                                                   if records.get("last_error") else "")
    else:
        records_state = "not polled here (NICHE_FEED_URL not set, or running in another process)"
    return {
        "records_cursor_at": (f"{london_day(records_cursor.updated_at, now)} {london_time(records_cursor.updated_at)}"
                              if records_cursor else "never"),
        "records_state": records_state,
        "last_seq": str(cursor.last_seq if cursor else 0),
        "cursor_at": f"{london_day(cursor.updated_at, now)} {london_time(cursor.updated_at)}" if cursor else "never",
        "connected": "connected" if feed.get("connected") else "not connected (or running in another process)",
        "total": str(total),
        "letters": letters,
    }


class FeedAdmin(rx.State):
    records_cursor_at: str = ""
    records_state: str = ""
    last_seq: str = ""
    cursor_at: str = ""
    connected: str = ""
    total: str = ""
    letters: list[dict[str, str]] = []

    @rx.event
    async def load(self):
        staff = await current_staff(self)
        if staff is None or staff.role not in ADMIN_ROLES:
            self.letters = []
            return rx.redirect("/login?next=admin" if staff is None else "/login?error=role")
        who = await self.get_state(StaffState)
        who.display_name, who.role = staff.display_name, staff.role
        data = await asyncio.to_thread(load_feed_health)
        for key, value in data.items():
            setattr(self, key, value)
        return None
