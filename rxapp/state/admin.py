"""Feed health for administrators: the resume point, the client's link, and every dead-lettered frame."""
from __future__ import annotations

import asyncio

import reflex as rx
from sqlmodel import func, select

from ..db import session_scope
from ..domain.attendance import london_day, london_time
from ..models import DeadLetter, FeedCursor, utcnow
from .staff import StaffState, current_staff

ADMIN_ROLES = ("admin", "supervisor")
SHOWN = 200


def load_feed_health() -> dict:
    now = utcnow()
    with session_scope(readonly=True) as session:
        cursor = session.get(FeedCursor, "storm")
        total = session.exec(select(func.count()).select_from(DeadLetter)).one()
        rows = session.exec(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(SHOWN)).all()
        letters = [{
            "id": str(d.id), "feed": d.feed, "seq": "" if d.seq is None else str(d.seq),
            "when": f"{london_day(d.received_at, now)} {london_time(d.received_at)}",
            "reason": d.reason, "raw": d.raw if len(d.raw) <= 400 else d.raw[:400] + f"… ({len(d.raw)} characters)",
        } for d in rows]
    from ..runner import runner_status

    feed = runner_status().get("feed") or {}
    return {
        "last_seq": str(cursor.last_seq if cursor else 0),
        "cursor_at": f"{london_day(cursor.updated_at, now)} {london_time(cursor.updated_at)}" if cursor else "never",
        "connected": "connected" if feed.get("connected") else "not connected (or running in another process)",
        "total": str(total),
        "letters": letters,
    }


class FeedAdmin(rx.State):
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
