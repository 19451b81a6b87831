"""The attendance service against the real database: every sample scenario, duplicates, old fixes,
unknown incidents, link expiry."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from rxapp.attendance.models import Incident, IncidentStep, ResourceFix
from rxapp.attendance.service import AttendanceService, find_incident_by_token
from rxapp.attendance.views import victim_view
from rxapp.feeds.models import DeadLetter
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.links import derive_token

from .helpers import parsed, renumbered, scenario_lines, snapshot

ALL = ["burglary-priority", "diverted", "domestic-emergency", "scheduled-appointment"]


def _incident(db_url, urn):
    with session_scope(db_url) as s:
        return s.exec(select(Incident).where(Incident.urn == urn)).one()


def _public_steps(db_url, urn):
    with session_scope(db_url) as s:
        inc = s.exec(select(Incident).where(Incident.urn == urn)).one()
        return [(st.kind, st.text) for st in s.exec(select(IncidentStep).where(
            IncidentStep.incident_id == inc.id, IncidentStep.public == True).order_by(IncidentStep.id))]  # noqa: E712


def test_burglary_runs_from_call_to_crime_reference(db_url):
    service = AttendanceService(db_url)
    lines = scenario_lines("burglary-priority")
    # Play up to the first few positions: en route with a window.
    first_fix = next(i for i, line in enumerate(lines) if "resource.position" in line)
    at_scene = next(i for i, line in enumerate(lines) if '"status_code":"6"' in line)
    arrived = json.loads(lines[at_scene])["occurred_at"]
    service.apply_sync(parsed(lines[: first_fix + 1]))
    inc = _incident(db_url, "CLE-20261120-0142")
    assert inc.status == "en_route"
    assert inc.eta_latest - inc.eta_earliest >= timedelta(minutes=4)  # a window, never a precise minute
    service.apply_sync(parsed(lines[first_fix + 1: at_scene]))
    inc = _incident(db_url, "CLE-20261120-0142")
    # The window given from the last fix contains the real arrival.
    assert inc.eta_earliest.isoformat() <= arrived.replace("Z", "+00:00") <= inc.eta_latest.isoformat()
    service.apply_sync(parsed(lines[at_scene:]))
    inc = _incident(db_url, "CLE-20261120-0142")
    assert inc.status == "completed" and not inc.is_open
    assert inc.crime_reference and inc.eta_point is None
    assert inc.link_expires_at == inc.closed_at + timedelta(hours=24)
    kinds = [k for k, _ in _public_steps(db_url, "CLE-20261120-0142")]
    assert kinds[:4] == ["opened", "assigned", "en_route", "at_scene"] and kinds[-1] == "closed"
    with session_scope(db_url) as s:
        view = victim_view(s, s.get(Incident, inc.id))
    assert view["crime_reference"] == inc.crime_reference and view["eta_text"] == ""


def test_diverted_tells_the_victim_and_reassigns(db_url):
    service = AttendanceService(db_url)
    service.apply_sync(parsed(scenario_lines("diverted")))
    steps = _public_steps(db_url, "CLE-20261120-0188")
    kinds = [k for k, _ in steps]
    assert "diverted" in kinds
    after = kinds[kinds.index("diverted") + 1:]
    assert after[0] == "assigned"
    assert "Another officer" in steps[kinds.index("diverted") + 1][1]
    diverted_text = dict(steps)["diverted"]
    assert "emergency" in diverted_text and "CS14" not in diverted_text


def test_scheduled_appointment_and_phone_resolution(db_url):
    service = AttendanceService(db_url)
    lines = scenario_lines("scheduled-appointment")
    service.apply_sync(parsed(lines[:2]))
    inc = _incident(db_url, "CLE-20261120-0230")
    assert inc.status == "scheduled" and inc.appointment_end > inc.appointment_start
    service.apply_sync(parsed(lines[2:]))
    inc = _incident(db_url, "CLE-20261120-0230")
    assert inc.status == "closed" and inc.disposition == "RESOLVED_BY_PHONE"
    assert "by phone" in _public_steps(db_url, "CLE-20261120-0230")[-1][1]


def test_repeated_events_change_nothing(db_url):
    service = AttendanceService(db_url)
    lines = renumbered(ALL)
    service.apply_sync(parsed(lines))
    before = snapshot(db_url)
    result = service.apply_sync(parsed(lines))  # the gateway resends everything after a reconnect
    assert result.applied == 0 and result.duplicates == len(lines)
    # Same event ids under the next sequence numbers are still duplicates: the resume point passes them by.
    shifted = [json.dumps({**json.loads(line), "seq": json.loads(line)["seq"] + len(lines)}) for line in lines[:5]]
    assert service.apply_sync(parsed(shifted)).applied == 0
    after = snapshot(db_url)
    assert after["cursor"] == before["cursor"] + 5
    after["cursor"] = before["cursor"]
    assert after == before


def test_older_fix_is_ignored(db_url):
    service = AttendanceService(db_url)
    lines = scenario_lines("burglary-priority")
    positions = [i for i, line in enumerate(lines) if "resource.position" in line]
    upto = positions[4]
    service.apply_sync(parsed(lines[: upto + 1]))
    inc_before = _incident(db_url, "CLE-20261120-0142")
    with session_scope(db_url) as s:
        fix_before = s.get(ResourceFix, "CE21").model_dump()
    old = json.loads(lines[positions[1]])
    old.update(seq=json.loads(lines[upto])["seq"] + 1, event_id="older-fix-replayed")  # next in order
    result = service.apply_sync(parsed([json.dumps(old)]))
    assert result.dead_letters == 0 and service.last_seq_sync() == old["seq"]  # taken in order, changing nothing
    with session_scope(db_url) as s:
        assert s.get(ResourceFix, "CE21").model_dump() == fix_before
    inc_after = _incident(db_url, "CLE-20261120-0142")
    assert (inc_after.eta_earliest, inc_after.eta_latest) == (inc_before.eta_earliest, inc_before.eta_latest)


def test_unknown_incident_is_dead_lettered_and_the_feed_goes_on(db_url):
    service = AttendanceService(db_url)
    lines = scenario_lines("scheduled-appointment")
    stray = {"seq": 2, "event_id": "stray-1", "type": "resource.assigned", "occurred_at": "2026-11-20T11:04:00Z",
             "assignment": {"urn": "CLE-20261120-9999", "callsign": "X1", "resource_type": "car"}}
    renum = [json.loads(lines[0]), stray] + [json.loads(x) for x in lines[1:]]
    for i, e in enumerate(renum, start=1):
        e["seq"] = i
    result = service.apply_sync(parsed([json.dumps(e) for e in renum]))
    assert result.dead_letters == 1 and result.applied == len(lines)
    with session_scope(db_url) as s:
        dead = s.exec(select(DeadLetter)).one()
    assert "unknown incident" in dead.reason and "CLE-20261120-9999" in dead.raw
    assert _incident(db_url, "CLE-20261120-0230").status == "closed"


def test_link_tokens_open_only_their_own_attendance_and_expire(db_url):
    service = AttendanceService(db_url)
    service.apply_sync(parsed(renumbered(ALL)))
    with session_scope(db_url) as s:
        incidents = s.exec(select(Incident)).all()
        tokens = {i.urn: derive_token(i.link_nonce) for i in incidents}
        assert len(set(tokens.values())) == 4
        for inc in incidents:
            token = tokens[inc.urn]
            assert len(token) >= 43  # 256 bits, base64url
            found = find_incident_by_token(s, token, now=inc.opened_at)
            assert found is not None and found.urn == inc.urn
            if inc.link_expires_at is not None:
                assert find_incident_by_token(s, token, now=inc.link_expires_at) is None
                assert find_incident_by_token(s, token, now=inc.link_expires_at - timedelta(minutes=1)) is not None
        for bad in ("", "abc", tokens["CLE-20261120-0142"][:-1] + "A", "../../etc/passwd", "x" * 5000):
            if bad != tokens["CLE-20261120-0142"]:
                assert find_incident_by_token(s, bad) is None


def test_a_bad_frame_replayed_after_a_reconnect_is_kept_once(db_url):
    service = AttendanceService(db_url)
    bad = json.dumps({"seq": 5, "event_id": "x-5", "type": "incident.teleported", "occurred_at": "2026-11-20T09:00:00Z"})
    service.apply_sync(parsed([bad]))
    service.apply_sync(parsed([bad]))
    with session_scope(db_url) as s:
        assert len(s.exec(select(DeadLetter)).all()) == 1
