"""The publisher coalesces: a burst of changes within one interval becomes one push per attendance and one
board push, carrying the newest view; the first change after a quiet spell goes at once."""
from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from datetime import timedelta

from rxapp.attendance.board_state import BOARD_TOKEN
from rxapp.attendance.models import Incident
from rxapp.attendance.publish import ReflexPublisher
from rxapp.attendance.track_state import link_token_for
from rxapp.plumbing.db import session_scope

from .test_unassigned_sweep import T0, Feed

INTERVAL = 2.0  # long enough that the burst below surely fits inside one interval


class _State:
    def __init__(self):
        self.view = None
        self.rows = None
        self.updated = None

    def _apply(self, view: dict) -> None:
        self.view = view


class FakeApp:
    """Stands in for rx.App: records each `modify_state` by the token it reaches and what it left there."""

    def __init__(self):
        self.pushes: list[tuple[str, object]] = []

    @asynccontextmanager
    async def modify_state(self, token):
        state = _State()

        class Root:
            async def get_state(self, _cls):
                return state

        yield Root()
        self.pushes.append((token.ident, state.view if state.view is not None else state.rows))

    def count(self, ident: str) -> int:
        return sum(1 for who, _ in self.pushes if who == ident)


def _bump(db_url: str, incident_id: int) -> int:
    """A change a person can see, as the service makes it."""
    with session_scope(db_url) as s:
        incident = s.get(Incident, incident_id)
        incident.version += 1
        return incident.version


async def _until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_a_burst_of_changes_becomes_one_push_per_attendance_and_one_board_push(db_url):
    feed = Feed(db_url)
    a = feed.opened("CLE-P-0001", "PRIORITY", T0)
    b = feed.opened("CLE-P-0002", "EMERGENCY", T0 + timedelta(minutes=1))
    token_a, token_b = link_token_for(a), link_token_for(b)

    async def scenario():
        app = FakeApp()
        publisher = ReflexPublisher(app, interval=INTERVAL)
        running = asyncio.create_task(publisher.run())
        try:
            # A quiet spell, then a change: pushed at once.
            await publisher({a})
            await _until(lambda: len(app.pushes) == 2, 2)
            assert (app.count(token_a), app.count(BOARD_TOKEN)) == (1, 1)

            # A burst: thirty changes to both attendances, well within one interval.
            started = time.monotonic()
            newest = {}
            for i in range(30):
                changed = ({a}, {b}, {a, b})[i % 3]
                for incident_id in changed:
                    newest[incident_id] = await asyncio.to_thread(_bump, db_url, incident_id)
                await publisher(changed)
                await asyncio.sleep(0.01)
            assert time.monotonic() - started < INTERVAL * 0.75, "the burst took too long to test coalescing"
            assert len(app.pushes) == 2  # nothing more until the interval is over

            await _until(lambda: len(app.pushes) >= 5, INTERVAL + 2)
            await asyncio.sleep(INTERVAL + 0.5)  # and nothing after: every change was in that one push
            assert (app.count(token_a), app.count(token_b), app.count(BOARD_TOKEN)) == (2, 1, 2)
            last = {who: what for who, what in app.pushes}
            assert last[token_a]["version"] == newest[a] and last[token_b]["version"] == newest[b]
            assert {row["urn"] for row in last[BOARD_TOKEN]} == {"CLE-P-0001", "CLE-P-0002"}
            assert publisher.pushed == 3
        finally:
            running.cancel()

    asyncio.run(scenario())


def test_a_change_to_an_attendance_that_is_gone_pushes_only_the_board(db_url):
    async def scenario():
        app = FakeApp()
        publisher = ReflexPublisher(app, interval=0.1)
        running = asyncio.create_task(publisher.run())
        try:
            await publisher({987654})
            await _until(lambda: len(app.pushes) == 1, 2)
            assert app.pushes == [(BOARD_TOKEN, [])]
        finally:
            running.cancel()

    asyncio.run(scenario())
