"""Message history for one incident and its victim; every load checks the staff session itself and hands the
identity to the read model, which decides whether this account may read this incident (and answers an
incident it may not read exactly as one that does not exist)."""
from __future__ import annotations

import asyncio

import reflex as rx

from rxapp.messaging.views import load_history
from rxapp.staff.permissions import Permission, holds
from rxapp.staff.states import StaffState, current_staff


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
        if staff is None or not holds(staff, Permission.READ_CASE):
            self.messages, self.other_messages, self.tasks, self.found = [], [], [], False
            return rx.redirect("/login" if staff is None else "/login?error=role")
        who = await self.get_state(StaffState)
        who.display_name, who.role = staff.display_name, staff.role
        urn = str(self.router.url.query_parameters.get("urn", ""))[:64]
        data = await asyncio.to_thread(load_history, staff, urn)
        self.found = data is not None
        if data is None:
            self.urn, self.messages, self.other_messages, self.tasks = urn, [], [], []
            return None
        for key, value in data.items():
            setattr(self, key, value)
        return None
