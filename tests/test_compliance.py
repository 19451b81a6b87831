"""The compliance view's figures: its rules as a table, and its read models on the real database after the
eight simulated investigations (integrations/niche/investigations.py) are played through the real journey
service, sender and sweep. Every figure is checked against one computed here, independently, from the raw
rows, with the crime categories written out by hand."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
import pytest_asyncio
from sqlmodel import select

from integrations.niche.investigations import investigations
from integrations.niche.protocol import parse_change
from rxapp.compliance import measures as m
from rxapp.compliance.counter import TRACKING_VISIT, count_today
from rxapp.domain import compliance as rules
from rxapp.domain.notifications import DeliveryReceipt
from rxapp.investigation.models import CaseVictim, Duty, Occurrence
from rxapp.messaging.models import InboundText, Message
from rxapp.messaging.receipts import record_receipt
from rxapp.plumbing.db import session_scope
from rxapp.portal.models import Feedback, PortalMessage
from rxapp.staff.accounts import StaffIdentity
from rxapp.victims.models import Victim

from .test_journey_service import notify, play  # noqa: F401  (the fixture is used by name)

UTC = timezone.utc
NOW = datetime(2026, 11, 29, 4, 59, 40, tzinfo=UTC)  # a Sunday, before dawn (as the simulator's own tests)
WIDE = rules.Period(date(2026, 10, 1), date(2027, 3, 31))


def staff(role: str, team: str = "", collar: str = "") -> StaffIdentity:
    return StaffIdentity(9, f"{role}.x", f"{role} X", role, collar_number=collar, team=team)


ADMIN, PCC = staff("admin"), staff("pcc")
MIDDLESBROUGH = staff("supervisor", team="middlesbrough  CID")  # spelt otherwise than the records system
OFFICER, FCR = staff("officer", "Middlesbrough CID", "PC 4127"), staff("fcr")


# ---- the rules ---------------------------------------------------------------------------------------

T = datetime(2026, 11, 2, 12, tzinfo=UTC)


@pytest.mark.parametrize("state,done_at,done_how,expected", [
    ("cancelled", None, None, None),
    ("done", T - timedelta(hours=1), "by text", rules.MET_ON_TIME),
    ("done", T, "by text", rules.MET_ON_TIME),
    ("done", T + timedelta(seconds=1), "by phone", rules.MET_LATE),
    ("done", T + timedelta(days=3), "victim declined", rules.DECLINED),
    ("done", T + timedelta(days=3), "victim objected to a referral", rules.DECLINED),
    ("handed", None, None, rules.WITH_PERSON),
    ("due", None, None, rules.STILL_DUE),
])
def test_what_became_of_a_duty(state, done_at, done_how, expected):
    assert rules.outcome_of(state=state, due_at=T, done_at=done_at, done_how=done_how,
                            now=T + timedelta(seconds=1)) == expected


@pytest.mark.parametrize("state", ["due", "handed"])
def test_an_open_duty_whose_deadline_is_to_come_is_neither_met_nor_missed(state):
    assert rules.outcome_of(state=state, due_at=T, done_at=None, done_how=None,
                            now=T - timedelta(seconds=1)) == rules.NOT_YET_DUE
    # At its deadline it is missed, as the deadline sweep says.
    assert rules.outcome_of(state=state, due_at=T, done_at=None, done_how=None, now=T) != rules.NOT_YET_DUE
    assert rules.outcome_of(state=state, due_at=T, done_at=None, done_how=None,
                            now=T - timedelta(days=2)) == rules.NOT_YET_DUE


def test_the_share_on_time_leaves_out_duties_still_to_come():
    counts = {rules.MET_ON_TIME: 6, rules.DECLINED: 1, rules.MET_LATE: 1, rules.STILL_DUE: 1, rules.WITH_PERSON: 1,
              rules.NOT_YET_DUE: 40}
    assert rules.on_time_share(counts) == 0.7
    assert rules.on_time_share({rules.NOT_YET_DUE: 3}) is None


def test_quarters_and_periods_are_london_dates():
    q = rules.quarter_of(date(2026, 11, 29))
    assert (q.first_day, q.last_day) == (date(2026, 10, 1), date(2026, 12, 31))
    assert q.starts == datetime(2026, 9, 30, 23, tzinfo=UTC)  # British Summer Time on 1 October
    assert q.ends == datetime(2027, 1, 1, tzinfo=UTC)
    assert rules.quarter_of(date(2027, 3, 31)).first_day == date(2027, 1, 1)
    assert rules.parse_period("", "", date(2026, 5, 5)) == rules.Period(date(2026, 4, 1), date(2026, 6, 30))
    assert rules.parse_period("2026-01-01", "2026-01-31", date(2026, 5, 5)).last_day == date(2026, 1, 31)
    for start, end in (("2026-02-01", "2026-01-01"), ("1/1/26", "2026-02-01"), ("2020-01-01", "2026-01-01")):
        with pytest.raises(ValueError):
            rules.parse_period(start, end, date(2026, 5, 5))


def test_categories_ages_reasons_and_the_calls_estimate():
    assert rules.crime_category("8/1", "Assault occasioning actual bodily harm", "DOMESTIC_ABUSE") == "Domestic abuse"
    assert rules.crime_category("58C", "Criminal damage to a vehicle") == "Criminal damage and arson"
    assert rules.crime_category("", "Something new") == rules.OTHER_CATEGORY
    reported = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 20 November in London too
    assert rules.under_18_at(date(2008, 11, 20), reported) is False  # eighteen that day
    assert rules.under_18_at(date(2008, 11, 21), reported) is True
    assert rules.age_group(None, reported) == "Age not known"
    assert rules.enhanced_reasons("under 18; Under 18 ;  hate crime") == ["Under 18", "Hate crime"]
    calls = rules.CallsAvoided(0.1, 0.25)
    assert calls.estimate(95, 10) == 12 and "10%" in calls.method() and "25%" in calls.method()
    assert rules.parse_share("12.5%", "x") == 0.125
    for bad in ("", "-1", "101", "ten"):
        with pytest.raises(ValueError):
            rules.parse_share(bad, "x")


# ---- the figures on the real database -------------------------------------------------------------------

# Written out by hand from the eight investigations' titles and flags.
CATEGORY_BY_TITLE = {
    "Burglary - residential - home": "Burglary",
    "Criminal damage to a vehicle": "Criminal damage and arson",
    "Theft from a vehicle": "Vehicle offences",
    "Assault with injury": "Violence against the person",
    "Assault occasioning actual bodily harm": "Domestic abuse",  # flagged DOMESTIC_ABUSE
    "Racially or religiously aggravated assault without injury": "Hate crime",
    "Robbery of personal property": "Robbery",
    "Harassment": "Violence against the person",
}


@pytest_asyncio.fixture
async def played(db_url, notify):  # noqa: F811
    changes = sorted((parse_change(c, decoded=True) for _, c in investigations(NOW)), key=lambda c: c.occurred_at)
    await play(db_url, notify, changes, until=NOW + timedelta(days=50), step=timedelta(hours=6))
    return db_url


AS_OF = NOW + timedelta(days=50)  # the figures as they stand when the play ends


def expected_figures(db_url, team: str | None, as_of: datetime = AS_OF) -> dict[str, Counter]:
    """(split, group, measure) -> outcome counts, from the rows, by this test's own reading of the Code."""
    with session_scope(db_url) as s:
        occurrences = {o.id: o for o in s.exec(select(Occurrence))}
        victims = {v.id: v for v in s.exec(select(Victim))}
        links = {(c.occurrence_id, c.victim_id): c for c in s.exec(select(CaseVictim))}
        duties = list(s.exec(select(Duty)))
    out: dict = {}
    for d in duties:
        o = occurrences[d.occurrence_id]
        if team and " ".join((o.oic_team or "").split()).lower() != team:
            continue
        if not (WIDE.starts <= d.due_at < WIDE.ends) or d.state == "cancelled":
            continue
        if d.state == "done":
            declined = (d.done_how or "").lower().startswith(("victim declined", "victim objected",
                                                               "victim did not give"))
            outcome = "declined" if declined else ("met_on_time" if d.done_at <= d.due_at else "met_late")
        elif d.due_at > as_of:
            outcome = "not_yet_due"  # neither met nor missed yet
        else:
            outcome = "overdue_with_person" if d.state == "handed" else "overdue"
        measure = d.milestone if d.milestone in ("written_confirmation", "support_referral", "vps_offer",
                                                 "routine_update") else "updates"
        link = links.get((d.occurrence_id, d.victim_id))
        enhanced = bool(link and link.enhanced)
        dob = victims[d.victim_id].date_of_birth
        day = o.reported_at.astimezone(rules.LONDON).date()
        if dob is None:
            age = "Age not known"
        else:
            eighteenth = date(dob.year + 18, dob.month, dob.day)  # none of the eight was born on 29 February
            age = "Under 18 at the offence" if day < eighteenth else "18 or over"
        groups = {"category": [CATEGORY_BY_TITLE[o.classification_text]], "age": [age],
                  "entitlement": ["Enhanced" if enhanced else "Standard"]}
        for split, names in groups.items():
            for name in names:
                out.setdefault((split, name, measure), Counter())[outcome] += 1
    return out


