"""The team page's read model: what a supervisor sees of their team(s), as plain dicts of strings.

"The team" is decided from the account, never from what the page sends: the open cases held by the supervisor's
team(s) (`permissions.teams_of`; the records system's spelling and spacing of a team vary), each kept only if
`rxapp/staff/permissions.py` lets the account read it. From those:
- the queue: the open tasks on those cases, escalated ones first, then overdue, then by deadline (undated
  last), each with its case, the victim's name, the officer it is with and its deadline in words;
- the team's officers: the accounts that name one of the teams and have a collar number, and every collar
  number the records system names as officer in charge of one of the team's open cases; for each, their open
  cases, open tasks, overdue tasks, and whether they are over their load (more open cases than
  TEAM_CASELOAD_LIMIT);
- the notices sent to the supervisor when a task escalated (`notices.py`), unread first;
- the cases reassigned here lately, and whether the records system (NICHE, the master of the officer in charge)
  has made the same change since, or named someone else.
Times are shown in London time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlmodel import Session, select

from rxapp.domain.journey import when_words
from rxapp.domain.statuses import StaffRole, TaskStatus
from rxapp.inbox.views import _due_words as due_words  # one way of saying a deadline, on both pages
from rxapp.investigation.models import Occurrence, OccurrenceEvent
from rxapp.plumbing.config import settings
from rxapp.staff.models import StaffUser
from rxapp.staff.permissions import (
    Actor,
    CaseFacts,
    Permission,
    holds,
    may,
    normalise_collar,
    normalise_team,
    teams_of,
)
from rxapp.supervision import notices as notice_store
from rxapp.supervision.models import Reassignment
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim

TASK_LIMIT = 500
REASSIGNED_DAYS = 30  # how long a reassignment made here stays listed with what NICHE did since
TEAM_MARKER = "team:"  # the change id of a reassignment made here, on the case's timeline (service.py)


class NotAllowed(Exception):
    """The account may not use the team page."""


@dataclass
class Officer:
    key: str  # the collar number, normalised: what the page sends back
    collar: str  # as the records system (or the account) spells it
    name: str = ""
    email: Optional[str] = None
    has_account: bool = False

    @property
    def label(self) -> str:
        """'PC 4127 Sam Officer': the collar number, then the name (a rank the name repeats said once)."""
        if not self.name or self.collar in self.name:
            return self.name or self.collar
        rank, _, rest = self.name.partition(" ")
        name = rest if rest and rank.upper() == self.collar.split(" ")[0].upper() else self.name
        return f"{self.collar} {name}"


def stored_teams(session: Session, wanted: Iterable[str]) -> list[str]:
    """The spellings of `wanted` (normalised team names) among open cases' teams."""
    wanted = frozenset(wanted)
    if not wanted:
        return []
    stored = session.exec(select(Occurrence.oic_team).distinct().where(Occurrence.status == "open",
                                                                       Occurrence.oic_team.is_not(None)))
    return [value for value in stored if normalise_team(value) in wanted]


def team_cases(session: Session, actor: Actor) -> dict[int, Occurrence]:
    """The open cases of the actor's team(s) that the actor may read, by id."""
    teams = stored_teams(session, teams_of(actor))
    if not teams:
        return {}
    rows = session.exec(select(Occurrence).where(Occurrence.status == "open", Occurrence.oic_team.in_(teams)))
    return {o.id: o for o in rows
            if may(actor, Permission.READ_CASE, CaseFacts(oic_collar=o.oic_collar, oic_team=o.oic_team))}


def _strip_collar(display_name: str, collar: str) -> str:
    """'PC 1234 Test Officer' -> 'Test Officer' (an account's display name often starts with the collar)."""
    name = (display_name or "").strip()
    if collar and normalise_collar(name[:len(collar)]) == normalise_collar(collar):
        name = name[len(collar):].strip()
    return name


def team_officers(session: Session, teams: frozenset[str], cases: Iterable[Occurrence]) -> dict[str, Officer]:
    """The officers of `teams` (normalised names): accounts naming one of them, and officers in charge of the
    given cases. Keyed by normalised collar number; the records system's spelling wins."""
    found: dict[str, Officer] = {}
    for occ in sorted(cases, key=lambda o: o.id):
        key = normalise_collar(occ.oic_collar)
        if key and key not in found:
            found[key] = Officer(key=key, collar=occ.oic_collar.strip(), name=(occ.oic_name or "").strip(),
                                 email=occ.oic_email)
    if teams:
        accounts = session.exec(select(StaffUser).where(
            StaffUser.active == True,  # noqa: E712
            StaffUser.role.in_((str(StaffRole.OFFICER), str(StaffRole.SUPERVISOR))),
            StaffUser.collar_number.is_not(None)))
        for account in accounts:
            key = normalise_collar(account.collar_number)
            if not key or not (teams_of(account) & teams):
                continue
            officer = found.setdefault(key, Officer(key=key, collar=account.collar_number.strip()))
            officer.has_account = True
            officer.name = officer.name or _strip_collar(account.display_name, account.collar_number)
    return found


