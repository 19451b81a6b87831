"""The publisher coalesces: a burst of changes within one interval becomes one push per attendance (to its live
room) and one board push per open board session, carrying the newest view; the first change after a quiet spell goes at once. Before
a push reaches a channel its right to it is checked: a board session that no longer checks out has its channel
ended (rows emptied, `ended` set) and leaves the directory; an attendance whose link has expired has its room
ended (the emptied view, then closed) instead of getting the view."""
from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

from sqlmodel import select

from rxapp.attendance.board_state import BoardDirectory, board_channel, board_directory
from rxapp.attendance.models import Incident
from rxapp.attendance.publish import ReflexPublisher
from rxapp.attendance.track_state import attendance_channel
from rxapp.attendance.views import expired_links
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.links import token_hash
from rxapp.staff.accounts import create_user, live_board_sessions, sign_in, sign_out
from rxapp.staff.models import StaffSession, StaffUser

from .test_unassigned_sweep import T0, Feed

INTERVAL = 2.0  # long enough that the burst below surely fits inside one interval
PASSWORD = "correct horse battery"


class _State:
    def __init__(self):
        self.view = None
        self.rows = None
        self.updated = None
        self.ended = False
        self._open: dict[str, str] = {}

    def _apply(self, view: dict) -> None:
        self.view, self.ended = view, False

    def _apply_board(self, rows: list, updated: str) -> None:
        self.rows, self.updated = rows, updated

    def _end(self) -> None:
        self.view, self.rows, self.ended = None, [], True


class FakeApp:
    """Stands in for rx.App and its state manager (one state per token; each `modify_state` of a channel is
    recorded by the token it reaches, with what it left there) and for the live rooms (each push or end recorded
    by its room, with the view it carries, or "ended")."""

    def __init__(self):
        self.states: dict[str, _State] = {}
        self.pushes: list[tuple[str, object]] = []
        self.batches: list[int] = []  # how many rooms' views each push_many carried
        self.state_manager = self

    def _root(self, ident: str):
        state = self.states.setdefault(ident, _State())

        class Root:
            async def get_state(self, _cls):
                return state

        return Root(), state

    async def get_state(self, token):
        return self._root(token.ident)[0]

    @asynccontextmanager
    async def modify_state(self, token):
        root, state = self._root(token.ident)
        yield root
        if token.cls is not BoardDirectory:
            self.pushes.append((token.ident, "ended" if state.ended else
                                state.view if state.view is not None else state.rows))

    async def push(self, room: str, fields: dict) -> None:
        assert fields["ended"] is False
        self.pushes.append((room, {k: v for k, v in fields.items() if k != "ended"}))

    async def push_many(self, pushes: list[tuple[str, dict]]) -> None:
        self.batches.append(len(pushes))
        for room, fields in pushes:
            await self.push(room, fields)

    async def end(self, room: str, fields: dict) -> None:
        assert fields["ended"] is True and not fields["status"] and not fields["steps"]
        self.pushes.append((room, "ended"))

    def count(self, ident: str) -> int:
        return sum(1 for who, _ in self.pushes if who == ident)

    def open_board(self, *sessions: tuple[str, str]) -> None:
        self.states.setdefault(board_directory(), _State())._open.update(dict(sessions))

    def directory(self) -> dict[str, str]:
        return self.states[board_directory()]._open


def _bump(db_url: str, incident_id: int) -> int:
    """A change a person can see, as the service makes it."""
    with session_scope(db_url) as s:
        incident = s.get(Incident, incident_id)
        incident.version += 1
        return incident.version


def _signed_in(username: str, role: str = "fcr") -> str:
    """A staff session's hash, as a board tab's channel is named from it."""
    with session_scope() as s:
        create_user(s, username, PASSWORD, role)
    with session_scope() as s:
        return token_hash(sign_in(s, username, PASSWORD))


async def _until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_a_burst_of_changes_becomes_one_push_per_attendance_and_one_board_push(db_url):
    feed = Feed(db_url)
    a = feed.opened("CLE-20261120-9001", "PRIORITY", T0)
    b = feed.opened("CLE-20261120-9002", "EMERGENCY", T0 + timedelta(minutes=1))
    token_a, token_b = attendance_channel(a), attendance_channel(b)
    session = _signed_in("control.one")
    board = board_channel(session)

    async def scenario():
        app = FakeApp()
        app.open_board((session, "fcr"))
        publisher = ReflexPublisher(app, rooms=app, interval=INTERVAL)
        running = asyncio.create_task(publisher.run())
        try:
            # A quiet spell, then a change: pushed at once.
            await publisher({a})
            await _until(lambda: len(app.pushes) == 2, 2)
            assert (app.count(token_a), app.count(board)) == (1, 1)

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
            assert (app.count(token_a), app.count(token_b), app.count(board)) == (2, 1, 2)
            last = {who: what for who, what in app.pushes}
            assert last[token_a]["version"] == newest[a] and last[token_b]["version"] == newest[b]
            assert {row["urn"] for row in last[board]} == {"CLE-20261120-9001", "CLE-20261120-9002"}
            assert publisher.pushed == 3 and publisher.board_pushes == 2
        finally:
            running.cancel()

    asyncio.run(scenario())


