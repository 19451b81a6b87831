"""The demo's dispatch feed that never runs out: the STORM simulator looping its scenarios (and the demo's own,
one of which misses its target) under fresh references, on a clock the product shares (DEMO_SPEED and
DEMO_EPOCH). Several loops are played in a moment by moving an injected clock; the last test sends them
through the real WebSocket client into the real attendance service."""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from integrations.storm.client import StormClient
from integrations.storm.protocol import parse_frame, parse_timestamp
from integrations.storm.simulator import StormSimulator, bundled_scenarios, demo_scenarios
from rxapp.domain.events import DispatchEvent
from rxapp.domain.grades import BREACHED, GradeTargets, assess_breach

START = datetime(2026, 12, 1, 18, 0, tzinfo=timezone.utc)
STAGGER = timedelta(minutes=8)
LOOPS = 5


class FakeClock:
    """Real seconds, moved by the test."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


def looping(clock: FakeClock, *, seed: int | None = 11, start_at: datetime = START, speed: float = 60.0):
    return StormSimulator(demo_scenarios(), speed=speed, start_at=start_at, stagger=STAGGER, loop=True, seed=seed,
                          clock=clock, heartbeat_interval=60)


async def played(simulator: StormSimulator, clock: FakeClock, simulated: timedelta,
                 step: timedelta = timedelta(minutes=1)) -> list[dict]:
    """Every event released while `simulated` time passes, moved `step` at a time."""
    await simulator.start()
    try:
        moved = timedelta(0)
        while moved < simulated:
            clock.seconds += step.total_seconds() / simulator.speed
            moved += step
            simulator.release_due()
        return [event for event in simulator.events if event["seq"] <= simulator.seq_high]
    finally:
        await simulator.stop()


def loop_span() -> timedelta:
    return STAGGER * len(demo_scenarios())


def body(event: dict) -> dict:
    return event.get("incident") or event.get("assignment") or event.get("appointment") or event.get("resource") or {}


def arrivals(events: list[dict]) -> dict[str, tuple[dict, datetime | None]]:
    """Each incident's opening event and when a resource first reported being at scene."""
    opened: dict[str, dict] = {}
    arrived: dict[str, datetime] = {}
    for event in events:
        if event["type"] == "incident.opened":
            opened[event["incident"]["urn"]] = event
        elif event["type"] == "resource.status" and event["resource"]["status_code"] == "6":
            arrived.setdefault(event["resource"]["urn"], parse_timestamp(event["occurred_at"]))
    return {urn: (event, arrived.get(urn)) for urn, event in opened.items()}


@pytest.mark.asyncio
async def test_the_loop_plays_every_scenario_again_under_fresh_references_with_seq_always_rising():
    clock = FakeClock()
    events = await played(looping(clock), clock, loop_span() * LOOPS + timedelta(hours=3))
    scenarios = len(demo_scenarios())
    recorded = sum(1 for path in demo_scenarios() for line in path.read_text().splitlines() if line.strip())

    # seq strictly increasing from 1 with no gap; no event id twice.
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert len(events) >= recorded * LOOPS
    assert len({e["event_id"] for e in events}) == len(events)

    # Every play opens a new incident: a URN never comes back, nor does a crime reference, and every event
    # names an incident already opened on the stream.
    openings = [e for e in events if e["type"] == "incident.opened"]
    assert len(openings) >= scenarios * LOOPS
    urns = [e["incident"]["urn"] for e in openings]
    assert len(set(urns)) == len(urns)
    crimes = [e["incident"]["crime_reference"] for e in events
              if e["type"] == "incident.closed" and e["incident"]["crime_reference"]]
    assert len(set(crimes)) == len(crimes) >= 4 * LOOPS
    known: set[str] = set()
    for event in events:
        if event["type"] == "incident.opened":
            known.add(event["incident"]["urn"])
        elif body(event).get("urn"):
            assert body(event)["urn"] in known, event["type"]

    # The first play is the recording itself (the simulated investigations continue its incidents); later
    # plays keep the contract's shapes and the demo data's rules (drama numbers, example.org).
    assert urns[:scenarios] == [json.loads(p.read_text().splitlines()[0])["incident"]["urn"] for p in demo_scenarios()]
    for event in openings[scenarios:]:
        incident = event["incident"]
        assert incident["urn"].startswith(f"CLE-{parse_timestamp(event['occurred_at']):%Y%m%d}-")
        assert incident["caller"]["phone"].startswith("07700900")
        assert incident["caller"]["email"] in (None,) or incident["caller"]["email"].endswith("@example.org")
    for event in events:  # every event still parses as the contract says
        assert isinstance(parse_frame(json.dumps(event)), DispatchEvent), event["type"]

    # Scenario starts follow one another STAGGER apart, from START, loop after loop: times moved to "now".
    starts = [parse_timestamp(e["occurred_at"]) for e in openings]
    assert starts == [START + n * STAGGER for n in range(len(openings))]