def shown_figures(tables: dict[str, list[dict]]) -> dict:
    return {(row["split_key"], row["group"], row["measure_key"]): Counter(
        {o: row[o] for o in rules.OUTCOMES if row[o]}) for split in ("category", "age", "entitlement")
        for row in tables[split]}


@pytest.mark.asyncio
async def test_the_figures_equal_those_computed_from_the_rows(played):
    with session_scope(played) as s:
        # Two victims on the edge of 18: reported at 00:30 London time (23:30 UTC the day before), one turning 18
        # that London day (an adult: the UTC date alone would say under 18), one the day after (under 18).
        links = s.exec(select(CaseVictim).order_by(CaseVictim.id)).all()[:2]
        for link, born in zip(links, (date(2008, 10, 16), date(2008, 10, 17))):
            occurrence = s.get(Occurrence, link.occurrence_id)
            occurrence.reported_at = datetime(2026, 10, 15, 23, 30, tzinfo=UTC)
            s.get(Victim, link.victim_id).date_of_birth = born
    with session_scope(played) as s:
        force = m.measures(s, ADMIN, WIDE, now=AS_OF)
        pcc = m.measures(s, PCC, WIDE, now=AS_OF)
        team = m.measures(s, MIDDLESBROUGH, WIDE, now=AS_OF)
        earlier = m.measures(s, ADMIN, WIDE, now=NOW + timedelta(days=3))
    expected = expected_figures(played, None)
    assert shown_figures(force) == expected
    assert pcc == force
    assert shown_figures(team) == expected_figures(played, "middlesbrough cid")
    # Asked earlier, more deadlines are still to come: those duties are neither met nor missed.
    assert shown_figures(earlier) == expected_figures(played, None, NOW + timedelta(days=3))
    assert sum(r["not_yet_due"] for r in earlier["measure"]) > sum(r["not_yet_due"] for r in force["measure"])
    # Enough happened for the test to mean something: several measures, several outcomes, both entitlements.
    owed = Counter()
    for counts in (c for (split, _, _), c in expected.items() if split == "entitlement"):
        owed.update(counts)
    assert sum(owed.values()) >= 20 and len(+owed) >= 3, owed
    assert {row["group"] for row in force["entitlement"]} == {"Standard", "Enhanced"}
    assert {row["group"] for row in force["age"]} >= {"Under 18 at the offence", "18 or over"}
    assert {row["measure_key"] for row in force["measure"]} >= {"written_confirmation", "support_referral",
                                                                 "updates", "routine_update"}
    total_team = sum(r["owed"] for r in team["measure"])
    assert 0 < total_team < sum(r["owed"] for r in force["measure"])
    # The measure table's rows add up to the same duties as every other split that covers each duty once.
    for split in ("category", "age", "entitlement"):
        assert sum(r["owed"] for r in force[split]) == sum(r["owed"] for r in force["measure"])


