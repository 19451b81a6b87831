"""Realtime hub: services say which incidents changed; the web app's publisher pushes the new views.

Keeping this a tiny indirection lets services and tests run without Reflex, and lets the app choose how
to fan out (Reflex shared states, with Redis across workers when configured).
"""
from __future__ import annotations

import logging
from typing import Awaitable, Callable, Iterable

log = logging.getLogger(__name__)

Publisher = Callable[[set[int]], Awaitable[None]]


class Hub:
    def __init__(self) -> None:
        self._publishers: list[Publisher] = []

    def subscribe(self, publisher: Publisher) -> None:
        self._publishers.append(publisher)

    def unsubscribe(self, publisher: Publisher) -> None:
        if publisher in self._publishers:
            self._publishers.remove(publisher)

    async def incidents_changed(self, incident_ids: Iterable[int]) -> None:
        ids = set(incident_ids)
        for publisher in list(self._publishers):
            try:
                await publisher(ids)
            except Exception:  # a failed push must never stop the feed; the next change re-sends the view
                log.exception("realtime publisher failed")

    async def tick(self) -> None:
        """Time moves on even when nothing happens: lets the board refresh its clocks and risks."""
        await self.incidents_changed(set())


hub = Hub()
