"""The portal's short survey on the real database: offered once after the attendance that started the case ends,
and once when the case is finalised; scores 1 to 5 and a comment stored as written; answered or declined, never
offered again; and the summary the compliance view reads."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from rxapp.attendance.models import Incident
from rxapp.domain import conversation as rules
from rxapp.investigation.models import Occurrence
from rxapp.plumbing import links
from rxapp.plumbing.db import session_scope
from rxapp.portal.feedback import (
    answer_survey,
    decline_survey,
    feedback_summary,
    staff_feedback,
    survey_offer,
)
from rxapp.portal.identity import PortalRefusal
from rxapp.portal.models import Feedback

from .portal_cases import AT, record_case, sign_in


@pytest.fixture
def victim(db_url):
    record_case(db_url)
    who = sign_in(db_url)
    with session_scope(db_url) as s:
        nonce = links.new_nonce()
        incident = Incident(urn="CL-20260330-0042", grade="PRIORITY", category="Theft", easting=450000,
                            northing=525000, lat=54.68, lon=-1.21, victim_id=who.victim_id, opened_at=AT,
                            link_nonce=nonce, link_token_hash=links.token_hash(links.derive_token(nonce)))
        s.add(incident)
        s.flush()
        s.get(Occurrence, who.occurrence_id).incident_id = incident.id
    return who


def set_incident(db_url, who, *, is_open):
    with session_scope(db_url) as s:
        incident = s.get(Incident, s.get(Occurrence, who.occurrence_id).incident_id)
        incident.is_open, incident.status = is_open, "assigned" if is_open else "completed"
        return incident.id


def finalise(db_url, who):
    with session_scope(db_url) as s:
        occurrence = s.get(Occurrence, who.occurrence_id)
        occurrence.status, occurrence.finalised_at = "finalised", AT


def offer(db_url, who, at=AT):
    with session_scope(db_url) as s:
        return survey_offer(s, who, at)


def test_survey_rules():
    facts = rules.SurveyFacts(incident_id=4, attendance_ended=True, occurrence_id=9, case_finalised=True,
                              closed_subjects=frozenset())
    assert rules.survey_due(facts) == "attendance:4"
    assert rules.survey_due(rules.SurveyFacts(4, True, 9, True, frozenset({"attendance:4"}))) == "case:9"
    assert rules.survey_due(rules.SurveyFacts(4, False, 9, False, frozenset())) is None
    assert rules.survey_due(rules.SurveyFacts(None, False, 9, True, frozenset({"case:9"}))) is None
    assert [rules.valid_score(v) for v in (0, 1, 5, 6, True, 2.5, "3")] == [False, True, True, False, False, False,
                                                                           False]
    assert rules.average([4, 5]) == 4.5 and rules.average([]) is None


def test_the_attendance_survey_is_offered_once_it_ends_and_answered_once(db_url, victim):
    set_incident(db_url, victim, is_open=True)
    assert offer(db_url, victim) is None
    incident_id = set_incident(db_url, victim, is_open=False)
    subject = f"attendance:{incident_id}"
    assert offer(db_url, victim) == {"subject": subject, "kind": "attendance"}
    assert offer(db_url, victim, AT + timedelta(minutes=1)) == {"subject": subject, "kind": "attendance"}
    with session_scope(db_url) as s:
        (row,) = s.exec(select(Feedback)).all()
        assert row.offered_at == AT and row.incident_id == incident_id and row.answered_at is None
    for informed, overall, comment in ((0, 3, ""), (3, 6, ""), ("x", 3, ""), (True, 3, ""), (3, 2.5, ""),
                                       (3, 3, "x" * 2001), (3, 3, 42)):
        with session_scope(db_url) as s:
            with pytest.raises(PortalRefusal) as refused:
                answer_survey(s, victim, subject, informed, overall, comment, AT)
        assert refused.value.key == "bad_choice"
    comment = "The officer was kind. <script>alert(1)</script> & thanks"
    with session_scope(db_url) as s:
        answer_survey(s, victim, subject, "4", 5, comment, AT)
    with session_scope(db_url) as s:
        row = s.exec(select(Feedback)).one()
        assert (row.informed_score, row.overall_score, row.comment) == (4, 5, comment)
        with pytest.raises(PortalRefusal) as refused:
            answer_survey(s, victim, subject, 1, 1, "", AT)
        assert refused.value.key == "already_answered"
    assert offer(db_url, victim) is None  # the case is still open: nothing else is due


def test_the_case_survey_comes_when_the_case_is_finalised_and_a_no_is_final(db_url, victim):
    incident_id = set_incident(db_url, victim, is_open=False)
    finalise(db_url, victim)
    assert offer(db_url, victim)["subject"] == f"attendance:{incident_id}"  # one at a time, the visit first
    with session_scope(db_url) as s:
        # Not the survey on offer, someone else's, or made up: refused alike.
        for subject in (f"case:{victim.occurrence_id}", "case:999", "attendance:999", None, 7):
            with pytest.raises(PortalRefusal) as refused:
                answer_survey(s, victim, subject, 3, 3, "", AT)
            assert refused.value.key == "bad_choice"
        decline_survey(s, victim, f"attendance:{incident_id}", AT)
    case = offer(db_url, victim)
    assert case == {"subject": f"case:{victim.occurrence_id}", "kind": "case"}
    with session_scope(db_url) as s:
        answer_survey(s, victim, case["subject"], 2, 3, "  Slow to hear back.  ", AT)
    assert offer(db_url, victim) is None
    with session_scope(db_url) as s:
        with pytest.raises(PortalRefusal) as refused:
            decline_survey(s, victim, f"attendance:{incident_id}", AT)
        assert refused.value.key == "already_answered"
        rows = staff_feedback(s, victim.victim_id, victim.occurrence_id, incident_id)
        assert [(r["subject"], r["status"][:8], r["informed"], r["overall"]) for r in rows] == [
            ("The attendance", "Declined", "", ""), ("The case", "Answered", "2", "3")]
        summary = feedback_summary(s)
    assert summary["attendance"] == {"offered": 1, "answered": 0, "declined": 1, "informed_average": None,
                                     "overall_average": None}
    assert summary["case"] == {"offered": 1, "answered": 1, "declined": 0, "informed_average": 2.0,
                               "overall_average": 3.0}
    assert summary["all"]["offered"] == 2 and summary["all"]["answered"] == 1


def test_feedback_summary_averages_over_victims(db_url, victim):
    with session_scope(db_url) as s:
        for n, (informed, overall) in enumerate(((5, 4), (4, 4), (1, 2))):
            s.add(Feedback(victim_id=victim.victim_id, subject=f"case:{1000 + n}", offered_at=AT, answered_at=AT,
                           informed_score=informed, overall_score=overall))
        s.add(Feedback(victim_id=victim.victim_id, subject="attendance:77", offered_at=AT - timedelta(days=40)))
    with session_scope(db_url) as s:
        summary = feedback_summary(s)
        recent = feedback_summary(s, since=AT - timedelta(days=1))
    assert summary["case"]["informed_average"] == 3.33 and summary["case"]["overall_average"] == 3.33
    assert summary["attendance"] == {"offered": 1, "answered": 0, "declined": 0, "informed_average": None,
                                     "overall_average": None}
    assert recent["attendance"]["offered"] == 0 and recent["case"]["answered"] == 3
