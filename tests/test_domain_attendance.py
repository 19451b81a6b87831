"""Lifecycle rules: status from resources, status codes, and victim text that never names a resource."""
from datetime import datetime, timedelta, timezone

import pytest

from rxapp.domain import attendance as rules
from rxapp.domain.attendance import ResourceFacts as R

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("resources,closed,disposition,arrived,appt,expected", [
    ([], False, None, False, False, rules.LOGGED),
    ([], False, None, False, True, rules.SCHEDULED),
    ([R("assigned", True)], False, None, False, False, rules.ASSIGNED),
    ([R("assigned", True), R("en_route", True)], False, None, False, False, rules.EN_ROUTE),
    ([R("en_route", True), R("at_scene", True)], False, None, True, False, rules.AT_SCENE),
    ([R("en_route", False)], False, None, False, False, rules.LOGGED),  # diverted, nobody left
    ([R("cleared", True)], False, None, True, False, rules.COMPLETED),
    ([], True, "ATTENDED", True, False, rules.COMPLETED),
    ([], True, "RESOLVED_BY_PHONE", False, True, rules.CLOSED),
    ([], True, "CANCELLED", False, False, rules.CLOSED),
    ([], True, "NO_DEPLOYMENT", False, False, rules.CLOSED),
])
def test_derive_status(resources, closed, disposition, arrived, appt, expected):
    assert rules.derive_status(resources, closed=closed, disposition=disposition, arrived=arrived,
                               has_appointment=appt) == expected


@pytest.mark.parametrize("code,current,expected", [
    ("5", "assigned", "en_route"),
    ("6", "en_route", "at_scene"),
    ("2", "at_scene", "cleared"),
    ("15", "assigned", "assigned"),        # acknowledged is not progress
    ("0", "en_route", "en_route"),         # officer emergency never reaches the victim
    ("7", "en_route", "en_route"),
    ("99", "en_route", "en_route"),        # unknown code changes nothing
])
def test_status_codes(code, current, expected):
    assert rules.resource_state_for_code(code, current) == expected


def test_force_can_remap_status_codes():
    assert rules.resource_state_for_code("9", "assigned", {"9": "en_route"}) == "en_route"


def test_victim_texts_are_plain_and_name_no_resource():
    texts = [rules.step_opened(), rules.step_assigned(False), rules.step_assigned(True), rules.step_en_route(),
             rules.step_at_scene(), rules.step_cleared(), rules.step_diverted("DIVERTED"),
             rules.step_diverted("STOOD_DOWN"), rules.step_closed("ATTENDED", "CL/26/1"),
             rules.step_appointment(T0, T0 + timedelta(hours=2), T0)]
    for text in texts:
        assert text and len(text) < 200
        assert not any(w in text for w in ("callsign", "call sign", "vehicle", "lat", "position", "CE21"))
    assert "CL/26/1" in rules.step_closed("ATTENDED", "CL/26/1")


def test_appointment_text_is_in_london_time():
    summer = datetime(2026, 7, 1, 13, 0, tzinfo=timezone.utc)
    assert "14:00 and 16:00" in rules.step_appointment(summer, summer + timedelta(hours=2), summer)
    assert "today" in rules.step_appointment(summer, summer + timedelta(hours=2), summer)
