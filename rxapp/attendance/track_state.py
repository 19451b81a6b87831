"""The victim's live arrival page. `TrackView` is this tab's own state and holds exactly `views.victim_view` of
its one attendance; nothing else about the incident reaches the browser.

Once the tab's link checks out (`open_link`, on every load and every reconnect), its socket joins the attendance's
live room (rxapp/attendance/rooms.py), named by an HMAC of the server secret and the attendance, so a socket can
never name it. Changes then arrive as one emit to that room which Reflex's client applies to these vars; the
tab's state on the server keeps what it had when the page opened, which is what a reconnect re-checks
(rxapp.rxapp's LiveChannelGuard) before its hydrate. When the link expires the room gets the emptied view
(`ENDED_VIEW`, `ended` set) and is closed.
"""
from __future__ import annotations

import asyncio
import time

import reflex as rx

from rxapp.attendance.rooms import rooms
from rxapp.attendance.views import ENDED_VIEW, victim_view_for_link
from rxapp.plumbing.links import channel_token


def attendance_channel(incident_id: int) -> str:
    return channel_token("attendance", incident_id)


class TrackPage(rx.State):
    """Private to one browser: whether its link checked out."""

    checked: bool = False
    valid: bool = False


class TrackView(rx.State):
    """`views.victim_view` of one attendance, in the victim's language (`lang`, `dir`), with the page's fixed
    words in `labels` (keys "table.key" of rxapp/languages/locales)."""

    lang: str = "en"
    dir: str = "ltr"
    situation: str = ""
    status: str = ""
    status_label: str = ""
    explain: list[str] = []
    is_open: bool = True
    steps: list[dict[str, str]] = []
    eta_text: str = ""
    eta_clock: str = ""
    eta_stale: bool = False
    crime_reference: str = ""
    updated: str = ""
    live_text: str = ""
    reconnecting_text: str = ""
    advice: list[str] = []
    after: list[str] = []
    support: list[dict[str, str]] = []
    portal_url: str = ""  # the victim's portal link once a crime is recorded and they are invited (views.portal_offer)
    labels: dict[str, str] = {}
    version: int = 0
    ended: bool = False  # the link has expired: nothing of the attendance is left here

    _room: str = ""  # the live room this tab's socket joined (the attendance's channel), "" if none

    def _apply(self, view: dict) -> None:
        for key in ENDED_VIEW:
            setattr(self, key, view[key])
        self.ended = False

    def _end(self) -> None:
        self._apply(ENDED_VIEW)
        self.ended = True

    def _link_in_url(self) -> str:
        return link_in_path(str(self.router.url.path))

    @rx.event
    async def open_link(self):
        """on_load: check the link from the URL (never an argument), join this socket to its attendance's room,
        and show the view read after joining (a change pushed meanwhile is read again)."""
        page = await self.get_state(TrackPage)
        link = self._link_in_url()
        started = time.monotonic()
        incident_id, view = await asyncio.to_thread(victim_view_for_link, link)
        if incident_id is None:
            page.checked, page.valid = True, False
            await self._leave()
            return
        room = attendance_channel(incident_id)
        sid = self.router.session.session_id
        if self._room and self._room != room:
            await rooms.leave(sid, self._room)
        await rooms.join(sid, room, incident_id)
        self._room = room
        if rooms.delivered_since(room, started):  # a push went out between the read and the join
            incident_id, view = await asyncio.to_thread(victim_view_for_link, link)
            if incident_id is None:
                page.checked, page.valid = True, False
                await self._leave()
                return
        self._apply(view)
        page.checked, page.valid = True, True

    async def _leave(self) -> None:
        """Leave the room and keep nothing of the attendance in this tab's state."""
        page = await self.get_state(TrackPage)
        page.valid = False
        if self._room:
            await rooms.leave(self.router.session.session_id, self._room)
            self._room = ""
        if self.status or self.labels or self.steps:
            self._end()

    async def _still_entitled(self, path: str) -> bool:
        """Before a tab that joined a room hydrates again: does the link in its address still open that room?
        If so its state takes the current view, so the hydrate carries no old one."""
        incident_id, view = await asyncio.to_thread(victim_view_for_link, link_in_path(path))
        if incident_id is None or self._room != attendance_channel(incident_id):
            return False
        self._apply(view)
        return True


def link_in_path(path: str) -> str:
    path = path.rstrip("/")
    return path.rsplit("/", 1)[-1] if path.startswith("/track/") else ""
