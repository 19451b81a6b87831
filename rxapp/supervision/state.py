"""The team page's state, and the count of unread notices in the staff header. Every handler checks the staff
session itself (any client can call any handler with any arguments) and hands the identity to
`rxapp/supervision/service.py`, which decides on the task or case itself: an id or an officer sent by the client
is only a request. A reassignment asked for by someone who may not reassign still goes to the service, so the
attempt is refused there and written to the audit log; then the page sends them away as on loading it."""
from __future__ import annotations

import asyncio

import reflex as rx

from rxapp.staff.permissions import Permission, holds
from rxapp.staff.states import StaffState, current_staff
from rxapp.supervision import service

REFUSED = {
    "not_allowed": "That could not be changed from your account: it is not on a case your team holds. Reload the "
                   "page and try again.",
}
PAGE = "page"  # where a result shows: "page" (top of the page), "case" (the case form) or "task:<id>"


class Team(rx.State):
    queue: list[dict[str, str]] = []
    notices: list[dict[str, str]] = []
    load_rows: list[dict[str, str]] = []
    officers: list[dict[str, str]] = []
    cases: list[dict[str, str]] = []
    reassigned: list[dict[str, str]] = []
    counts: dict[str, str] = {}
    teams: str = ""
    officer: str = ""
    loaded: bool = False
    result: str = ""  # what the last action did, in words
    result_ok: bool = False
    result_for: str = ""

    async def _staff(self):
        """(staff, None) for a signed-in member of staff, else (None, the redirect to sign in)."""
        staff = await current_staff(self)
        if staff is None:
            self._forget()
            return None, rx.redirect("/login?next=team")
        who = await self.get_state(StaffState)
        who.display_name, who.role = staff.display_name, staff.role
        return staff, None

    def _forget(self):
        self.queue, self.notices, self.load_rows, self.officers, self.cases, self.reassigned = [], [], [], [], [], []
        self.counts, self.teams, self.officer, self.loaded = {}, "", "", False

    async def _reload(self, staff) -> None:
        data = await asyncio.to_thread(service.load_team, staff, self.officer)
        self.queue, self.notices, self.load_rows = data["queue"], data["notices"], data["load"]
        self.officers, self.cases, self.reassigned = data["officers"], data["cases"], data["reassigned"]
        self.counts, self.teams, self.officer, self.loaded = data["counts"], data["teams"], data["officer"], True
        notices = await self.get_state(TeamNotices)
        notices.unread = 0  # the page has just shown them

    def _refused(self):
        self._forget()
        return rx.redirect("/login?error=role")

    @rx.event
    async def load(self):
        self.result, self.result_for = "", ""
        staff, refused = await self._staff()
        if staff is None:
            return refused
        if not holds(staff, Permission.REASSIGN_WORK):
            return self._refused()
        self.officer = str(self.router.url.query_parameters.get("officer", ""))[:40]
        await self._reload(staff)
        return None

    @rx.event
    async def show_officer(self, form_data: dict):
        self.result, self.result_for = "", ""
        staff, refused = await self._staff()
        if staff is None:
            return refused
        if not holds(staff, Permission.REASSIGN_WORK):
            return self._refused()
        self.officer = str(form_data.get("officer", ""))[:40]
        await self._reload(staff)
        return rx.set_focus("team-queue-heading")

    async def _reassign(self, action, ident: str, to_officer: str, place: str):
        self.result, self.result_for, self.result_ok = "", "", False
        staff, refused = await self._staff()
        if staff is None:
            return refused
        try:
            words = await asyncio.to_thread(action, staff, ident, to_officer)
        except service.TeamRefusal as exc:
            if not holds(staff, Permission.REASSIGN_WORK):
                return self._refused()  # refused and audited by the service; sent away as on loading the page
            if exc.key == "not_allowed":
                self.result, self.result_for = REFUSED["not_allowed"], PAGE
            else:
                self.result, self.result_for = exc.words, place
            return None
        self.result, self.result_for, self.result_ok = words, place, True
        await self._reload(staff)
        return None

    @rx.event
    async def give_task(self, form_data: dict):
        task_id = str(form_data.get("task_id", ""))[:20]
        return await self._reassign(service.reassign_task, task_id, str(form_data.get("officer", ""))[:40],
                                    f"task:{task_id}" if task_id.isdigit() else PAGE)

    @rx.event
    async def give_case(self, form_data: dict):
        return await self._reassign(service.reassign_case, str(form_data.get("case", ""))[:40],
                                    str(form_data.get("officer", ""))[:40], "case")


class TeamNotices(rx.State):
    """How many escalation notices the signed-in supervisor has not read: beside "Team" in the staff header."""

    unread: int = 0

    @rx.event
    async def refresh(self):
        staff = await current_staff(self)
        if staff is None or not holds(staff, Permission.REASSIGN_WORK):
            self.unread = 0
            return
        self.unread = await asyncio.to_thread(service.unread_notices, staff)
