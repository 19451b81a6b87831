"""Pushes changed views to open pages, and ends the channels nobody may read any more.

A victim's page gets its attendance's view in one emit to the attendance's live room (rxapp/attendance/rooms.py:
one socket.io emit however many tabs are open, across workers through Redis); the control-room board, a few
staff tabs, stays a Reflex shared state per session, updated with `modify_state`.

Changes are coalesced: a burst of feed events becomes at most one push per attendance (and one board push per
open staff session) per `interval`, so viewers get what changed what they see, not every vehicle fix.

Pages also count down: an arrival window reads differently as time passes ("less than 15 minutes" becomes "less
than 10 minutes" at the next five-minute mark) with no event at all. Every `countdown` seconds
(PAGE_COUNTDOWN_SECONDS, 15 by default) the victim's view of each open attendance whose page changes with time
(`windows.counting_down`) is rendered again and compared with the view last pushed to its channel; only those that
differ are pushed, through the same path as a change. So an open page shows what a fresh load would within
`countdown` seconds of it changing, and a viewer gets a push when the words change, not on every fix or tick.

A push reads and renders the changed attendances' views together, a few queries for each chunk of attendances
rather than a few for each attendance, and sends each chunk's views (one Redis round trip with Redis) while the
next chunk is rendered: a burst's first PUSH_CHUNK rooms do not wait for the other rooms' views.

With Redis the countdown and the re-check of expired links run only in the process that leads the background
work (`runs_deployment_checks`): its pushes and ends reach every worker's tabs, so one is enough.

Before a push reaches a tab its right to it is checked again: an attendance whose victim link has expired gets
its channel ended instead of the view; the board goes only to sessions that still check out (not revoked, not
expired, account active and not locked, same role as when the board was opened), and the channel of any other
is ended. Sessions and links also end while nothing changes, so every `recheck` seconds the open board sessions
are checked again, and every `link_recheck` seconds the links that expired since.
"""
from __future__ import annotations

import asyncio
import logging
import time

import reflex as rx

from rxapp.attendance.board_state import BoardDirectory, BoardView, board_channel, board_directory
from rxapp.attendance.board_views import load_board
from rxapp.attendance.rooms import LiveRooms
from rxapp.attendance.rooms import rooms as live_rooms
from rxapp.attendance.track_state import ENDED_VIEW, attendance_channel
from rxapp.attendance.views import expired_links, victim_views, views_to_push
from rxapp.attendance.windows import counting_down
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.jobs import runner_status
from rxapp.staff.accounts import live_board_sessions

log = logging.getLogger(__name__)

SESSION_RECHECK_SECONDS = 2.0
LINK_RECHECK_SECONDS = 10.0
PUSH_CHUNK = 10  # a burst's first chunk of attendances read and rendered together; each later one is 4 times larger
COUNTDOWN_CHUNK = 500  # attendances re-rendered together by the countdown (one IN (...) list each)
LEADER_RECHECK_SECONDS = 5.0  # how long this process trusts what it last read about who leads