def officers_of_case_team(session: Session, occurrence: Occurrence) -> dict[str, Officer]:
    """The officers a case may be given to: those of the team that holds it."""
    team = normalise_team(occurrence.oic_team)
    if not team:
        return {}
    spellings = stored_teams(session, {team})
    cases = list(session.exec(select(Occurrence).where(Occurrence.status == "open",
                                                       Occurrence.oic_team.in_(spellings)))) if spellings else []
    return team_officers(session, frozenset({team}), [*cases, occurrence])


def _case_words(occ: Optional[Occurrence]) -> dict[str, str]:
    if occ is None:
        return {"occurrence_number": "", "case": "Not on a case", "classification": ""}
    return {"occurrence_number": occ.occurrence_number, "case": occ.crime_reference or occ.occurrence_number,
            "classification": occ.classification_text or occ.classification_code}


def _officer_words(officers: dict[str, Officer], collar: Optional[str]) -> str:
    key = normalise_collar(collar)
    if not key:
        return "No one"
    officer = officers.get(key)
    return officer.label if officer else (collar or "").strip()


def _victim_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {v.id: v.name or "Name not given" for v in session.exec(select(Victim).where(Victim.id.in_(ids)))}


def _load_rows(officers: dict[str, Officer], cases: dict[int, Occurrence], tasks: list[Task], now: datetime,
               limit: int) -> list[dict[str, str]]:
    open_cases: dict[str, int] = {}
    for occ in cases.values():
        key = normalise_collar(occ.oic_collar)
        open_cases[key] = open_cases.get(key, 0) + 1
    open_tasks: dict[str, int] = {}
    overdue: dict[str, int] = {}
    for t in tasks:
        key = normalise_collar(t.assignee)
        open_tasks[key] = open_tasks.get(key, 0) + 1
        if t.due_at is not None and t.due_at < now:
            overdue[key] = overdue.get(key, 0) + 1
    rows = []
    for key, officer in officers.items():
        count = open_cases.get(key, 0)
        over = count > limit
        rows.append({
            "key": key, "officer": officer.label, "cases": str(count), "tasks": str(open_tasks.get(key, 0)),
            "overdue": str(overdue.get(key, 0)),
            "load": f"Over their load: {count} cases, limit {limit}" if over else f"Within load (limit {limit})",
            "over": "yes" if over else "",
            "account": "" if officer.has_account else "No account here",
            "_sort": (not over, -count, -overdue.get(key, 0), officer.label),
        })
    rows.sort(key=lambda r: r.pop("_sort"))
    return rows


def _reassigned(session: Session, cases: dict[int, Occurrence], officers: dict[str, Officer],
                now: datetime) -> list[dict[str, str]]:
    """The cases reassigned here in the last REASSIGNED_DAYS, newest first, each with what NICHE did since."""
    if not cases:
        return []
    rows = list(session.exec(select(Reassignment).where(
        Reassignment.kind == "case", Reassignment.occurrence_id.in_(list(cases)),
        Reassignment.at >= now - timedelta(days=REASSIGNED_DAYS)).order_by(Reassignment.at.desc(),
                                                                            Reassignment.id.desc())))
    latest: dict[int, Reassignment] = {}
    for row in rows:
        latest.setdefault(row.occurrence_id, row)
    out = []
    for row in latest.values():
        occ = cases[row.occurrence_id]
        ours = session.exec(select(OccurrenceEvent.id).where(
            OccurrenceEvent.occurrence_id == occ.id, OccurrenceEvent.change_id == f"{TEAM_MARKER}{row.id}")).first()
        later = session.exec(select(OccurrenceEvent.id).where(
            OccurrenceEvent.occurrence_id == occ.id, OccurrenceEvent.kind == "oic_changed",
            OccurrenceEvent.id > (ours or 0), ~OccurrenceEvent.change_id.startswith(TEAM_MARKER))).first()
        if normalise_collar(occ.oic_collar) != normalise_collar(row.to_collar):
            status, tone = (f"NICHE has since named {_officer_words(officers, occ.oic_collar)} as officer in "
                            "charge: the case and its open tasks are with them again"), "bad"
        elif later is not None:
            status, tone = "NICHE shows the same officer in charge", "good"
        else:
            status, tone = "Not yet changed in NICHE: make the same change there", "warn"
        out.append({**_case_words(occ), "when": when_words(row.at),
                    "from_officer": _officer_words(officers, row.from_collar),
                    "to_officer": _officer_words(officers, row.to_collar), "by": row.by_username,
                    "status": status, "tone": tone})
    return out


