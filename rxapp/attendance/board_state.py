"""The control-room board, live, for signed-in staff only.

Each staff session has its own channel, named by an HMAC of the server secret and the session's hash: nobody
can name it, and it dies with the session. A tab is linked to its session's channel only after the handler has
checked the session. The publisher (publish.py) re-checks every session with a board open before each push and
every few seconds, and ends the channel of one that no longer checks out (sign-out, expiry, lock-out,
deactivation, a role change): its rows are emptied, `ended` is set, and nothing is pushed to it again. A tab
that reconnects is re-checked before its hydrate (rxapp.rxapp's LiveChannelGuard).

Each push goes through `BoardView._apply_board`, which also works out the counts and announces, once, every breach
that was not breached in the rows the channel had before ("New breach: <urn> <grade>", in an aria-live region):
a tab opening the board hears nothing of the breaches already there. `BoardActions` holds and releases an
incident's texts: the service (`holds.py`) decides who may, from the session, whatever the page offered.
"""
from __future__ import annotations

import asyncio

import reflex as rx
from reflex.istate.manager import get_state_manager

from rxapp.attendance.board_views import RISK_LABELS, STATUS_WORDS, board_counts, breached_urns, load_board
from rxapp.attendance.holds import hold_texts_now, incident_id_from, release_texts_now
from rxapp.domain.attendance import OPEN_STATUSES, STATUS_LABELS, london_time
from rxapp.domain.events import GRADES
from rxapp.domain.grades import RISK_LEVELS
from rxapp.domain.holds import HOLD_REASONS, valid_hold_reason
from rxapp.plumbing import realtime
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.links import channel_token
from rxapp.staff.accounts import BOARD_ROLES
from rxapp.staff.permissions import Permission, holds
from rxapp.staff.states import StaffState, current_staff, session_hash


def board_channel(session: str) -> str:
    """The channel of the board tabs of the staff session whose hash is `session`."""
    return channel_token("board", session)


def board_directory() -> str:
    return channel_token("board-directory", "sessions")


class BoardDirectory(rx.State):
    """Which sessions have opened a board (hash -> the role it had then), kept by the state manager (so shared
    by every worker with Redis) at a token of its own; backend-only, so nothing of it reaches a browser."""

    _open: dict[str, str] = {}


async def remember_board(session: str, role: str) -> None:
    async with get_state_manager().modify_state(rx.BaseStateToken(ident=board_directory(),
                                                                   cls=BoardDirectory)) as root:
        directory = await root.get_state(BoardDirectory)
        if directory._open.get(session) != role:
            directory._open = {**directory._open, session: role}


class BoardView(rx.SharedState):
    rows: list[dict[str, str]] = []
    updated: str = ""
    ended: bool = False  # the session this channel belongs to has ended: the tab must sign in again
    counts: dict[str, int] = {}
    announcement: str = ""  # "New breach: <urn> <grade>", for screen readers (aria-live) and the eye
    announced_at: str = ""

    def _end(self) -> None:
        self.rows, self.updated, self.ended = [], "", True
        self.counts, self.announcement, self.announced_at = {}, "", ""

    def _apply_board(self, rows: list[dict], updated: str, announce: bool = True) -> None:
        """New rows for every tab of this channel; breaches the channel had not seen are announced once."""
        before = {urn for urn, _ in breached_urns(self.rows)}
        fresh = [f"{urn} {grade}" for urn, grade in breached_urns(rows) if urn not in before]
        self.rows, self.updated, self.counts = rows, updated, board_counts(rows)
        if announce and fresh:
            self.announcement = "New breach: " + "; ".join(fresh)
            self.announced_at = updated

    @rx.event
    async def open_board(self):
        staff = await current_staff(self)
        if staff is None or staff.role not in BOARD_ROLES:
            events = await self._leave()
            return [*events, rx.redirect("/login?next=board" if staff is None else "/login?error=role")]
        who = await self.get_state(StaffState)
        who.display_name, who.role = staff.display_name, staff.role
        session = session_hash(self)
        rows, updated = await asyncio.to_thread(load_board)
        await remember_board(session, staff.role)
        linked = await self._link_to(board_channel(session))
        linked.ended = False
        linked._apply_board(rows, updated, announce=False)  # what was already breached is not news
        actions = await self.get_state(BoardActions)
        actions.can_hold = holds(staff, Permission.HOLD_TEXTS)
        return None

    async def _leave(self) -> list:
        """Forget who this tab was and unlink it; returns the events that re-hydrate it."""
        who = await self.get_state(StaffState)
        who.display_name, who.role = "", ""
        return await self._unlink() if self._linked_to else []

    async def _still_entitled(self) -> bool:
        """Before a linked tab hydrates: is its session still the live one its channel belongs to?"""
        staff = await current_staff(self)
        return staff is not None and staff.role in BOARD_ROLES and self._linked_to == board_channel(session_hash(self))