class ReflexPublisher:
    def __init__(self, app: rx.App, interval: float = 0.1, recheck: float = SESSION_RECHECK_SECONDS,
                 link_recheck: float = LINK_RECHECK_SECONDS, countdown: float | None = None,
                 rooms: LiveRooms | None = None):
        self.app = app
        self.rooms = rooms or live_rooms
        self.interval = interval
        self.countdown = countdown if countdown is not None else settings().page_countdown_seconds
        self._last_view: dict[int, dict] = {}  # the view last pushed to each attendance's channel
        self.countdown_pushes = 0
        self.recheck = recheck
        self.link_recheck = link_recheck
        self._dirty: set[int] = set()
        self._board_dirty = False
        self._wake = asyncio.Event()
        # A tab open from before a restart re-checks its link when it reconnects (LiveChannelGuard, open_link).
        self._links_checked_at = utcnow()
        self._directory_kept_until = 0.0
        self._leading = (False, float("-inf"))  # (whether this process leads the runner, until when that holds)
        self.pushed = 0
        self.board_pushes = 0
        self.ended = 0
        self.last_push_at = 0.0

    async def __call__(self, ids: set[int]) -> None:
        self._dirty |= ids
        self._board_dirty = True
        self._wake.set()

    async def run(self) -> None:
        watch = asyncio.create_task(self._watch(), name="live-channel-watch")
        ticking = asyncio.create_task(self._count_down_forever(), name="page-countdown")
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                started = time.monotonic()
                ids, self._dirty = self._dirty, set()
                board, self._board_dirty = self._board_dirty, False
                try:
                    await self._push(ids, board)
                except Exception:
                    log.exception("push to pages failed")
                # Pushes START at least `interval` apart: the time a push took counts towards the wait.
                await asyncio.sleep(max(0.0, started + self.interval - time.monotonic()))
        finally:
            watch.cancel()
            ticking.cancel()

    async def _watch(self) -> None:
        next_links = 0.0
        while True:
            await asyncio.sleep(self.recheck)
            try:
                await self.board_sessions()
                if time.monotonic() >= next_links and await self.runs_deployment_checks():
                    next_links = time.monotonic() + self.link_recheck
                    await self.end_expired_links()
            except Exception:
                log.exception("re-checking live channels failed")

    async def _push(self, ids: set[int], board: bool) -> None:
        if ids:
            await self._push_views(ids)
        if board:
            sessions = await self.board_sessions()
            if sessions:
                rows, updated = await asyncio.to_thread(load_board)
                for session in sessions:
                    token = rx.BaseStateToken(ident=board_channel(session), cls=BoardView)
                    async with self.app.modify_state(token) as root:
                        state = await root.get_state(BoardView)
                        if not state.ended:  # ended meanwhile by the watch: only open_board revives it
                            state._apply_board(rows, updated)  # counts, and each new breach announced once
                    self.board_pushes += 1
        self.last_push_at = time.time()

    async def _push_views(self, ids: set[int]) -> None:
        """Read and render the changed attendances' views a chunk at a time (a few queries per chunk, whatever its
        size), and send each chunk's views while the next is rendered: the first PUSH_CHUNK rooms get their view
        without waiting for the others'. Later chunks grow (10, 40, 160, ...): while views go out the event loop
        and the rendering thread share the interpreter, and each query of a chunk waits its turn, so fewer,
        larger chunks then cost less. An attendance whose link has expired has its room ended instead."""
        order, chunks, size = sorted(ids), [], PUSH_CHUNK
        while order:
            chunks.append(order[:size])
            order, size = order[size:], size * 4
        rendering = asyncio.ensure_future(asyncio.to_thread(views_to_push, chunks[0]))
        try:
            for k in range(len(chunks)):
                views, expired = await rendering
                if k + 1 < len(chunks):
                    rendering = asyncio.ensure_future(asyncio.to_thread(views_to_push, chunks[k + 1]))
                for incident_id in expired:
                    await self._end_room(incident_id)
                if views:
                    await self.rooms.push_many([(attendance_channel(incident_id), {**view, "ended": False})
                                                for incident_id, view in views.items()])
                    self._last_view.update(views)
                    self.pushed += len(views)
        finally:
            rendering.cancel()  # only still pending if a push failed or this task was cancelled

    async def runs_deployment_checks(self) -> bool:
        """Whether this process counts pages down and re-checks links for the whole deployment. With Redis, a
        push or an end from any process reaches every worker's tabs, so only the process that leads the
        background work (rxapp/plumbing/runner.py, as it reports in runner_status) does it, and two workers do
        not push each countdown twice; without Redis each process's rooms are its own, so each does."""
        if not getattr(self.rooms, "redis_url", None):
            return True
        leading, until = self._leading
        if time.monotonic() < until:
            return leading
        try:
            status = await asyncio.to_thread(runner_status)
            leader = status["leader"]
            leading = bool(status["running"] and leader and leader["this_process"])
        except Exception:  # the database is away: keep the last answer until it is back
            log.warning("could not read who leads the background work", exc_info=True)
        self._leading = (leading, time.monotonic() + LEADER_RECHECK_SECONDS)
        return leading

    # ---- pages counting down ------------------------------------------------------------------------------

    async def _count_down_forever(self) -> None:
        while True:
            await asyncio.sleep(self.countdown)
            try:
                if await self.runs_deployment_checks():
                    await self.count_down()
                else:
                    self._last_view.clear()  # kept only for the countdown's comparisons
            except Exception:
                log.exception("re-rendering pages as time passes failed")

    async def count_down(self) -> set[int]:
        """Render again the victim's view of every open attendance whose page changes with time, and push
        those that differ from what was last pushed to their channel. Returns their ids."""
        ids = await asyncio.to_thread(counting_down)
        for gone in set(self._last_view) - ids:
            del self._last_view[gone]  # closed, or no window any more: nothing of it moves with time
        if not ids:
            return set()
        order, views = sorted(ids), {}
        for i in range(0, len(order), COUNTDOWN_CHUNK):
            views.update(await asyncio.to_thread(victim_views, order[i:i + COUNTDOWN_CHUNK]))
        changed = {incident_id for incident_id, view in views.items() if self._last_view.get(incident_id) != view}
        if changed:
            self.countdown_pushes += len(changed)
            self._dirty |= changed
            self._wake.set()
        return changed

    # ---- who may still read -------------------------------------------------------------------------------

    async def board_sessions(self) -> list[str]:
        """The open boards' sessions that still check out; the channels of the others are ended first."""
        opened = await self._board_directory()
        if not opened:
            return []
        live = await asyncio.to_thread(live_board_sessions, opened)
        gone = {session for session, role in opened.items() if live.get(session) != role}
        for session in gone:
            await self._end(rx.BaseStateToken(ident=board_channel(session), cls=BoardView))
        if gone:
            await self._board_directory(forget=gone)
            log.info("ended %d board channel(s) whose session no longer checks out", len(gone))
        return [session for session in opened if session not in gone]

    async def _board_directory(self, forget: set[str] = frozenset()) -> dict[str, str]:
        token = rx.BaseStateToken(ident=board_directory(), cls=BoardDirectory)
        async with self.app.state_manager.modify_state(token) as root:
            directory = await root.get_state(BoardDirectory)
            if forget or (directory._open and time.monotonic() >= self._directory_kept_until):
                # Also rewritten now and then, so the state manager (Redis) keeps it while boards are open.
                directory._open = {s: r for s, r in directory._open.items() if s not in forget}
                self._directory_kept_until = time.monotonic() + 60
            return dict(directory._open)

    async def end_expired_links(self) -> None:
        now = utcnow()
        expired = await asyncio.to_thread(expired_links, since=self._links_checked_at, now=now)
        for incident_id in expired:
            await self._end_room(incident_id)
        self._links_checked_at = now

    async def _end_room(self, incident_id: int) -> None:
        """Every tab in the attendance's room gets the emptied view, and the room is closed: nothing after."""
        await self.rooms.end(attendance_channel(incident_id), {**ENDED_VIEW, "ended": True})
        self._last_view.pop(incident_id, None)
        self.ended += 1

    async def _end(self, token: rx.BaseStateToken) -> None:
        """Empty a channel and mark it ended; every tab linked to it gets that, and nothing after."""
        async with self.app.modify_state(token) as root:
            state = await root.get_state(token.cls)
            if not state.ended:
                state._end()
                self.ended += 1
