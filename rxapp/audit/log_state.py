"""The audit log page's state: who looked at which case and who changed what. Administrators read every entry,
supervisors their teams'; which entries is `rxapp/audit/views.py`'s decision, made again on every load."""
from __future__ import annotations

import asyncio

import reflex as rx

from rxapp.audit.views import load_audit
from rxapp.staff.permissions import Permission, holds
from rxapp.staff.states import StaffState, current_staff


class AuditLog(rx.State):
    rows: list[dict[str, str]] = []
    case: str = ""  # one case's entries only (its occurrence number), or every entry this account may read
    loaded: bool = False

    @rx.event
    async def load(self):
        staff = await current_staff(self)
        if staff is None or not holds(staff, Permission.READ_AUDIT):
            self.rows, self.loaded = [], False
            return rx.redirect("/login?next=admin" if staff is None else "/login?error=role")
        who = await self.get_state(StaffState)
        who.display_name, who.role = staff.display_name, staff.role
        self.case = str(self.router.url.query_parameters.get("occ", "")).strip()[:40]
        self.rows = await asyncio.to_thread(load_audit, staff, self.case) or []
        self.loaded = True
        return None
