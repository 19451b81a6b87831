"""Pushes changed views to open pages through Reflex shared states.

Changes are coalesced: a burst of feed events becomes at most one push per attendance (and one board push)
per `interval`, so viewers get what changed what they see, not every vehicle fix.
"""
from __future__ import annotations

import asyncio
import logging
import time

import reflex as rx

from rxapp.attendance.board_state import BOARD_TOKEN, BoardView
from rxapp.attendance.track_state import TrackView, link_token_for
from rxapp.attendance.views import load_board, victim_views

log = logging.getLogger(__name__)


class ReflexPublisher:
    def __init__(self, app: rx.App, interval: float = 0.1):
        self.app = app
        self.interval = interval
        self._dirty: set[int] = set()
        self._board_dirty = False
        self._wake = asyncio.Event()
        self.pushed = 0
        self.last_push_at = 0.0

    async def __call__(self, ids: set[int]) -> None:
        self._dirty |= ids
        self._board_dirty = True
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            ids, self._dirty = self._dirty, set()
            board, self._board_dirty = self._board_dirty, False
            try:
                await self._push(ids, board)
            except Exception:
                log.exception("push to pages failed")
            await asyncio.sleep(self.interval)

    async def _push(self, ids: set[int], board: bool) -> None:
        if ids:
            views = await asyncio.to_thread(victim_views, ids)
            for incident_id, view in views.items():
                token = rx.BaseStateToken(ident=link_token_for(incident_id), cls=TrackView)
                async with self.app.modify_state(token) as root:
                    state = await root.get_state(TrackView)
                    state._apply(view)
                self.pushed += 1
        if board:
            rows, updated = await asyncio.to_thread(load_board)
            async with self.app.modify_state(rx.BaseStateToken(ident=BOARD_TOKEN, cls=BoardView)) as root:
                state = await root.get_state(BoardView)
                state.rows, state.updated = rows, updated
        self.last_push_at = time.time()