def test_a_change_to_an_attendance_that_is_gone_pushes_only_the_open_boards(db_url):
    session = _signed_in("control.one")

    async def scenario():
        app = FakeApp()
        publisher = ReflexPublisher(app, rooms=app, interval=0.1)
        running = asyncio.create_task(publisher.run())
        try:
            await publisher({987654})
            await asyncio.sleep(0.5)
            assert app.pushes == []  # no attendance, and no board open: nothing to push, nothing read
            app.open_board((session, "fcr"))
            await publisher({987654})
            await _until(lambda: len(app.pushes) == 1, 2)
            assert app.pushes == [(board_channel(session), [])]
        finally:
            running.cancel()

    asyncio.run(scenario())


def test_a_board_whose_session_ended_is_ended_and_never_pushed_again(db_url):
    live, signed_out, demoted, locked = (_signed_in(name) for name in ("live.one", "gone.one", "demoted.one",
                                                                         "locked.one"))
    with session_scope() as s:
        s.get(StaffSession, signed_out).revoked = True
        s.exec(select(StaffUser).where(StaffUser.username == "demoted.one")).one().role = "officer"
        s.exec(select(StaffUser).where(StaffUser.username == "locked.one")).one().locked_until = \
            datetime.now(timezone.utc) + timedelta(minutes=15)

    async def scenario():
        app = FakeApp()
        app.open_board((live, "fcr"), (signed_out, "fcr"), (demoted, "fcr"), (locked, "fcr"))
        publisher = ReflexPublisher(app, rooms=app, interval=0.1)
        running = asyncio.create_task(publisher.run())
        try:
            await publisher(set())
            await _until(lambda: app.count(board_channel(live)) == 1, 2)
            for gone in (signed_out, demoted, locked):
                assert app.pushes.count((board_channel(gone), "ended")) == 1
            assert app.directory() == {live: "fcr"}
            await publisher(set())
            await _until(lambda: app.count(board_channel(live)) == 2, 2)
            assert all(app.count(board_channel(gone)) == 1 for gone in (signed_out, demoted, locked))
        finally:
            running.cancel()

    asyncio.run(scenario())


def test_live_board_sessions_are_the_signed_in_ones_with_a_board_role(db_url):
    fcr, officer, supervisor = _signed_in("fcr.one"), _signed_in("pc.one", "officer"), _signed_in("sup.one",
                                                                                                  "supervisor")
    assert live_board_sessions([fcr, officer, supervisor, "0" * 64]) == {fcr: "fcr", supervisor: "supervisor"}
    with session_scope() as s:
        token = sign_in(s, "fcr.one", PASSWORD)
    with session_scope() as s:
        sign_out(s, token)
    assert token_hash(token) not in live_board_sessions([token_hash(token)])
    later = datetime.now(timezone.utc) + timedelta(days=30)
    assert live_board_sessions([fcr], now=later) == {}  # expired


def test_an_attendance_whose_link_expired_has_its_channel_ended(db_url):
    feed = Feed(db_url)
    now = datetime.now(timezone.utc)
    a = feed.opened("CLE-20261120-9003", "PRIORITY", now - timedelta(hours=30))
    feed.closed("CLE-20261120-9003", now - timedelta(hours=25))  # the link lives 24 hours after the close
    b = feed.opened("CLE-20261120-9004", "PRIORITY", now - timedelta(minutes=5))
    assert expired_links([a, b]) == {a}
    assert expired_links(since=now - timedelta(hours=2)) == {a}
    assert expired_links(since=now - timedelta(minutes=30)) == set()

    async def scenario():
        app = FakeApp()
        publisher = ReflexPublisher(app, rooms=app, interval=0.1)
        running = asyncio.create_task(publisher.run())
        try:
            await publisher({a, b})
            await _until(lambda: len(app.pushes) == 2, 2)
            assert (attendance_channel(a), "ended") in app.pushes
            assert dict(app.pushes)[attendance_channel(b)]["status"]
        finally:
            running.cancel()

    asyncio.run(scenario())


def test_a_burst_of_many_attendances_goes_out_in_chunks_the_first_ten_first(db_url):
    """Fifty attendances changed in one batch: their views are read and sent in chunks (ten, then the other forty
    in one), each chunk's views together; every room gets its own attendance's newest view, once."""
    feed = Feed(db_url)
    ids = [feed.opened(f"CLE-20261120-95{i:02d}", "PRIORITY", T0 + timedelta(seconds=i)) for i in range(50)]
    newest = {i: _bump(db_url, i) for i in ids}

    async def scenario():
        app = FakeApp()
        publisher = ReflexPublisher(app, rooms=app, interval=0.1)
        running = asyncio.create_task(publisher.run())
        try:
            await publisher(set(ids))
            await _until(lambda: len(app.pushes) == 50, 5)
            assert app.batches == [10, 40]
            assert {room for room, _ in app.pushes[:10]} == {attendance_channel(i) for i in sorted(ids)[:10]}
            assert {room: view["version"] for room, view in app.pushes} == \
                {attendance_channel(i): version for i, version in newest.items()}
            assert publisher.pushed == 50
        finally:
            running.cancel()

    asyncio.run(scenario())
