"""The STORM feed's wire format: every sample line parses, and every kind of malformed frame becomes a
BadFrame with a short reason that carries no personal data."""
from __future__ import annotations

import copy
import json
import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from integrations.storm.protocol import (
    MAX_FRAME_BYTES,
    BadFrame,
    Heartbeat,
    encode_event,
    normalise_language,
    normalise_phone,
    parse_frame,
)
from rxapp.domain.events import (
    AppointmentBooked,
    DispatchEvent,
    IncidentClosed,
    IncidentOpened,
    IncidentUpdated,
    ResourceAssigned,
    ResourcePosition,
    ResourceStatus,
    ResourceUnassigned,
)

SCENARIOS = Path(__file__).resolve().parent.parent / "integrations" / "storm" / "scenarios"
SAMPLE_LINES = [
    pytest.param(line, id=f"{path.stem}-{number}")
    for path in sorted(SCENARIOS.glob("*.jsonl"))
    for number, line in enumerate(path.read_text().splitlines(), start=1)
    if line.strip()
]
PAYLOAD_TYPES = {
    "incident.opened": IncidentOpened,
    "incident.updated": IncidentUpdated,
    "resource.assigned": ResourceAssigned,
    "resource.unassigned": ResourceUnassigned,
    "resource.status": ResourceStatus,
    "resource.position": ResourcePosition,
    "incident.appointment": AppointmentBooked,
    "incident.closed": IncidentClosed,
}
# Personal data in the base event below; none of it may appear in a reason.
PERSONAL = ("Amina", "Hussain", "07700900123", "7700900123", "amina@example.org")

OPENED = {
    "seq": 7, "event_id": "evt-7", "type": "incident.opened", "occurred_at": "2026-11-20T09:12:00Z",
    "incident": {
        "urn": "CLE-20261120-0142", "grade": "PRIORITY", "category": "BURGLARY_DWELLING",
        "location": {"easting": 447835, "northing": 517445, "description": "Acklam Road, Middlesbrough"},
        "caller": {"name": "Amina Hussain", "phone": "07700900123", "email": "amina@example.org",
                   "sms_consent": True, "language": "en"},
        "flags": [],
    },
}
POSITION = {
    "seq": 8, "event_id": "evt-8", "type": "resource.position", "occurred_at": "2026-11-20T09:33:55Z",
    "resource": {"callsign": "CE21", "lat": 54.529752, "lon": -1.234013, "fix_at": "2026-11-20T09:33:55Z",
                 "speed_mps": 10.4, "heading": None},
}
APPOINTMENT = {
    "seq": 9, "event_id": "evt-9", "type": "incident.appointment", "occurred_at": "2026-11-20T11:08:00Z",
    "appointment": {"urn": "CLE-20261120-0230", "window_start": "2026-11-21T14:00:00Z",
                    "window_end": "2026-11-21T16:00:00Z"},
}
CLOSED = {
    "seq": 10, "event_id": "evt-10", "type": "incident.closed", "occurred_at": "2026-11-20T13:08:00Z",
    "incident": {"urn": "CLE-20261120-0230", "disposition": "ATTENDED", "crime_reference": "CL/26/041990"},
}
UNASSIGNED = {
    "seq": 11, "event_id": "evt-11", "type": "resource.unassigned", "occurred_at": "2026-11-20T10:09:05Z",
    "assignment": {"urn": "CLE-20261120-0188", "callsign": "CS14", "reason": "DIVERTED"},
}
ASSIGNED = {
    "seq": 12, "event_id": "evt-12", "type": "resource.assigned", "occurred_at": "2026-11-20T10:04:00Z",
    "assignment": {"urn": "CLE-20261120-0188", "callsign": "CS14", "resource_type": "car"},
}
STATUS = {
    "seq": 13, "event_id": "evt-13", "type": "resource.status", "occurred_at": "2026-11-20T10:04:30Z",
    "resource": {"callsign": "CS14", "urn": "CLE-20261120-0188", "status_code": "5"},
}


