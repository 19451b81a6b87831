"""Open pages count down: the publisher renders again the victim's view of each attendance whose page changes with
time alone, and pushes it only when it differs from what was last pushed there (real database and views; the
clock the views read is moved forward; the app is tests/test_publisher.py's stand-in that records each push)."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from rxapp.attendance import publish, views
from rxapp.attendance.publish import ReflexPublisher
from rxapp.attendance.track_state import attendance_channel
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.jobs import StatusReport, write_status

from .test_publisher import FakeApp, _until
from .test_windows import T0, S, Stream


def test_an_open_page_is_pushed_when_its_words_change_with_time_and_only_then(db_url, monkeypatch):
    feed = Stream(db_url)
    urn = "CLE-20261120-7201"
    feed.opened(urn, T0)
    feed.on_the_way(urn, "CA1", T0 + 10 * S)
    feed.fix("CA1", 3500.0, T0 + 20 * S)  # about 10 minutes away
    quiet = "CLE-20261120-7202"
    feed.opened(quiet, T0)  # nobody on the way: nothing on its page moves with time
    incident = feed.incident(urn)
    channel = attendance_channel(incident.id)
    clock = [T0 + 30 * S]
    monkeypatch.setattr(views, "attendance_now", lambda: clock[0])

    async def scenario():
        app = FakeApp()
        publisher = ReflexPublisher(app, rooms=app, interval=0.05, countdown=3600)  # count_down called by hand below
        running = asyncio.create_task(publisher.run())
        try:
            assert await publisher.count_down() == {incident.id}  # never pushed since start: it goes once
            await _until(lambda: app.count(channel) == 1, 2)
            first = app.pushes[-1][1]
            assert first["eta_text"] and first["eta_clock"]

            clock[0] = T0 + 60 * S  # half a minute on, same five-minute span: the words are the same
            assert await publisher.count_down() == set()
            await asyncio.sleep(0.3)
            assert app.count(channel) == 1

            clock[0] = T0 + 5 * 60 * S + 1 * S  # past the next five-minute mark: the words count down
            assert await publisher.count_down() == {incident.id}
            await _until(lambda: app.count(channel) == 2, 2)
            second = app.pushes[-1][1]
            assert second["eta_text"] != first["eta_text"]
            assert second == views.victim_views({incident.id})[incident.id]  # what a fresh load shows now
            assert publisher.countdown_pushes == 2

            feed.send("incident.closed", T0 + 6 * 60 * S, incident={"urn": urn, "disposition": "CANCELLED",
                                                                   "crime_reference": None})
            assert await publisher.count_down() == set()
            assert publisher._last_view == {}  # nothing kept for attendances that no longer count down
        finally:
            running.cancel()

    asyncio.run(scenario())


def test_the_countdown_runs_by_itself_every_few_seconds(db_url, monkeypatch):
    feed = Stream(db_url)
    urn = "CLE-20261120-7203"
    feed.opened(urn, T0)
    feed.on_the_way(urn, "CA1", T0 + 10 * S)
    feed.fix("CA1", 3500.0, T0 + 20 * S)
    channel = attendance_channel(feed.incident(urn).id)
    clock = [T0 + 30 * S]
    monkeypatch.setattr(views, "attendance_now", lambda: clock[0])

    async def scenario():
        app = FakeApp()
        publisher = ReflexPublisher(app, rooms=app, interval=0.05, countdown=0.2)
        running = asyncio.create_task(publisher.run())
        try:
            await _until(lambda: app.count(channel) == 1, 3)
            clock[0] += timedelta(minutes=5)
            await _until(lambda: app.count(channel) == 2, 3)
            await asyncio.sleep(1.0)
            assert app.count(channel) == 2  # and nothing more while the words stay the same
        finally:
            running.cancel()

    asyncio.run(scenario())


def _leader_row(db_url: str, pid_offset: int) -> None:
    """The runner's report that a process leads the background work: this one (0), or another (any other offset)."""
    report = StatusReport([], [])
    report.pid += pid_offset
    write_status(report.rows_due(utcnow()), replace=True, db_url=db_url)


def test_with_redis_only_the_process_leading_the_background_work_counts_down(db_url, monkeypatch):
    """With Redis every push reaches every worker's tabs, so one process counts down for the whole deployment:
    the one the runner reports as leading. Two workers do not push the same countdown twice; a worker that takes
    the lead over starts counting down within seconds."""
    feed = Stream(db_url)
    urn = "CLE-20261120-7204"
    feed.opened(urn, T0)
    feed.on_the_way(urn, "CA1", T0 + 10 * S)
    feed.fix("CA1", 3500.0, T0 + 20 * S)
    channel = attendance_channel(feed.incident(urn).id)
    monkeypatch.setattr(views, "attendance_now", lambda: T0 + 30 * S)
    monkeypatch.setattr(publish, "LEADER_RECHECK_SECONDS", 0.1)
    _leader_row(db_url, 1)  # another process leads

    async def scenario():
        app = FakeApp()
        app.redis_url = "redis://pushes.go.through.redis"  # only read to tell that they do
        publisher = ReflexPublisher(app, rooms=app, interval=0.05, countdown=0.2)
        running = asyncio.create_task(publisher.run())
        try:
            await asyncio.sleep(1.0)
            assert app.count(channel) == 0 and publisher.countdown_pushes == 0
            assert await publisher.runs_deployment_checks() is False
            await asyncio.to_thread(_leader_row, db_url, 0)  # this process takes the lead over
            await _until(lambda: app.count(channel) == 1, 3)
            assert await publisher.runs_deployment_checks() is True
            del app.redis_url  # without Redis each process's rooms are its own: every process checks its own
            await asyncio.to_thread(_leader_row, db_url, 1)
            await asyncio.sleep(0.2)
            assert await publisher.runs_deployment_checks() is True
        finally:
            running.cancel()

    asyncio.run(scenario())