GRADE_CHOICES = ["ALL", *GRADES]
STATUS_CHOICES = ["ALL", *OPEN_STATUSES]
NEEDS_ACTION = "ACTION"  # breached, at risk or nobody assigned
HELD = "HELD"  # texts held by the control room
RISK_CHOICES = ["ALL", NEEDS_ACTION, *RISK_LEVELS, HELD]


class BoardFilter(rx.State):
    """Per-browser filters; values are checked against fixed lists, whatever the client sends."""

    grade: str = "ALL"
    status: str = "ALL"
    risk: str = "ALL"

    @rx.event
    def set_grade(self, value: str):
        self.grade = value if value in GRADE_CHOICES else "ALL"

    @rx.event
    def set_status(self, value: str):
        self.status = value if value in STATUS_CHOICES else "ALL"

    @rx.event
    def set_risk(self, value: str):
        self.risk = value if value in RISK_CHOICES else "ALL"


STATUS_FILTER_LABELS = {"ALL": "All statuses", **{s: STATUS_WORDS.get(s, STATUS_LABELS[s]) for s in OPEN_STATUSES}}
RISK_FILTER_LABELS = {"ALL": "All risks", NEEDS_ACTION: "Needs action (missed, at risk, nobody assigned)",
                      **RISK_LABELS, HELD: "Texts held"}
REFUSED = "No open incident with that reference."  # one answer, whatever the reason


class BoardActions(rx.State):
    """Holding and releasing an incident's texts from the board (one tab's own state). Whatever a client sends,
    the handler signs the session in afresh and the service decides."""

    can_hold: bool = False  # only what the page offers: the service decides
    choosing: str = ""  # the incident whose hold form is open
    choosing_urn: str = ""
    notice: str = ""
    error: str = ""

    @rx.event
    def choose(self, incident: str, urn: str):
        self.choosing = str(incident_id_from(incident)) if incident_id_from(incident) > 0 else ""
        self.choosing_urn = str(urn)[:64] if self.choosing else ""
        self.notice = self.error = ""

    @rx.event
    def cancel(self):
        self.choosing = self.choosing_urn = ""

    @rx.event
    async def hold_texts(self, form_data: dict):
        staff = await current_staff(self)
        self.notice = self.error = ""
        if staff is None:
            self.choosing = self.choosing_urn = ""
            return rx.redirect("/login?next=board")
        form = form_data if isinstance(form_data, dict) else {}
        incident, reason = incident_id_from(form.get("incident")), form.get("reason")
        if not valid_hold_reason(reason):
            self.error = "Choose why the texts are held."
            return None
        try:
            urn = await asyncio.to_thread(hold_texts_now, staff, incident, reason)
        except LookupError:
            self.choosing = self.choosing_urn = ""
            self.error = REFUSED
            return None
        self.choosing = self.choosing_urn = ""
        self.notice = f"Texts held for {urn} at {london_time(utcnow())}: nothing automated goes to the victim " \
                      "until you release them."
        await realtime.hub.incidents_changed({incident})
        return None

    @rx.event
    async def release_texts(self, incident_value: str):
        staff = await current_staff(self)
        self.notice = self.error = ""
        if staff is None:
            return rx.redirect("/login?next=board")
        incident = incident_id_from(incident_value)
        try:
            urn, waiting = await asyncio.to_thread(release_texts_now, staff, incident)
        except LookupError:
            self.error = REFUSED
            return None
        self.notice = (f"Texts released for {urn} at {london_time(utcnow())}: "
                       + (f"{waiting} held message{'' if waiting == 1 else 's'} now go through the safety rules "
                          "again." if waiting else "no message was waiting."))
        await realtime.hub.incidents_changed({incident})
        return None


HOLD_REASON_CHOICES = list(HOLD_REASONS)
HOLD_REASON_LABELS = {code: words[0].upper() + words[1:] for code, words in HOLD_REASONS.items()}