def team_page(session: Session, actor: Actor, now: datetime, officer: str = "") -> dict:
    """Everything the team page shows (see the module's note). Marks the notices shown as read. `officer`: a
    normalised collar number to show only that officer's tasks ("" for all)."""
    if not holds(actor, Permission.REASSIGN_WORK):
        raise NotAllowed()
    wanted = teams_of(actor)
    cases = team_cases(session, actor)
    officers = team_officers(session, wanted, cases.values())
    tasks = list(session.exec(select(Task).where(Task.status == TaskStatus.OPEN,
                                                 Task.occurrence_id.in_(list(cases)))
                              .order_by(Task.escalated_at.is_(None), Task.due_at.is_(None), Task.due_at, Task.id)
                              .limit(TASK_LIMIT))) if cases else []
    names = _victim_names(session, {t.victim_id for t in tasks if t.victim_id})
    chosen = normalise_collar(officer) if normalise_collar(officer) in officers else ""
    queue = []
    for t in tasks:
        if chosen and normalise_collar(t.assignee) != chosen:
            continue
        occ = cases[t.occurrence_id]
        due_text, tone = due_words(t.due_at, now)
        queue.append({
            "id": str(t.id), "title": t.title, **_case_words(occ),
            "victim_name": names.get(t.victim_id, "No victim linked") if t.victim_id else "No victim linked",
            "officer": _officer_words(officers, t.assignee), "officer_key": normalise_collar(t.assignee),
            "team": occ.oic_team or "", "due": due_text, "tone": tone,
            "escalated": f"Escalated {when_words(t.escalated_at)}" if t.escalated_at else "",
            "_sort": (t.escalated_at is None, not (t.due_at is not None and t.due_at < now), t.due_at is None,
                      t.due_at or now, t.id),
        })
    queue.sort(key=lambda row: row.pop("_sort"))
    shown = notice_store.notices_for(session, actor)
    notice_tasks = {t.id: t for t in session.exec(select(Task).where(
        Task.id.in_([n.task_id for n in shown if n.task_id])))} if shown else {}
    notice_rows = []
    for n in shown:
        task, occ = notice_tasks.get(n.task_id), cases.get(n.occurrence_id)
        if task is None or occ is None:  # a case since moved out of the team, or closed: nothing to show of it
            continue
        notice_rows.append({
            "id": str(n.id), "new": "New" if n.read_at is None else "",
            "words": f"Escalated to you: '{task.title}' was not done by its deadline",
            "when": when_words(n.created_at), **_case_words(occ),
            "officer": _officer_words(officers, task.assignee),
            "state": "Still open" if task.status == TaskStatus.OPEN else "Now closed",
        })
    unread = sum(1 for r in notice_rows if r["new"])
    notice_store.mark_read(session, actor, shown, now)
    limit = settings().team.caseload_limit
    load = _load_rows(officers, cases, tasks, now, limit)
    escalated = sum(1 for t in tasks if t.escalated_at)
    overdue = sum(1 for t in tasks if t.due_at is not None and t.due_at < now)
    return {
        "teams": "; ".join(sorted({(o.oic_team or "").strip() for o in cases.values()}))
                 or "; ".join(t.strip() for t in (actor.team or "").split(";") if t.strip()) or "no team",
        "queue": queue, "notices": notice_rows, "load": load,
        "officers": [{"key": o.key, "label": o.label} for o in sorted(officers.values(), key=lambda o: o.label)],
        "cases": [{"occurrence_number": o.occurrence_number,
                   "label": f"{o.crime_reference or o.occurrence_number} · {o.classification_text or ''} · "
                            f"with {_officer_words(officers, o.oic_collar)}"}
                  for o in sorted(cases.values(), key=lambda o: (o.crime_reference or o.occurrence_number))],
        "reassigned": _reassigned(session, cases, officers, now),
        "officer": chosen,
        "counts": {"tasks": str(len(tasks)), "shown": str(len(queue)), "escalated": str(escalated),
                   "overdue": str(overdue), "cases": str(len(cases)), "unread": str(unread),
                   "over_load": str(sum(1 for r in load if r["over"])), "limit": str(limit)},
    }
