"""The victim's page in words: each part of `views.victim_view` said in the victim's language.

Every sentence comes from the translation files (rxapp/languages/locales); this module only chooses which
sentence and fills it with times, days and references. Times are London clock times; in a right-to-left
language a value is wrapped in Unicode isolates so that "14:00" or "CL/26/041877" keep their own order.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from typing import Iterable, Optional

from rxapp import languages
from rxapp.domain import attendance as rules
from rxapp.domain.attendance import Situation
from rxapp.domain.eta import EtaEstimate, window_words
from rxapp.domain.support import SupportContact

FSI, PDI = "\u2068", "\u2069"  # first-strong isolate ... pop directional isolate
ADVICE_ITEMS = 4
# The fixed words of the page, by table: sent once with the view (TrackView.labels).
LABEL_TABLES = ("page", "danger", "contact")


def say(lang: str, key: str, **values: object) -> str:
    if languages.direction(lang) == "rtl":
        values = {k: f"{FSI}{v}{PDI}" for k, v in values.items()}
    return languages.text(lang, key, **values)


def day_name(lang: str, day: date) -> str:
    return languages.text(lang, "day.format", weekday=languages.text(lang, f"day.weekday_{day.weekday()}"),
                          day=day.day, month=languages.text(lang, f"day.month_{day.month}"))


def _local(at: datetime) -> datetime:
    return at.astimezone(rules.LONDON)


def relative_day(lang: str, at: datetime, now: datetime) -> str:
    """"today", "tomorrow", or the day's name, for a step's time or an appointment."""
    label = rules.london_day(at, now)
    if label in ("today", "tomorrow"):
        return languages.text(lang, f"day.{label}")
    return day_name(lang, _local(at).date())


def window(lang: str, estimate: Optional[EtaEstimate], now: datetime) -> tuple[str, str]:
    """(how long, the clock window): "less than 15 minutes", "between 05:20 and 05:30", both from the same
    rounded marks (`eta.window_words`), so they always agree. Empty strings when there is no window."""
    words = window_words(estimate, now)
    if words is None:
        return "", ""
    relative = say(lang, f"window.{words.relative_kind}_{words.relative_unit}", low=words.relative_low,
                   high=words.relative_high)
    clock = (say(lang, "window.by", end=words.end_clock) if words.start_passed
             else say(lang, "window.between", start=words.start_clock, end=words.end_clock))
    if words.day:
        clock = languages.text(lang, "window.on_day", window=clock, day=day_name(lang, date.fromisoformat(words.day)))
    return relative, clock


def appointment(lang: str, start: datetime, end: datetime, now: datetime) -> str:
    """When a booked visit is: "today between 14:00 and 16:00"."""
    label = rules.london_day(start, now)
    times = {"start": rules.london_time(start), "end": rules.london_time(end)}
    if label in ("today", "tomorrow"):
        return say(lang, f"appointment.{label}", **times)
    return say(lang, "appointment.on_day", day=day_name(lang, _local(start).date()), **times)


def step_data(raw: str) -> dict:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _parse_time(value: object) -> Optional[datetime]:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


CLOSED_STEP = {"ATTENDED": "closed_attended", "CANCELLED": "closed_cancelled", "NO_DEPLOYMENT":
               "closed_no_deployment", "DUPLICATE": "closed_duplicate", "RESOLVED_BY_PHONE": "closed_by_phone"}


def step(lang: str, kind: str, data: dict, now: datetime, *, earlier_assignments: int, earlier_appointments: int,
         incident_disposition: Optional[str], incident_reference: Optional[str],
         incident_appointment: tuple[Optional[datetime], Optional[datetime]]) -> str:
    """One step of the history in the victim's language, from its kind and facts. Steps stored before their
    facts were kept (no data) fall back on the incident's own facts."""
    if kind == "assigned":
        again = data.get("reassigned", earlier_assignments > 0)
        return languages.text(lang, "step.reassigned" if again else "step.assigned")
    if kind == "diverted":
        return languages.text(lang, "step.diverted" if data.get("reason") == "DIVERTED" else "step.called_away")
    if kind == "appointment":
        start = _parse_time(data.get("start")) or incident_appointment[0]
        end = _parse_time(data.get("end")) or incident_appointment[1]
        key = "step.appointment_changed" if earlier_appointments else "step.appointment"
        if start is None or end is None:
            return languages.text(lang, "status.rescheduled" if earlier_appointments else "status.scheduled")
        return languages.text(lang, key, when=appointment(lang, start, end, now))
    if kind == "closed":
        disposition = data.get("disposition", incident_disposition) or ""
        reference = data.get("crime_reference", incident_reference)
        text = languages.text(lang, "step." + CLOSED_STEP.get(disposition, "closed_other"))
        if reference:
            text += " " + say(lang, "step.crime_reference", reference=reference)
        return text
    if kind in ("opened", "en_route", "at_scene", "cleared"):
        return languages.text(lang, f"step.{kind}")
    return languages.text(lang, "step.closed_other") if kind.startswith("closed") else ""


def advice(lang: str, situation: Situation, category: str, flags: Iterable[str]) -> list[str]:
    """What to do before the officer comes, by the kind of call; nothing once nobody is coming."""
    if not rules.before_visit(situation):
        return []
    topic = rules.advice_topic(category, flags)
    found = languages.texts(lang)
    return [found[f"advice.{topic}_{i}"] for i in range(1, ADVICE_ITEMS + 1) if f"advice.{topic}_{i}" in found]


def after(lang: str, situation: Situation, crime_reference: Optional[str]) -> list[str]:
    """What happens next, once the visit is over or the call closed."""
    if rules.before_visit(situation) or situation == Situation.AT_SCENE:
        return []
    first = "after.with_reference" if crime_reference else "after.no_reference"
    return [languages.text(lang, first), languages.text(lang, "after.rights")]


def support(lang: str, situation: Situation, contacts: Iterable[SupportContact]) -> list[dict[str, str]]:
    """The force's support services, after the visit (or once nobody is coming)."""
    if rules.before_visit(situation) or situation == Situation.AT_SCENE:
        return []
    return support_contacts(lang, contacts)


def support_contacts(lang: str, contacts: Iterable[SupportContact]) -> list[dict[str, str]]:
    """The force's support services in the victim's language (the live page after a visit, the portal's case page)."""
    out = []
    for contact in contacts:
        if contact.about_key:
            about = languages.texts(lang).get(contact.about_key, "")
        else:
            about = contact.about.get(languages.resolve_language(lang)) or contact.about.get("en", "")
        out.append({"name": contact.name, "about": about, "phone": contact.phone, "tel": contact.tel,
                    "call": say(lang, "after.support_call", phone=contact.phone) if contact.phone else "",
                    "url": contact.url})
    return out


def labels(lang: str) -> dict[str, str]:
    """The page's fixed words, keyed "table.key"."""
    found = languages.texts(lang)
    return {key: value for key, value in found.items() if key.split(".", 1)[0] in LABEL_TABLES} | {
        key: found[key] for key in ("advice.heading", "after.heading", "after.support_heading",
                                    "after.support_intro", "after.support_web", "after.portal_text",
                                    "after.portal_open")}
