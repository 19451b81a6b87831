"""The short survey a victim is offered in the portal: once after the attendance that started the case has
ended ("attendance:<incident id>"), and once when the case is finalised ("case:<occurrence id>"). Two scores
from 1 to 5 (kept informed; overall) and a comment (up to 2,000 characters, stored as written). A survey is
recorded as offered the first time it is shown (`Feedback.offered_at`); answered or declined, it is never
offered again. `feedback_summary` is the read model for the compliance view.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Session, select

from rxapp.attendance.models import Incident
from rxapp.domain import conversation as rules
from rxapp.domain.statuses import OccurrenceStatus
from rxapp.plumbing.columns import utcnow
from rxapp.portal import live
from rxapp.portal.conversation import victim_case, when_words
from rxapp.portal.identity import PortalRefusal, VictimIdentity
from rxapp.portal.models import Feedback

MAX_COMMENT_CHARS = rules.MAX_COMMENT_CHARS


def _feedback(session: Session, victim_id: int) -> dict[str, Feedback]:
    return {f.subject: f for f in session.exec(select(Feedback).where(Feedback.victim_id == victim_id))}


def _due_subject(session: Session, who: VictimIdentity, now: datetime):
    case_victim, occurrence = victim_case(session, who, now)
    incident = session.get(Incident, occurrence.incident_id) if occurrence.incident_id else None
    given = _feedback(session, case_victim.victim_id)
    facts = rules.SurveyFacts(
        incident_id=incident.id if incident else None,
        attendance_ended=bool(incident is not None and not incident.is_open),
        occurrence_id=occurrence.id,
        case_finalised=occurrence.status == OccurrenceStatus.FINALISED,
        closed_subjects=frozenset(s for s, f in given.items() if f.answered_at is not None or f.declined))
    return case_victim, occurrence, given, rules.survey_due(facts)


def survey_offer(session: Session, who: VictimIdentity, now: Optional[datetime] = None) -> Optional[dict]:
    """The one survey due for this victim now, or None; the first offer is recorded."""
    now = now or utcnow()
    case_victim, occurrence, given, subject = _due_subject(session, who, now)
    if subject is None:
        return None
    if subject not in given:
        kind, _, ident = subject.partition(":")
        session.add(Feedback(victim_id=case_victim.victim_id, subject=subject, offered_at=now,
                             occurrence_id=occurrence.id,
                             incident_id=int(ident) if kind == "attendance" else None))
        session.flush()
    return {"subject": subject, "kind": subject.partition(":")[0]}


def _open_survey(session: Session, who: VictimIdentity, subject: object, now: datetime) -> Feedback:
    """The survey `subject` if it is this victim's, offered and still open; refused otherwise, in the same
    words whether the subject exists, belongs to someone else, or was already answered."""
    case_victim, _, given, due = _due_subject(session, who, now)
    row = given.get(subject) if isinstance(subject, str) else None
    if row is not None and (row.answered_at is not None or row.declined):
        raise PortalRefusal("already_answered")
    if row is None or subject != due:
        raise PortalRefusal("bad_choice")
    return row


def answer_survey(session: Session, who: VictimIdentity, subject: str, informed: int, overall: int, comment: str,
                  now: Optional[datetime] = None) -> dict:
    """Store the answers. Scores must be whole numbers 1 to 5 and the comment text of at most 2,000 characters
    (`bad_choice` otherwise); a survey answered or declined is `already_answered`."""
    informed, overall = _score(informed), _score(overall)
    if comment is None:
        comment = ""
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS:
        raise PortalRefusal("bad_choice")
    now = now or utcnow()
    row = _open_survey(session, who, subject, now)
    row.informed_score, row.overall_score, row.comment, row.answered_at = informed, overall, comment.strip(), now
    live.changed_after_commit(session, who.case_victim_id)
    return {"subject": row.subject, "answered": True}


def decline_survey(session: Session, who: VictimIdentity, subject: str, now: Optional[datetime] = None) -> dict:
    now = now or utcnow()
    row = _open_survey(session, who, subject, now)
    row.declined, row.answered_at = True, None
    live.changed_after_commit(session, who.case_victim_id)
    return {"subject": row.subject, "declined": True}


def _score(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) == 1:
        value = int(value.strip())
    if not rules.valid_score(value):
        raise PortalRefusal("bad_choice")
    return value


def feedback_summary(session: Session, *, since: Optional[datetime] = None,
                     occurrence_ids: Optional[list[int]] = None) -> dict:
    """Counts and average scores, per kind of survey and overall, for the compliance view: offered, answered,
    declined, and the mean of each score over the answers (None with no answers)."""
    q = select(Feedback)
    if since is not None:
        q = q.where(Feedback.offered_at >= since)
    if occurrence_ids is not None:
        q = q.where(Feedback.occurrence_id.in_(occurrence_ids))
    rows = session.exec(q).all()
    out = {}
    for kind in ("attendance", "case", "all"):
        chosen = [r for r in rows if kind == "all" or r.subject.startswith(kind + ":")]
        answered = [r for r in chosen if r.answered_at is not None]
        out[kind] = {"offered": len(chosen), "answered": len(answered),
                     "declined": sum(1 for r in chosen if r.declined),
                     "informed_average": rules.average(r.informed_score for r in answered),
                     "overall_average": rules.average(r.overall_score for r in answered)}
    return out


def staff_feedback(session: Session, victim_id: int, occurrence_id: int, incident_id: Optional[int]) -> list[dict]:
    """This victim's survey answers about this case and its attendance, for the staff case page."""
    rows = session.exec(select(Feedback).where(Feedback.victim_id == victim_id)).all()
    wanted = {f"case:{occurrence_id}"} | ({f"attendance:{incident_id}"} if incident_id else set())
    out = []
    for r in sorted((r for r in rows if r.subject in wanted), key=lambda r: r.offered_at):
        status = ("Answered " + when_words(r.answered_at) if r.answered_at else "Declined" if r.declined
                  else "Offered, not answered yet")
        out.append({"subject": "The attendance" if r.subject.startswith("attendance:") else "The case",
                    "status": status, "informed": str(r.informed_score or ""), "overall": str(r.overall_score or ""),
                    "comment": r.comment})
    return out
