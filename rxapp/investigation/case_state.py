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
from rxapp.investigation.views import load_case, load_case_list
from rxapp.staff.permissions import Permission, holds
from rxapp.staff.states import StaffState, current_staff

NOTE_LIMIT = 300
MET = ("Done", "Done late", "Declined", "Not owed")  # a duty's status words when nothing more is owed
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


# Which cases /cases shows (`?show=`): the read model's filter for each.
SHOWS = {"mine": "mine", "team": "all", "late": "late"}


class CaseList(rx.State):
    rows: list[dict[str, str]] = []
    show: str = ""  # mine, team or late: chosen by the link followed, or by the account (officers: their own)
    collar: str = ""  # the signed-in officer's own collar number ("mine" is the cases they are in charge of)
    role: str = ""
    loaded: bool = False

    async def _reload(self):
        staff, refused = await _signed_in(self)
        if staff is None:
            self.rows, self.loaded, self.collar, self.role = [], False, "", ""
            return refused
        self.collar, self.role = staff.collar_number, staff.role
        self.rows = await asyncio.to_thread(load_case_list, staff, SHOWS[self.show])
        self.loaded = True
        return None

    @rx.event
    async def load(self):
        """/cases opens on the account's own cases for an officer with a collar number, and on everything the
        account may read (a supervisor's teams, the control room's live attendances) otherwise; a link may
        ask for another view."""
        staff = await current_staff(self)
        wanted = str(self.router.url.query_parameters.get("show", ""))
        if wanted in SHOWS:
            self.show = wanted
        elif staff is not None and staff.role == "officer" and staff.collar_number.strip():
            self.show = "mine"
        else:
            self.show = "team"
        return await self._reload()


