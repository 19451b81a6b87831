"""The victim's live arrival page. `TrackView` is shared by everyone holding the same valid link and holds
exactly `views.victim_view` of that one attendance; nothing else about the incident reaches the browser."""
from __future__ import annotations

import asyncio

import reflex as rx

from rxapp.attendance.views import victim_view_for_link


def link_token_for(incident_id: int) -> str:
    # Shared-state tokens may not contain "_"; the id is internal and never the victim's link.
    return f"attendance-{incident_id}"


class TrackPage(rx.State):
    """Private to one browser: whether its link checked out."""

    checked: bool = False
    valid: bool = False


class TrackView(rx.SharedState):
    status: str = ""
    status_label: str = ""
    is_open: bool = True
    steps: list[dict[str, str]] = []
    eta_text: str = ""
    eta_clock: str = ""
    eta_stale: bool = False
    appointment: str = ""
    waiting: str = ""
    crime_reference: str = ""
    updated: str = ""
    version: int = 0

    def _apply(self, view: dict) -> None:
        for key in ("status", "status_label", "is_open", "steps", "eta_text", "eta_clock", "eta_stale",
                    "appointment", "waiting", "crime_reference", "updated", "version"):
            setattr(self, key, view[key])

    @rx.event
    async def open_link(self):
        """on_load: check the link from the URL (never an argument) and link this tab to its attendance."""
        page = await self.get_state(TrackPage)
        path = str(self.router.url.path).rstrip("/")
        token = path.rsplit("/", 1)[-1] if path.startswith("/track/") else ""
        incident_id, view = await asyncio.to_thread(victim_view_for_link, token)
        if incident_id is None:
            page.checked, page.valid = True, False
            if self._linked_to:
                return await self._unlink()
            return None
        linked = await self._link_to(link_token_for(incident_id))
        linked._apply(view)
        page.checked, page.valid = True, True
        return None
