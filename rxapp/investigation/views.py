"""What the staff case pages show about the investigation journey, built from the database as plain dicts of
strings: the open cases with what is owed on each (`case_list_rows`), and one case whole (`case_detail`).

Each takes the acting member of staff and shows only what `rxapp/staff/permissions.py` lets them see: the
list holds only their cases, and a case they may not see is answered exactly as one that does not exist
(None, after the same queries), with the attempt in the audit log. Every case page shown is in the audit log.

No rules are decided here: a duty's status comes from `domain.journey.duty_status`, and the words for how a
victim was told from the journey service; templates and timeline entries are named in words
(`rxapp/domain/labels.py`). A victim's phone number and email appear in full, as links to ring or write,
only to whom `rxapp/staff/permissions.py` lets record contact on the case (the officer who must ring them);
anyone else who may read the case (the control room on a live incident) sees them masked, as in the message
history. The postal address never appears. Every time is London time.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Session, func, select

from rxapp.attendance.models import Incident
from rxapp.audit.service import AuditAction, AuditOutcome, record
from rxapp.domain.attendance import LONDON
from rxapp.domain.journey import duty_status, when_words
from rxapp.domain.labels import timeline_label, timeline_staff_text, with_template_labels
from rxapp.investigation.duties import TASK_OUTCOMES, case_victims
from rxapp.investigation.models import CaseVictim, Duty, Occurrence, OccurrenceEvent
from rxapp.investigation.victim_cards import CHANNEL_WORDS, victim_card  # noqa: F401 (the inbox reads them here)
from rxapp.investigation.victim_cards import language_name as _language_name  # noqa: F401
from rxapp.messaging.views import message_rows
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
from rxapp.victims.models import Victim

LIST_LIMIT = 200
OPEN_DUTY_STATES = ("due", "handed")
FILTERS = ("all", "late", "mine")

CLOSED_BY_WORDS = {"sms": "by text", "email": "by email", "records": "recorded in the records system"}
NOT_TOLD = ("declined", "not_reached")  # closed, but the victim was not told
TASK_STATUS_WORDS = {"open": "Open", "done": "Done", "cancelled": "No longer needed"}
# Which count a duty's status label goes in on the case list: each duty is counted once.
STATUS_BUCKET = {"Late": "late", "With a person (late)": "late", "With a person": "with_person", "Due": "due",
                 "Done": "done", "Done late": "done", "Declined": "done", "Held": "with_person"}


def _when(at: Optional[datetime]) -> str:
    return when_words(at) if at else ""


def _flag_words(flags: str) -> str:
    return ", ".join(f.replace("_", " ").lower() for f in flags.split(",") if f)



def _status(duty: Duty, now: datetime, assignee: Optional[str] = None, task_due: Optional[datetime] = None):
    """`task_due`: when the task carrying a handed duty is due, which the duty's card then says, as the task's does."""
    return duty_status(state=duty.state, due_at=duty.due_at, done_at=duty.done_at, done_how=duty.done_how,
                       late=duty.late, now=now, assignee=assignee, held_until=duty.held_until, task_due_at=task_due)


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
    """The open cases `actor` may read, most urgent first: those with something late (a duty past its
    deadline, or a task for a person past its own), then by when the next thing is due. Each row says the
    next thing to do and by when ("Tell the victim by a safe method", "by Mon 23 Nov, 10:30"), whose victim,
    and what is owed in counts. `only`: None or "all"; "late" (a duty is late); "mine" (`actor` is the
    officer in charge, by the collar number on their account)."""
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
    ids = [o.id for o in occurrences]
    enhanced = set(session.exec(select(CaseVictim.occurrence_id).where(
        CaseVictim.occurrence_id.in_(ids), CaseVictim.enhanced == True)))  # noqa: E712
    names: dict[int, list[str]] = {i: [] for i in ids}
    for occurrence_id, name in session.exec(select(CaseVictim.occurrence_id, Victim.name)
                                            .join(Victim, Victim.id == CaseVictim.victim_id)
                                            .where(CaseVictim.occurrence_id.in_(ids))
                                            .order_by(CaseVictim.occurrence_id, CaseVictim.id)):
        names[occurrence_id].append(name or "Name not given")
    duties: dict[int, list[Duty]] = {i: [] for i in ids}
    for duty in session.exec(select(Duty).where(Duty.occurrence_id.in_(ids))):
        duties[duty.occurrence_id].append(duty)
    tasks: dict[int, list[Task]] = {i: [] for i in ids}
    for task in session.exec(select(Task).where(Task.occurrence_id.in_(ids), Task.status == "open")):
        tasks[task.occurrence_id].append(task)
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
        action = _next_action(tasks[o.id], duties[o.id], now)
        late = bool(counts["late"]) or action["late"]
        rows.append({
            "occurrence_number": o.occurrence_number,
            "crime_reference": o.crime_reference or "Not yet given",
            "classification": o.classification_text or o.classification_code,
            "flags": _flag_words(o.flags),
            "oic": o.oic_collar or "None",
            "victims": ", ".join(names[o.id]) or "Not linked yet",
            "enhanced": "Yes" if o.id in enhanced else "No",
            **{k: str(v) for k, v in counts.items()},
            "owed": _owed_words(counts),
            "next_due": _when(next_due) or "Nothing owed",
            "action": action["what"],
            "action_about": action["about"],
            "action_due": action["due"],
            "action_late": "yes" if action["late"] else "",
            "urgency": "bad" if late else ("warn" if counts["with_person"] else "neutral"),
            "_sort": (not late, action["at"] or next_due or datetime.max.replace(tzinfo=now.tzinfo),
                      o.occurrence_number),
        })
    rows.sort(key=lambda r: r["_sort"])
    return [{k: v for k, v in r.items() if k != "_sort"} for r in rows]


def _by(at: datetime, now: datetime) -> str:
    """'Thu 3 Dec' (and the time unless it is the end of the day), in London time; the year only when it
    is not this year's."""
    local = at.astimezone(LONDON)
    words = when_words(at)  # 'Thu 3 Dec 2026, 10:05'
    day, _, time = words.partition(", ")
    if local.year == now.astimezone(LONDON).year:
        day = day.rsplit(" ", 1)[0]
    return day if time == "23:59" else f"{day}, {time}"


