"""The officer inbox's read model: today's work for the signed-in officer, as plain dicts of strings.

"Their work" is decided from the account, never from typed text: the open cases whose officer in charge is the
account's collar number (spelling and spacing in the records system vary: `normalise_collar`), each kept only
if `rxapp/staff/permissions.py` lets the account read it (a supervisor: their own cases in their team), and the
open tasks assigned to that collar number or on those cases. Three lists, each most urgent first:
- conversations: each victim of those cases with a message not yet read by the officer, or a reply still owed
  (the open reply task, due by the deadline the automatic answer promised); overdue replies first;
- tasks: open, overdue ones first, then by deadline (undated last);
- duties falling due: owed to a victim of those cases and due within DUTY_HORIZON_WORKING_DAYS working days
  (late ones included, first).
Each row carries the victim's name, preferred channel, language, contact notes and safety flags. Phone numbers
and email addresses are not listed here: the case page shows them, in full to staff who may record contact on the
case. A task's words name templates in words (`rxapp/domain/labels.py`). Times are shown in London time.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Iterable, Optional

from sqlalchemy import or_
from sqlmodel import Session, func, select

from rxapp.domain.journey import SAFE_CONTACT_FLAGS, when_words
from rxapp.domain.labels import with_template_labels
from rxapp.domain.statuses import TaskKind, TaskStatus
from rxapp.investigation.duties import code
from rxapp.investigation.models import CaseVictim, Duty, Occurrence
from rxapp.investigation.views import CHANNEL_WORDS, OPEN_DUTY_STATES
from rxapp.investigation.views import _language_name as language_name
from rxapp.portal.models import PortalMessage
from rxapp.staff.permissions import Actor, CaseFacts, Permission, may, normalise_collar
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim, VictimContactState

DUTY_HORIZON_WORKING_DAYS = 3
TASK_LIMIT = 200
REPLY_KINDS = (str(TaskKind.PORTAL_MESSAGE), str(TaskKind.UPDATE_REQUESTED))
FLAG_WORDS = {"DOMESTIC_ABUSE": "Domestic abuse", "SEXUAL_OFFENCE": "Sexual offence", "HATE_CRIME": "Hate crime",
              "CHILD_VICTIM": "Child victim"}


_language_name = lru_cache(maxsize=64)(language_name)  # Babel's names, looked up once per language


def _when(at: Optional[datetime]) -> str:
    return when_words(at) if at else ""


def own_collars(session: Session, actor: Actor) -> list[str]:
    """The stored spellings of the account's collar number among open cases (none without a collar number). A
    collar number the records system wrote with a tab or line break inside it is not matched here (the case pages'
    access rule still is)."""
    wanted = normalise_collar(getattr(actor, "collar_number", ""))
    if not wanted:
        return []
    # Spaces and case aside, through the index on that form (alembic 0014); Python decides exactly.
    stored = session.exec(select(Occurrence.oic_collar).distinct().where(
        func.upper(func.replace(Occurrence.oic_collar, " ", "")) == wanted, Occurrence.status == "open"))
    return [value for value in stored if normalise_collar(value) == wanted]


def own_cases(session: Session, actor: Actor, collars: Iterable[str]) -> dict[int, Occurrence]:
    """The open cases the account is in charge of and may read, by id."""
    collars = list(collars)
    if not collars:
        return {}
    rows = session.exec(select(Occurrence).where(Occurrence.status == "open", Occurrence.oic_collar.in_(collars)))
    return {o.id: o for o in rows
            if may(actor, Permission.READ_CASE, CaseFacts(oic_collar=o.oic_collar, oic_team=o.oic_team))}


def _flags(occ: Optional[Occurrence], vulnerabilities: str) -> list[str]:
    found = [f for f in (occ.flags.split(",") if occ else []) if f]
    words = [FLAG_WORDS.get(f, f.replace("_", " ").capitalize()) for f in found
             if f in SAFE_CONTACT_FLAGS or f in FLAG_WORDS]
    words += [v.strip().replace("_", " ").capitalize() for v in (vulnerabilities or "").split(",") if v.strip()]
    return words


def victim_context(victim: Optional[Victim], state: Optional[VictimContactState],
                   occ: Optional[Occurrence]) -> dict[str, str]:
    """What the officer needs beside any row about this victim: who, how and in what language to reach them,
    and what makes contact risky."""
    if victim is None:
        return {"victim_name": "No victim linked", "channel": "", "language": "", "contact_notes": "",
                "safety": "", "safe_contact": "", "safety_tone": "neutral"}
    flags = _flags(occ, victim.vulnerabilities)
    sensitive = bool(occ and {f for f in occ.flags.split(",") if f} & SAFE_CONTACT_FLAGS)
    safe = bool(state and state.safe_contact_confirmed)
    if safe:
        safe_words = "Safe contact confirmed"
    elif sensitive:
        safe_words = "Safe contact NOT confirmed: use a safe method"
    else:
        safe_words = "Safe contact not confirmed"
    notes = victim.contact_notes or ""
    if victim.interpreter:
        notes = "; ".join(x for x in ("Needs an interpreter", notes) if x)
    if state and state.opted_out_all:
        notes = "; ".join(x for x in ("Opted out of automated updates", notes) if x)
    return {
        "victim_name": victim.name or "Name not given",
        "channel": CHANNEL_WORDS.get((victim.preferred_channel or "").upper(), "Not said"),
        "language": _language_name(victim.language or "en"),
        "contact_notes": notes or "None recorded",
        "safety": ", ".join(flags) or "None recorded",
        "safe_contact": safe_words,
        "safety_tone": "bad" if sensitive and not safe else ("good" if safe else "neutral"),
    }


def _contexts(session: Session, victim_ids: set[int]) -> tuple[dict[int, Victim], dict[int, VictimContactState]]:
    if not victim_ids:
        return {}, {}
    victims = {v.id: v for v in session.exec(select(Victim).where(Victim.id.in_(victim_ids)))}
    states = {s.victim_id: s for s in session.exec(select(VictimContactState).where(
        VictimContactState.victim_id.in_(victim_ids)))}
    return victims, states


def _due_words(due: Optional[datetime], now: datetime) -> tuple[str, str]:
    """(words, tone) for a deadline: overdue in red words, today in amber, else neutral."""
    if due is None:
        return "No deadline", "neutral"
    if due < now:
        return f"Overdue: was due {_when(due)}", "bad"
    if _when(due)[:15] == _when(now)[:15]:
        return f"Due today, {_when(due)[-5:]}", "warn"
    return f"Due {_when(due)}", "neutral"


def inbox(session: Session, actor: Actor, now: datetime) -> dict:
    """The signed-in officer's inbox: {"conversations", "tasks", "duties", "counts"} (see the module's note)."""
    collars = own_collars(session, actor)
    cases = own_cases(session, actor, collars)
    case_ids = list(cases)
    links = list(session.exec(select(CaseVictim).where(CaseVictim.occurrence_id.in_(case_ids)))) if case_ids else []
    link_by_id = {cv.id: cv for cv in links}
    unread: dict[int, tuple[int, datetime]] = {}
    if link_by_id:
        for cv_id, count, first in session.exec(
                select(PortalMessage.case_victim_id, func.count(), func.min(PortalMessage.created_at))
                .where(PortalMessage.case_victim_id.in_(list(link_by_id)), PortalMessage.author == "victim",
                       PortalMessage.read_by_officer_at.is_(None))
                .group_by(PortalMessage.case_victim_id)):
            unread[cv_id] = (count, first)
    # A task a supervisor gave to the officer (rxapp/supervision) carries the collar number as the account spells
    # it, even when the officer is in charge of no case yet.
    own = (getattr(actor, "collar_number", "") or "").strip()
    assignees = sorted(set(collars) | ({own} if own else set()))
    conditions = [Task.assignee.in_(assignees)] if assignees else []
    if case_ids:
        conditions.append(Task.occurrence_id.in_(case_ids))
    tasks: list[Task] = []
    if conditions:
        tasks = list(session.exec(select(Task).where(Task.status == TaskStatus.OPEN, or_(*conditions))
                                  .order_by(Task.due_at.is_(None), Task.due_at, Task.id).limit(TASK_LIMIT)))
    # A task on a case the account may no longer read (moved to another team) is not shown.
    tasks = [t for t in tasks if t.occurrence_id is None or t.occurrence_id in cases
             or _readable(session, actor, t.occurrence_id)]
    horizon = code().calendar().add_working_days(now, DUTY_HORIZON_WORKING_DAYS)
    duties = list(session.exec(select(Duty).where(Duty.occurrence_id.in_(case_ids), Duty.state.in_(OPEN_DUTY_STATES),
                                                  Duty.due_at <= horizon,
                                                  or_(Duty.held_until.is_(None), Duty.held_until <= now))
                               .order_by(Duty.due_at, Duty.id))) if case_ids else []
    victim_ids = {cv.victim_id for cv in links} | {t.victim_id for t in tasks if t.victim_id} \
        | {d.victim_id for d in duties}
    victims, states = _contexts(session, victim_ids)
    occ_of = {**cases}
    missing = {t.occurrence_id for t in tasks if t.occurrence_id and t.occurrence_id not in occ_of}
    if missing:
        occ_of.update({o.id: o for o in session.exec(select(Occurrence).where(Occurrence.id.in_(missing)))})

    def context(victim_id: Optional[int], occ: Optional[Occurrence]) -> dict:
        return victim_context(victims.get(victim_id) if victim_id else None, states.get(victim_id), occ)

    def case_words(occ: Optional[Occurrence]) -> dict:
        if occ is None:
            return {"occurrence_number": "", "case": "Not on a case", "classification": ""}
        return {"occurrence_number": occ.occurrence_number,
                "case": occ.crime_reference or occ.occurrence_number,
                "classification": occ.classification_text or occ.classification_code}

    reply_task = {}
    for t in tasks:
        if t.kind in REPLY_KINDS and t.occurrence_id in cases:
            key = (t.occurrence_id, t.victim_id)
            if key not in reply_task or (t.due_at and reply_task[key].due_at and t.due_at < reply_task[key].due_at):
                reply_task[key] = t
    conversations = []
    for cv in links:
        waiting = unread.get(cv.id)
        task = reply_task.get((cv.occurrence_id, cv.victim_id))
        if not waiting and task is None:
            continue
        occ = cases[cv.occurrence_id]
        due = task.due_at if task else None
        due_text, tone = _due_words(due, now)
        count = waiting[0] if waiting else 0
        conversations.append({
            "case_victim_id": str(cv.id), **case_words(occ), **context(cv.victim_id, occ),
            "unread": str(count), "unread_words": f"{count} unread" if count else "Read, reply still owed",
            "first_unread": _when(waiting[1]) if waiting else "",
            "reply_by": due_text if task else "No reply owed", "tone": tone if task else "neutral",
            "_sort": (0 if due and due < now else 1, due or datetime.max.replace(tzinfo=now.tzinfo), cv.id),
        })
    conversations.sort(key=lambda row: row.pop("_sort"))
    task_rows = []
    for t in tasks:
        occ = occ_of.get(t.occurrence_id) if t.occurrence_id else None
        due_text, tone = _due_words(t.due_at, now)
        task_rows.append({
            "id": str(t.id), "title": t.title, "detail": with_template_labels(t.detail), "due": due_text, "tone": tone,
            "escalated": "Escalated" if t.escalated_at else "",
            **case_words(occ), **context(t.victim_id, occ),
            "_sort": (0 if t.due_at and t.due_at < now else 1, t.due_at is None,
                      t.due_at or now, t.id),
        })
    task_rows.sort(key=lambda row: row.pop("_sort"))
    duty_rows = []
    for d in duties:
        occ = cases[d.occurrence_id]
        due_text, tone = _due_words(d.due_at, now)
        duty_rows.append({"id": str(d.id), "title": d.title, "right": f"Right {d.right}", "due": due_text,
                          "tone": tone, "with_person": "A task is open for it" if d.state == "handed" else
                          "Automation will send it", **case_words(occ), **context(d.victim_id, occ)})
    overdue = sum(1 for r in task_rows if r["tone"] == "bad")
    return {"conversations": conversations, "tasks": task_rows, "duties": duty_rows,
            "counts": {"unread": str(sum(c for c, _ in unread.values())), "conversations": str(len(conversations)),
                       "tasks": str(len(task_rows)), "overdue": str(overdue), "duties": str(len(duty_rows)),
                       "cases": str(len(cases))}}


def _readable(session: Session, actor: Actor, occurrence_id: Optional[int]) -> bool:
    occ = session.get(Occurrence, occurrence_id) if occurrence_id else None
    return occ is not None and may(actor, Permission.READ_CASE,
                                   CaseFacts(oic_collar=occ.oic_collar, oic_team=occ.oic_team))