@pytest.mark.asyncio
async def test_a_call_sign_is_never_on_its_way_to_two_incidents_at_once():
    clock = FakeClock()
    events = await played(looping(clock, seed=3), clock, loop_span() * LOOPS + timedelta(hours=3))
    busy: dict[str, str] = {}
    reused = Counter()
    for event in events:
        if event["type"] == "resource.assigned":
            callsign, urn = event["assignment"]["callsign"], event["assignment"]["urn"]
            assert busy.get(callsign) in (None, urn), f"{callsign} sent to {urn} while on {busy.get(callsign)}"
            busy[callsign] = urn
            reused[callsign] += 1
        elif event["type"] == "resource.unassigned":
            busy.pop(event["assignment"]["callsign"], None)
        elif event["type"] == "resource.status" and event["resource"]["status_code"] in ("1", "2", "3"):
            busy.pop(event["resource"]["callsign"], None)
    assert len(reused) > 2 * len({e["assignment"]["callsign"] for e in events[:400]
                                  if e["type"] == "resource.assigned"}) // 3


@pytest.mark.asyncio
async def test_every_loop_has_an_attendance_that_misses_its_target():
    clock = FakeClock()
    events = await played(looping(clock), clock, loop_span() * LOOPS + timedelta(hours=3))
    targets = GradeTargets()
    missed_per_loop = Counter()
    for urn, (opening, arrived) in arrivals(events).items():
        incident = opening["incident"]
        opened = parse_timestamp(opening["occurred_at"])
        if arrived is None:
            continue
        level, _ = assess_breach(incident["grade"], opened, arrived, None, assigned=True, arrived_at=arrived,
                                 rural=False, targets=targets)
        if level == BREACHED:
            missed_per_loop[(opened - START) // loop_span()] += 1
    # Two a loop: the diverted sample's second car (65 minutes) and the demo's late burglary (67 minutes).
    assert all(missed_per_loop[n] >= 2 for n in range(LOOPS)), missed_per_loop


@pytest.mark.asyncio
async def test_a_seed_gives_the_same_stream_whatever_the_pace_and_another_seed_another():
    first_clock, second_clock, other_clock = FakeClock(), FakeClock(), FakeClock()
    span = loop_span() * 3
    first = await played(looping(first_clock, seed=5), first_clock, span, step=timedelta(minutes=1))
    # Released in bigger steps (planning happens at other moments): the same stream, frame for frame.
    second = await played(looping(second_clock, seed=5), second_clock, span, step=timedelta(minutes=37))
    other = await played(looping(other_clock, seed=6), other_clock, span)
    assert len(second) > len(first) > 300 and second[:len(first)] == first  # 148 simulated minutes against 120
    assert [e["event_id"] for e in first] != [e["event_id"] for e in other]


@pytest.mark.asyncio
async def test_without_loop_the_scenarios_play_once_as_before():
    clock = FakeClock()
    simulator = StormSimulator(speed=60, start_at=START, clock=clock, heartbeat_interval=60)
    events = await played(simulator, clock, timedelta(hours=12), step=timedelta(minutes=30))
    assert len(events) == 93 and simulator.seq_high == 93
    assert {e["incident"]["urn"] for e in events if e["type"] == "incident.opened"} == {
        json.loads(p.read_text().splitlines()[0])["incident"]["urn"] for p in bundled_scenarios()}


def test_loop_and_epoch_are_checked():
    with pytest.raises(ValueError, match="positive stagger"):
        StormSimulator(loop=True, stagger=timedelta(0))
    with pytest.raises(ValueError, match="at least one scenario"):
        StormSimulator([], loop=True)
    with pytest.raises(ValueError, match="epoch"):
        StormSimulator(start_at=START, epoch=START, speed=10)
    with pytest.raises(ValueError, match="epoch"):
        StormSimulator(epoch=START, speed=0)


@pytest.mark.asyncio
async def test_the_simulator_and_the_product_read_the_same_demo_clock(monkeypatch):
    from rxapp.attendance.targets import attendance_now
    from rxapp.plumbing import config
    from rxapp.plumbing.demo_clock import demo_time

    epoch = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=30)
    monkeypatch.setenv("DEMO_SPEED", "10")
    monkeypatch.setenv("DEMO_EPOCH", epoch.isoformat())
    config.reset_settings()
    try:
        simulator = StormSimulator(demo_scenarios(), speed=10, epoch=epoch, loop=True, stagger=STAGGER)
        await simulator.start()
        try:
            before = attendance_now()
            simulated = simulator.simulated_now()
            after = attendance_now()
            # 30 s of real time since the epoch are 300 s on the demo's clock, on both sides.
            assert before - timedelta(seconds=1) <= simulated <= after + timedelta(seconds=1)
            assert timedelta(seconds=299) <= simulated - epoch <= timedelta(seconds=330)
            first = simulator.events[0]
            assert abs(parse_timestamp(first["occurred_at"]) - simulated) <= timedelta(seconds=11)
        finally:
            await simulator.stop()
    finally:
        monkeypatch.delenv("DEMO_SPEED")
        monkeypatch.delenv("DEMO_EPOCH")
        config.reset_settings()
    wall = datetime.now(timezone.utc)
    assert abs(attendance_now() - wall) < timedelta(seconds=1)  # outside the demo: the wall clock
    assert demo_time(epoch + timedelta(minutes=6), 10, epoch) == epoch + timedelta(minutes=60)


