"""The control-room board, live, for signed-in staff only.

Each staff session has its own channel, named by an HMAC of the server secret and the session's hash: nobody
can name it, and it dies with the session. A tab is linked to its session's channel only after the handler has
checked the session. The publisher (publish.py) re-checks every session with a board open before each push and
every few seconds, and ends the channel of one that no longer checks out (sign-out, expiry, lock-out,
deactivation, a role change): its rows are emptied, `ended` is set, and nothing is pushed to it again. A tab
that reconnects is re-checked before its hydrate (rxapp.rxapp's LiveChannelGuard).
"""
from __future__ import annotations

import asyncio

import reflex as rx
from reflex.istate.manager import get_state_manager

from rxapp.attendance.board_views import load_board
from rxapp.domain.attendance import OPEN_STATUSES, STATUS_LABELS
from rxapp.domain.events import GRADES
from rxapp.plumbing.links import channel_token
from rxapp.staff.accounts import BOARD_ROLES
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

    def _end(self) -> None:
        self.rows, self.updated, self.ended = [], "", True

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
        linked.rows, linked.updated, linked.ended = rows, updated, False
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
