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
from datetime import date, datetime, timezone
from typing import Iterable, Optional

import sqlalchemy as sa
from sqlmodel import Session, func, select

from rxapp.attendance.models import Incident
from rxapp.compliance.models import DailyCount
from rxapp.domain import compliance as rules
from rxapp.investigation.models import CaseVictim, Duty, Occurrence
from rxapp.messaging.models import InboundText, Message
from rxapp.portal.models import Feedback, PortalMessage, PortalSession
from rxapp.staff.permissions import CaseFacts, Permission, Reach, may, normalise_team, reach, teams_of
from rxapp.victims.models import Victim


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


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
    """Owed duties alike in everything the measures split on (no victim's details), and how many."""

    measure: str
    milestone: str
    outcome: str
    entitlement: str
    category: str
    age: str
    reasons: tuple[str, ...]
    count: int = 1

    def groups(self, split: str) -> tuple[str, ...]:
        """The groups these duties fall in under `split` (several for enhanced reasons, none when standard)."""
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


def _outcome_sql(now: datetime):
    """`rules.outcome_of` as SQL, so the database counts (a year of a force's duties is too many rows to ship)."""
    declined = sa.or_(*[Duty.done_how.like(words + "%") for words in rules.DECLINED_WORDS])
    return sa.case(
        (sa.and_(Duty.state == "done", declined), rules.DECLINED),
        (sa.and_(Duty.state == "done", sa.or_(Duty.done_at.is_(None), Duty.done_at <= Duty.due_at)),
         rules.MET_ON_TIME),
        (Duty.state == "done", rules.MET_LATE),
        (Duty.due_at > now, rules.NOT_YET_DUE),
        (Duty.state == "handed", rules.WITH_PERSON),
        else_=rules.STILL_DUE)


def _age_sql(session: Session):
    """(bucket, edge birth date, edge report time): whether the victim was under 18 on the London date of the
    report. The database decides every victim whose birthday is more than a day from the boundary, from the
    report's UTC date (converting every row to London time costs more than the rest of the query); the few
    within a day ("edge") are decided in Python by `rules.under_18_at`, from the birth date and report time the
    query returns for them only."""
    dob = Victim.date_of_birth

    def eighteen_years_before(days: int):
        if session.get_bind().dialect.name == "sqlite":
            return func.date(Occurrence.reported_at, "-18 years", f"{days:+d} days")
        return sa.cast(sa.cast(Occurrence.reported_at, sa.Date) - sa.text("INTERVAL '18 years'")
                       + sa.text(f"INTERVAL '{days} days'"), sa.Date)

    bucket = sa.case((dob.is_(None), "unknown"), (dob < eighteen_years_before(-1), "adult"),
                     (dob > eighteen_years_before(1), "under"), else_="edge")
    edge = bucket == "edge"
    return bucket, sa.case((edge, dob), else_=None), sa.case((edge, Occurrence.reported_at), else_=None)


def _duty_query(session: Session, actor, period: rules.Period, *extra, now: datetime):
    visible = scope(session, actor)
    age, edge_dob, edge_reported = _age_sql(session)
    outcome = _outcome_sql(now)
    enhanced = func.coalesce(CaseVictim.enhanced, False)
    keys = (Duty.milestone, outcome, enhanced, sa.case((enhanced, CaseVictim.enhanced_reasons), else_=""),
            Occurrence.classification_code, Occurrence.classification_text, Occurrence.flags, age, edge_dob,
            edge_reported)
    q = (select(*keys, *extra)
         .join(Occurrence, Occurrence.id == Duty.occurrence_id)
         .join(Victim, Victim.id == Duty.victim_id)
         .outerjoin(CaseVictim, sa.and_(CaseVictim.occurrence_id == Duty.occurrence_id,
                                        CaseVictim.victim_id == Duty.victim_id))
         .where(Duty.due_at >= period.starts, Duty.due_at < period.ends, Duty.state != "cancelled", visible))
    # PostgreSQL's query has no edge columns (NULL): it may not group by a constant.
    return q, [k for k in keys if not isinstance(k, sa.sql.elements.Null)], outcome