def _next_action(open_tasks: list[Task], duties: list[Duty], now: datetime) -> dict:
    """What is to be done next on a case: its open task due first (undated ones last), or, with no task, the
    next message the journey sends by itself."""
    never = datetime.max.replace(tzinfo=now.tzinfo)
    if open_tasks:
        task = min(open_tasks, key=lambda t: (t.due_at or never, t.id))
        about = next((d.title for d in duties if d.id == task.duty_id), "")
        if task.due_at is None:
            return {"what": task.title, "about": about, "due": "No deadline", "late": False, "at": None}
        late = task.due_at < now
        return {"what": task.title, "about": about, "at": task.due_at, "late": late,
                "due": ("Late: was due by " if late else "By ") + _by(task.due_at, now)}
    owed = [d for d in duties if d.state in OPEN_DUTY_STATES]
    if not owed:
        return {"what": "Nothing to do", "about": "Nothing is owed to the victim now", "due": "", "late": False,
                "at": None}
    duty = min(owed, key=lambda d: d.due_at)
    late = duty.late or duty.due_at < now
    return {"what": "Nothing for a person: the victim is told automatically", "about": duty.title,
            "at": duty.due_at, "late": late,
            "due": ("Late: was due by " if late else "By ") + _by(duty.due_at, now)}


def _owed_words(counts: dict[str, int]) -> str:
    """'1 late, 2 with a person, 3 done': what the Victims' Code says each victim must be told, in a line."""
    parts = [f"{counts[k]} {words}" for k, words in (("late", "late"), ("with_person", "with a person"),
                                                    ("due", "due"), ("done", "done")) if counts[k]]
    return ", ".join(parts) or "Nothing owed yet"


# ---- one case -------------------------------------------------------------------------------------------

def occurrence_by_number(session: Session, occurrence_number: str) -> Optional[Occurrence]:
    if not occurrence_number or len(occurrence_number) > 40:
        return None
    return session.exec(select(Occurrence).where(Occurrence.occurrence_number == occurrence_number)).first()


