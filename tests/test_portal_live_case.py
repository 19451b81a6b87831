"""A victim reading their case in the portal sees a records change without reloading: the records applier tells
the case's open pages (rxapp/portal/live.py) once the change has committed, and never for a change that failed."""
from __future__ import annotations

from integrations.niche.protocol import parse_change
from rxapp.plumbing.columns import utcnow
from rxapp.portal import live
from rxapp.portal.actions import load_page

from .portal_cases import record_case, sign_in


def _arrest(number: str, change_id: str = "t-3") -> object:
    return parse_change({"change_id": change_id, "type": "investigation.event", "occurred_at": "2026-03-30T12:00:00Z",
                         "occurrence_number": number, "event": "SUSPECT_ARRESTED", "detail": {}}, decoded=True)


def test_a_records_change_tells_the_case_s_open_pages_once_it_has_committed(db_url):
    service = record_case(db_url)
    who = sign_in(db_url, at=utcnow())  # signed in now: the page's reads check the session against the clock
    before = load_page(who)["view"]["timeline"]
    seen = live.version(who.case_victim_id)
    service.apply_page([_arrest("26CL0090001")], "t-page-2")
    assert live.version(who.case_victim_id) > seen
    after = load_page(who)["view"]["timeline"]
    assert len(after) == len(before) + 1


def test_a_change_for_another_case_tells_nobody_here(db_url):
    record_case(db_url)
    who = sign_in(db_url)
    record_case(db_url, number="26CL0090002", person="P-T2", mobile="07700900556", prefix="u")
    seen = live.version(who.case_victim_id)
    other = record_case(db_url, number="26CL0090003", person="P-T3", mobile="07700900557", prefix="v")
    other.apply_page([_arrest("26CL0090002", "u-3")], "u-page-2")
    assert live.version(who.case_victim_id) == seen