@pytest.mark.asyncio
async def test_who_sees_which_figures_and_cases(played):
    with session_scope(played) as s:
        for refused in (OFFICER, FCR, None, staff("supervisor")):
            if refused is None or refused.role != "supervisor":
                with pytest.raises(m.NotAllowed):
                    m.measures(s, refused, WIDE)
        # A supervisor naming no team sees nothing rather than everything.
        assert all(not rows for rows in m.measures(s, staff("supervisor"), WIDE).values())
        row = next(r for r in m.measures(s, ADMIN, WIDE)["measure"] if r["measure_key"] == "written_confirmation")
        numbers_admin, behind = m.cases_behind(s, ADMIN, WIDE, split="measure", group=row["group"],
                                               measure="written_confirmation")
        numbers_pcc, behind_pcc = m.cases_behind(s, PCC, WIDE, split="measure", group=row["group"],
                                                 measure="written_confirmation")
        numbers_team, behind_team = m.cases_behind(s, MIDDLESBROUGH, WIDE, split="measure", group=row["group"],
                                                   measure="written_confirmation")
        teams = {o.occurrence_number: o.oic_team for o in s.exec(select(Occurrence))}
        # Figures yes, cases no: neither the administrator nor the Commissioner's office reads a case.
        assert behind == behind_pcc == -1 and numbers_admin == numbers_pcc == []
        assert numbers_team and len(numbers_team) == behind_team < row["owed"]
        assert {teams[n] for n in numbers_team} == {"Middlesbrough CID"}
        # A cell that does not exist, or a split made up by the caller, lists nothing.
        assert m.cases_behind(s, MIDDLESBROUGH, WIDE, split="victim_name", group="x", measure="updates") == ([], 0)


