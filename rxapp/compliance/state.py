"""The compliance page's state. Every handler checks the session cookie afresh and asks `views.py` (in a worker
thread) for figures within what the person may see; the cases behind a figure are asked for again, never
taken from what the page sent."""
from __future__ import annotations

import asyncio

import reflex as rx

from rxapp.compliance import views
from rxapp.staff.permissions import Permission, holds
from rxapp.staff.states import StaffState, current_staff

SPLIT_TABLES = ("measure", "milestone", "category", "age", "entitlement", "reason")


class Compliance(rx.State):
    loaded: bool = False
    error: str = ""
    period_words: str = ""
    start: str = ""
    end: str = ""
    scope_words: str = ""
    may_read_cases: bool = False
    measure_rows: list[dict[str, str]] = []
    milestone_rows: list[dict[str, str]] = []
    category_rows: list[dict[str, str]] = []
    age_rows: list[dict[str, str]] = []
    entitlement_rows: list[dict[str, str]] = []
    reason_rows: list[dict[str, str]] = []
    on_time_chart: list[dict] = []
    demand_rows: list[dict[str, str]] = []
    demand_chart: list[dict] = []
    feedback_rows: list[dict[str, str]] = []
    feedback_chart: list[dict] = []
    method: str = ""
    per_update: str = ""
    per_sign_in: str = ""
    # The cases behind the figure last chosen.
    cases_title: str = ""
    case_numbers: list[str] = []
    cases_total: int = 0  # -1: the person reads no case, so none are counted for them
    cases_chosen: bool = False

    @rx.var
    def export_query(self) -> str:
        return f"start={self.start}&end={self.end}&per_update={self.per_update}&per_sign_in={self.per_sign_in}"

    @rx.event
    async def load(self):
        staff = await current_staff(self)
        if staff is None or not holds(staff, Permission.READ_COMPLIANCE):
            self.loaded = False
            return rx.redirect("/login?next=compliance" if staff is None else "/login?error=role")
        who = await self.get_state(StaffState)
        who.display_name, who.role = staff.display_name, staff.role
        q = self.router.url.query_parameters
        shown = await asyncio.to_thread(
            views.load_page, staff, str(q.get("start", ""))[:10], str(q.get("end", ""))[:10],
            str(q.get("per_update", ""))[:10], str(q.get("per_sign_in", ""))[:10])
        if shown.get("refused"):
            return rx.redirect("/login?error=role")
        self.cases_title, self.case_numbers, self.cases_total, self.cases_chosen = "", [], 0, False
        if "error" in shown:
            self.error, self.loaded = shown["error"], True
            return None
        self.error = ""
        for name in ("period_words", "start", "end", "scope_words", "may_read_cases", "on_time_chart",
                     "demand_chart", "feedback_chart", "method", "per_update", "per_sign_in"):
            setattr(self, name, shown[name])
        for split in SPLIT_TABLES:
            setattr(self, f"{split}_rows", shown["tables"][split])
        self.demand_rows, self.feedback_rows = shown["demand"], shown["feedback"]
        self.loaded = True
        return None

    @rx.event
    async def show_cases(self, split: str, group: str, measure: str, outcome: str, title: str):
        staff = await current_staff(self)
        if staff is None or not holds(staff, Permission.READ_COMPLIANCE):
            return rx.redirect("/login?next=compliance")
        found = await asyncio.to_thread(views.load_cases, staff, self.start, self.end, str(split), str(group),
                                        str(measure), str(outcome))
        self.cases_title = str(title)[:300]
        self.case_numbers, self.cases_total, self.cases_chosen = found["numbers"], found["total"], True
        return rx.scroll_to("cases-behind")
