"""The inbox page's state. Every handler checks the staff session itself (any client can call any handler with
any arguments) and hands the identity to `rxapp/inbox/service.py`, which decides on the case itself; a case
victim id sent by the client is only a request. The open conversation's values for the wording (the victim's
first name, the deadline) stay in a backend var: never sent to the browser, never taken from it."""
from __future__ import annotations

import asyncio
import logging

import reflex as rx

from rxapp.inbox import service
from rxapp.inbox.wording import WordingError
from rxapp.staff.permissions import Permission, holds
from rxapp.staff.states import StaffState, current_staff

log = logging.getLogger(__name__)
MAX_DRAFT = 4000
REFUSED = {
    "empty": "Write your reply before you send it.",
    "too_long": "The reply is too long: keep it to 2,000 characters or fewer.",
    "not_allowed": "That conversation could not be opened from your account: it is not on a case you are in "
                   "charge of. Reload the page and try again.",
}


class Inbox(rx.State):
    conversations: list[dict[str, str]] = []
    tasks: list[dict[str, str]] = []
    duties: list[dict[str, str]] = []
    counts: dict[str, str] = {}
    collar: str = ""
    loaded: bool = False
    # The open conversation (one at a time).
    open_id: str = ""
    open_head: dict[str, str] = {}
    messages: list[dict[str, str]] = []
    wordings: list[dict[str, str]] = []
    wording_error: str = ""
    error: str = ""
    notice: str = ""
    _values: dict[str, str] = {}
    _draft: str = ""

    async def _staff(self):
        staff = await current_staff(self)
        if staff is None or not holds(staff, Permission.RECORD_CONTACT):
            self._forget()
            return None, rx.redirect("/login?next=inbox" if staff is None else "/login?error=role")
        who = await self.get_state(StaffState)
        who.display_name, who.role = staff.display_name, staff.role
        return staff, None

    def _forget(self):
        self.conversations, self.tasks, self.duties, self.counts, self.loaded = [], [], [], {}, False
        self._close()

    def _close(self):
        self.open_id, self.open_head, self.messages, self._values, self._draft = "", {}, [], {}, ""

    async def _reload(self, staff):
        data = await asyncio.to_thread(service.load_inbox, staff)
        self.conversations, self.tasks, self.duties = data["conversations"], data["tasks"], data["duties"]
        self.counts, self.collar, self.loaded = data["counts"], staff.collar_number, True

    @rx.event
    async def load(self):
        self.error = self.notice = ""
        staff, refused = await self._staff()
        if staff is None:
            return refused
        self._close()
        await self._reload(staff)
        try:
            self.wordings = [{"key": w.key, "title": w.title} for w in service.wordings()]
            self.wording_error = ""
        except WordingError as exc:
            log.error("reply wording file refused: %s", exc)  # the file's fault, no personal data
            self.wordings, self.wording_error = [], ("The force's reply wording could not be loaded, so none is "
                                                     "offered; tell your administrator.")
        return None

    @rx.event
    async def open_conversation(self, case_victim_id: str):
        self.error = self.notice = ""
        staff, refused = await self._staff()
        if staff is None:
            return refused
        try:
            data = await asyncio.to_thread(service.open_conversation, staff, str(case_victim_id)[:20])
        except service.PortalRefusal:
            self._close()
            self.error = REFUSED["not_allowed"]
            return None
        self._values = data.pop("_values")
        self.messages = data.pop("messages")
        self.open_head, self.open_id, self._draft = data, data["case_victim_id"], ""
        await self._reload(staff)  # its unread count is now 0
        return [rx.set_value("inbox-reply-text", ""), rx.set_focus("conversation-heading")]

    @rx.event
    async def close_conversation(self):
        staff, refused = await self._staff()
        if staff is None:
            return refused
        self._close()
        return None

    @rx.event
    def keep_draft(self, text: str):
        """What the officer has typed so far (on leaving the box), so inserting a wording adds to it."""
        self._draft = str(text or "")[:MAX_DRAFT]

    @rx.event
    async def insert_wording(self, form_data: dict):
        self.error = self.notice = ""
        staff, refused = await self._staff()
        if staff is None:
            return refused
        if not self.open_id:
            self.error = "Open a conversation first."
            return None
        try:
            filled = service.filled_wording(str(form_data.get("wording", ""))[:40], self._values)
        except WordingError:
            filled = None
        if filled is None:
            self.error = "Choose one of the wordings in the list."
            return None
        text = f"{self._draft.rstrip()}\n\n{filled}" if self._draft.strip() else filled
        self._draft = text
        return [rx.set_value("inbox-reply-text", text), rx.set_focus("inbox-reply-text")]

    @rx.event
    async def send_reply(self, form_data: dict):
        self.error = self.notice = ""
        staff, refused = await self._staff()
        if staff is None:
            return refused
        text = str(form_data.get("text", ""))
        if len(text) > MAX_DRAFT:
            self.error = REFUSED["too_long"]
            return None
        try:
            await asyncio.to_thread(service.reply, staff, str(form_data.get("case_victim_id", ""))[:20], text)
        except service.PortalRefusal as exc:
            self.error = REFUSED.get(exc.key, REFUSED["not_allowed"])
            return None
        self._close()
        self.notice = "Reply sent. The victim is told by text or email that a message is waiting."
        await self._reload(staff)
        return rx.set_focus("inbox-notice")