def case_detail(session: Session, actor: Actor, occurrence_number: str, now: datetime) -> Optional[dict]:
    """One case: its header, each victim with what they are owed (their own duties and deadlines), the tasks
    for people (open ones first, the one due first at the top, each with its victim's name and how to reach
    them), its timeline and its messages. `duties` lists every victim's duties, each row naming whose.
    `can_complete` and `can_agree`: whether `actor` may record contact and agree a frequency on it; the
    first also decides whether the victims' phone numbers and emails are shown in full.
    None, with the same queries and the refusal in the audit log, when there is no such case or `actor` may
    not read it: the two are not told apart. The look itself is in the audit log, in `session`."""
    occ = occurrence_by_number(session, occurrence_number)
    facts = case_facts(session, occ)
    if occ is None or not may(actor, Permission.READ_CASE, facts):
        record(session, actor, AuditAction.VIEW_CASE, AuditOutcome.REFUSED,
               occurrence_id=occ.id if occ else None, team=occ.oic_team if occ else None,
               detail="no such case" if occ is None else "not a case this account may read")
        return None
    reveal = may(actor, Permission.RECORD_CONTACT, facts)
    record(session, actor, AuditAction.VIEW_CASE, AuditOutcome.ALLOWED, occurrence_id=occ.id,
           incident_id=occ.incident_id, team=occ.oic_team,
           detail="case page: victims, duties, tasks, messages" +
                  ("; phone numbers and emails in full" if reveal else ""))
    tasks = session.exec(select(Task).where(Task.occurrence_id == occ.id)
                         .order_by(Task.created_at.desc(), Task.id.desc())).all()
    assignees = {t.id: t.assignee for t in tasks}
    task_due = {t.id: t.due_at for t in tasks}
    duties = session.exec(select(Duty).where(Duty.occurrence_id == occ.id)
                          .order_by(Duty.victim_id, Duty.triggered_at, Duty.id)).all()
    victims = [victim_card(session, occ, number, victim, reveal=reveal) for number, victim in
               enumerate(case_victims(session, occ), start=1)]
    labels = {int(v["victim_id"]): v["label"] for v in victims}
    duty_rows = [{**_duty_row(d, now, assignees.get(d.task_id), task_due.get(d.task_id)),
                  "victim": labels.get(d.victim_id, ""), "victim_id": str(d.victim_id)} for d in duties]
    for card in victims:
        card["duties"] = [row for row in duty_rows if row["victim_id"] == card["victim_id"]]
    events = session.exec(select(OccurrenceEvent).where(OccurrenceEvent.occurrence_id == occ.id)
                          .order_by(OccurrenceEvent.at, OccurrenceEvent.id)).all()
    cards = {int(v["victim_id"]): v for v in victims}
    never = datetime.max.replace(tzinfo=now.tzinfo)
    # What to do first: open tasks, the one due first at the top (undated last); then those closed, newest first.
    ordered = sorted((t for t in tasks if t.status == "open"), key=lambda t: (t.due_at or never, t.id)) + \
        [t for t in tasks if t.status != "open"]
    return {
        "header": _header(occ, len(victims)),
        "victims": victims,
        "duties": duty_rows,
        "tasks": [_task_victim(_task_row(t, now), cards.get(t.victim_id or -1)) for t in ordered],
        "timeline": [{
            "when": _when(e.at), "what": timeline_label(e.kind), "text": e.text,
            "staff_text": with_template_labels(timeline_staff_text(e.kind, e.staff_text)),
            "audience": "Shown to the victim" if e.public else "Staff only",
        } for e in events],
        "messages": message_rows(session, occurrence_id=occ.id, now=now),
        "can_complete": reveal,
        "can_agree": may(actor, Permission.AGREE_FREQUENCY, facts),
    }


TASK_VICTIM_KEYS = ("name", "label", "phone", "phone_href", "email", "email_href", "safe_contact",
                    "safe_contact_confirmed", "contact_notes", "preferred_channel", "language", "interpreter",
                    "updates")


def _task_victim(row: dict, card: Optional[dict]) -> dict:
    """A task's row with the victim it is about beside it: their name and how to reach them (as their card
    shows it). The contact notes the task's text ends with are then shown once, with the number."""
    notes = (card or {}).get("contact_notes", "")
    if notes and row["detail"].endswith(f"Contact notes: {notes}"):
        row = {**row, "detail": row["detail"][:-len(f"Contact notes: {notes}")].rstrip()}
    return {**row, **{f"victim_{key}": (card or {}).get(key, "") for key in TASK_VICTIM_KEYS}}


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


def _duty_row(duty: Duty, now: datetime, assignee: Optional[str], task_due: Optional[datetime] = None) -> dict:
    status = _status(duty, now, assignee, task_due)
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
        "detail": with_template_labels(task.detail),
        "assignee": task.assignee or "Not assigned",
        "due": _when(task.due_at),
        "due_by": _by(task.due_at, now) if task.due_at else "",
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