@pytest.mark.asyncio
async def test_the_service_applies_several_loops_through_the_real_socket_with_no_dead_letter(db_url):
    from rxapp.attendance.models import Incident
    from rxapp.attendance.service import AttendanceService
    from rxapp.feeds.models import DeadLetter
    from rxapp.plumbing.db import session_scope

    clock = FakeClock()
    loops = 3
    played_for = loop_span() * loops + timedelta(hours=2, minutes=10)  # the last loop's incidents close too
    # All of it in the wall clock's recent past: the client checks each frame's times against the wall clock.
    start_at = datetime.now(timezone.utc).replace(microsecond=0) - played_for - timedelta(minutes=10)
    simulator = looping(clock, start_at=start_at, seed=21)
    await simulator.start()
    # The service judges the feed on the simulator's clock, as the demo's product does (attendance_now).
    service = AttendanceService(db_url, now=simulator.simulated_now)
    client = StormClient(simulator.url, service, backoff_initial=0.05, backoff_max=0.2, heartbeat_timeout=30)
    task = asyncio.create_task(client.run())
    try:
        moved, step = timedelta(0), timedelta(minutes=5)
        while moved < played_for:
            clock.seconds += step.total_seconds() / simulator.speed
            moved += step
            simulator.release_due()
            deadline = time.monotonic() + 20
            while await service.last_seq() < simulator.seq_high:
                assert time.monotonic() < deadline, "the service fell behind the simulator"
                await asyncio.sleep(0.01)
    finally:
        await client.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await simulator.stop()

    released = [e for e in simulator.events if e["seq"] <= simulator.seq_high]
    opened = {e["incident"]["urn"] for e in released if e["type"] == "incident.opened"}
    with session_scope(db_url) as session:
        assert session.exec(select(DeadLetter)).all() == []
        incidents = session.exec(select(Incident)).all()
        assert {i.urn for i in incidents} == opened and len(opened) >= len(demo_scenarios()) * loops
        closed = [i for i in incidents if not i.is_open]
        assert len(closed) >= len(demo_scenarios()) * loops
        # The product itself judges two attendances a loop as having missed their target.
        late = defaultdict(int)
        for incident in closed:
            if incident.arrived_at is None:
                continue
            level, _ = assess_breach(incident.grade, incident.opened_at, incident.arrived_at, None, assigned=True,
                                     arrived_at=incident.arrived_at, rural=incident.rural)
            if level == BREACHED:
                late[(incident.opened_at - start_at) // loop_span()] += 1
        assert all(late[n] >= 2 for n in range(loops)), dict(late)
    assert client.status["bad_frames"] == 0


def test_a_moment_recorded_on_the_wall_clock_is_shown_on_the_demo_clock(monkeypatch):
    """The victim's page says "updated at" beside the feed's times: in the demo both read the demo's clock."""
    from rxapp.attendance.targets import attendance_time
    from rxapp.plumbing import config

    epoch = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    wall = epoch + timedelta(minutes=6)
    assert attendance_time(wall) == wall  # outside the demo: the same moment
    monkeypatch.setenv("DEMO_SPEED", "10")
    monkeypatch.setenv("DEMO_EPOCH", epoch.isoformat())
    config.reset_settings()
    try:
        assert attendance_time(wall) == epoch + timedelta(minutes=60)
    finally:
        monkeypatch.delenv("DEMO_SPEED")
        monkeypatch.delenv("DEMO_EPOCH")
        config.reset_settings()
