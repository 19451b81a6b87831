"""The compliance view's rules: which Ministry of Justice measure a duty counts towards, what became of it,
the reporting period, crime categories and victims' characteristics. Plain Python, no I/O.

A duty is *owed* in a period when its deadline falls in the period and it was not cancelled (a duty no
longer owed - the case closed first, a corrected record - is left out, as the MoJ return leaves it out).
Each owed duty is in exactly one outcome: met on time, met late, declined (the victim said no: the duty to
offer was met by their answer), with a person (a task is open), or still due (automation is on it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from rxapp.domain.journey import REFERRAL_NO_EXPLICIT_CONSENT, REFERRAL_OBJECTED, referral_declined
from rxapp.domain.statuses import DutyState

LONDON = ZoneInfo("Europe/London")

# Outcomes, in the order the tables show them.
# An open duty is counted against the Code only once its deadline has passed: one whose deadline is still to
# come is neither met nor missed yet, and is left out of the share met on time.
MET_ON_TIME, MET_LATE, DECLINED = "met_on_time", "met_late", "declined"
WITH_PERSON, STILL_DUE, NOT_YET_DUE = "overdue_with_person", "overdue", "not_yet_due"
OUTCOMES = (MET_ON_TIME, MET_LATE, DECLINED, WITH_PERSON, STILL_DUE, NOT_YET_DUE)
OUTCOME_WORDS = {MET_ON_TIME: "Met on time", MET_LATE: "Met late", DECLINED: "Declined by the victim",
                 WITH_PERSON: "Past its deadline, with a person", STILL_DUE: "Past its deadline",
                 NOT_YET_DUE: "Deadline still to come"}
TASK_DECLINED_WORDS = "victim declined"  # how a task closed as "the victim declined" reads in Duty.done_how
# Every way Duty.done_how says the victim said no (the SQL form of `outcome_of` matches these as prefixes).
DECLINED_WORDS = (TASK_DECLINED_WORDS, REFERRAL_NO_EXPLICIT_CONSENT, REFERRAL_OBJECTED)

# The MoJ quarterly measures, by the duty's milestone. Updates on investigation events are counted together
# and also one row per milestone.
MEASURES = {
    "written_confirmation": "Written acknowledgement of the crime",
    "support_referral": "Referral to support services",
    "vps_offer": "Victim Personal Statement offered",
    "routine_update": "Routine updates",
}
UPDATES = "Updates on the investigation"
MEASURE_ORDER = ("written_confirmation", "support_referral", "vps_offer", "updates", "routine_update")


def measure_of(milestone: str) -> str:
    """The measure key a duty counts towards: its own for the four named ones, "updates" otherwise."""
    return milestone if milestone in MEASURES else "updates"


def measure_words(measure: str) -> str:
    return MEASURES.get(measure, UPDATES)


def milestone_words(milestone: str) -> str:
    return milestone.replace("_", " ").capitalize()


def outcome_of(*, state: str, due_at: datetime, done_at: Optional[datetime], done_how: Optional[str],
               now: datetime) -> Optional[str]:
    """What became of a duty by `now`, or None when it is not owed (cancelled)."""
    if state == DutyState.CANCELLED:
        return None
    if state == DutyState.DONE:
        how = done_how or ""
        if referral_declined(how) or how.startswith(TASK_DECLINED_WORDS):
            return DECLINED
        if done_at is None or done_at <= due_at:
            return MET_ON_TIME
        return MET_LATE
    if due_at > now:
        return NOT_YET_DUE
    if state == DutyState.HANDED:
        return WITH_PERSON
    return STILL_DUE


def rate(met_on_time: int, owed: int) -> Optional[float]:
    """The share met on time (declined counts as met: the offer was made), or None for nothing owed."""
    return None if owed == 0 else met_on_time / owed


def on_time_share(counts) -> Optional[float]:
    """The share of the duties whose outcome is known (met, declined, or past their deadline unmet) that were
    met on time or declined; duties whose deadline is still to come are not counted either way."""
    decided = sum(counts.get(o, 0) for o in OUTCOMES if o != NOT_YET_DUE)
    return rate(counts.get(MET_ON_TIME, 0) + counts.get(DECLINED, 0), decided)


# ---- the period -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    first_day: date  # London dates, both included
    last_day: date

    @property
    def starts(self) -> datetime:
        return datetime.combine(self.first_day, time(0), LONDON).astimezone(timezone.utc)

    @property
    def ends(self) -> datetime:
        """The first instant after the period (exclusive)."""
        return datetime.combine(self.last_day + timedelta(days=1), time(0), LONDON).astimezone(timezone.utc)

    @property
    def words(self) -> str:
        return f"{self.first_day:%-d %B %Y} to {self.last_day:%-d %B %Y}"


def quarter_of(day: date) -> Period:
    """The calendar quarter holding `day` (the MoJ's quarters: January-March, April-June, ...)."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    first = date(day.year, first_month, 1)
    next_first = date(day.year + (first_month == 10), 1 if first_month == 10 else first_month + 3, 1)
    return Period(first, next_first - timedelta(days=1))


def parse_period(start: str, end: str, today: date) -> Period:
    """A period from two ISO dates typed by a person; blank means this quarter. Raises ValueError with words
    a person can act on."""
    if not start.strip() and not end.strip():
        return quarter_of(today)
    try:
        first = date.fromisoformat(start.strip())
        last = date.fromisoformat(end.strip())
    except ValueError:
        raise ValueError("Give both dates as year-month-day, for example 2026-10-01.") from None
    if last < first:
        raise ValueError("The period ends before it starts.")
    if (last - first).days > 366 * 2:
        raise ValueError("Choose a period of two years or less.")
    return Period(first, last)


def london_month(at: datetime) -> str:
    return at.astimezone(LONDON).strftime("%Y-%m")


# ---- splits ---------------------------------------------------------------------------------------------

# Crime categories by words in the records system's classification text (first match wins); codes vary by
# force, the words much less.
CATEGORY_WORDS = (
    ("Sexual offences", ("rape", "sexual", "indecent", "voyeurism")),
    ("Domestic abuse", ("domestic",)),
    ("Hate crime", ("hate", "racially", "religiously")),
    ("Robbery", ("robbery",)),
    ("Burglary", ("burglary",)),
    ("Violence against the person", ("assault", "wounding", "harm", "gbh", "abh", "murder", "manslaughter",
                                     "violence", "threat", "harassment", "stalking", "affray")),
    ("Criminal damage and arson", ("damage", "arson")),
    ("Vehicle offences", ("vehicle",)),
    ("Theft", ("theft", "shoplifting", "stealing", "handling")),
    ("Fraud", ("fraud",)),
)
OTHER_CATEGORY = "Other crimes"


def crime_category(code: str, text: str, flags: str = "") -> str:
    """The category of a recorded crime: by its flags (DOMESTIC_ABUSE, HATE_CRIME, ...) first, then its title."""
    words = f"{flags.replace('_', ' ')} {text} {code}".casefold()
    for category, needles in CATEGORY_WORDS:
        if any(n in words for n in needles):
            return category
    return OTHER_CATEGORY


def under_18_at(date_of_birth: Optional[date], offence_at: datetime) -> Optional[bool]:
    """Whether the victim was under 18 when the crime was reported (None when their birth date is not
    known)."""
    if date_of_birth is None:
        return None
    day = offence_at.astimezone(LONDON).date()
    years = day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))
    return years < 18


