"""The control-room board: one shared state, linked only after the handler itself checks the staff session."""
from __future__ import annotations

import asyncio

import reflex as rx

from rxapp.attendance.views import load_board
from rxapp.domain.attendance import OPEN_STATUSES, STATUS_LABELS
from rxapp.domain.events import GRADES
from rxapp.staff.accounts import BOARD_ROLES
from rxapp.staff.states import StaffState, current_staff

BOARD_TOKEN = "board"


class BoardView(rx.SharedState):
    rows: list[dict[str, str]] = []
    updated: str = ""

    @rx.event
    async def open_board(self):
        staff = await current_staff(self)
        if staff is None or staff.role not in BOARD_ROLES:
            if self._linked_to:
                await self._unlink()
            return rx.redirect("/login?next=board" if staff is None else "/login?error=role")
        who = await self.get_state(StaffState)
        who.display_name, who.role = staff.display_name, staff.role
        rows, updated = await asyncio.to_thread(load_board)
        linked = await self._link_to(BOARD_TOKEN)
        linked.rows, linked.updated = rows, updated
        return None


GRADE_CHOICES = ["ALL", *GRADES]
STATUS_CHOICES = ["ALL", *OPEN_STATUSES]


class BoardFilter(rx.State):
    """Per-browser filters; values are checked against fixed lists, whatever the client sends."""

    grade: str = "ALL"
    status: str = "ALL"

    @rx.event
    def set_grade(self, value: str):
        self.grade = value if value in GRADE_CHOICES else "ALL"

    @rx.event
    def set_status(self, value: str):
        self.status = value if value in STATUS_CHOICES else "ALL"


STATUS_FILTER_LABELS = {"ALL": "All statuses", **{s: STATUS_LABELS[s] for s in OPEN_STATUSES}}
