"""The investigation cases for staff: the list of open cases and one case, with tasks completed from the page.
Every handler checks the staff session itself (a client can call any handler with any arguments)."""
from __future__ import annotations

import asyncio

import reflex as rx

from rxapp.investigation.service import (
    MAX_EVERY_DAYS,
    MIN_EVERY_DAYS,
    TASK_OUTCOMES,
    JourneyService,
)
from rxapp.investigation.views import (
    FILTERS,
    load_case,
    load_case_list,
    normalise_collar,
    task_on_case,
)
from rxapp.staff.states import StaffState, current_staff

CASE_ROLES = ("fcr", "officer", "supervisor", "admin")
# The control room reads cases; the people who contact victims record that they did.
COMPLETE_ROLES = ("officer", "supervisor", "admin")
NOTE_LIMIT = 300
OUTCOME_CHOICES = list(TASK_OUTCOMES)


async def _signed_in(state: rx.State, roles: tuple[str, ...]):
    """The staff member, with the header filled in; or a redirect to the sign-in page."""
    staff = await current_staff(state)
    if staff is None or staff.role not in roles:
        return None, rx.redirect("/login?next=cases" if staff is None else "/login?error=role")
    who = await state.get_state(StaffState)
    who.display_name, who.role = staff.display_name, staff.role
    return staff, None


class CaseList(rx.State):
    rows: list[dict[str, str]] = []
    only: str = "all"
    collar: str = ""
    loaded: bool = False

    async def _reload(self):
        staff, refused = await _signed_in(self, CASE_ROLES)
        if staff is None:
            self.rows, self.loaded = [], False
            return refused
        self.rows = await asyncio.to_thread(load_case_list, self.only, self.collar)
        self.loaded = True
        return None

    @rx.event
    async def load(self):
        return await self._reload()

    @rx.event
    async def apply_filter(self, form_data: dict):
        only = str(form_data.get("only", "all"))
        self.only = only if only in FILTERS else "all"
        self.collar = normalise_collar(str(form_data.get("collar", ""))[:40])
        return await self._reload()


class CaseDetail(rx.State):
    found: bool = False
    occ: str = ""
    header: dict[str, str] = {}
    victims: list[dict[str, str]] = []  # each victim's facts; their duties are rows of `duties`
    frequency_default: str = ""
    duties: list[dict[str, str]] = []
    tasks: list[dict[str, str]] = []
    timeline: list[dict[str, str]] = []
    messages: list[dict[str, str]] = []
    can_complete: bool = False
    error: str = ""
    notice: str = ""

    def _clear(self):
        self.found, self.header, self.victims, self.frequency_default = False, {}, [], ""
        self.duties, self.tasks, self.timeline, self.messages = [], [], [], []

    async def _reload(self) -> None:
        data = await asyncio.to_thread(load_case, self.occ)
        if data is None:
            self._clear()
            return
        self.found = True
        # The page lists every victim's duties in one table (each row says whose): the cards carry facts only.
        data["victims"] = [{k: v for k, v in card.items() if k != "duties"} for card in data["victims"]]
        self.frequency_default = data["victims"][0]["routine_every_days"] if data["victims"] else ""
        for key, value in data.items():
            setattr(self, key, value)

    @rx.event
    async def load(self):
        staff, refused = await _signed_in(self, CASE_ROLES)
        if staff is None:
            self._clear()
            return refused
        self.can_complete = staff.role in COMPLETE_ROLES
        self.occ = str(self.router.url.query_parameters.get("occ", "")).strip()[:40]
        self.error = self.notice = ""
        await self._reload()
        return None

    async def _recorder(self, refusal: str):
        """The signed-in staff member if they may record things on a case: (staff, None); otherwise
        (None, the redirect to sign in) or (None, None) with `refusal` shown."""
        staff, refused = await _signed_in(self, CASE_ROLES)
        if staff is None:
            self._clear()
            return None, refused
        self.error = self.notice = ""
        if staff.role not in COMPLETE_ROLES:
            self.error = refusal
            return None, None
        return staff, None

    @rx.event
    async def complete_task(self, form_data: dict):
        staff, refused = await self._recorder("Your account can read cases but not record contact with a victim.")
        if staff is None:
            return refused
        how = str(form_data.get("how_told", ""))
        note = str(form_data.get("note", "")).strip()
        try:
            task_id = int(str(form_data.get("task_id", "")))
        except ValueError:
            task_id = 0
        if how not in TASK_OUTCOMES:
            self.error = "Choose how the victim was told before marking the task as done."
            return None
        if len(note) > NOTE_LIMIT:
            self.error = f"The note is too long: keep it under {NOTE_LIMIT} characters."
            return None
        if task_id <= 0 or not await asyncio.to_thread(task_on_case, task_id, self.occ):
            self.error = "That task is not on this case. Reload the page and try again."
            return None
        by = staff.display_name or staff.username
        try:
            await asyncio.to_thread(JourneyService().complete_task, task_id, how_told=how, by=by, note=note)
        except (ValueError, LookupError) as exc:
            self.error = f"The task could not be marked as done: {exc}."
            await self._reload()
            return None
        self.notice = {
            "declined": "Task closed: the victim declined.",
            "not_reached": "Task closed: the victim could not be reached, so what they are owed is still owed.",
        }.get(how, f"Task marked as done: the victim was told {TASK_OUTCOMES[how]}.")
        await self._reload()
        return None

    @rx.event
    async def agree_frequency(self, form_data: dict):
        """The officer records how often the victim agreed to hear (blank: the Code's default)."""
        staff, refused = await self._recorder(
            "Your account can read cases but not change what was agreed with a victim.")
        if staff is None:
            return refused
        raw = str(form_data.get("every_days", "")).strip()
        try:
            days = int(raw) if raw else None
        except ValueError:
            days = -1
        if days is not None and not (MIN_EVERY_DAYS <= days <= MAX_EVERY_DAYS):
            self.error = (f"Enter a number of days from {MIN_EVERY_DAYS} to {MAX_EVERY_DAYS}, or leave it empty "
                          "for the Code's default.")
            return None
        raw_victim = str(form_data.get("victim_id", "")).strip()
        victim_id = int(raw_victim) if raw_victim.isdigit() else None
        by = staff.display_name or staff.username
        try:
            await asyncio.to_thread(JourneyService().agree_update_frequency, self.occ, days, by=by,
                                    victim_id=victim_id)
        except (ValueError, LookupError) as exc:
            self.error = f"The agreed frequency could not be saved: {exc}."
            return None
        self.notice = (f"Saved: routine updates every {days} days." if days
                       else "Saved: routine updates follow the Code's default.")
        await self._reload()
        return None