def changed(base: dict, path: str, value=None, *, delete: bool = False) -> str:
    """`base` as a frame, with the field at dotted `path` set to `value` (or removed)."""
    event = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = event
    for key in parents:
        target = target[key]
    if delete:
        del target[last]
    else:
        target[last] = value
    return json.dumps(event, ensure_ascii=False)


# ---- valid frames ------------------------------------------------------------------------------------


@pytest.mark.parametrize("line", SAMPLE_LINES)
def test_every_sample_line_parses(line):
    raw = json.loads(line)
    event = parse_frame(line)
    assert isinstance(event, DispatchEvent), getattr(event, "reason", event)
    assert (event.seq, event.event_id, event.type) == (raw["seq"], raw["event_id"], raw["type"])
    assert event.occurred_at.tzinfo == timezone.utc
    assert isinstance(event.payload, PAYLOAD_TYPES[event.type])


def test_opened_incident_is_translated_whole():
    event = parse_frame(json.dumps(OPENED).encode("utf-8"))  # bytes are accepted as well as text
    assert isinstance(event, DispatchEvent)
    opened = event.payload
    assert opened.urn == "CLE-20261120-0142" and opened.grade == "PRIORITY" and opened.flags == ()
    assert (opened.location.easting, opened.location.northing) == (447835.0, 517445.0)
    assert opened.caller.phone == "+447700900123"
    assert opened.caller.language == "en" and opened.caller.sms_consent is True
    assert event.occurred_at == datetime(2026, 11, 20, 9, 12, tzinfo=timezone.utc)


def test_timestamps_with_an_offset_become_utc():
    event = parse_frame(changed(OPENED, "occurred_at", "2026-07-01T10:15:00+01:00"))
    assert event.occurred_at == datetime(2026, 7, 1, 9, 15, tzinfo=timezone.utc)
    assert event.occurred_at.tzinfo == timezone.utc


@pytest.mark.parametrize("phone, expected", [
    ("07700900123", "+447700900123"),
    ("+44 7700 900123", "+447700900123"),
    ("020 7946 0000", "+442079460000"),
    ("+1 202 555 0100", "+12025550100"),
    ("call me later", None),
    ("12345", None),
    ("", None),
    (None, None),
])
def test_caller_phone_is_e164_or_none_and_never_a_bad_frame(phone, expected):
    event = parse_frame(changed(OPENED, "incident.caller.phone", phone))
    assert isinstance(event, DispatchEvent)
    assert event.payload.caller.phone == expected
    assert normalise_phone(phone) == expected


@pytest.mark.parametrize("language, expected", [
    ("pl", "pl"), ("PL", "pl"), ("pl-PL", "pl"), ("cy", "cy"), ("xx", "en"), ("polish", "en"), (5, "en"),
    (None, "en"),
])
def test_caller_language_is_iso_639_1_defaulting_to_english(language, expected):
    event = parse_frame(changed(OPENED, "incident.caller.language", language))
    assert isinstance(event, DispatchEvent)
    assert event.payload.caller.language == expected
    assert normalise_language(language) == expected


def test_missing_language_defaults_to_english():
    event = parse_frame(changed(OPENED, "incident.caller.language", delete=True))
    assert isinstance(event, DispatchEvent) and event.payload.caller.language == "en"


def test_repeated_flags_are_kept_once():
    event = parse_frame(changed(OPENED, "incident.flags", ["DOMESTIC_ABUSE", "VULNERABLE", "DOMESTIC_ABUSE"]))
    assert event.payload.flags == ("DOMESTIC_ABUSE", "VULNERABLE")


def test_update_carries_only_what_changed():
    frame = {"seq": 3, "event_id": "u-3", "type": "incident.updated", "occurred_at": "2026-11-20T10:00:00Z",
             "incident": {"urn": "CLE-20261120-0142", "grade": "EMERGENCY", "flags": ["DO_NOT_CONTACT"]}}
    event = parse_frame(json.dumps(frame))
    assert event.payload == IncidentUpdated(urn="CLE-20261120-0142", grade="EMERGENCY",
                                            flags=("DO_NOT_CONTACT",))


