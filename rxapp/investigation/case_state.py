"""The investigation cases for staff: the list of open cases and one case, with tasks completed from the page.
Every handler checks the staff session itself (a client can call any handler with any arguments) and hands
the identity to the read models and the service, which decide per case what it may see and do
(`rxapp/staff/permissions.py`); the checks here only choose what to offer."""
from __future__ import annotations

import asyncio

import reflex as rx

from rxapp.investigation import portal_side
from rxapp.investigation.service import (
    MAX_EVERY_DAYS,
    MIN_EVERY_DAYS,
    TASK_OUTCOMES,
    JourneyService,
)
from rxapp.investigation.views import FILTERS, load_case, load_case_list
from rxapp.staff.permissions import Permission, holds
from rxapp.staff.states import StaffState, current_staff

NOTE_LIMIT = 300
OUTCOME_CHOICES = list(TASK_OUTCOMES)
NOT_ON_CASE = "That task is not on this case. Reload the page and try again."
PORTAL_REFUSED = {
    "empty": "Write your reply before you send it.",
    "too_long": "The reply is too long: keep it to 2,000 characters or fewer.",
    "not_allowed": "That could not be done on this case from your account. Reload the page and try again.",
}


async def _signed_in(state: rx.State):
    """The staff member, with the header filled in, if their role reads cases at all; or a redirect to the
    sign-in page."""
    staff = await current_staff(state)
    if staff is None or not holds(staff, Permission.READ_CASE):
        return None, rx.redirect("/login?next=cases" if staff is None else "/login?error=role")
    who = await state.get_state(StaffState)
    who.display_name, who.role = staff.display_name, staff.role
    return staff, None


