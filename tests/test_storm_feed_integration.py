"""The whole feed path against the real database: the STORM simulator (a real WebSocket server) → the
client → the attendance service. A feed cut mid-scenario and resumed must end exactly where an
uninterrupted run ends; repeated events and older fixes change nothing; bad frames are dead-lettered
while later events still apply."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from integrations.storm.client import StormClient
from integrations.storm.simulator import StormSimulator, bundled_scenarios
from rxapp.attendance.models import Incident
from rxapp.attendance.service import AttendanceService
from rxapp.feeds.models import DeadLetter
from rxapp.plumbing.db import session_scope

from .helpers import shifted, snapshot

pytestmark = pytest.mark.asyncio
PACE = 6000  # the four scenarios (about four hours of STORM time) play out in about 2.5 s


async def _until(predicate, timeout=20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


class CuttingSink:
    """The real service, with a saboteur: cuts the connection after some batches and fails one batch
    outright (as a crash between receipt and commit would), so resumption is exercised both ways."""

    def __init__(self, service: AttendanceService, sim: StormSimulator, cut_after: int, fail_on: int):
        self.service, self.sim = service, sim
        self.calls, self.cut_after, self.fail_on = 0, cut_after, fail_on

    async def last_seq(self) -> int:
        return await self.service.last_seq()

    async def apply(self, items):
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("simulated crash before commit")
        await self.service.apply(items)
        if self.calls == self.cut_after:
            await self.sim.drop_connections()


async def _run(db_url, sink_factory, start_at, batch_max=500):
    sim = StormSimulator(bundled_scenarios(), speed=PACE, start_at=start_at, heartbeat_interval=1.0)
    await sim.start("127.0.0.1", 0)
    service = AttendanceService(db_url)
    sink = sink_factory(service, sim)
    client = StormClient(sim.url, sink, backoff_initial=0.05, backoff_max=0.2, batch_max=batch_max)
    task = asyncio.create_task(client.run())
    try:
        await sim_release(sim)

        async def caught_up():
            return await service.last_seq() >= sim.seq_high > 0

        await _until(lambda: _all_released(sim))
        await _until(caught_up)
    finally:
        await client.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.stop()
    return sim, client


async def _all_released(sim):
    return sim.seq_high == len(sim.events)


async def sim_release(sim):
    # Give the release loop a moment to put every due event on the stream.
    await asyncio.sleep(0.05)
    sim.release_due()


async def test_cut_and_resumed_feed_ends_like_an_uninterrupted_run(db_url, tmp_path):
    # Six hours ago: the scenarios' four hours are all in the past, and recent enough for the client to take.
    start_at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=6)
    other_url = f"sqlite:///{tmp_path / 'uninterrupted.db'}"
    from rxapp.plumbing.db import migrate

    migrate(other_url)
    sim_a, _ = await _run(other_url, lambda service, sim: service, start_at)
    uninterrupted = snapshot(other_url)

    holder = {}

    def cutting(service, sim):
        holder["sink"] = CuttingSink(service, sim, cut_after=3, fail_on=6)
        return holder["sink"]

    sim_b, client_b = await _run(db_url, cutting, start_at, batch_max=7)
    resumed = snapshot(db_url)
    assert holder["sink"].calls > 6
    assert client_b.status["reconnects"] >= 2
    assert sim_a.seq_high == sim_b.seq_high and resumed["cursor"] == sim_b.seq_high
    assert resumed == uninterrupted
    with session_scope(db_url) as s:
        assert len(s.exec(select(Incident)).all()) == 4


async def test_malformed_frames_are_dead_lettered_and_later_events_apply(db_url):
    sim = StormSimulator([], heartbeat_interval=1.0)
    await sim.start("127.0.0.1", 0)
    service = AttendanceService(db_url)
    client = StormClient(sim.url, service, backoff_initial=0.05, backoff_max=0.2)
    task = asyncio.create_task(client.run())
    lines = [json.loads(x) for x in shifted(["scheduled-appointment"],
                                            datetime.now(timezone.utc) - timedelta(minutes=1))]
    bad_frames = {
        "not json": "this is not json {",
        "not an object": "[1, 2, 3]",
        "missing field": json.dumps({"seq": 1, "type": "incident.closed", "occurred_at": "2026-11-20T13:00:00Z"}),
        "wrong type": json.dumps({**lines[2], "seq": "three"}),
        "unknown type": json.dumps({"seq": 1, "event_id": "u-1", "type": "incident.teleported",
                                    "occurred_at": "2026-11-20T13:00:00Z"}),
        "bad grade": json.dumps({**lines[0], "event_id": "g-1",
                                 "incident": {**lines[0]["incident"], "grade": "URGENT"}}),
        # Numbered 1, at the resume point: a bad frame numbered next in line would take that number (the gateway
        # numbers each event once), and the real event 2 after it would be a duplicate.
        "no offset": json.dumps({**lines[1], "seq": 1, "event_id": "t-1", "occurred_at": "2026-11-20T11:08:00"}),
        "too big": json.dumps({**lines[1], "seq": 1, "event_id": "big-1", "pad": "x" * 70_000}),
    }
    try:
        sim.append_event(lines[0])
        for text in bad_frames.values():
            sim.append_raw(text)
        sim.append_event({**lines[1], "event_id": "appt-for-missing", "appointment": {
            **lines[1]["appointment"], "urn": "CLE-20261120-9999"}})  # well-formed, unknown incident
        sim.append_event(lines[1])
        sim.append_event(lines[2])

        async def closed():
            with session_scope(db_url) as s:
                inc = s.exec(select(Incident)).first()
                return inc is not None and not inc.is_open

        await _until(closed)
    finally:
        await client.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.stop()
    with session_scope(db_url) as s:
        dead = s.exec(select(DeadLetter).order_by(DeadLetter.id)).all()
        assert len(dead) == len(bad_frames) + 1
        assert all(d.reason and d.raw for d in dead)
        assert "unknown incident" in dead[-1].reason
        reasons = " | ".join(d.reason for d in dead)
        assert "Kowalski" not in reasons and "07700" not in reasons
        inc = s.exec(select(Incident)).one()
        assert inc.status == "closed" and inc.crime_reference == "CL/26/041990"
    assert client.status["bad_frames"] >= len(bad_frames)


async def test_a_fast_demo_can_send_wall_clock_times():
    from datetime import datetime, timezone

    from integrations.storm.protocol import parse_timestamp

    start = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    plain = StormSimulator(bundled_scenarios()[:1], speed=60, start_at=start)
    fast = StormSimulator(bundled_scenarios()[:1], speed=60, start_at=start, compress_time=True)
    span = [parse_timestamp(e["occurred_at"]) for e in plain.events]
    squeezed = [parse_timestamp(e["occurred_at"]) for e in fast.events]
    assert abs((squeezed[-1] - squeezed[0]).total_seconds() * 60 - (span[-1] - span[0]).total_seconds()) < 1
    assert [e["event_id"] for e in plain.events] == [e["event_id"] for e in fast.events]
