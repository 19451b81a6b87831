"""Simulated investigations for the demo: eight crimes as they would arrive on the NICHE records feed
(see /contracts/records-feed.md), each change paired with its offset from the moment the product starts.

`investigations(now)` returns `[(offset, change), ...]` sorted by offset. A negative offset is something
that already happened before the product started (its `occurred_at` is `now + offset`); a positive one
happens later, and `NicheSimulator.from_timeline` releases it when its time comes. Change ids start with
"sim-" and are unique; every change is valid under `protocol.parse_change`.

Times are real-looking: each event sits on a London calendar day counted from `now` in working days
(Monday to Friday, less England and Wales bank holidays, as the Victims' Code counts them) at a plausible
time of day; offences are reported at any hour, on weekends too. Nothing happens on today's date, so
whatever the hour of `now`, the events meant to be past are past and the ones meant to be ahead are ahead,
and each investigation's own changes stay in order.

Three investigations continue the STORM dispatch samples (`integrations/storm/scenarios/`), with the same
incident URN, crime reference and caller: the burglary at Acklam Road (CLE-20261120-0142), the domestic
abuse call in Hartlepool (CLE-20261120-0203) and the theft from a car in Redcar (CLE-20261120-0230).

Personal data is invented: phone numbers are Ofcom drama numbers (07700 900000 to 900999), email
addresses are at example.org (officers at police.example.org).

The eight (letter = change id prefix `sim-<letter>-`):
- a. Residential burglary (STORM 0142). Amina Hussain; standard; SMS. Recorded 11 working days before
  the start with a referral that day; arrest, interview, released under investigation. Ahead: charge
  with a first hearing, VPS offered.
- b. Criminal damage to a car, reported online on a Sunday evening. Grace Whitfield; standard; EMAIL,
  no mobile; declined a referral. Ahead: filed pending information, finalised.
- c. Theft from a vehicle (STORM 0230). Jan Kowalski; standard; SMS in Polish. Referral. Ahead: not
  investigated (with the reason), finalised.
- d. Assault with injury late on a Saturday. Liam Turner; standard; SMS. Referral, arrest, interview,
  bail with conditions. Ahead: a new OIC, bail conditions changed, a caution, finalised.
- e. Domestic abuse (STORM 0203). Name withheld; enhanced (domestic abuse, intimidated); PHONE; safe
  contact not yet confirmed; no consent to a referral. Arrest, bail with conditions. Ahead: safe contact
  and consent confirmed, IDVA referral, no further action (Right to Review).
- f. Racially aggravated assault (hate crime), reported while the demo runs. Farhan Malik; enhanced;
  SMS in Urdu. Referral, arrest, interview, charge.
- g. Robbery of a 15-year-old's phone. Ethan Hughes; enhanced (under 18); EMAIL to his mother.
  Referral, arrest, interview, released under investigation. Ahead: property ready for return.
- h. Harassment by neighbours. Margaret Ellison; enhanced (persistently targeted, physical disability);
  LETTER (large print) with a mobile. Recorded 9 working days before the start with NO support referral
  (so that duty is already late). Ahead: needs assessment, the late referral, arrest, bail, charge.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo

from integrations.storm.protocol import format_timestamp
from rxapp.domain.working_days import WorkingCalendar

__all__ = ["investigations"]

LONDON = ZoneInfo("Europe/London")
SATURDAY, SUNDAY = 5, 6

VCAS = "Victim Care and Advice Service"


class _Days:
    """Calendar helpers, all counted from `now`'s London date (never landing on that date itself)."""

    def __init__(self, now: datetime) -> None:
        self.today = now.astimezone(LONDON).date()
        self.calendar = WorkingCalendar()

    def working(self, n: int) -> date:
        """The n-th working day after today (n > 0) or before it (n < 0)."""
        if n == 0:
            raise ValueError("n must not be 0: nothing is placed on today's date")
        step = timedelta(days=1 if n > 0 else -1)
        day = self.today
        for _ in range(abs(n)):
            day += step
            while not self.calendar.is_working_day(day):
                day += step
        return day

    def after(self, day: date, n: int = 1) -> date:
        """The n-th working day after `day`."""
        for _ in range(n):
            day = self.calendar.next_working_day(day)
        return day

    @staticmethod
    def before(day: date, weekday: int) -> date:
        """The last date strictly before `day` that falls on `weekday` (Monday 0 .. Sunday 6)."""
        back = (day.weekday() - weekday) % 7 or 7
        return day - timedelta(days=back)

    @staticmethod
    def at(day: date, hhmm: str) -> datetime:
        """`day` at the London wall-clock time `hhmm`, as aware UTC."""
        hours, minutes = (int(part) for part in hhmm.split(":"))
        return datetime.combine(day, time(hours, minutes), tzinfo=LONDON).astimezone(timezone.utc)


