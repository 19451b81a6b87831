"""The victim's live arrival page. `TrackView` is shared by everyone holding the same valid link and holds
exactly `views.victim_view` of that one attendance; nothing else about the incident reaches the browser.

Its channel is named by an HMAC of the server secret and the attendance, so a socket cannot name it; a tab is
linked to it only after its link checks out. When the link expires the publisher ends the channel (every
field emptied, `ended` set), and a tab that reconnects is re-checked before its hydrate.
"""
from __future__ import annotations

import asyncio

import reflex as rx

from rxapp.attendance.views import victim_view_for_link
from rxapp.plumbing.links import channel_token

# What is left on a channel whose link has expired: nothing of the attendance. Also the shape of every view.
ENDED_VIEW = {"lang": "en", "dir": "ltr", "situation": "", "status": "", "status_label": "", "explain": [],
              "is_open": False, "steps": [], "eta_text": "", "eta_clock": "", "eta_stale": False,
              "crime_reference": "", "updated": "", "live_text": "", "reconnecting_text": "", "advice": [],
              "after": [], "support": [], "portal_url": "", "labels": {}, "version": 0}


def attendance_channel(incident_id: int) -> str:
    return channel_token("attendance", incident_id)


class TrackPage(rx.State):
    """Private to one browser: whether its link checked out."""

    checked: bool = False
    valid: bool = False


class TrackView(rx.SharedState):
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

    def _apply(self, view: dict) -> None:
        for key in ENDED_VIEW:
            setattr(self, key, view[key])
        self.ended = False

    def _end(self) -> None:
        self._apply(ENDED_VIEW)
        self.ended = True

    def _link_in_url(self) -> str:
        path = str(self.router.url.path).rstrip("/")
        return path.rsplit("/", 1)[-1] if path.startswith("/track/") else ""

    @rx.event
    async def open_link(self):
        """on_load: check the link from the URL (never an argument) and link this tab to its attendance."""
        page = await self.get_state(TrackPage)
        incident_id, view = await asyncio.to_thread(victim_view_for_link, self._link_in_url())
        if incident_id is None:
            page.checked, page.valid = True, False
            return await self._leave()
        linked = await self._link_to(attendance_channel(incident_id))
        linked._apply(view)
        page.checked, page.valid = True, True
        return None

    async def _leave(self) -> list:
        """Unlink this tab; returns the events that re-hydrate it."""
        page = await self.get_state(TrackPage)
        page.valid = False
        return await self._unlink() if self._linked_to else []

    async def _still_entitled(self) -> bool:
        """Before a linked tab hydrates: does the link in its address still open the channel it is linked to?"""
        incident_id, _ = await asyncio.to_thread(victim_view_for_link, self._link_in_url())
        return incident_id is not None and self._linked_to == attendance_channel(incident_id)
