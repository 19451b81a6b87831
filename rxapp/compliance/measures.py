"""The compliance view's read models: the Victims' Code measures, demand and feedback, computed from the tables.

Every function takes a session, the signed-in member of staff and the period, and answers only within what
`read_compliance` lets that person see: a supervisor their teams' cases, an administrator or the Police and
Crime Commissioner's office the force. Figures carry no victim's details; the cases behind a figure are
listed only where the person may read the case itself (`read_case`).

The measures count duties (`Duty` rows: each victim is owed their own) whose deadline falls in the period;
`rxapp/domain/compliance.py` says which measure a duty counts towards and what became of it.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Optional

import sqlalchemy as sa
from sqlmodel import Session, select

from rxapp.attendance.models import Incident
from rxapp.compliance.models import DailyCount
from rxapp.domain import compliance as rules
from rxapp.investigation.models import CaseVictim, Duty, Occurrence
from rxapp.messaging.models import InboundText, Message
from rxapp.portal.models import Feedback, PortalMessage, PortalSession
from rxapp.staff.permissions import CaseFacts, Permission, Reach, may, normalise_team, reach, teams_of
from rxapp.victims.models import Victim

CASES_LIMIT = 200  # the cases behind one figure shown at once
SPLITS = ("measure", "milestone", "category", "age", "entitlement", "reason")
SPLIT_WORDS = {"measure": "Measure", "milestone": "Update by milestone", "category": "Crime category",
               "age": "Age at the offence", "entitlement": "Entitlement", "reason": "Enhanced because"}


class NotAllowed(Exception):
    """The person may not see compliance figures at all."""


# ---- who sees which cases --------------------------------------------------------------------------------

def scope(session: Session, actor) -> Optional[sa.ColumnElement]:
    """A condition on Occurrence for the cases whose figures `actor` may see; raises NotAllowed when none."""
    how_far = reach(actor, Permission.READ_COMPLIANCE)
    if how_far is Reach.ANYWHERE:
        return sa.true()
    if how_far is Reach.TEAM:
        wanted = teams_of(actor)
        # Teams are spelt as the records system spells them: match them as the access rule does.
        stored = [t for t in session.exec(select(Occurrence.oic_team).distinct().where(
            Occurrence.oic_team.is_not(None))) if normalise_team(t) in wanted]
        return Occurrence.oic_team.in_(stored) if stored else sa.false()
    raise NotAllowed()


def scope_words(actor) -> str:
    if reach(actor, Permission.READ_COMPLIANCE) is Reach.ANYWHERE:
        return "the whole force"
    teams = [t.strip() for t in (actor.team or "").split(";") if t.strip()]
    return "cases held by " + (", ".join(teams) if teams else "no team (your account names none)")


# ---- the Code's measures ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DutyFact:
    """One owed duty, reduced to what the measures split on (no victim's details)."""

    occurrence_id: int
    occurrence_number: str
    measure: str
    milestone: str
    outcome: str
    entitlement: str
    category: str
    age: str
    reasons: tuple[str, ...]

    def groups(self, split: str) -> tuple[str, ...]:
        """The groups this duty falls in under `split` (several for enhanced reasons, none when standard)."""
        if split == "measure":
            return (rules.measure_words(self.measure),)
        if split == "milestone":
            return (rules.milestone_words(self.milestone),) if self.measure == "updates" else ()
        if split == "category":
            return (self.category,)
        if split == "age":
            return (self.age,)
        if split == "entitlement":
            return (self.entitlement,)
        if split == "reason":
            return self.reasons
        raise ValueError(split)


def owed_duties(session: Session, actor, period: rules.Period) -> list[DutyFact]:
    """The duties owed in the period (deadline in it, not cancelled) on cases `actor` may see figures of."""
    visible = scope(session, actor)
    q = (select(Duty.occurrence_id, Occurrence.occurrence_number, Duty.milestone, Duty.state, Duty.due_at,
                Duty.done_at, Duty.done_how, CaseVictim.enhanced, CaseVictim.enhanced_reasons,
                Occurrence.classification_code, Occurrence.classification_text, Occurrence.flags,
                Occurrence.reported_at, Victim.date_of_birth)
         .join(Occurrence, Occurrence.id == Duty.occurrence_id)
         .join(Victim, Victim.id == Duty.victim_id)
         .outerjoin(CaseVictim, sa.and_(CaseVictim.occurrence_id == Duty.occurrence_id,
                                        CaseVictim.victim_id == Duty.victim_id))
         .where(Duty.due_at >= period.starts, Duty.due_at < period.ends, Duty.state != "cancelled", visible))
    facts = []
    category_of: dict[tuple[str, str, str], str] = {}
    for (occ_id, number, milestone, state, due_at, done_at, done_how, enhanced, reasons, code, text, flags,
         reported_at, dob) in session.exec(q):
        outcome = rules.outcome_of(state=state, due_at=due_at, done_at=done_at, done_how=done_how)
        if outcome is None:
            continue
        key = (code or "", text or "", flags or "")
        if key not in category_of:
            category_of[key] = rules.crime_category(*key)
        facts.append(DutyFact(
            occurrence_id=occ_id, occurrence_number=number, measure=rules.measure_of(milestone),
            milestone=milestone, outcome=outcome, entitlement=rules.entitlement(bool(enhanced)),
            category=category_of[key], age=rules.age_group(dob, reported_at),
            reasons=tuple(rules.enhanced_reasons(reasons or "")) if enhanced else ()))
    return facts


@dataclass
class MeasureRow:
    split: str
    group: str
    measure: str
    counts: Counter = field(default_factory=Counter)

    @property
    def owed(self) -> int:
        return sum(self.counts[o] for o in rules.OUTCOMES)

    def as_dict(self) -> dict:
        on_time = rules.rate(self.counts[rules.MET_ON_TIME] + self.counts[rules.DECLINED], self.owed)
        return {"split": SPLIT_WORDS[self.split], "split_key": self.split, "group": self.group,
                "measure": rules.measure_words(self.measure), "measure_key": self.measure,
                "owed": self.owed, **{o: self.counts[o] for o in rules.OUTCOMES},
                "on_time_percent": "" if on_time is None else f"{on_time:.0%}"}


def measure_table(facts: Iterable[DutyFact], split: str) -> list[dict]:
    """One row per group of `split` and measure (for the measure split: one per measure, then the total for
    the standard and enhanced entitlement of each), with the count of each outcome."""
    rows: dict[tuple[str, str], MeasureRow] = {}
    for fact in facts:
        for group in fact.groups(split):
            row = rows.setdefault((group, fact.measure), MeasureRow(split, group, fact.measure))
            row.counts[fact.outcome] += 1
    order = {m: i for i, m in enumerate(rules.MEASURE_ORDER)}
    return [r.as_dict() for r in sorted(rows.values(), key=lambda r: (
        order.get(r.measure, 99) if split == "measure" else r.group, order.get(r.measure, 99), r.group))]


def measures(session: Session, actor, period: rules.Period) -> dict[str, list[dict]]:
    """Every split's table, from one read of the owed duties."""
    facts = owed_duties(session, actor, period)
    return {split: measure_table(facts, split) for split in SPLITS}


def cases_behind(session: Session, actor, period: rules.Period, *, split: str, group: str, measure: str,
                 outcome: str = "") -> tuple[list[str], int]:
    """The occurrence numbers behind one figure that `actor` may open (`read_case`, asked per case), and how
    many cases are behind it in all. `outcome` "" means every owed duty of the row."""
    if split not in SPLITS or (outcome and outcome not in rules.OUTCOMES):
        return [], 0
    numbers = sorted({f.occurrence_number for f in owed_duties(session, actor, period)
                      if f.measure == measure and group in f.groups(split) and (not outcome or f.outcome == outcome)})
    if not numbers:
        return [], 0
    readable = []
    if reach(actor, Permission.READ_CASE) is not None:
        occurrences = session.exec(select(Occurrence.occurrence_number, Occurrence.oic_collar, Occurrence.oic_team,
                                          Occurrence.incident_id)
                                   .where(Occurrence.occurrence_number.in_(numbers))).all()
        live = set(session.exec(select(Incident.id).where(
            Incident.id.in_([o[3] for o in occurrences if o[3]]), Incident.is_open == True)))  # noqa: E712
        readable = sorted(number for number, collar, team, incident in occurrences
                          if may(actor, Permission.READ_CASE,
                                 CaseFacts(oic_collar=collar, oic_team=team, incident_open=incident in live)))
    return readable[:CASES_LIMIT], len(numbers)


# ---- demand ----------------------------------------------------------------------------------------------

DEMAND_COLUMNS = ("tracking_visits", "attendance_texts_delivered", "case_updates_delivered", "portal_sign_ins",
                  "portal_messages_from_victims", "portal_messages_from_officers", "replies_by_text",
                  "calls_avoided")
DEMAND_WORDS = {
    "tracking_visits": "Tracking page visits",
    "attendance_texts_delivered": "Attendance texts delivered",
    "case_updates_delivered": "Case updates delivered",
    "portal_sign_ins": "Portal sign-ins",
    "portal_messages_from_victims": "Portal messages from victims",
    "portal_messages_from_officers": "Portal messages from officers",
    "replies_by_text": "Replies by text",
    "calls_avoided": "101 calls avoided (estimate)",
}


def _by_month(session: Session, column, *conditions) -> Counter:
    """Rows counted by London month of `column` within the conditions."""
    counts: Counter = Counter()
    for at in session.exec(select(column).where(*conditions)):
        counts[rules.london_month(at)] += 1
    return counts


def _months(period: rules.Period) -> list[str]:
    months, day = [], period.first_day.replace(day=1)
    while day <= period.last_day:
        months.append(f"{day:%Y-%m}")
        day = date(day.year + (day.month == 12), 1 if day.month == 12 else day.month + 1, 1)
    return months


def demand(session: Session, actor, period: rules.Period, calls: rules.CallsAvoided) -> list[dict]:
    """Demand by London month, force-wide (counts only: an attendance comes before any case or team).
    Raises NotAllowed for a person without `read_compliance`."""
    scope(session, actor)
    starts, ends = period.starts, period.ends
    delivered = sa.and_(Message.status == "delivered", Message.delivered_at >= starts, Message.delivered_at < ends)
    in_period = lambda col: (col >= starts, col < ends)  # noqa: E731
    columns = {
        "tracking_visits": tracking_visits_by_month(session, period),
        "attendance_texts_delivered": _by_month(session, Message.delivered_at, delivered,
                                                Message.kind == "attendance", Message.channel == "sms"),
        "case_updates_delivered": _by_month(session, Message.delivered_at, delivered,
                                            Message.occurrence_id.is_not(None)),
        "portal_sign_ins": _by_month(session, PortalSession.created_at, *in_period(PortalSession.created_at)),
        "portal_messages_from_victims": _by_month(session, PortalMessage.created_at, PortalMessage.author == "victim",
                                                  *in_period(PortalMessage.created_at)),
        "portal_messages_from_officers": _by_month(session, PortalMessage.created_at,
                                                   PortalMessage.author == "officer",
                                                   *in_period(PortalMessage.created_at)),
        "replies_by_text": _by_month(session, InboundText.received_at, InboundText.handled_as == "reply",
                                     *in_period(InboundText.received_at)),
    }
    rows = []
    for month in _months(period) + ["Total"]:
        row = {"month": month}
        for name, counts in columns.items():
            row[name] = sum(counts.values()) if month == "Total" else counts.get(month, 0)
        row["calls_avoided"] = calls.estimate(row["attendance_texts_delivered"] + row["case_updates_delivered"],
                                              row["portal_sign_ins"])
        rows.append(row)
    return rows


def tracking_visits_by_month(session: Session, period: rules.Period) -> Counter:
    """Visits to victims' tracking pages by month, from the daily counter (no link or address is kept)."""
    counts: Counter = Counter()
    q = select(DailyCount.day, DailyCount.count).where(
        DailyCount.name == "tracking_visit", DailyCount.day >= period.first_day, DailyCount.day <= period.last_day)
    for day, count in session.exec(q):
        counts[f"{day:%Y-%m}"] += count
    return counts


# ---- feedback --------------------------------------------------------------------------------------------

def feedback(session: Session, actor, period: rules.Period) -> list[dict]:
    """Survey answers by London month of answering: how many, how many declined, average scores (1 to 5).
    A supervisor's cover their teams' cases; an attendance's survey (no case yet) counts force-wide only."""
    visible = scope(session, actor)
    force_wide = reach(actor, Permission.READ_COMPLIANCE) is Reach.ANYWHERE
    q = (select(Feedback.answered_at, Feedback.declined, Feedback.informed_score, Feedback.overall_score)
         .where(Feedback.answered_at >= period.starts, Feedback.answered_at < period.ends))
    if not force_wide:
        q = q.join(Occurrence, Occurrence.id == Feedback.occurrence_id).where(visible)
    by_month: dict[str, list] = defaultdict(list)
    for row in session.exec(q):
        by_month[rules.london_month(row[0])].append(row)
    out = []
    for month in _months(period) + ["Total"]:
        rows = [r for m in by_month for r in by_month[m]] if month == "Total" else by_month.get(month, [])
        informed = [r[2] for r in rows if not r[1] and r[2] is not None]
        overall = [r[3] for r in rows if not r[1] and r[3] is not None]
        out.append({"month": month, "answered": sum(1 for r in rows if not r[1]),
                    "declined": sum(1 for r in rows if r[1]),
                    "informed_average": f"{sum(informed) / len(informed):.2f}" if informed else "",
                    "overall_average": f"{sum(overall) / len(overall):.2f}" if overall else "",
                    "informed_count": len(informed), "overall_count": len(overall)})
    return out