def _ts(moment: datetime) -> str:
    return format_timestamp(moment)


def _oic(collar_number: str, name: str, team: str) -> dict:
    email = name.lower().replace(" ", ".") + "@police.example.org"
    return {"collar_number": collar_number, "name": name, "email": email, "team": team}


def _person(person_id: str, given: str, family: str, date_of_birth: str, *, mobile: Optional[str],
            email: Optional[str], channel: str, language: str = "en", safe_to_contact: Optional[bool] = True,
            postal_address: Optional[str] = None, notes: Optional[str] = None,
            vulnerable: tuple[str, ...] = (), intimidated: bool = False, persistently_targeted: bool = False,
            interpreter: bool = False, accessibility: Optional[str] = None, updates: bool = True,
            support_referral: bool = True) -> dict:
    return {
        "person_id": person_id,
        "role": "VICTIM",
        "name": {"given": given, "family": family},
        "date_of_birth": date_of_birth,
        "contact": {
            "mobile": mobile,
            "email": email,
            "postal_address": postal_address,
            "preferred_channel": channel,
            "language": language,
            "safe_to_contact": safe_to_contact,
            "contact_notes": notes,
        },
        "needs": {
            "vulnerable": list(vulnerable),
            "intimidated": intimidated,
            "persistently_targeted": persistently_targeted,
            "interpreter": interpreter,
            "accessibility": accessibility,
        },
        "consent": {"updates": updates, "support_referral": support_referral},
    }


class _Case:
    """One investigation's changes, numbered sim-<letter>-01, -02, ... in the order they are added."""

    def __init__(self, letter: str, occurrence_number: str) -> None:
        self.letter = letter
        self.occurrence_number = occurrence_number
        self.changes: list[tuple[datetime, dict]] = []

    def _add(self, when: datetime, kind: str, **body: Any) -> None:
        if self.changes and when < self.changes[-1][0]:
            # A bug in the plan below, not something `now` can cause: fail loudly in tests.
            raise AssertionError(f"sim-{self.letter}: changes out of order")
        change = {
            "change_id": f"sim-{self.letter}-{len(self.changes) + 1:02d}",
            "type": kind,
            "occurred_at": _ts(when),
            "occurrence_number": self.occurrence_number,
            **body,
        }
        self.changes.append((when, change))

    def recorded(self, when: datetime, *, reported: datetime, crime_reference: str, code: str, text: str,
                 oic: dict, flags: tuple[str, ...] = (), incident_urn: Optional[str] = None) -> None:
        self._add(when, "occurrence.recorded", occurrence={
            "occurrence_number": self.occurrence_number,
            "crime_reference": crime_reference,
            "classification": {"code": code, "text": text},
            "reported_at": _ts(reported),
            "recorded_at": _ts(when),
            "incident_urn": incident_urn,
            "oic": oic,
            "flags": list(flags),
        })

    def linked(self, when: datetime, person: dict) -> None:
        self._add(when, "person.linked", person=person)

    def updated(self, when: datetime, person: dict) -> None:
        self._add(when, "person.updated", person=person)

    def event(self, when: datetime, event: str, **detail: Any) -> None:
        self._add(when, "investigation.event", event=event, detail=detail)

    def oic_changed(self, when: datetime, oic: dict) -> None:
        self._add(when, "oic.changed", oic=oic)

    def finalised(self, when: datetime, result: str) -> None:
        self._add(when, "occurrence.finalised", result=result)


