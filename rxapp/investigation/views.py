"""What the staff case pages show about the investigation journey, built from the database as plain dicts of
strings: the open cases with what is owed on each (`case_list_rows`), and one case whole (`case_detail`).

Each takes the acting member of staff and shows only what `rxapp/staff/permissions.py` lets them see: the
list holds only their cases, and a case they may not see is answered exactly as one that does not exist
(None, after the same queries), with the attempt in the audit log. Every case page shown is in the audit log.

No rules are decided here: a duty's status comes from `domain.journey.duty_status`, and the words for how a
victim was told from the journey service. The victim's phone number, email and address never appear in
clear (masked as in the message history); every time is London time.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Session, func, select

from rxapp.attendance.models import Incident
from rxapp.audit.service import AuditAction, AuditOutcome, record
from rxapp.domain.journey import SAFE_CONTACT_FLAGS, duty_status, when_words
from rxapp.investigation.duties import TASK_OUTCOMES, case_victims
from rxapp.investigation.models import CaseVictim, Duty, Occurrence, OccurrenceEvent
from rxapp.messaging.views import mask, message_rows
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.db import session_scope
from rxapp.staff.permissions import (
    Actor,
    CaseFacts,
    Permission,
    Reach,
    may,
    normalise_collar,
    normalise_team,
    reach,
    teams_of,
)
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim, VictimContactState

LIST_LIMIT = 200
OPEN_DUTY_STATES = ("due", "handed")
FILTERS = ("all", "late", "mine")

CHANNEL_WORDS = {"SMS": "Text message", "EMAIL": "Email", "LETTER": "Letter", "PHONE": "Phone call"}
CLOSED_BY_WORDS = {"sms": "by text", "email": "by email", "records": "recorded in the records system"}
NOT_TOLD = ("declined", "not_reached")  # closed, but the victim was not told
TASK_STATUS_WORDS = {"open": "Open", "done": "Done", "cancelled": "No longer needed"}
# Journey messages by template; anything not listed is shown by its own name in plain words.
JOURNEY_TEMPLATE_LABELS = {
    "crime_recorded": "Crime recorded: written confirmation",
    "routine_no_news": "Routine update (nothing new yet)",
    "support_referral_made": "Support referral made",
    "vps_offer": "Victim Personal Statement offer",
    "oic_changed": "New officer in charge",
}
# Which count a duty's status label goes in on the case list: each duty is counted once.
STATUS_BUCKET = {"Late": "late", "With a person (late)": "late", "With a person": "with_person", "Due": "due",
                 "Done": "done", "Done late": "done", "Declined": "done", "Held": "with_person"}


def _when(at: Optional[datetime]) -> str:
    return when_words(at) if at else ""


def _flag_words(flags: str) -> str:
    return ", ".join(f.replace("_", " ").lower() for f in flags.split(",") if f)


def _template_label(template: str) -> str:
    if template in JOURNEY_TEMPLATE_LABELS:
        return JOURNEY_TEMPLATE_LABELS[template]
    if template.startswith("update_"):
        return "Update: " + template[len("update_"):].replace("_", " ")
    return template.replace("_", " ").capitalize()


def _status(duty: Duty, now: datetime, assignee: Optional[str] = None):
    return duty_status(state=duty.state, due_at=duty.due_at, done_at=duty.done_at, done_how=duty.done_how,
                       late=duty.late, now=now, assignee=assignee, held_until=duty.held_until)


# ---- who may see which case ----------------------------------------------------------------------------

def case_facts(session: Session, occurrence: Optional[Occurrence]) -> CaseFacts:
    """What access to a case is decided on. The incident behind it is looked up even for no case (by an id
    no row has), so that a case refused and a case that does not exist cost the same queries."""
    incident_id = occurrence.incident_id if occurrence is not None and occurrence.incident_id else -1
    incident_open = bool(session.exec(select(Incident.is_open).where(Incident.id == incident_id)).first())
    if occurrence is None:
        return CaseFacts()
    return CaseFacts(oic_collar=occurrence.oic_collar, oic_team=occurrence.oic_team, incident_open=incident_open)


def _stored_values(session: Session, column, wanted: frozenset[str], normalise) -> list[str]:
    """The values of `column` among open cases that mean one of `wanted` once normalised (spelling and
    spacing in the records system vary), so the database can filter on the stored values exactly."""
    if not wanted:
        return []
    stored = session.exec(select(column).distinct().where(Occurrence.status == "open", column.is_not(None)))
    return [value for value in stored if normalise(value) in wanted]


def _visible(session: Session, actor: Actor):
    """A condition on Occurrence for the cases `actor` may read, or None when they may read none."""
    how_far = reach(actor, Permission.READ_CASE)
    teams = _stored_values(session, Occurrence.oic_team, teams_of(actor), normalise_team) \
        if how_far in (Reach.TEAM, Reach.OWN_OR_TEAM) else []
    if how_far is Reach.ANYWHERE:
        return sa.true()
    if how_far is Reach.LIVE:
        return Occurrence.incident_id.in_(select(Incident.id).where(Incident.is_open == True))  # noqa: E712
    if how_far is Reach.TEAM:
        return Occurrence.oic_team.in_(teams) if teams else None
    if how_far is Reach.OWN_OR_TEAM:
        collars = _stored_values(session, Occurrence.oic_collar,
                                 frozenset({normalise_collar(actor.collar_number)} - {""}), normalise_collar)
        if not (teams or collars):
            return None
        return sa.or_(Occurrence.oic_team.in_(teams), Occurrence.oic_collar.in_(collars))
    return None


# ---- the list of open cases ---------------------------------------------------------------------------

def case_list_rows(session: Session, actor: Actor, now: datetime, *, only: Optional[str] = None) -> list[dict]:
    """The open cases `actor` may read, most urgent first: those with a late duty, then by the earliest duty
    still owed. `only`: None or "all"; "late" (a duty is late); "mine" (`actor` is the officer in charge,
    by the collar number on their account)."""
    visible = _visible(session, actor)
    if visible is None:
        return []
    mine = []
    if only == "mine":
        mine = _stored_values(session, Occurrence.oic_collar,
                              frozenset({normalise_collar(actor.collar_number)} - {""}), normalise_collar)
        if not mine:
            return []
    open_duty = Duty.state.in_(OPEN_DUTY_STATES)
    # Ordering and the "late" filter are done by the database so that only the shown rows are loaded. The
    # test is duty_status's own: still owed, and marked late or past its deadline.
    overdue = sa.and_(open_duty, sa.or_(Duty.late == True, Duty.due_at < now))  # noqa: E712
    owed = (select(Duty.occurrence_id.label("occurrence_id"),
                   func.max(sa.case((overdue, 1), else_=0)).label("any_late"),
                   func.min(sa.case((open_duty, Duty.due_at), else_=None)).label("next_due"))
            .group_by(Duty.occurrence_id).subquery())
    any_late = func.coalesce(owed.c.any_late, 0)
    q = (select(Occurrence).outerjoin(owed, owed.c.occurrence_id == Occurrence.id)
         .where(Occurrence.status == "open", visible)
         .order_by(any_late.desc(), owed.c.next_due.is_(None), owed.c.next_due, Occurrence.occurrence_number)
         .limit(LIST_LIMIT))
    if only == "late":
        q = q.where(any_late == 1)
    elif only == "mine":
        q = q.where(Occurrence.oic_collar.in_(mine))
    occurrences = session.exec(q).all()
    if not occurrences:
        return []
    # The query chose by the table; each case is asked again by the rule itself.
    live = set(session.exec(select(Incident.id).where(
        Incident.id.in_([o.incident_id for o in occurrences if o.incident_id]), Incident.is_open == True)))  # noqa: E712
    occurrences = [o for o in occurrences if may(actor, Permission.READ_CASE, CaseFacts(
        oic_collar=o.oic_collar, oic_team=o.oic_team, incident_open=o.incident_id in live))]
    if not occurrences:
        return []
    enhanced = set(session.exec(select(CaseVictim.occurrence_id).where(
        CaseVictim.occurrence_id.in_([o.id for o in occurrences]), CaseVictim.enhanced == True)))  # noqa: E712
    duties: dict[int, list[Duty]] = {o.id: [] for o in occurrences}
    for duty in session.exec(select(Duty).where(Duty.occurrence_id.in_(list(duties)))):
        duties[duty.occurrence_id].append(duty)
    rows = []
    for o in occurrences:
        counts = {"late": 0, "with_person": 0, "due": 0, "done": 0}
        next_due = None
        for duty in duties[o.id]:
            bucket = STATUS_BUCKET.get(_status(duty, now).label)
            if bucket:
                counts[bucket] += 1
            if duty.state in OPEN_DUTY_STATES and (next_due is None or duty.due_at < next_due):
                next_due = duty.due_at
        rows.append({
            "occurrence_number": o.occurrence_number,
            "crime_reference": o.crime_reference or "Not yet given",
            "classification": o.classification_text or o.classification_code,
            "flags": _flag_words(o.flags),
            "oic": o.oic_collar or "None",
            "enhanced": "Yes" if o.id in enhanced else "No",
            **{k: str(v) for k, v in counts.items()},
            "next_due": _when(next_due) or "Nothing owed",
            "urgency": "bad" if counts["late"] else ("warn" if counts["with_person"] else "neutral"),
        })
    return rows


# ---- one case -------------------------------------------------------------------------------------------

def occurrence_by_number(session: Session, occurrence_number: str) -> Optional[Occurrence]:
    if not occurrence_number or len(occurrence_number) > 40:
        return None
    return session.exec(select(Occurrence).where(Occurrence.occurrence_number == occurrence_number)).first()


def case_detail(session: Session, actor: Actor, occurrence_number: str, now: datetime) -> Optional[dict]:
    """One case: its header, each victim with what they are owed (their own duties and deadlines), the tasks
    for people, its timeline and its messages. `duties` lists every victim's duties, each row naming whose.
    `can_complete` and `can_agree`: whether `actor` may record contact and agree a frequency on it.
    None, with the same queries and the refusal in the audit log, when there is no such case or `actor` may
    not read it: the two are not told apart. The look itself is in the audit log, in `session`."""
    occ = occurrence_by_number(session, occurrence_number)
    facts = case_facts(session, occ)
    if occ is None or not may(actor, Permission.READ_CASE, facts):
        record(session, actor, AuditAction.VIEW_CASE, AuditOutcome.REFUSED,
               occurrence_id=occ.id if occ else None, team=occ.oic_team if occ else None,
               detail="no such case" if occ is None else "not a case this account may read")
        return None
    record(session, actor, AuditAction.VIEW_CASE, AuditOutcome.ALLOWED, occurrence_id=occ.id,
           incident_id=occ.incident_id, team=occ.oic_team, detail="case page: victims, duties, tasks, messages")
    tasks = session.exec(select(Task).where(Task.occurrence_id == occ.id)
                         .order_by(Task.created_at.desc(), Task.id.desc())).all()
    assignees = {t.id: t.assignee for t in tasks}
    duties = session.exec(select(Duty).where(Duty.occurrence_id == occ.id)
                          .order_by(Duty.victim_id, Duty.triggered_at, Duty.id)).all()
    victims = [_victim_card(session, occ, number, victim) for number, victim in
               enumerate(case_victims(session, occ), start=1)]
    labels = {int(v["victim_id"]): v["label"] for v in victims}
    duty_rows = [{**_duty_row(d, now, assignees.get(d.task_id)), "victim": labels.get(d.victim_id, ""),
                  "victim_id": str(d.victim_id)} for d in duties]
    for card in victims:
        card["duties"] = [row for row in duty_rows if row["victim_id"] == card["victim_id"]]
    events = session.exec(select(OccurrenceEvent).where(OccurrenceEvent.occurrence_id == occ.id)
                          .order_by(OccurrenceEvent.at, OccurrenceEvent.id)).all()
    messages = message_rows(session, occurrence_id=occ.id, now=now)
    for row in messages:
        row["what"] = _template_label(row.get("template", ""))
    return {
        "header": _header(occ, len(victims)),
        "victims": victims,
        "duties": duty_rows,
        "tasks": [_task_row(t, now) for t in tasks],
        "timeline": [{
            "when": _when(e.at), "text": e.text, "staff_text": e.staff_text,
            "audience": "Shown to the victim" if e.public else "Staff only",
        } for e in events],
        "messages": messages,
        "can_complete": may(actor, Permission.RECORD_CONTACT, facts),
        "can_agree": may(actor, Permission.AGREE_FREQUENCY, facts),
    }


def _language_name(code: str) -> str:
    """'pl' -> 'Polish' (Babel's English names), or the code itself if Babel does not know it."""
    from babel import Locale

    return Locale("en").languages.get((code or "").split("-")[0].lower(), code)


def _header(occ: Occurrence, victim_count: int) -> dict:
    """The case itself; what belongs to each victim is in their card."""
    oic = " ".join(x for x in (occ.oic_collar, occ.oic_name) if x)
    return {
        "occurrence_number": occ.occurrence_number,
        "crime_reference": occ.crime_reference or "Not yet given",
        "classification": " ".join(x for x in (occ.classification_code, occ.classification_text) if x),
        "reported": _when(occ.reported_at),
        "recorded": _when(occ.recorded_at),
        "oic": (oic + (f", {occ.oic_team}" if occ.oic_team else "")) or "No officer in charge yet",
        "flags": _flag_words(occ.flags) or "none",
        "status": "Open" if occ.status == "open" else f"Finalised: {occ.result or 'no result given'}",
        "victim": ("Not linked yet" if not victim_count else "Linked" if victim_count == 1
                   else f"{victim_count} victims"),
    }


def _victim_card(session: Session, occ: Occurrence, number: int, case_victim: CaseVictim) -> dict:
    """One victim of the case: how to reach them safely, what they need, their entitlement and rhythm."""
    victim = session.get(Victim, case_victim.victim_id)
    state = session.get(VictimContactState, case_victim.victim_id)
    flags = {f for f in occ.flags.split(",") if f}
    safe = bool(state and state.safe_contact_confirmed)
    if safe:
        safe_words = "Confirmed"
    elif flags & SAFE_CONTACT_FLAGS:
        safe_words = "Not confirmed: no automated messages until it is"
    else:
        safe_words = "Not confirmed"
    contacts = []
    if victim.phone:
        contacts.append(f"mobile {mask(victim.phone)}")
    if victim.email:
        contacts.append(f"email {mask(victim.email)}")
    if victim.postal_address:
        contacts.append("postal address on file")
    needs = []
    if (victim.language or "en") != "en":
        needs.append(f"Messages in {_language_name(victim.language)}")
    if victim.interpreter:
        needs.append("Needs an interpreter")
    if victim.accessibility:
        needs.append(victim.accessibility)
    if victim.contact_notes:
        needs.append(f"Contact notes: {victim.contact_notes}")
    every = case_victim.routine_every_days
    return {
        "victim_id": str(victim.id),
        "label": f"Victim {number}",
        "name": victim.name or "Name not given",
        "needs": "; ".join(needs) or "None recorded",
        "enhanced": "Yes" if case_victim.enhanced else "No",
        "enhanced_reasons": case_victim.enhanced_reasons,
        "preferred_channel": CHANNEL_WORDS.get((victim.preferred_channel or "").upper(), "Not said"),
        "safe_contact": safe_words,
        "safe_contact_confirmed": "yes" if safe else "",
        "updates": "Opted out of automated updates" if state and state.opted_out_all else "",
        "contacts": ", ".join(contacts) or "none on file",
        "last_update": _when(case_victim.last_update_at) or "Not yet",
        "routine_every": (f"Every {every} days, as agreed with the victim"
                          if every else "The Code's default (every 28 days once updates begin)"),
        "routine_every_days": str(every or ""),
    }


def _duty_row(duty: Duty, now: datetime, assignee: Optional[str]) -> dict:
    status = _status(duty, now, assignee)
    return {
        "id": str(duty.id),
        "key": duty.key,
        "title": duty.title,
        "right": f"Right {duty.right}",
        "due": _when(duty.due_at),
        "status_label": status.label,
        "status_detail": status.detail,
        "tone": status.tone,
        "done_how": duty.done_how or "",
    }


def _task_row(task: Task, now: datetime) -> dict:
    is_open = task.status == "open"
    escalated = ""
    if task.escalated_at:
        escalated = f"Escalated to {task.escalated_to or 'a supervisor'}, {when_words(task.escalated_at)}"
    # The service's own words; a task closed by a message or by the records system says so.
    how = TASK_OUTCOMES.get(task.how_told or "") or CLOSED_BY_WORDS.get(task.how_told or "", task.how_told or "")
    late = is_open and task.due_at is not None and task.due_at < now
    if is_open:
        label, tone, result = ("Open, past its deadline", "bad", "") if late else ("Open", "warn", "")
    elif task.how_told in NOT_TOLD:
        label, tone, result = "Closed", "warn", how[:1].upper() + how[1:]
    elif task.status == "done":
        label, tone = "Done", "good"
        result = "Recorded in the records system" if task.how_told == "records" else (f"Told {how}" if how else "")
    else:
        label, tone, result = TASK_STATUS_WORDS.get(task.status, task.status), "neutral", ""
    return {
        "id": str(task.id),
        "title": task.title,
        "detail": task.detail,
        "assignee": task.assignee or "Not assigned",
        "due": _when(task.due_at),
        "late": "yes" if late else "",
        "status": task.status,
        "status_label": label,
        "tone": tone,
        "result": result,
        "open": "yes" if is_open else "",
        "escalated": escalated,
        "how_told": how,
        "completed_by": task.completed_by or "",
        "completed": _when(task.completed_at),
        "outcome": task.outcome or "",
    }


def load_case_list(actor: Actor, only: str) -> list[dict]:
    with session_scope(readonly=True) as session:
        return case_list_rows(session, actor, utcnow(), only=None if only == "all" else only)


def load_case(actor: Actor, occurrence_number: str) -> Optional[dict]:
    """One case for `actor`, or None; a writing transaction, as the look goes in the audit log."""
    with session_scope() as session:
        return case_detail(session, actor, occurrence_number, utcnow())