UNDER_18, ADULT, AGE_UNKNOWN = "Under 18 at the offence", "18 or over", "Age not known"


def age_group(date_of_birth: Optional[date], offence_at: datetime) -> str:
    young = under_18_at(date_of_birth, offence_at)
    return AGE_UNKNOWN if young is None else (UNDER_18 if young else ADULT)


def entitlement(enhanced: bool) -> str:
    return "Enhanced" if enhanced else "Standard"


def enhanced_reasons(text: str) -> list[str]:
    """The reasons an enhanced victim is enhanced, each once, as plain words ("; "-separated in the table)."""
    seen: list[str] = []
    for part in (text or "").split(";"):
        reason = " ".join(part.split())
        if reason and reason.casefold() not in (s.casefold() for s in seen):
            seen.append(reason[:1].upper() + reason[1:])
    return seen


# ---- 101 calls avoided ----------------------------------------------------------------------------------

# The business case: about 10% of calls to the force control room chase news of an attendance or a case.
# Taken here as: one delivered update in ten, and one portal sign-in in ten, stood in for a 101 call.
DEFAULT_CALLS_PER_UPDATE = 0.10
DEFAULT_CALLS_PER_SIGN_IN = 0.10


@dataclass(frozen=True)
class CallsAvoided:
    """The estimate and its assumptions, which the page states beside the figure and lets a person change."""

    per_delivered_update: float = DEFAULT_CALLS_PER_UPDATE
    per_portal_sign_in: float = DEFAULT_CALLS_PER_SIGN_IN

    def estimate(self, delivered_updates: int, portal_sign_ins: int) -> int:
        return round(delivered_updates * self.per_delivered_update + portal_sign_ins * self.per_portal_sign_in)

    def method(self) -> str:
        return (f"How this is estimated: {self.per_delivered_update:.0%} of the attendance and case updates "
                f"delivered, plus {self.per_portal_sign_in:.0%} of the portal sign-ins, each counted as one call "
                "to 101 the victim did not need to make to ask for news. The shares are assumptions, taken from "
                "the business case's figure that about 10% of calls to the control room chase an update; change "
                "them below to see the estimate under other assumptions.")


def parse_share(raw: str, name: str) -> float:
    """A share typed as a percentage (0 to 100) by a person; ValueError in words otherwise."""
    try:
        value = float((raw or "").strip().rstrip("%"))
    except ValueError:
        raise ValueError(f"{name}: give a percentage from 0 to 100, such as 10.") from None
    if not 0 <= value <= 100:
        raise ValueError(f"{name}: give a percentage from 0 to 100, such as 10.")
    return value / 100