# ---- the eight investigations --------------------------------------------------------------------


def _burglary(d: _Days) -> _Case:
    """(a) Continues STORM CLE-20261120-0142: Amina Hussain's home at Acklam Road was burgled. Standard
    victim; texts. Recorded with a referral the same day; a suspect arrested, interviewed and released
    under investigation; charged later, with a first hearing, and offered a VPS."""
    case = _Case("a", "26CL0041877")
    day = d.working(-11)
    case.recorded(d.at(day, "11:05"), reported=d.at(day, "09:12"), crime_reference="CL/26/041877",
                  code="28/1", text="Burglary - residential - home", incident_urn="CLE-20261120-0142",
                  oic=_oic("PC 4127", "Sam Jones", "Middlesbrough CID"))
    case.linked(d.at(day, "11:06"), _person(
        "P-88120", "Amina", "Hussain", "1984-03-02", mobile="07700900123", email="amina@example.org",
        channel="SMS"))
    case.event(d.at(day, "15:40"), "SUPPORT_REFERRAL_MADE", service=VCAS)
    arrest = d.working(-8)
    case.event(d.at(arrest, "07:15"), "SUSPECT_ARRESTED")
    case.event(d.at(arrest, "13:30"), "SUSPECT_INTERVIEWED")
    case.event(d.at(arrest, "19:05"), "RELEASED_UNDER_INVESTIGATION")
    charge = d.working(12)
    case.event(d.at(charge, "10:00"), "CHARGED", charges=["Burglary of a dwelling and theft"],
               first_hearing=_ts(d.at(d.after(charge, 10), "10:00")), court="Teesside Magistrates' Court")
    case.event(d.at(d.after(charge), "14:30"), "VPS_OFFERED")
    return case


def _criminal_damage(d: _Days) -> _Case:
    """(b) Grace Whitfield's car was scratched and its wing mirror kicked off overnight; she reported it
    online on a Sunday evening. Standard victim; email only (no mobile); declined a referral. Filed
    pending further information, then finalised."""
    case = _Case("b", "26CL0042356")
    sunday = d.before(d.working(-7), SUNDAY)
    day = d.after(sunday)
    case.recorded(d.at(day, "10:20"), reported=d.at(sunday, "20:47"), crime_reference="CL/26/042356",
                  code="58C", text="Criminal damage to a vehicle",
                  oic=_oic("PC 3318", "Holly Brennan", "Stockton Neighbourhood Policing Team"))
    case.linked(d.at(day, "10:22"), _person(
        "P-91544", "Grace", "Whitfield", "1971-09-14", mobile=None, email="grace.whitfield@example.org",
        channel="EMAIL", support_referral=False))
    case.event(d.at(day, "10:35"), "NEEDS_ASSESSMENT_COMPLETED",
               outcome="No additional needs; declined a referral to support services")
    filed = d.working(3)
    case.event(d.at(filed, "15:10"), "FILED_PENDING_INFORMATION",
               reason="House-to-house enquiries found no witnesses and there is no CCTV covering the street. "
                      "The investigation will be reopened if new information comes to light.")
    case.finalised(d.at(d.after(filed), "09:30"), "Investigation complete - no suspect identified")
    return case