def test_status_may_name_no_incident_once_cleared():
    event = parse_frame(changed(STATUS, "resource.urn", None))
    assert isinstance(event, DispatchEvent) and event.payload.urn is None


def test_heartbeat():
    frame = parse_frame('{"type":"heartbeat","seq_high":42,"at":"2026-11-20T10:00:00Z"}')
    assert frame == Heartbeat(seq_high=42, at=datetime(2026, 11, 20, 10, tzinfo=timezone.utc))


def test_encode_event_round_trips():
    text = encode_event(OPENED)
    assert json.loads(text) == OPENED and "\n" not in text
    assert isinstance(parse_frame(text), DispatchEvent)


# ---- bad frames ----------------------------------------------------------------------------------------

BAD_FRAMES = [
    # not a JSON object at all
    ("not JSON", "{not json", "not JSON"),
    ("empty", "", "not JSON"),
    ("array", "[1, 2]", "not a JSON object"),
    ("number", "42", "not a JSON object"),
    ("null", "null", "not a JSON object"),
    ("invalid UTF-8", b'{"type": "\xff"}', "UTF-8"),
    # envelope
    ("missing type", changed(OPENED, "type", delete=True), "missing field type"),
    ("unknown type", changed(OPENED, "type", "incident.reopened"), "unknown type 'incident.reopened'"),
    ("type not a string", changed(OPENED, "type", 3), "type: expected a string"),
    ("missing seq", changed(OPENED, "seq", delete=True), "missing field seq"),
    ("seq as text", changed(OPENED, "seq", "7"), "seq: expected an integer"),
    ("seq as boolean", changed(OPENED, "seq", True), "seq: expected an integer"),
    ("seq as fraction", changed(OPENED, "seq", 7.5), "seq: expected an integer"),
    ("seq zero", changed(OPENED, "seq", 0), "seq: must be at least 1"),
    ("seq beyond 64 bits", changed(OPENED, "seq", 2**63), "seq: too large"),
    ("missing event_id", changed(OPENED, "event_id", delete=True), "missing field event_id"),
    ("event_id not a string", changed(OPENED, "event_id", 12), "event_id: expected a string"),
    ("empty event_id", changed(OPENED, "event_id", " "), "event_id: empty"),
    ("missing occurred_at", changed(OPENED, "occurred_at", delete=True), "missing field occurred_at"),
    ("timestamp without offset", changed(OPENED, "occurred_at", "2026-11-20T09:12:00"), "no UTC offset"),
    ("date only", changed(OPENED, "occurred_at", "2026-11-20"), "no UTC offset"),
    ("timestamp nonsense", changed(OPENED, "occurred_at", "yesterday"), "not an ISO 8601 timestamp"),
    ("timestamp as number", changed(OPENED, "occurred_at", 1763629920), "expected an ISO 8601 timestamp"),
    ("missing payload", changed(OPENED, "incident", delete=True), "missing field incident"),
    ("payload not an object", changed(OPENED, "incident", "CLE-1"), "incident: expected an object"),
    # incident.opened
    ("missing urn", changed(OPENED, "incident.urn", delete=True), "missing field incident.urn"),
    ("unknown grade", changed(OPENED, "incident.grade", "URGENT"), "incident.grade: unknown value 'URGENT'"),
    ("grade lower case", changed(OPENED, "incident.grade", "priority"), "incident.grade: unknown value"),
    ("missing flags", changed(OPENED, "incident.flags", delete=True), "missing field incident.flags"),
    ("flags not a list", changed(OPENED, "incident.flags", "DOMESTIC_ABUSE"), "incident.flags: expected a list"),
    ("unknown flag", changed(OPENED, "incident.flags", ["NOISY"]), "incident.flags: unknown flag 'NOISY'"),
    ("missing location", changed(OPENED, "incident.location", delete=True), "missing field incident.location"),
    ("easting as text", changed(OPENED, "incident.location.easting", "447835"),
     "incident.location.easting: expected a number"),
    ("negative easting", changed(OPENED, "incident.location.easting", -1), "outside the British National Grid"),
    ("easting beyond grid", changed(OPENED, "incident.location.easting", 700001), "easting: outside"),
    ("northing beyond grid", changed(OPENED, "incident.location.northing", 1300001), "northing: outside"),
    ("easting not finite", changed(OPENED, "incident.location.easting", float("nan")), "not a finite number"),
    ("missing caller", changed(OPENED, "incident.caller", delete=True), "missing field incident.caller"),
    ("missing consent", changed(OPENED, "incident.caller.sms_consent", delete=True),
     "missing field incident.caller.sms_consent"),
    ("consent as text", changed(OPENED, "incident.caller.sms_consent", "yes"),
     "incident.caller.sms_consent: expected true or false"),
    ("name as number", changed(OPENED, "incident.caller.name", 7), "incident.caller.name: expected a string"),
    # other types
    ("unknown disposition", changed(CLOSED, "incident.disposition", "SOLVED"), "unknown value 'SOLVED'"),
    ("unknown unassign reason", changed(UNASSIGNED, "assignment.reason", "LUNCH"), "unknown value 'LUNCH'"),
    ("unknown resource type", changed(ASSIGNED, "assignment.resource_type", "horse"),
     "assignment.resource_type: unknown value 'horse'"),
    ("missing callsign", changed(ASSIGNED, "assignment.callsign", delete=True), "missing field assignment.callsign"),
    ("status code as number", changed(STATUS, "resource.status_code", 5), "status_code: expected a string"),
    ("latitude out of range", changed(POSITION, "resource.lat", 91), "resource.lat: out of range"),
    ("longitude out of range", changed(POSITION, "resource.lon", -180.5), "resource.lon: out of range"),
    ("latitude as text", changed(POSITION, "resource.lat", "54.5"), "resource.lat: expected a number"),
    ("fix without offset", changed(POSITION, "resource.fix_at", "2026-11-20T09:33:55"), "fix_at: no UTC offset"),
    ("negative speed", changed(POSITION, "resource.speed_mps", -3), "speed_mps: negative"),
    ("window without offset", changed(APPOINTMENT, "appointment.window_start", "2026-11-21T14:00:00"),
     "window_start: no UTC offset"),
    ("window backwards", changed(APPOINTMENT, "appointment.window_end", "2026-11-21T13:00:00Z"),
     "window ends before it starts"),
    ("update changes nothing", json.dumps({"seq": 4, "event_id": "u-4", "type": "incident.updated",
                                           "occurred_at": "2026-11-20T10:00:00Z",
                                           "incident": {"urn": "CLE-20261120-0142"}}), "changes none"),
    ("heartbeat without seq_high", '{"type":"heartbeat","at":"2026-11-20T10:00:00Z"}', "missing field seq_high"),
    ("heartbeat without offset", '{"type":"heartbeat","seq_high":1,"at":"2026-11-20T10:00:00"}', "no UTC offset"),
    ("subscribe echoed back", '{"type":"subscribe","after_seq":0}', "unknown type 'subscribe'"),
]


