"""The feed administration page's state: only administrators and supervisors; what it shows is
`rxapp/feeds/views.py`."""
from __future__ import annotations

import asyncio

import reflex as rx

from rxapp.feeds.views import load_feed_health
from rxapp.staff.permissions import Permission, roles_with
from rxapp.staff.states import StaffState, current_staff

ADMIN_ROLES = roles_with(Permission.READ_FEEDS)  # from the one table of who may do what
class FeedAdmin(rx.State):
    records_cursor_at: str = ""
    records_state: str = ""
    last_seq: str = ""
    cursor_at: str = ""
    connected: str = ""
    feed_state: str = ""
    gateway_seq_high: str = ""
    alerts: list[dict[str, str]] = []
    storm_dead_letters: str = ""
    records_dead_letters: str = ""
    letters: list[dict[str, str]] = []
    runner_leader: str = ""
    runner_heartbeat: str = ""
    runner_ok: bool = True
    jobs: list[dict[str, str]] = []

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