def _theft(d: _Days) -> _Case:
    """(c) Continues STORM CLE-20261120-0230: Jan Kowalski's car was broken into at Coatham Road, Redcar,
    resolved by phone. Standard victim; texts in Polish. Referred; then not investigated, with the
    reason; finalised."""
    case = _Case("c", "26CL0041990")
    day = d.working(-8)
    case.recorded(d.at(day, "13:10"), reported=d.at(day, "11:03"), crime_reference="CL/26/041990",
                  code="45", text="Theft from a vehicle", incident_urn="CLE-20261120-0230",
                  oic=_oic("PC 2764", "Rachel Moore", "Redcar Investigation Hub"))
    case.linked(d.at(day, "13:12"), _person(
        "P-90877", "Jan", "Kowalski", "1979-05-23", mobile="07700900321", email=None, channel="SMS",
        language="pl", interpreter=True))
    case.event(d.at(d.after(day), "10:30"), "SUPPORT_REFERRAL_MADE", service=VCAS)
    decided = d.working(2)
    case.event(d.at(decided, "11:40"), "NOT_INVESTIGATED",
               reason="There is no CCTV, no witness and no forensic evidence that could identify who broke "
                      "into the car, so there are no further lines of enquiry. If new information comes to "
                      "light it will be looked at again.")
    case.finalised(d.at(decided, "11:45"), "Investigation complete - no suspect identified")
    return case


def _assault(d: _Days) -> _Case:
    """(d) Liam Turner was punched outside a bar on Linthorpe Road, Middlesbrough, late on a Saturday.
    Standard adult; texts. Arrest, bail with conditions, a new OIC, bail conditions changed, then a
    caution when the suspect answers bail."""
    case = _Case("d", "26CL0042210")
    saturday = d.before(d.working(-5), SATURDAY)
    sunday = saturday + timedelta(days=1)
    case.recorded(d.at(sunday, "09:25"), reported=d.at(saturday, "23:40"), crime_reference="CL/26/042210",
                  code="8N", text="Assault with injury",
                  oic=_oic("PC 1893", "Chris Lowe", "Middlesbrough Response Team C"))
    case.linked(d.at(sunday, "09:27"), _person(
        "P-92031", "Liam", "Turner", "1996-02-11", mobile="07700900514", email="liam.turner@example.org",
        channel="SMS"))
    case.event(d.at(d.after(saturday), "11:10"), "SUPPORT_REFERRAL_MADE", service=VCAS)
    arrest = d.after(saturday, 2)
    bail_date = d.after(arrest, 20)
    case.event(d.at(arrest, "07:20"), "SUSPECT_ARRESTED")
    case.event(d.at(arrest, "12:45"), "SUSPECT_INTERVIEWED")
    case.event(d.at(arrest, "18:30"), "RELEASED_ON_BAIL",
               conditions=["Not to contact the victim directly or indirectly",
                           "Curfew from 20:00 to 06:00 at his home address"],
               bail_date=bail_date.isoformat())
    case.oic_changed(d.at(d.working(1), "09:00"), _oic("DC 3045", "Hannah Reid", "Middlesbrough CID"))
    case.event(d.at(d.working(6), "14:20"), "BAIL_CONDITIONS_CHANGED",
               conditions=["Not to contact the victim directly or indirectly"],
               bail_date=bail_date.isoformat(),
               reason="Curfew removed on review; the condition not to contact the victim stays")
    case.event(d.at(bail_date, "11:00"), "OUT_OF_COURT_DISPOSAL", kind="CAUTION")
    case.finalised(d.at(bail_date, "11:30"), "Caution - adult")
    return case


