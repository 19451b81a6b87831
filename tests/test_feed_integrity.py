"""Feed integrity (issue 10): one frame must not stop the dispatch feed, and a frame that breaks the contract's
shapes must not become an incident. Everything here goes through the real path: the STORM simulator (a real
WebSocket server) → the client → the attendance service → the database, with the scenario's times moved to
just before now, as a live gateway would send them."""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio
from sqlmodel import select

from integrations.storm.client import StormClient
from integrations.storm.simulator import StormSimulator
from rxapp.attendance.models import Incident
from rxapp.attendance.service import AttendanceService
from rxapp.attendance.targets import grade_targets
from rxapp.attendance.texts import sweep_unassigned
from rxapp.attendance.views import victim_view
from rxapp.feeds.models import DeadLetter, FeedAlert
from rxapp.messaging.models import Message
from rxapp.plumbing.db import session_scope

from .helpers import shifted

pytestmark = pytest.mark.asyncio
URN = "CLE-20261120-0142"


def burglary(end_at: datetime | None = None) -> list[dict]:
    """The burglary scenario (opened, assigned, en route with fixes, at scene, cleared, closed with a crime
    reference), its last event a minute ago."""
    end_at = end_at or datetime.now(timezone.utc) - timedelta(minutes=1)
    return [json.loads(line) for line in shifted(["burglary-priority"], end_at)]


def index_of(events: list[dict], kind: str, code: str | None = None) -> int:
    return next(i for i, e in enumerate(events) if e["type"] == kind
                and (code is None or e["resource"].get("status_code") == code))


class GappySimulator(StormSimulator):
    """A gateway that skips sequence numbers (a fault of its own numbering): they are never sent, and its
    heartbeats announce the numbers it did publish."""

    def skip(self, count: int) -> None:
        self._seq_high += count


class Live:
    """A simulator, and a client feeding the real attendance service, for one test."""

    def __init__(self, db_url: str, sim: StormSimulator | None = None):
        self.db_url = db_url
        self.sim = sim or StormSimulator([], heartbeat_interval=0.3)
        self.client = self.task = None

    async def start_sim(self):
        await self.sim.start("127.0.0.1", 0)
        return self

    async def start_client(self):
        self.service = AttendanceService(self.db_url)
        self.client = StormClient(self.sim.url, self.service, backoff_initial=0.05, backoff_max=0.2,
                                  heartbeat_timeout=5.0)
        self.task = asyncio.create_task(self.client.run())
        return self

    async def stop_client(self):
        if self.client is not None:
            await asyncio.wait_for(self.client.stop(), 5)
            await asyncio.gather(self.task, return_exceptions=True)
            self.client = self.task = None

    async def stop(self):
        await self.stop_client()
        await self.sim.stop()

    def send(self, events: list[dict]) -> None:
        for event in events:
            self.sim.append_event(event)

    async def until(self, predicate, timeout: float = 15.0, what: str = "condition"):
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if predicate():
                return
            await asyncio.sleep(0.03)
        raise AssertionError(f"timed out waiting for {what}")

    def incident(self, urn: str = URN):
        with session_scope(self.db_url) as s:
            inc = s.exec(select(Incident).where(Incident.urn == urn)).first()
            if inc is None:
                return None
            return {**inc.model_dump(), "view": victim_view(s, inc)}

    def closed(self, urn: str = URN) -> bool:
        inc = self.incident(urn)
        return inc is not None and not inc["is_open"]

    def letters(self) -> list[DeadLetter]:
        with session_scope(self.db_url) as s:
            return [DeadLetter(**d.model_dump()) for d in s.exec(select(DeadLetter).order_by(DeadLetter.id))]

    def alerts(self) -> list[FeedAlert]:
        with session_scope(self.db_url) as s:
            return [FeedAlert(**a.model_dump()) for a in s.exec(select(FeedAlert).order_by(FeedAlert.id))]

    def cursor(self) -> int:
        return AttendanceService(self.db_url).last_seq_sync()


@pytest_asyncio.fixture
async def live(db_url):
    harness = await Live(db_url).start_sim()
    try:
        yield harness
    finally:
        await harness.stop()


def ahead_frame(events: list[dict], seq: int) -> str:
    """A well-formed vehicle fix numbered `seq`, as a misnumbering gateway would send it."""
    fix = next(e for e in events if e["type"] == "resource.position")
    return json.dumps({**fix, "seq": seq, "event_id": "stray-fix-numbered-ahead"})


