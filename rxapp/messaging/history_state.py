"""Message history for one incident and its victim; every load checks the staff session itself."""
from __future__ import annotations

import asyncio

import reflex as rx

from rxapp.messaging.views import load_history
from rxapp.staff.states import StaffState, current_staff

HISTORY_ROLES = ("fcr", "officer", "supervisor", "admin")


class MessageHistory(rx.State):
    found: bool = False
    urn: str = ""
    summary: str = ""
    flags: str = ""
    messages: list[dict[str, str]] = []
    other_messages: list[dict[str, str]] = []
    tasks: list[dict[str, str]] = []

    @rx.event
    async def load(self):
        staff = await current_staff(self)
        if staff is None or staff.role not in HISTORY_ROLES:
            self.messages, self.other_messages, self.tasks, self.found = [], [], [], False
            return rx.redirect("/login" if staff is None else "/login?error=role")
        who = await self.get_state(StaffState)
        who.display_name, who.role = staff.display_name, staff.role
        urn = str(self.router.url.query_parameters.get("urn", ""))[:64]
        data = await asyncio.to_thread(load_history, urn)
        self.found = data is not None
        if data is None:
            self.urn, self.messages, self.other_messages, self.tasks = urn, [], [], []
            return None
        for key, value in data.items():
            setattr(self, key, value)
        return None
