"""The NICHE records feed's change parser: the sample parses whole, bad input becomes BadChange with a
reason that never quotes personal data, and nothing raises."""
from __future__ import annotations

import copy
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from integrations.niche.protocol import (
    BadChange,
    InvestigationEvent,
    OccurrenceFinalised,
    OccurrenceRecorded,
    OicChanged,
    PersonLinked,
    PersonUpdated,
    RecordsChange,
    parse_change,
)

SAMPLE = Path(__file__).resolve().parent.parent / "integrations" / "niche" / "scenarios" / "records-changes.json"


@pytest.fixture
def changes() -> list[dict]:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))["changes"]


def by_id(changes: list[dict], change_id: str) -> dict:
    return copy.deepcopy(next(c for c in changes if c["change_id"] == change_id))


def test_every_sample_change_parses(changes):
    parsed = [parse_change(c) for c in changes]
    assert all(isinstance(p, RecordsChange) for p in parsed), [getattr(p, "reason", None) for p in parsed]
    assert [p.change_id for p in parsed] == [c["change_id"] for c in changes]
    assert all(p.occurred_at.tzinfo is timezone.utc for p in parsed)


def test_occurrence_recorded(changes):
    change = parse_change(by_id(changes, "c-0101"))
    assert change.occurrence_number == "26CL0041915"
    occ = change.payload
    assert isinstance(occ, OccurrenceRecorded)
    assert occ.flags == ("DOMESTIC_ABUSE",)
    assert occ.classification.code == "8/1"
    assert occ.incident_urn == "CLE-20261120-0203"
    assert occ.oic.collar_number == "DC 2210"
    assert occ.reported_at == datetime(2026, 11, 20, 10, 25, tzinfo=timezone.utc)


def test_person_linked(changes):
    person = parse_change(by_id(changes, "c-0102")).payload
    assert isinstance(person, PersonLinked)
    assert person.role == "VICTIM"
    assert person.date_of_birth == date(1996, 7, 19)
    assert person.contact.mobile == "+447700900789"
    assert person.contact.preferred_channel == "PHONE"
    assert person.contact.safe_to_contact is None  # not yet asked, not "safe"
    assert person.needs.intimidated is True
    assert person.consent.support_referral is False


def test_investigation_events(changes):
    bail = parse_change(by_id(changes, "c-0104")).payload
    assert isinstance(bail, InvestigationEvent)
    assert bail.event == "RELEASED_ON_BAIL"
    assert bail.bail_date == date(2026, 12, 19)
    assert len(bail.conditions) == 2
    nfa = parse_change(by_id(changes, "c-0105")).payload
    assert nfa.event == "RELEASED_NFA" and nfa.reason
    charged = parse_change(by_id(changes, "c-0007")).payload
    assert charged.charges == ("Burglary of a dwelling",)
    assert charged.first_hearing == datetime(2027, 1, 8, 10, tzinfo=timezone.utc)
    assert parse_change(by_id(changes, "c-0003")).payload.detail["service"]


def test_person_updated_oic_changed_and_finalised():
    envelope = {"change_id": "c-9", "occurred_at": "2026-11-21T10:00:00+01:00", "occurrence_number": "26X1"}
    updated = parse_change({**envelope, "type": "person.updated",
                            "person": {"person_id": "P-1", "contact": {"safe_to_contact": False, "email": None}}})
    assert isinstance(updated.payload, PersonUpdated)
    assert updated.payload.changed == {"contact.safe_to_contact", "contact.email"}
    assert updated.payload.contact.safe_to_contact is False
    assert updated.payload.needs is None
    assert updated.occurred_at == datetime(2026, 11, 21, 9, tzinfo=timezone.utc)

    oic = parse_change({**envelope, "type": "oic.changed",
                        "oic": {"collar_number": "PC 1", "name": "A B", "email": "a@b.example", "team": "T"}})
    assert isinstance(oic.payload, OicChanged) and oic.payload.oic.collar_number == "PC 1"

    final = parse_change({**envelope, "type": "occurrence.finalised", "result": "CHARGED"})
    assert isinstance(final.payload, OccurrenceFinalised) and final.payload.result == "CHARGED"