# ---- a frame far ahead of the stream ---------------------------------------------------------------------


async def test_a_frame_a_thousand_ahead_does_not_swallow_the_events_after_it(live, caplog):
    events = burglary()
    at_scene = index_of(events, "resource.status", "6")
    await live.start_client()
    live.send(events[:at_scene - 3])  # opened, assigned, en route, some fixes
    await live.until(lambda: live.cursor() == live.sim.seq_high, what="the first part")
    stuck_at = live.cursor()
    caplog.set_level(logging.ERROR, logger="rxapp")
    live.sim.append_raw(ahead_frame(events, stuck_at + 1000))
    live.send(events[at_scene - 3:])  # more fixes, at scene, cleared, closed

    await live.until(live.closed, what="the closure after the stray frame")
    inc = live.incident()
    assert inc["arrived_at"] is not None and not inc["is_open"] and inc["view"]["status_label"]
    assert inc["crime_reference"] == "CL/26/041877"
    assert "The officer has arrived." in [step["text"] for step in inc["view"]["steps"]]
    assert live.cursor() == live.sim.seq_high == len(events)

    [letter] = [d for d in live.letters() if d.seq == stuck_at + 1000]
    assert "ahead" in letter.reason and str(stuck_at + 1) in letter.reason
    await live.until(lambda: live.alerts() and live.alerts()[0].resolved_at is not None, what="the alert settled")
    [alert] = live.alerts()
    assert (alert.seq, alert.expected_seq) == (stuck_at + 1000, stuck_at + 1)
    assert "never applied" in alert.outcome
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(str(stuck_at + 1000) in line and "ahead" in line for line in errors), errors
    assert not any("Hussain" in line or "07700" in line or "Acklam" in line for line in errors)


async def test_a_restart_after_the_stray_frame_resumes_from_the_last_frame_in_order(live, caplog):
    events = burglary()
    at_scene = index_of(events, "resource.status", "6")
    await live.start_client()
    live.send(events[:at_scene])
    await live.until(lambda: live.cursor() == live.sim.seq_high, what="the first part")
    before = live.cursor()
    live.sim.append_raw(ahead_frame(events, before + 1000))
    await live.until(lambda: any(d.seq == before + 1000 for d in live.letters()), what="the stray dead-lettered")
    await live.stop_client()
    assert live.cursor() == before  # the stray frame did not move the resume point

    live.send(events[at_scene:])  # the rest happens while the product is down
    caplog.set_level(logging.INFO, logger="integrations.storm.client")
    await live.start_client()  # a new client and a new service on the same database
    await live.until(live.closed, what="the closure after the restart")
    assert any(f"resuming after seq {before}" in r.getMessage() for r in caplog.records)
    inc = live.incident()
    assert inc["arrived_at"] is not None and inc["crime_reference"] == "CL/26/041877"
    assert live.cursor() == len(events)
    assert len([d for d in live.letters() if d.seq == before + 1000]) == 1  # replayed, but kept once


# ---- a gap the gateway will never fill ---------------------------------------------------------------------


async def test_a_gap_the_gateway_confirms_is_accepted_recorded_and_the_feed_goes_on(db_url, caplog):
    live = await Live(db_url, GappySimulator([], heartbeat_interval=0.3)).start_sim()
    try:
        events = burglary()
        at_scene = index_of(events, "resource.status", "6")
        await live.start_client()
        live.send(events[:at_scene - 1])
        await live.until(lambda: live.cursor() == live.sim.seq_high, what="the first part")
        before = live.cursor()
        caplog.set_level(logging.ERROR, logger="rxapp")
        live.sim.skip(3)  # numbers before+1 .. before+3 are never sent
        live.send(events[at_scene - 1:])
        await live.until(live.closed, what="the closure after the gap")
        inc = live.incident()
        assert inc["arrived_at"] is not None and not inc["is_open"]
        assert live.cursor() == live.sim.seq_high == len(events) + 3
        [alert] = live.alerts()
        assert (alert.expected_seq, alert.seq) == (before + 1, before + 4)
        assert alert.resolved_at is not None and "gap accepted" in alert.outcome
        assert f"{before + 1} to {before + 3}" in alert.outcome
        held = [d for d in live.letters() if d.seq == before + 4]
        assert held and "ahead" in held[0].reason  # dead-lettered when it came, applied once the gap was accepted
        errors = " | ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
        assert "gap" in errors and str(before + 1) in errors
    finally:
        await live.stop()