def _domestic_abuse(d: _Days) -> _Case:
    """(e) Continues STORM CLE-20261120-0203, the domestic abuse call in Hartlepool. Enhanced twice over
    (domestic abuse; intimidated); phone only, safe contact not yet confirmed, no consent to a referral.
    Arrest and bail with conditions; later the OIC confirms a safe contact and consent to a referral
    (an IDVA); then no further action, with the reason (the Victims' Right to Review applies)."""
    case = _Case("e", "26CL0041915")
    day = d.working(-6)
    case.recorded(d.at(day, "12:40"), reported=d.at(day, "10:26"), crime_reference="CL/26/041915",
                  code="8/1", text="Assault occasioning actual bodily harm", incident_urn="CLE-20261120-0203",
                  flags=("DOMESTIC_ABUSE",),
                  oic=_oic("DC 2210", "Priya Shah", "Hartlepool Safeguarding"))
    case.linked(d.at(day, "12:41"), _person(
        "P-90311", "Withheld", "Withheld", "1996-07-19", mobile="07700900789", email=None, channel="PHONE",
        safe_to_contact=None, notes="Call only between 10:00 and 12:00; do not leave voicemail",
        intimidated=True, support_referral=False))
    case.event(d.at(day, "16:10"), "SUSPECT_ARRESTED")
    bailed = d.after(day)
    case.event(d.at(bailed, "09:30"), "RELEASED_ON_BAIL",
               conditions=["Not to contact the victim directly or indirectly",
                           "Not to attend the victim's home address", "Not to enter Hartlepool"],
               bail_date=d.after(bailed, 20).isoformat())
    confirmed = d.working(3)
    case.updated(d.at(confirmed, "10:50"), {
        "person_id": "P-90311",
        "contact": {"safe_to_contact": True},
        "consent": {"support_referral": True},
    })
    case.event(d.at(confirmed, "15:20"), "SUPPORT_REFERRAL_MADE",
               service="Independent Domestic Violence Adviser (IDVA) service")
    case.event(d.at(d.working(9), "14:00"), "RELEASED_NFA",
               reason="Evidential difficulties: the Crown Prosecution Service advised that the evidence "
                      "available does not give a realistic prospect of conviction")
    return case


def _hate_crime(d: _Days) -> _Case:
    """(f) Farhan Malik was racially abused and pushed in his shop in Stockton; still ahead when the
    product starts. Enhanced (hate crime); texts in Urdu. Referral, arrest, interview, charge."""
    case = _Case("f", "26CL0042477")
    day = d.working(2)
    case.recorded(d.at(day, "19:20"), reported=d.at(day, "17:45"), crime_reference="CL/26/042477",
                  code="105B", text="Racially or religiously aggravated assault without injury",
                  flags=("HATE_CRIME",), oic=_oic("DC 3391", "Aisha Rahman", "Stockton CID"))
    case.linked(d.at(day, "19:22"), _person(
        "P-92260", "Farhan", "Malik", "1988-10-04", mobile="07700900667", email="farhan.malik@example.org",
        channel="SMS", language="ur", interpreter=True))
    next_day = d.after(day)
    case.event(d.at(next_day, "07:30"), "SUSPECT_ARRESTED")
    case.event(d.at(next_day, "10:00"), "SUPPORT_REFERRAL_MADE", service="Hate Crime Victim Support")
    case.event(d.at(next_day, "14:15"), "SUSPECT_INTERVIEWED")
    case.event(d.at(next_day, "20:10"), "CHARGED",
               charges=["Racially aggravated common assault",
                        "Racially aggravated intentional harassment, alarm or distress"],
               first_hearing=_ts(d.at(d.after(next_day, 8), "10:00")), court="Teesside Magistrates' Court")
    return case


