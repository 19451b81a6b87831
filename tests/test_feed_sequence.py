"""The numbered feed's order rules (rxapp/domain/feed_sequence.py) and the contract's field shapes and time
tolerances (integrations/storm/shapes.py) directly, below the WebSocket path that tests/test_feed_integrity.py
drives; and the apply loop's order in one transaction (a jump, its hole alerted once, a stray reached)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from integrations.storm.protocol import BadFrame, parse_frame
from integrations.storm.shapes import FrameRules
from rxapp.attendance.service import AttendanceService
from rxapp.domain import feed_sequence as order
from rxapp.domain.feed_sequence import FeedFacts, degraded_reasons
from rxapp.feeds.models import DeadLetter, FeedAlert
from rxapp.plumbing.db import session_scope

from .helpers import shifted

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("seq, last, where", [
    (5, 5, order.DUPLICATE), (1, 5, order.DUPLICATE), (6, 5, order.NEXT), (7, 5, order.AHEAD),
    (1005, 5, order.AHEAD), (1, 0, order.NEXT),
])
def test_place(seq, last, where):
    assert order.place(seq, last) == where


@pytest.mark.parametrize("held, expected, last, seq_high, verdict", [
    (50, 43, 42, None, order.WAIT),  # no heartbeat yet
    (50, 43, 42, 52, order.GAP),  # the gateway published 50 and never sent 43..49
    (50, 43, 45, 52, order.WAIT),  # the stream went on from 42 after 50 came: a stray, never a gap
    (1042, 43, 44, 44, order.DISOWNED),  # everything the gateway has has come, and 1042 is beyond it
    (1042, 43, 44, 60, order.WAIT),  # still catching up
    (1042, 43, 1042, 1050, order.REACHED),
    (50, 43, 50, 52, order.REACHED),
])
def test_judge_held(held, expected, last, seq_high, verdict):
    assert order.judge_held(held, expected, last, seq_high) == verdict


def test_degraded_reasons():
    window = timedelta(minutes=10)
    quiet = FeedFacts(NOW, None, None, 0, None, window)
    assert degraded_reasons(quiet) == []
    working = FeedFacts(NOW, NOW - timedelta(seconds=5), NOW - timedelta(seconds=5), 0, None, window)
    assert degraded_reasons(working) == []
    stuck = FeedFacts(NOW, NOW - timedelta(seconds=5), NOW - timedelta(minutes=11), 0, None, window)
    assert degraded_reasons(stuck) == ["frames are arriving but none has applied in the last 10 minutes"]
    never = FeedFacts(NOW, NOW - timedelta(seconds=5), None, 0, None, window)
    assert len(degraded_reasons(never)) == 1
    held = FeedFacts(NOW, NOW, NOW, 2, NOW, window)
    assert degraded_reasons(held) == ["2 frame(s) held back ahead of the stream, waiting for the gateway"]
    recent = FeedFacts(NOW, NOW, NOW, 0, NOW - timedelta(minutes=3), window)
    assert "sequence alert" in degraded_reasons(recent)[0]
    old = FeedFacts(NOW, NOW, NOW, 0, NOW - timedelta(minutes=30), window)
    assert degraded_reasons(old) == []


# ---- shapes and times ------------------------------------------------------------------------------------


def _events(end_at=NOW - timedelta(minutes=1)) -> list[dict]:
    return [json.loads(line) for line in shifted(["burglary-priority", "scheduled-appointment"], end_at)]


def _first(events, kind):
    return next(e for e in events if e["type"] == kind)


def _with(event, key, **changes):
    return json.dumps({**event, key: {**event[key], **changes}})


@pytest.mark.parametrize("urn, ok", [
    ("CLE-20261120-0142", True), ("NYP-20261231-000001", True), ("CLE-20261120-014", True),
    ("CLE-20261120-0142-A1B2C3", False), ("cle-20261120-0142", False), ("CLE-20261320-0142", False),
    ("CLE-2026112-0142", False), ("CLE-T-0001", False), ("142", False), ("CLE-20261120-14", False),
])
def test_urn_shape(urn, ok):
    opened = _first(_events(), "incident.opened")
    result = parse_frame(_with(opened, "incident", urn=urn))
    assert isinstance(result, BadFrame) != ok, getattr(result, "reason", "")
    if not ok:
        assert result.reason in ("incident.urn: not a STORM incident reference (such as CLE-20261120-0142)",
                                 "incident.urn: its date is not a calendar date")


@pytest.mark.parametrize("key, value, ok", [
    ("category", "BURGLARY_DWELLING", True), ("category", "ASB", True), ("category", "burglary", False),
    ("category", "BURGLARY DWELLING", False), ("category", "_X", False),
])
def test_category_shape(key, value, ok):
    opened = _first(_events(), "incident.opened")
    assert isinstance(parse_frame(_with(opened, "incident", **{key: value})), BadFrame) != ok


@pytest.mark.parametrize("callsign, ok", [("CE21", True), ("DX-21", True), ("MIKE/21", True), ("X1", True),
                                          ("ce21", False), ("PC Jones", False), ("-CE21", False)])
def test_callsign_shape(callsign, ok):
    assigned = _first(_events(), "resource.assigned")
    assert isinstance(parse_frame(_with(assigned, "assignment", callsign=callsign)), BadFrame) != ok


@pytest.mark.parametrize("code, ok", [("5", True), ("15", True), ("0", True), ("A", False), ("5a", False),
                                      ("1000", False), ("at scene", False)])
def test_status_code_shape(code, ok):
    status = _first(_events(), "resource.status")
    assert isinstance(parse_frame(_with(status, "resource", status_code=code)), BadFrame) != ok


@pytest.mark.parametrize("reference, ok", [("CL/26/041877", True), ("46/12345/26", True), ("CR-2026-1", True),
                                           (None, True), ("CL/26/", False), ("crime 41877", False),
                                           ("J. Smith", False), ("041877", False)])
def test_crime_reference_shape(reference, ok):
    closed = _first(_events(), "incident.closed")
    assert isinstance(parse_frame(_with(closed, "incident", crime_reference=reference)), BadFrame) != ok


@pytest.mark.parametrize("lat, lon, ok", [(54.57, -1.23, True), (60.15, -1.15, True), (49.91, -6.31, True),
                                          (48.85, 2.35, False), (53.35, -9.5, False), (0.0, 0.0, False)])
def test_positions_within_great_britain(lat, lon, ok):
    fix = _first(_events(), "resource.position")
    result = parse_frame(_with(fix, "resource", lat=lat, lon=lon))
    assert isinstance(result, BadFrame) != ok
    if not ok:
        assert result.reason == "resource: position outside Great Britain"


def test_times_are_checked_against_the_moment_of_receipt_and_the_rules():
    events = _events(end_at=NOW - timedelta(minutes=1))
    status = _first(events, "resource.status")
    fix = _first(events, "resource.position")
    appointment = _first(events, "incident.appointment")

    def parse(event, received_at=NOW, rules=FrameRules()):
        frame = event if isinstance(event, str) else json.dumps(event)
        return parse_frame(frame, received_at=received_at, rules=rules)

    assert not isinstance(parse(status), BadFrame)
    assert not isinstance(parse(status, received_at=None), BadFrame)
    at = datetime.fromisoformat(status["occurred_at"])
    late = parse(status, received_at=at + timedelta(hours=73))
    assert late.reason == "occurred_at: more than 72 hours before it was received"
    assert not isinstance(parse(status, received_at=at + timedelta(hours=71)), BadFrame)
    assert not isinstance(parse(status, at + timedelta(hours=73), FrameRules(max_age=timedelta(days=5))), BadFrame)
    early = parse(status, received_at=at - timedelta(minutes=10))
    assert early.reason == "occurred_at: after it was received (more than 5 minutes ahead)"
    future_fix = parse(_with(fix, "resource", fix_at=(NOW + timedelta(hours=1)).isoformat()))
    assert future_fix.reason.startswith("resource.fix_at: after it was received")
    # An appointment may be booked well ahead, but not years ahead.
    assert not isinstance(parse(appointment), BadFrame)
    far = parse(_with(appointment, "appointment", window_start="2027-06-01T10:00:00Z",
                      window_end="2027-06-01T12:00:00Z"))
    assert far.reason == "appointment.window_start: more than 90 days ahead"


# ---- the apply loop's order, one transaction at a time ----------------------------------------------------


def test_a_jump_is_held_its_hole_alerted_once_and_a_stray_is_settled_when_the_stream_reaches_it(db_url):
    service = AttendanceService(db_url)
    lines = shifted(["burglary-priority"], datetime.now(timezone.utc) - timedelta(minutes=1))
    service.apply_sync([parse_frame(line) for line in lines[:5]])
    stray = json.loads(lines[10])
    frames = [json.dumps({**stray, "seq": 9}), json.dumps({**stray, "seq": 12, "event_id": "other"})]
    result = service.apply_sync([parse_frame(f) for f in frames])
    assert result.applied == 0 and result.dead_letters == 2 and service.last_seq_sync() == 5
    with session_scope(db_url) as s:
        [alert] = s.exec(select(FeedAlert)).all()  # one hole (expecting 6), one alert
        assert (alert.seq, alert.expected_seq, alert.resolved_at) == (9, 6, None)
    assert service.heartbeat_sync(8) is False  # still catching up: the gateway is at 8, we are at 5
    service.apply_sync([parse_frame(line) for line in lines[5:10]])  # 6 to 10 in order
    assert service.last_seq_sync() == 10
    with session_scope(db_url) as s:
        alert = s.exec(select(FeedAlert)).one()
        assert alert.resolved_at is not None and "reached seq 9 in order" in alert.outcome
        assert [d.seq for d in s.exec(select(DeadLetter).order_by(DeadLetter.id))] == [9, 12]


def test_a_frame_without_a_usable_number_is_kept_counted_as_arrived_and_moves_nothing(db_url):
    from rxapp.feeds.models import FeedCursor

    service = AttendanceService(db_url)
    result = service.apply_sync([parse_frame("this is not json {"), parse_frame('{"seq": "7", "type": "x"}')])
    assert result.dead_letters == 2 and service.last_seq_sync() == 0
    with session_scope(db_url) as s:
        cursor = s.get(FeedCursor, "storm")
        assert cursor.last_frame_at is not None and cursor.last_accepted_at is None
        assert s.exec(select(FeedAlert)).all() == []