def _fact(milestone, outcome, enhanced, reasons, code, text, flags, age, edge_dob, edge_reported, count,
          category_of: dict) -> DutyFact:
    key = (code or "", text or "", flags or "")
    if key not in category_of:
        category_of[key] = rules.crime_category(*key)
    if age == "edge":
        reported = edge_reported if edge_reported.tzinfo else edge_reported.replace(tzinfo=timezone.utc)
        group = rules.age_group(edge_dob, reported)
    else:
        group = {"unknown": rules.AGE_UNKNOWN, "adult": rules.ADULT, "under": rules.UNDER_18}[age]
    return DutyFact(measure=rules.measure_of(milestone), milestone=milestone, outcome=outcome,
                    entitlement=rules.entitlement(bool(enhanced)), category=category_of[key], age=group,
                    reasons=tuple(rules.enhanced_reasons(reasons or "")) if enhanced else (), count=count)


def owed_duties(session: Session, actor, period: rules.Period, now: Optional[datetime] = None) -> list[DutyFact]:
    """The duties owed in the period (deadline in it, not cancelled) on cases `actor` may see figures of,
    counted by the database in groups alike in everything the measures split on."""
    q, keys, _ = _duty_query(session, actor, period, func.count(), now=now or _utcnow())
    if session.get_bind().dialect.name == "postgresql":
        # A quarter of a force's duties is some 150,000 rows into a few hundred groups: with the default 4 MB
        # PostgreSQL sorts them on disk (1.5 s measured, bench/compliance.py); with room it hashes them.
        session.exec(sa.text("SET LOCAL work_mem = '64MB'"))
    category_of: dict = {}
    return [_fact(*row, category_of=category_of) for row in session.exec(q.group_by(*keys))]


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
        on_time = rules.on_time_share(self.counts)
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
            row.counts[fact.outcome] += fact.count
    order = {m: i for i, m in enumerate(rules.MEASURE_ORDER)}
    return [r.as_dict() for r in sorted(rows.values(), key=lambda r: (
        order.get(r.measure, 99) if split == "measure" else r.group, order.get(r.measure, 99), r.group))]


def measures(session: Session, actor, period: rules.Period, now: Optional[datetime] = None) -> dict[str, list[dict]]:
    """Every split's table, from one read of the owed duties, as they stand at `now`."""
    facts = owed_duties(session, actor, period, now)
    return {split: measure_table(facts, split) for split in SPLITS}


def cases_behind(session: Session, actor, period: rules.Period, *, split: str, group: str, measure: str,
                 outcome: str = "", now: Optional[datetime] = None) -> tuple[list[str], int]:
    """The occurrence numbers behind one figure that `actor` may open (`read_case`, asked per case), and how
    many cases are behind it in all (-1 for a person who reads no case: they are told so, not counted for).
    `outcome` "" means every owed duty of the row."""
    if split not in SPLITS or (outcome and outcome not in rules.OUTCOMES) or measure not in rules.MEASURE_ORDER:
        return [], 0
    if reach(actor, Permission.READ_CASE) is None:
        scope(session, actor)  # still refused outright without read_compliance
        return [], -1
    q, _, outcome_sql = _duty_query(session, actor, period, Occurrence.occurrence_number, Occurrence.oic_collar,
                                    Occurrence.oic_team, Occurrence.incident_id, now=now or _utcnow())
    named = [m for m in rules.MEASURES if m != "routine_update"] + ["routine_update"]
    q = q.where(Duty.milestone == measure) if measure in named else q.where(Duty.milestone.not_in(named))
    if outcome:
        q = q.where(outcome_sql == outcome)
    category_of: dict = {}
    behind: dict[str, tuple] = {}
    for row in session.exec(q.distinct()):
        if group in _fact(*row[:10], 1, category_of=category_of).groups(split):
            behind[row[10]] = row[11:]
    if not behind:
        return [], 0
    live = set(session.exec(select(Incident.id).where(
        Incident.id.in_([i for _, _, i in behind.values() if i]), Incident.is_open == True)))  # noqa: E712
    readable = sorted(number for number, (collar, team, incident) in behind.items()
                      if may(actor, Permission.READ_CASE,
                             CaseFacts(oic_collar=collar, oic_team=team, incident_open=incident in live)))
    return readable[:CASES_LIMIT], len(behind)


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
    """Rows counted by London month of `column` within the conditions. The database counts by UTC hour (London
    is a whole number of hours from UTC, so an hour never straddles a London month) and Python turns hours into
    months."""
    if session.get_bind().dialect.name == "sqlite":
        hour = func.strftime("%Y-%m-%d %H:00:00", column)
    else:
        hour = func.date_trunc("hour", column)
    counts: Counter = Counter()
    for at, n in session.exec(select(hour, func.count()).where(*conditions).group_by(hour)):
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        counts[rules.london_month(at.replace(tzinfo=timezone.utc))] += n
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
