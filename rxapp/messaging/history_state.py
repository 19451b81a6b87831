"""Message history for one incident and its victim; every load checks the staff session itself."""
from __future__ import annotations

import asyncio

import reflex as rx

from rxapp.messaging.views import incident_by_urn, message_rows, task_rows
from rxapp.plumbing.db import session_scope
from rxapp.staff.states import StaffState, current_staff
from rxapp.victims.models import Victim

HISTORY_ROLES = ("fcr", "officer", "supervisor", "admin")


def load_history(urn: str) -> dict | None:
    with session_scope(readonly=True) as session:
        incident = incident_by_urn(session, urn)
        if incident is None:
            return None
        victim = session.get(Victim, incident.victim_id) if incident.victim_id else None
        own = message_rows(session, incident_id=incident.id)
        others = [r for r in message_rows(session, victim_id=victim.id)] if victim else []
        own_ids = {r["id"] for r in own}
        return {
            "urn": incident.urn,
            "summary": f"{incident.category.replace('_', ' ').capitalize()}, {incident.location_description}",
            "flags": ", ".join(f.replace("_", " ").lower() for f in incident.flags.split(",") if f) or "none",
            "messages": own,
            "other_messages": [r for r in others if r["id"] not in own_ids],
            "tasks": task_rows(session, incident_id=incident.id),
        }


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