class CaseDetail(rx.State):
    found: bool = False
    occ: str = ""
    header: dict[str, str] = {}
    victims: list[dict[str, str]] = []  # each victim's facts; their duties are rows of `duties`
    frequency_default: str = ""
    duties: list[dict[str, str]] = []
    # The same duties split for the page: those still owed, and those met or no longer owed (folded away).
    duties_owed: list[dict[str, str]] = []
    duties_met: list[dict[str, str]] = []
    # The tasks for people: `todo` (open ones, the one due first at the top, and any this page just closed,
    # so that what was recorded shows where it was recorded) and `closed` (the case's history).
    todo: list[dict[str, str]] = []
    closed: list[dict[str, str]] = []
    just_done: list[str] = []
    timeline: list[dict[str, str]] = []
    messages: list[dict[str, str]] = []
    can_complete: bool = False  # on this case, for this account (the service decides again)
    can_agree: bool = False
    # What the agreed-frequency form said, shown beside its button ("done" or "error").
    frequency_feedback: str = ""
    frequency_tone: str = ""
    # An answer with no form on the page to show it by (a task this page does not list, a case it does not show).
    error: str = ""
    # The victim portal (rxapp/investigation/portal_side.py): access, conversation, preference changes, survey.
    portal_victims: list[dict[str, str]] = []
    portal_messages: list[dict[str, str]] = []
    preference_changes: list[dict[str, str]] = []
    survey_answers: list[dict[str, str]] = []
    can_reply: bool = False
    portal_error: str = ""
    portal_notice: str = ""
    portal_by: str = ""  # which portal form they answer, shown by its button: "access" or "reply"

    def _clear(self):
        self.found, self.header, self.victims, self.frequency_default = False, {}, [], ""
        self.duties, self.todo, self.closed, self.timeline, self.messages = [], [], [], [], []
        self.duties_owed, self.duties_met = [], []
        self.can_complete = self.can_agree = self.can_reply = False
        self.portal_victims, self.portal_messages, self.preference_changes, self.survey_answers = [], [], [], []

    async def _reload(self, staff) -> None:
        """The case again, for `staff`; what any form said goes."""
        # A case this account may not read comes back as None, just as one that does not exist.
        data = await asyncio.to_thread(load_case, staff, self.occ)
        if data is None:
            self._clear()
            return
        self.found = True
        # The page lists every victim's duties in one table (each row says whose): the cards carry facts only.
        data["victims"] = [{k: v for k, v in card.items() if k != "duties"} for card in data["victims"]]
        self.frequency_default = data["victims"][0]["routine_every_days"] if data["victims"] else ""
        tasks = data.pop("tasks")
        for key, value in data.items():
            setattr(self, key, value)
        self.duties_owed = [d for d in self.duties if d["status_label"] not in MET]
        self.duties_met = [d for d in self.duties if d["status_label"] in MET]
        for row in tasks:
            row["feedback"], row["feedback_tone"] = "", ""
        self.todo = [r for r in tasks if r["open"] == "yes" or r["id"] in self.just_done]
        self.closed = [r for r in tasks if not (r["open"] == "yes" or r["id"] in self.just_done)]
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
        self.portal_error = self.portal_notice = self.frequency_feedback = self.frequency_tone = self.error = ""
        self.just_done = []
        await self._reload(staff)
        return None

    async def _recorder(self, permission: Permission):
        """The signed-in staff member and None if their role may do this on some case (whether on this case
        is the service's answer); otherwise None and the redirect to sign in, or None and None when the role
        may not do it at all."""
        self._quiet()
        staff, refused = await _signed_in(self)
        if staff is None:
            self._clear()
            return None, refused
        if not holds(staff, permission):
            return None, None
        return staff, None

    def _quiet(self) -> None:
        """Only the form just used says anything: every other form's answer goes."""
        self.frequency_feedback = self.frequency_tone = self.portal_error = self.portal_notice = self.error = ""
        if any(row["feedback"] for row in self.todo):
            self.todo = [{**row, "feedback": "", "feedback_tone": ""} for row in self.todo]

    def _say_on_task(self, task_id: str, words: str, tone: str) -> None:
        """`words` beside the button of task `task_id`'s form; at the head of the page when it lists no such
        task (the case is not shown, or the call did not come from this page)."""
        if task_id not in {row["id"] for row in self.todo}:
            self.error = words
            return
        self.todo = [{**row, "feedback": words, "feedback_tone": tone} if row["id"] == task_id
                     else {**row, "feedback": "", "feedback_tone": ""} for row in self.todo]

    @rx.event
    async def complete_task(self, form_data: dict):
        raw_id = str(form_data.get("task_id", ""))[:20]
        staff, refused = await self._recorder(Permission.RECORD_CONTACT)
        if staff is None:
            if refused is None:
                self._say_on_task(raw_id, "Your account can read cases but not record contact with a victim.",
                                  "error")
            return refused
        how = str(form_data.get("how_told", ""))
        note = str(form_data.get("note", "")).strip()
        try:
            task_id = int(raw_id)
        except ValueError:
            task_id = 0
        if how not in TASK_OUTCOMES:
            self._say_on_task(raw_id, "Choose how the victim was told before marking the task as done.", "error")
            return None
        if len(note) > NOTE_LIMIT:
            self._say_on_task(raw_id, f"The note is too long: keep it under {NOTE_LIMIT} characters.", "error")
            return None
        if task_id <= 0:
            self._say_on_task(raw_id, NOT_ON_CASE, "error")
            return None
        try:
            await asyncio.to_thread(JourneyService().complete_task, staff, task_id, how_told=how, note=note,
                                    on_case=self.occ)
        except LookupError:
            # Not on this case, no such task, or not this account's to record: one answer for all three.
            await self._reload(staff)
            self._say_on_task(raw_id, NOT_ON_CASE, "error")
            return None
        except ValueError as exc:
            await self._reload(staff)
            self._say_on_task(raw_id, f"The task could not be marked as done: {exc}.", "error")
            return None
        words = {
            "declined": "Recorded: the victim declined. The task is closed.",
            "not_reached": "Recorded: the victim could not be reached, so what they are owed is still owed "
                           "(a new task asks you to try again).",
        }.get(how, f"Recorded: the victim was told {TASK_OUTCOMES[how]}. The task is done.")
        self.just_done = [*self.just_done, raw_id]
        await self._reload(staff)
        self._say_on_task(raw_id, words, "done")
        # The button pressed went with the form: focus goes to the head of the list it was in, whose card now
        # says what was recorded (and the answer is read out from beside where the button was).
        return rx.set_focus("todo-heading")

    def _frequency_says(self, words: str, tone: str) -> None:
        """`words` beside the Save button; at the head of the page when it shows no such form."""
        if not self.can_agree:
            self.error = words
            return
        self.frequency_feedback, self.frequency_tone = words, tone

    @rx.event
    async def agree_frequency(self, form_data: dict):
        """The officer records how often the victim agreed to hear (blank: the Code's default)."""
        staff, refused = await self._recorder(Permission.AGREE_FREQUENCY)
        if staff is None:
            if refused is None:
                self._frequency_says("Your account can read cases but not change what was agreed with a victim.",
                                     "error")
            return refused
        raw = str(form_data.get("every_days", "")).strip()
        try:
            days = int(raw) if raw else None
        except ValueError:
            days = -1
        if days is not None and not (MIN_EVERY_DAYS <= days <= MAX_EVERY_DAYS):
            self._frequency_says(f"Enter a number of days from {MIN_EVERY_DAYS} to {MAX_EVERY_DAYS}, or leave it "
                                 "empty for the Code's default.", "error")
            return None
        raw_victim = str(form_data.get("victim_id", "")).strip()
        victim_id = int(raw_victim) if raw_victim.isdigit() else None
        try:
            await asyncio.to_thread(JourneyService().agree_update_frequency, staff, self.occ, days,
                                    victim_id=victim_id)
        except (ValueError, LookupError) as exc:
            self._frequency_says(f"The agreed frequency could not be saved: {exc}.", "error")
            return None
        await self._reload(staff)
        self._frequency_says(f"Saved: routine updates every {days} days." if days
                             else "Saved: routine updates follow the Code's default.", "done")
        return None

    # ---- the victim portal ------------------------------------------------------------------------------------

    async def _portal_actor(self, by: str):
        staff, refused = await self._recorder(Permission.RECORD_CONTACT)
        self.portal_error = self.portal_notice = ""
        self.portal_by = by
        if staff is None and refused is None:
            self.portal_error = "Your account can read cases but not write to a victim."
        return staff, refused

    @rx.event
    async def reply_to_victim(self, form_data: dict):
        """The officer's reply, shown to the victim in the portal; the victim is told a reply is waiting."""
        staff, refused = await self._portal_actor("reply")
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
        staff, refused = await self._portal_actor("access")
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
        staff, refused = await self._portal_actor("access")
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