@pytest.mark.parametrize("frame, reason", [pytest.param(f, r, id=name) for name, f, r in BAD_FRAMES])
def test_malformed_frame_becomes_a_bad_frame_with_a_reason(frame, reason):
    result = parse_frame(frame)
    assert isinstance(result, BadFrame)
    assert reason in result.reason
    assert len(result.reason) < 120
    assert not any(word in result.reason for word in PERSONAL)
    expected_raw = frame.decode("utf-8", errors="replace") if isinstance(frame, bytes) else frame
    assert result.raw == expected_raw


def test_bad_frame_keeps_seq_and_event_id_when_it_has_them():
    result = parse_frame(changed(OPENED, "incident.grade", "URGENT"))
    assert (result.seq, result.event_id) == (7, "evt-7")
    assert parse_frame("{oops").seq is None


def test_values_that_could_be_personal_are_not_quoted_in_reasons():
    # A gateway that mis-maps the caller's name into the grade must not put the name in a log line.
    result = parse_frame(changed(OPENED, "incident.grade", "Amina Hussain"))
    assert isinstance(result, BadFrame) and "Amina" not in result.reason
    result = parse_frame(changed(OPENED, "type", "07700 900123"))
    assert isinstance(result, BadFrame) and "07700" not in result.reason


def test_frame_over_64_kib_is_a_bad_frame_with_its_identity():
    frame = changed(OPENED, "incident.location.description", "x" * MAX_FRAME_BYTES)
    result = parse_frame(frame)
    assert isinstance(result, BadFrame) and "64 KiB" in result.reason
    assert (result.seq, result.event_id) == (7, "evt-7")
    assert len(result.raw) <= MAX_FRAME_BYTES
    # Exactly at the limit is still fine.
    padding = MAX_FRAME_BYTES - len(changed(OPENED, "incident.location.description", "").encode())
    at_limit = changed(OPENED, "incident.location.description", "x" * padding)
    assert len(at_limit.encode()) == MAX_FRAME_BYTES
    assert isinstance(parse_frame(at_limit), DispatchEvent)