class CaseList(rx.State):
    rows: list[dict[str, str]] = []
    only: str = "all"
    collar: str = ""  # the signed-in officer's own collar number ("mine" is the cases they are in charge of)
    loaded: bool = False

    async def _reload(self):
        staff, refused = await _signed_in(self)
        if staff is None:
            self.rows, self.loaded, self.collar = [], False, ""
            return refused
        self.collar = staff.collar_number
        self.rows = await asyncio.to_thread(load_case_list, staff, self.only)
        self.loaded = True
        return None

    @rx.event
    async def load(self):
        return await self._reload()

    @rx.event
    async def apply_filter(self, form_data: dict):
        only = str(form_data.get("only", "all"))
        self.only = only if only in FILTERS else "all"
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
    can_complete: bool = False  # on this case, for this account (the service decides again)
    can_agree: bool = False
    error: str = ""
    notice: str = ""
    # The victim portal (rxapp/investigation/portal_side.py): access, conversation, preference changes, survey.
    portal_victims: list[dict[str, str]] = []
    portal_messages: list[dict[str, str]] = []
    preference_changes: list[dict[str, str]] = []
    survey_answers: list[dict[str, str]] = []
    can_reply: bool = False
    portal_error: str = ""
    portal_notice: str = ""

    def _clear(self):
        self.found, self.header, self.victims, self.frequency_default = False, {}, [], ""
        self.duties, self.tasks, self.timeline, self.messages = [], [], [], []
        self.can_complete = self.can_agree = self.can_reply = False
        self.portal_victims, self.portal_messages, self.preference_changes, self.survey_answers = [], [], [], []

    async def _reload(self, staff) -> None:
        # A case this account may not read comes back as None, just as one that does not exist.
        data = await asyncio.to_thread(load_case, staff, self.occ)
        if data is None:
            self._clear()
            return
        self.found = True
        # The page lists every victim's duties in one table (each row says whose): the cards carry facts only.
        data["victims"] = [{k: v for k, v in card.items() if k != "duties"} for card in data["victims"]]
        self.frequency_default = data["victims"][0]["routine_every_days"] if data["victims"] else ""
        for key, value in data.items():
            setattr(self, key, value)
        portal = await asyncio.to_thread(portal_side.load_portal_side, staff, self.occ)
        for key, value in (portal or {}).items():
            setattr(self, key, value)

    @rx.event
    async def load(self):
        staff, refused = await _signed_in(self)
        if staff is None:
            self._clear()
            return refused
        self.occ = str(self.router.url.query_parameters.get("occ", "")).strip()[:40]
        self.error = self.notice = self.portal_error = self.portal_notice = ""
        await self._reload(staff)
        return None

    async def _recorder(self, permission: Permission, refusal: str):
        """The signed-in staff member if their role may do this on some case: (staff, None); otherwise
        (None, the redirect to sign in) or (None, None) with `refusal` shown. Whether on this case is the
        service's answer."""
        staff, refused = await _signed_in(self)
        if staff is None:
            self._clear()
            return None, refused
        self.error = self.notice = ""
        if not holds(staff, permission):
            self.error = refusal
            return None, None
        return staff, None

    @rx.event
    async def complete_task(self, form_data: dict):
        staff, refused = await self._recorder(Permission.RECORD_CONTACT,
                                              "Your account can read cases but not record contact with a victim.")
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
        if task_id <= 0:
            self.error = NOT_ON_CASE
            return None
        try:
            await asyncio.to_thread(JourneyService().complete_task, staff, task_id, how_told=how, note=note,
                                    on_case=self.occ)
        except LookupError:
            # Not on this case, no such task, or not this account's to record: one answer for all three.
            self.error = NOT_ON_CASE
            await self._reload(staff)
            return None
        except ValueError as exc:
            self.error = f"The task could not be marked as done: {exc}."
            await self._reload(staff)
            return None
        self.notice = {
            "declined": "Task closed: the victim declined.",
            "not_reached": "Task closed: the victim could not be reached, so what they are owed is still owed.",
        }.get(how, f"Task marked as done: the victim was told {TASK_OUTCOMES[how]}.")
        await self._reload(staff)
        return None

    @rx.event
    async def agree_frequency(self, form_data: dict):
        """The officer records how often the victim agreed to hear (blank: the Code's default)."""
        staff, refused = await self._recorder(
            Permission.AGREE_FREQUENCY, "Your account can read cases but not change what was agreed with a victim.")
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
        try:
            await asyncio.to_thread(JourneyService().agree_update_frequency, staff, self.occ, days,
                                    victim_id=victim_id)
        except (ValueError, LookupError) as exc:
            self.error = f"The agreed frequency could not be saved: {exc}."
            return None
        self.notice = (f"Saved: routine updates every {days} days." if days
                       else "Saved: routine updates follow the Code's default.")
        await self._reload(staff)
        return None

    # ---- the victim portal ------------------------------------------------------------------------------------

    async def _portal_actor(self):
        staff, refused = await self._recorder(Permission.RECORD_CONTACT,
                                              "Your account can read cases but not write to a victim.")
        self.portal_error = self.portal_notice = ""
        if staff is None and refused is None:
            self.portal_error, self.error = self.error, ""
        return staff, refused

    @rx.event
    async def reply_to_victim(self, form_data: dict):
        """The officer's reply, shown to the victim in the portal; the victim is told a reply is waiting."""
        staff, refused = await self._portal_actor()
        if staff is None:
            return refused
        text = form_data.get("text", "")
        try:
            await asyncio.to_thread(portal_side.reply, staff, form_data.get("case_victim_id", ""),
                                    text if isinstance(text, str) else "")
        except portal_side.PortalRefusal as exc:
            self.portal_error = PORTAL_REFUSED.get(exc.key, PORTAL_REFUSED["not_allowed"])
            return None
        self.portal_notice = "Reply sent. The victim is told by text or email that a message is waiting."
        await self._reload(staff)
        return rx.set_value("portal-reply-text", "")

    @rx.event
    async def invite_to_portal(self, form_data: dict):
        staff, refused = await self._portal_actor()
        if staff is None:
            return refused
        try:
            await asyncio.to_thread(portal_side.invite, staff, form_data.get("case_victim_id", ""))
        except portal_side.PortalRefusal as exc:
            self.portal_error = (f"The victim was not invited: {exc}." if exc.key == "not_eligible"
                                 else PORTAL_REFUSED["not_allowed"])
            return None
        self.portal_notice = "Invitation queued: a new link goes to the victim; any earlier link stops working."
        await self._reload(staff)
        return None

    @rx.event
    async def revoke_portal(self, form_data: dict):
        staff, refused = await self._portal_actor()
        if staff is None:
            return refused
        try:
            ended = await asyncio.to_thread(portal_side.revoke, staff, form_data.get("case_victim_id", ""))
        except portal_side.PortalRefusal:
            self.portal_error = PORTAL_REFUSED["not_allowed"]
            return None
        self.portal_notice = (f"Portal access ended ({ended} session{'s' if ended != 1 else ''} signed out). "
                              "Invite the victim again to restore it.")
        await self._reload(staff)
        return None