@pytest.mark.asyncio
async def test_demand_and_feedback_are_counted_from_their_rows(played):
    for _ in range(3):
        count_today(TRACKING_VISIT, now=datetime(2026, 12, 3, 10, tzinfo=UTC), url=played)
    count_today(TRACKING_VISIT, now=datetime(2026, 12, 31, 23, 30, tzinfo=UTC), url=played)  # 31 Dec in London
    with session_scope(played) as s:  # the provider's receipts: every message sent arrived a minute later
        for sent in s.exec(select(Message).where(Message.status == "sent")).all():
            record_receipt(s, DeliveryReceipt("delivered", sent.reference, sent.provider_id),
                           now=sent.sent_at + timedelta(minutes=1))
    with session_scope(played) as s:
        link = s.exec(select(CaseVictim)).first()
        s.add(InboundText(provider_id="in-1", source_number="+447700900101", body="thanks",
                          received_at=datetime(2026, 12, 4, 9, tzinfo=UTC), handled_as="reply"))
        s.add(InboundText(provider_id="in-2", source_number="+447700900101", body="STOP",
                          received_at=datetime(2026, 12, 4, 9, tzinfo=UTC), handled_as="stop"))
        s.add(PortalMessage(case_victim_id=link.id, author="victim", body="any news?",
                            created_at=datetime(2026, 12, 5, 9, tzinfo=UTC)))
        s.add(Feedback(victim_id=link.victim_id, subject="case:a", occurrence_id=link.occurrence_id,
                       answered_at=datetime(2026, 12, 6, 9, tzinfo=UTC), informed_score=4, overall_score=5))
        s.add(Feedback(victim_id=link.victim_id, subject="case:b", answered_at=datetime(2026, 12, 7, 9, tzinfo=UTC),
                       informed_score=2, overall_score=2))
        s.add(Feedback(victim_id=link.victim_id, subject="case:c", answered_at=datetime(2026, 12, 8, tzinfo=UTC),
                       declined=True))
    q4 = rules.quarter_of(date(2026, 12, 1))
    calls = rules.CallsAvoided(0.1, 0.1)
    with session_scope(played) as s:
        rows = {r["month"]: r for r in m.demand(s, PCC, q4, calls)}
        fb = {r["month"]: r for r in m.feedback(s, ADMIN, q4)}
        messages = list(s.exec(select(Message)))
    assert list(rows) == ["2026-10", "2026-11", "2026-12", "Total"]
    assert rows["2026-12"]["tracking_visits"] == 4 and rows["Total"]["tracking_visits"] == 4
    assert rows["Total"]["replies_by_text"] == 1 and rows["Total"]["portal_messages_from_victims"] == 1

    def delivered(msg, month):
        return msg.status == "delivered" and msg.delivered_at and rules.london_month(msg.delivered_at) == month

    for month in ("2026-11", "2026-12"):
        attendance = sum(1 for x in messages if delivered(x, month) and x.kind == "attendance" and x.channel == "sms")
        updates = sum(1 for x in messages if delivered(x, month) and x.occurrence_id is not None)
        assert rows[month]["attendance_texts_delivered"] == attendance
        assert rows[month]["case_updates_delivered"] == updates
        assert rows[month]["calls_avoided"] == round((attendance + updates) * 0.1 + rows[month]["portal_sign_ins"] * 0.1)
    assert rows["Total"]["attendance_texts_delivered"] > 0 and rows["Total"]["case_updates_delivered"] > 0
    assert fb["2026-12"] == {"month": "2026-12", "answered": 2, "declined": 1, "informed_average": "3.00",
                             "overall_average": "3.50", "informed_count": 2, "overall_count": 2}
    with session_scope(played) as s:  # a supervisor sees their teams' cases' answers only
        team_fb = m.feedback(s, staff("supervisor", team="nobody's team"), q4)
    assert team_fb[-1]["answered"] == 0