def test_size_limit_counts_utf8_bytes_not_characters():
    # 30,000 Welsh "ŵ" characters are 60,000 bytes; 40,000 of them are over the limit.
    assert isinstance(parse_frame(changed(OPENED, "incident.location.description", "ŵ" * 30_000)), DispatchEvent)
    result = parse_frame(changed(OPENED, "incident.location.description", "ŵ" * 40_000))
    assert isinstance(result, BadFrame) and "64 KiB" in result.reason


def test_parse_frame_never_raises():
    rng = random.Random(20261120)
    samples = [json.dumps(OPENED), json.dumps(POSITION), json.dumps(APPOINTMENT), json.dumps(CLOSED)]
    junk = ["", "{", "[[[[", "\x00", '{"type":null}', '{"seq":1e400}', "[" * 100_000 + "]" * 100_000]
    for text in junk:
        assert isinstance(parse_frame(text), BadFrame)
    for _ in range(2000):
        text = rng.choice(samples)
        chars = list(text)
        for _ in range(rng.randint(1, 5)):
            position = rng.randrange(len(chars))
            chars[position] = rng.choice('{}[]",:0123456789aZ \\-.') if rng.random() < 0.8 else ""
        result = parse_frame("".join(chars))
        assert isinstance(result, (BadFrame, DispatchEvent, Heartbeat))
    for _ in range(200):
        result = parse_frame(bytes(rng.randrange(256) for _ in range(rng.randint(0, 64))))
        assert isinstance(result, BadFrame)


def test_identifiers_longer_than_the_contract_allows_are_rejected():
    assert "too long" in parse_frame(changed(OPENED, "incident.urn", "CLE-" + "9" * 80)).reason
    assert "too long" in parse_frame(changed(ASSIGNED, "assignment.callsign", "C" * 21)).reason
    assert "too long" in parse_frame(changed(OPENED, "event_id", "e" * 101)).reason
    assert "not a status code" in parse_frame(changed(STATUS, "resource.status_code", "12345")).reason
    assert "not a UPRN" in parse_frame(changed(OPENED, "incident.location.uprn", "10-0023")).reason


def test_free_text_is_cut_rather_than_rejected():
    event = parse_frame(changed(OPENED, "incident.location.description", "Acklam Road " * 100))
    assert isinstance(event, DispatchEvent) and len(event.payload.location.description) == 300
    event = parse_frame(changed(OPENED, "incident.location.uprn", 100023336956))
    assert event.payload.location.uprn == "100023336956"