@pytest.mark.parametrize("mutate, reason", [
    (lambda c: c.pop("change_id"), "missing field change_id"),
    (lambda c: c.update(type="person.deleted"), "unknown type 'person.deleted'"),
    (lambda c: c.update(occurred_at="2026-11-20T11:06:00"), "occurred_at: no UTC offset"),
    (lambda c: c["person"]["contact"].pop("safe_to_contact"), "missing field person.contact.safe_to_contact"),
    (lambda c: c["person"]["contact"].update(preferred_channel="PIGEON"),
     "person.contact.preferred_channel: unknown value 'PIGEON'"),
    (lambda c: c["person"]["needs"].update(intimidated="yes"), "person.needs.intimidated: expected true or false"),
    (lambda c: c["person"].update(date_of_birth="19/07/1996"), "person.date_of_birth: expected a date (YYYY-MM-DD)"),
    (lambda c: c["person"]["consent"].update(updates=None), "person.consent.updates: expected true or false"),
])
def test_bad_person_linked(changes, mutate, reason):
    change = by_id(changes, "c-0102")
    mutate(change)
    parsed = parse_change(change)
    assert isinstance(parsed, BadChange)
    assert parsed.reason == reason
    assert parsed.change_id == change.get("change_id")
    assert json.loads(parsed.raw) == change


def test_reasons_never_quote_personal_values(changes):
    change = by_id(changes, "c-0102")
    change["person"]["contact"]["preferred_channel"] = "Amina Hussain 07700900123"
    change["person"]["role"] = "amina@example.org"
    parsed = parse_change(change)
    assert isinstance(parsed, BadChange)
    assert "Amina" not in parsed.reason and "0770" not in parsed.reason and "@" not in parsed.reason


@pytest.mark.parametrize("mutate, reason", [
    (lambda c: c.update(event="ARRESTED"), "event: unknown value 'ARRESTED'"),
    (lambda c: c["detail"].pop("bail_date"), "missing field detail.bail_date"),
    (lambda c: c["detail"].update(conditions="none"), "detail.conditions: expected a list of non-empty strings"),
    (lambda c: c.pop("detail"), "missing field detail"),
])
def test_bad_investigation_event(changes, mutate, reason):
    change = by_id(changes, "c-0104")
    mutate(change)
    parsed = parse_change(change)
    assert isinstance(parsed, BadChange) and parsed.reason == reason


def test_bad_occurrence(changes):
    change = by_id(changes, "c-0001")
    change["occurrence"]["flags"] = ["DOMESTIC_ABUSE", "MINOR"]
    assert parse_change(change).reason == "occurrence.flags: unknown value 'MINOR'"
    change = by_id(changes, "c-0001")
    change["occurrence"]["occurrence_number"] = "26CL0000000"
    assert "does not match" in parse_change(change).reason
    change = by_id(changes, "c-0001")
    del change["occurrence"]["flags"]
    assert parse_change(change).reason == "missing field occurrence.flags"


@pytest.mark.parametrize("value, reason", [
    ("not json", "not JSON"),
    (b"\xff\xfe", "change is not valid UTF-8"),
    ([1, 2], "not a JSON object"),
    (None, "not a JSON object"),
    ("x" * (70 * 1024), "change exceeds 64 KiB"),
    ({"type": 5}, "type: expected a string"),
    ({"change_id": "c-1", "type": "oic.changed", "occurred_at": "2026-01-01T00:00:00Z",
      "occurrence_number": "26 CL"}, "occurrence_number: contains whitespace or control characters"),
])
def test_malformed_never_raises(value, reason):
    parsed = parse_change(value)
    assert isinstance(parsed, BadChange)
    assert parsed.reason == reason


def test_json_text_parses_like_the_object(changes):
    text = json.dumps(changes[0])
    assert parse_change(text) == parse_change(changes[0])
    assert parse_change(text.encode()) == parse_change(changes[0])


def test_person_updated_must_change_something():
    parsed = parse_change({"change_id": "c-1", "type": "person.updated", "occurred_at": "2026-01-01T00:00:00Z",
                           "occurrence_number": "X1", "person": {"person_id": "P-1"}})
    assert isinstance(parsed, BadChange) and "changes none" in parsed.reason


def test_decoded_elements():
    assert parse_change("c-1", decoded=True).reason == "not a JSON object"
    big = {"change_id": "c-big", "type": "occurrence.finalised", "result": "x" * (70 * 1024)}
    parsed = parse_change(big, decoded=True)
    assert parsed.reason == "change exceeds 64 KiB" and parsed.change_id == "c-big"