def _child(d: _Days) -> _Case:
    """(g) Ethan Hughes, 15, had his phone taken from him at a bus stop after school. Enhanced (under 18);
    contact is by email to his mother. Referral, arrest, interview, released under investigation; his
    phone is ready to collect later."""
    case = _Case("g", "26CL0042398")
    day = d.working(-3)
    birth = _years_before(day, 15) - timedelta(days=163)  # 15 years and about 5 months on the offence date
    case.recorded(d.at(day, "18:30"), reported=d.at(day, "16:40"), crime_reference="CL/26/042398",
                  code="34B", text="Robbery of personal property",
                  oic=_oic("DC 2876", "Laura Benson", "Middlesbrough CID"))
    case.linked(d.at(day, "18:32"), _person(
        "P-92144", "Ethan", "Hughes", birth.isoformat(), mobile=None, email="karen.hughes@example.org",
        channel="EMAIL", notes="Ethan is 15: contact his mother, Karen Hughes, by email"))
    case.event(d.at(d.after(day), "11:15"), "SUPPORT_REFERRAL_MADE",
               service="Children and Young People's Service")
    arrest = d.working(-1)
    case.event(d.at(arrest, "15:50"), "SUSPECT_ARRESTED")
    case.event(d.at(arrest, "19:30"), "SUSPECT_INTERVIEWED")
    case.event(d.at(arrest, "22:35"), "RELEASED_UNDER_INVESTIGATION")
    case.event(d.at(d.working(4), "10:00"), "PROPERTY_READY_FOR_RETURN", property="Mobile phone",
               collect_from="Middlesbrough Police Station front counter")
    return case


def _persistent(d: _Days) -> _Case:
    """(h) Margaret Ellison, a wheelchair user, has been harassed by a neighbour's family for months (her
    fifth report this year). Enhanced (persistently targeted; physical disability); letters in large print.
    Recorded 9 working days before the product starts with NO support referral: the 2-working-day referral
    is late. Later a needs assessment, the (late) referral, arrest, bail, charge."""
    case = _Case("h", "26CL0042102")
    day = d.working(-9)
    case.recorded(d.at(day, "14:20"), reported=d.at(day, "13:05"), crime_reference="CL/26/042102",
                  code="8L", text="Harassment",
                  oic=_oic("PC 4410", "Gareth Lewis", "Redcar Neighbourhood Policing Team"))
    case.linked(d.at(day, "14:22"), _person(
        "P-87615", "Margaret", "Ellison", "1958-06-30", mobile="07700900842", email=None, channel="LETTER",
        postal_address="12 Example Gardens, Redcar, TS10 4ZX",
        notes="Prefers a phone call before any visit; the door takes time to answer",
        vulnerable=("PHYSICAL_DISABILITY",), persistently_targeted=True,
        accessibility="Wheelchair user; letters in large print (16 point)"))
    assessed = d.working(2)
    case.event(d.at(assessed, "10:30"), "NEEDS_ASSESSMENT_COMPLETED",
               outcome="Needs support and a single point of contact; target hardening requested")
    case.event(d.at(assessed, "11:00"), "SUPPORT_REFERRAL_MADE", service=VCAS)
    arrest = d.working(5)
    charge = d.after(arrest, 22)
    case.event(d.at(arrest, "07:10"), "SUSPECT_ARRESTED")
    case.event(d.at(arrest, "12:40"), "SUSPECT_INTERVIEWED")
    case.event(d.at(arrest, "17:30"), "RELEASED_ON_BAIL",
               conditions=["Not to contact the victim directly or indirectly",
                           "Not to enter Example Gardens, Redcar"],
               bail_date=charge.isoformat())
    case.event(d.at(charge, "15:00"), "CHARGED",
               charges=["Harassment (Protection from Harassment Act 1997, s.2)",
                        "Criminal damage (Criminal Damage Act 1971, s.1)"],
               first_hearing=_ts(d.at(d.after(charge, 10), "10:00")), court="Teesside Magistrates' Court")
    return case


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


_PLANS = (_burglary, _criminal_damage, _theft, _assault, _domestic_abuse, _hate_crime, _child, _persistent)


def investigations(now: datetime) -> list[tuple[timedelta, dict]]:
    """The eight simulated investigations as records-feed changes, each with its offset from `now`
    (negative: already happened, `occurred_at == now + offset`), sorted by offset."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    days = _Days(now)
    timeline: list[tuple[timedelta, dict]] = []
    for plan in _PLANS:
        for when, change in plan(days).changes:
            timeline.append((when - now, change))
    timeline.sort(key=lambda item: item[0])  # stable: one investigation's changes keep their order
    return timeline