# ---- frames that break the contract's shapes ------------------------------------------------------------


async def test_a_malformed_incident_opened_ten_days_ago_is_no_incident_and_texts_nobody(live):
    events = burglary()
    opened = events[0]
    ten_days_ago = (datetime.now(timezone.utc) - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    bad_urn = {**opened, "event_id": "bad-urn", "incident": {**opened["incident"], "urn": "CLE-2026-11-20-142"}}
    too_old = {**opened, "event_id": "too-old", "occurred_at": ten_days_ago,
               "incident": {**opened["incident"], "urn": "CLE-20261121-0007"}}
    both = {**too_old, "event_id": "both", "incident": {**opened["incident"], "urn": "142"}}
    await live.start_client()
    live.send([bad_urn, too_old, both])
    await live.until(lambda: live.cursor() == 3, what="the three frames dealt with")
    letters = live.letters()
    assert [d.seq for d in letters] == [1, 2, 3]
    assert "incident.urn" in letters[0].reason and "reference" in letters[0].reason
    assert "occurred_at" in letters[1].reason and "before it was received" in letters[1].reason
    assert "CLE-2026-11-20-142" not in letters[0].reason
    with session_scope(live.db_url) as s:
        assert s.exec(select(Incident)).all() == []
        sweep_unassigned(s, grade_targets(), datetime.now(timezone.utc))  # the apology sweep finds nobody
    with session_scope(live.db_url) as s:
        assert s.exec(select(Message)).all() == []


FUTURE = (datetime.now(timezone.utc) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fields(events: list[dict]) -> dict[str, tuple[dict, str]]:
    """One frame per broken rule: the frame, and what its dead letter must name."""
    opened, assigned = events[0], events[1]
    status = events[index_of(events, "resource.status", "5")]
    fix = events[index_of(events, "resource.position")]
    closed = events[-1]

    def inner(event, key, **changes):
        return {**event, key: {**event[key], **changes}}

    return {
        "occurred far in the future": ({**status, "occurred_at": FUTURE}, "occurred_at: after it was received"),
        "fix in the future": (inner(fix, "resource", fix_at=FUTURE), "resource.fix_at: after it was received"),
        "fix outside Great Britain": (inner(fix, "resource", lat=48.85, lon=2.35), "outside Great Britain"),
        "category not a code": (inner(opened, "incident", category="burglary at number 4"), "incident.category"),
        "callsign not a callsign": (inner(assigned, "assignment", callsign="PC Jones"), "assignment.callsign"),
        "status not a status code": (inner(status, "resource", status_code="AT SCENE"), "resource.status_code"),
        "crime reference shape": (inner(closed, "incident", crime_reference="crime 41877 by J. Smith"),
                                  "incident.crime_reference"),
        "appointment years ahead": (
            {"seq": 1, "event_id": "appt-far", "type": "incident.appointment", "occurred_at": events[1]["occurred_at"],
             "appointment": {"urn": URN, "window_start": "2031-01-01T10:00:00Z", "window_end": "2031-01-01T12:00:00Z"}},
            "appointment.window_start"),
        "urn in an assignment": (inner(assigned, "assignment", urn="CLE-20261120-0142-X"), "assignment.urn"),
    }


async def test_every_field_is_checked_against_the_contract_and_the_reason_names_field_not_value(live):
    events = burglary()
    cases = _fields(events)
    await live.start_client()
    live.send(events[:2])  # the incident exists and has an officer, so only the shape can be at fault
    for number, (frame, _) in enumerate(cases.values()):
        live.send([{**frame, "event_id": f"shape-{number}"}])
    await live.until(lambda: live.cursor() == 2 + len(cases), what="every frame dealt with")
    letters = {d.seq: d for d in live.letters()}
    for number, (name, (frame, expected)) in enumerate(cases.items()):
        letter = letters.get(3 + number)
        assert letter is not None, f"{name}: applied"
        assert expected in letter.reason, f"{name}: {letter.reason}"
        for secret in ("PC Jones", "J. Smith", "burglary at number 4", "AT SCENE"):
            assert secret not in letter.reason
    inc = live.incident()
    assert inc["status"] == "assigned" and inc["appointment_start"] is None and inc["is_open"]


async def test_the_dead_letter_keeps_the_frame_exactly_as_received(live):
    events = burglary()
    await live.start_client()
    live.send(events[:1])
    odd = ('{ "type":"resource.assigned",  "seq": 2, "occurred_at":"' + events[1]["occurred_at"] + '",\n'
           '  "event_id":"raw-1", "assignment":{"urn":"' + URN + '","callsign":"CE21","resource_type":"hovercraft"},'
           ' "note":"Zażółć gęślą jaźń \\u00e9" }')
    live.sim.append_raw(odd)
    big = json.dumps({"seq": 99, "pad": "ż" * 40_000})  # more than 64 KiB of UTF-8
    live.sim.append_raw(big)
    await live.until(lambda: len(live.letters()) == 2, what="both dead-lettered")
    first, second = live.letters()
    assert first.raw == odd and "resource_type" in first.reason
    assert second.raw == big[:64 * 1024] and "64 KiB" in second.reason


# ---- degraded ---------------------------------------------------------------------------------------------


async def test_frames_arriving_with_nothing_applied_is_degraded_on_admin_feed_and_healthz(live, monkeypatch):
    from starlette.testclient import TestClient

    from rxapp.feeds.views import load_feed_health
    from rxapp.plumbing import config
    from rxapp.plumbing.http import api

    token = "monitoring-token-0123456789abcdef0123"
    monkeypatch.setenv("HEALTHZ_TOKEN", token)
    config.reset_settings()
    events = burglary()
    await live.start_client()

    def healthz(details: bool) -> dict:
        with TestClient(api) as http:
            headers = {"authorization": f"Bearer {token}"} if details else {}
            answer = http.get("/healthz", headers=headers)
        assert answer.status_code == 200
        return answer.json()

    assert (await asyncio.to_thread(load_feed_health))["feed_state"] == "no frames received yet"
    assert (await asyncio.to_thread(healthz, False)) == {"status": "ok"}

    # The gateway's mapping is broken: every frame fails the contract, so frames come and nothing applies.
    for n in range(3):
        live.send([{**events[0], "event_id": f"broken-{n}", "incident": {**events[0]["incident"], "urn": "?"}}])
    await live.until(lambda: live.cursor() == 3, what="the broken frames dead-lettered")
    health = await asyncio.to_thread(load_feed_health)
    assert health["feed_state"].startswith("DEGRADED"), health["feed_state"]
    assert "none has applied" in health["feed_state"]
    assert (await asyncio.to_thread(healthz, False)) == {"status": "degraded"}
    detailed = await asyncio.to_thread(healthz, True)
    assert detailed["status"] == "degraded" and detailed["storm_feed"]["last_seq"] == 3
    assert any("none has applied" in reason for reason in detailed["storm_feed"]["degraded"])

    # Mended: the events apply again, and the feed is working.
    live.send(events)
    await live.until(live.closed, what="a clean run")
    health = await asyncio.to_thread(load_feed_health)
    assert health["feed_state"] == "working", health["feed_state"]
    assert (await asyncio.to_thread(healthz, False)) == {"status": "ok"}


async def test_a_sequence_alert_is_degraded_and_listed_on_admin_feed(live):
    from rxapp.feeds.views import load_feed_health

    events = burglary()
    await live.start_client()
    live.send(events[:3])
    await live.until(lambda: live.cursor() == 3, what="the first events")
    live.sim.append_raw(ahead_frame(events, 1003))
    live.send(events[3:])
    await live.until(live.closed, what="the rest")
    await live.until(lambda: live.alerts()[0].resolved_at is not None, what="the alert settled")
    health = await asyncio.to_thread(load_feed_health)
    assert health["feed_state"].startswith("DEGRADED") and "sequence alert" in health["feed_state"]
    [alert] = health["alerts"]
    assert alert["seq"] == "1003" and alert["expected"] == "4" and "never applied" in alert["outcome"]


async def test_times_are_judged_on_the_clock_the_client_is_given(live):
    """The demo plays STORM faster than real time and stamps events with its own clock (DEMO_SPEED): the
    client judges times on that clock (`attendance_now`), not the wall clock."""
    ahead = timedelta(hours=3)
    events = burglary(datetime.now(timezone.utc) + ahead)
    live.service = AttendanceService(live.db_url)
    live.client = StormClient(live.sim.url, live.service, backoff_initial=0.05, backoff_max=0.2,
                              clock=lambda: datetime.now(timezone.utc) + ahead + timedelta(minutes=1))
    live.task = asyncio.create_task(live.client.run())
    live.send(events)
    await live.until(live.closed, what="the demo's events applied")
    assert live.letters() == []
