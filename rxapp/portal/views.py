"""What the victim's case page says (/portal/case): one plain dict built from the database for one signed-in victim.

`case_view` is the only thing the portal's case page and its server-rendered snapshot (case_html.py) read about a
case. It is built from an allow-list of facts, for the victim the identity names and nobody else:
- the case's own public milestones (`OccurrenceEvent` rows with `public` true), each titled and explained by its
  kind from the translation files (never the staff text, never the stored sentence); milestones that belong to one
  person (a support referral, a Victim Personal Statement) come only from this victim's own duties, so a victim
  never sees another victim's;
- this victim's open duties (what they are owed next and by when), not held ones, and the routine update rhythm;
- the Victims' Code's rights, complaints and Right to Review as the rules file says;
- the attendance that started the case, with its live page only while its link works.
Every word is from `rxapp/languages/locales` (`case.*`, area `portal_case/`), in the victim's language; only what
the records system sends (the crime's classification, the officer's collar number and team) is shown as recorded.
Every value is a str, a list of str, a dict of str or a list of such dicts, as a Reflex state needs. The timeline is
oldest first (newest last). Times are London dates.
"""
from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime
from typing import Optional

from sqlmodel import Session, select

from rxapp import languages
from rxapp.attendance import track_words as words
from rxapp.attendance.models import Incident
from rxapp.attendance.views import attendance_status
from rxapp.domain import journey as rules
from rxapp.domain.attendance import LONDON
from rxapp.domain.code_rules import VictimsCode
from rxapp.domain.statuses import DutyState, OccurrenceStatus
from rxapp.investigation.duties import code as code_in_force
from rxapp.investigation.models import CaseVictim, Duty, Occurrence, OccurrenceEvent
from rxapp.plumbing import links
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.portal.identity import VictimIdentity
from rxapp.victims.models import Victim

# The case's status in plain words, from its newest public milestone of these kinds (`case.status.<value>`).
STATUS_OF_EVENT = {
    "not_investigated": "not_investigated", "suspect_arrested": "arrested", "suspect_interviewed": "interviewed",
    "released_under_investigation": "under_investigation", "released_on_bail": "bail", "charged": "charged",
    "court_hearing_scheduled": "court", "case_outcome": "outcome", "out_of_court_disposal": "out_of_court",
    "released_nfa": "nfa", "filed_pending_information": "filed",
}
# The case-wide milestones a victim reads on their timeline (`case.event.<kind>_title` and `_meaning`).
CASE_EVENTS = frozenset(STATUS_OF_EVENT) | {"recorded", "oic_changed", "finalised", "bail_conditions_changed",
                                            "bail_cancelled", "property_ready_for_return"}
# Milestones of one person, which the case's timeline cannot say whose they are: shown from the victim's own duties
# (a needs assessment, which no duty records, only when the case has one victim).
PERSONAL_EVENTS = frozenset({"support_referral_made", "vps_offered", "vps_taken", "needs_assessment_completed"})
# The decisions after which the Victims' Right to Review applies: no further action, or a decision not to go further
# once a suspect was interviewed under caution; a later charge or disposal ends it.
REVIEW_DECISIONS = ("released_nfa", "not_investigated")
DECISIONS_AFTER = frozenset({"charged", "out_of_court_disposal", "suspect_arrested", "released_on_bail",
                             "released_under_investigation"})
# Which of the Code's rights the police owe (the rules file's `owed_by`).
POLICE = frozenset({"police", "all"})
OPEN_DUTY = (DutyState.DUE, DutyState.HANDED)
LABEL_KEYS = (
    "title", "reference_heading", "reference_keep", "status_heading", "oic_heading", "timeline_heading",
    "timeline_order", "timeline_empty", "next_heading", "next_empty", "rights_heading", "rights_intro",
    "support_heading", "support_intro", "support_web", "compensation_heading", "complaints_heading",
    "review_heading", "attendance_heading", "attendance_open", "attendance_closed", "danger_heading", "call_999",
    "danger_text", "contact_heading", "call_101", "contact_text",
)


def _local(at: datetime) -> datetime:
    return at.astimezone(LONDON)


def date_words(lang: str, day: date) -> str:
    """"23 November 2026", in the victim's language."""
    return languages.text(lang, "case.date", day=day.day, month=languages.text(lang, f"day.month_{day.month}"),
                          year=day.year)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it has no such day: 30 November + 3 = 28 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def _day(lang: str, at: datetime) -> str:
    return date_words(lang, _local(at).date())


def _say(lang: str, key: str, **values: object) -> str:
    """A sentence with values that keep their own order in a right-to-left language (words.say)."""
    return words.say(lang, key, **values)


def reported_line(lang: str, occurrence: Occurrence) -> str:
    day = _day(lang, occurrence.reported_at)
    what = (occurrence.classification_text or "").strip()
    if not what:
        return _say(lang, "case.reported_unclassified", day=day)
    return _say(lang, "case.reported", what=what, day=day)


def oic_line(lang: str, occurrence: Occurrence, show_name: bool) -> str:
    collar = (occurrence.oic_collar or "").strip()
    if not collar:
        return languages.text(lang, "case.oic_none")
    team = (occurrence.oic_team or "").strip()
    name = (occurrence.oic_name or "").strip() if show_name else ""
    if name:
        return _say(lang, "case.oic_named" if team else "case.oic_named_no_team", name=name, collar=collar, team=team)
    return _say(lang, "case.oic" if team else "case.oic_no_team", collar=collar, team=team)


def status_words(lang: str, occurrence: Occurrence, kinds_newest_last: list[str]) -> str:
    if occurrence.status == OccurrenceStatus.FINALISED:
        return languages.text(lang, "case.status.finalised")
    newest = next((STATUS_OF_EVENT[k] for k in reversed(kinds_newest_last) if k in STATUS_OF_EVENT), "open")
    return languages.text(lang, f"case.status.{newest}")


def _item(lang: str, at: datetime, kind: str) -> dict[str, str]:
    return {"when": _day(lang, at), "title": languages.text(lang, f"case.event.{kind}_title"),
            "meaning": languages.text(lang, f"case.event.{kind}_meaning"), "_at": at.isoformat()}


def timeline(lang: str, events: list[OccurrenceEvent], duties: list[Duty], single_victim: bool) -> list[dict]:
    """The case's public milestones and this victim's own, oldest first."""
    items = []
    for event in events:
        if event.kind in CASE_EVENTS or (event.kind == "needs_assessment_completed" and single_victim):
            items.append(_item(lang, event.at, event.kind))
    for duty in duties:
        if duty.state != DutyState.DONE or duty.done_at is None:
            continue
        if duty.key == "written_confirmation":
            items.append(_item(lang, duty.done_at, "written_confirmation"))
        elif duty.key == "support_referral" and not rules.referral_declined(duty.done_how):
            items.append(_item(lang, duty.done_at, "support_referral"))
        elif duty.key == "vps_offer":
            items.append(_item(lang, duty.done_at, "vps_taken" if duty.done_how == "VPS taken" else "vps_offered"))
    items.sort(key=lambda item: item["_at"])
    return [{k: v for k, v in item.items() if k != "_at"} for item in items]


def next_steps(lang: str, duties: list[Duty], every_days: int, case_open: bool, now: datetime) -> list[dict]:
    """What this victim is owed next and by when: their open duties, soonest first (not those held until an event's
    own date), then how often they will hear from us."""
    owed = sorted((d for d in duties if d.state in OPEN_DUTY and d.held_until is None), key=lambda d: d.due_at)
    out = []
    for duty in owed:
        key = f"case.next.{duty.milestone}"
        if key not in languages.texts(lang):
            continue
        by = _say(lang, "case.by" if duty.due_at >= now else "case.was_due", day=_day(lang, duty.due_at))
        out.append({"text": languages.text(lang, key), "by": by})
    if case_open:
        out.append({"text": _say(lang, "case.routine_every", days=every_days), "by": ""})
    return out


def rights(lang: str, code: VictimsCode) -> list[str]:
    found = languages.texts(lang)
    return [found[f"case.rights.r{r.number}"] for r in code.rights
            if POLICE & set(r.owed_by) and f"case.rights.r{r.number}" in found]


def support(lang: str) -> list[dict[str, str]]:
    return [{k: c[k] for k in ("name", "about", "tel", "call", "url")}
            for c in words.support_contacts(lang, settings().support_contacts)]


def compensation(lang: str) -> list[str]:
    return [languages.text(lang, f"case.compensation.{k}") for k in ("cica", "court", "ask")]


def complaints(lang: str, code: VictimsCode) -> list[str]:
    return [_say(lang, "case.complaints.force", days=code.complaint_acknowledge_working_days),
            languages.text(lang, "case.complaints.iopc"), languages.text(lang, "case.complaints.commissioner")]


def review_decision(events: list[OccurrenceEvent]) -> Optional[OccurrenceEvent]:
    """The decision not to charge the Victims' Right to Review applies to, if the newest decision is one."""
    interviewed = False
    found = None
    for event in events:
        if event.kind == "suspect_interviewed":
            interviewed = True
        if event.kind == "released_nfa" or (event.kind == "not_investigated" and interviewed):
            found = event
        elif event.kind in DECISIONS_AFTER and found is not None and event.at >= found.at:
            found = None
    return found


def right_to_review(lang: str, code: VictimsCode, events: list[OccurrenceEvent]) -> list[str]:
    decision = review_decision(events)
    if decision is None:
        return []
    rule = code.right_to_review
    ask_by = add_months(_local(decision.at).date(), rule.request_within_months)
    return [languages.text(lang, "case.review.nfa"),
            _say(lang, "case.review.ask_by", months=rule.request_within_months, day=date_words(lang, ask_by)),
            _say(lang, "case.review.times", ack_days=rule.acknowledge_working_days,
                 decide_days=rule.decide_working_days)]


def attendance(session: Session, lang: str, occurrence: Occurrence, now: datetime) -> dict[str, str]:
    """The attendance the case came from: its status, its day, and its live page while the link works."""
    incident = session.get(Incident, occurrence.incident_id) if occurrence.incident_id else None
    if incident is None:
        return {}
    live = incident.link_expires_at is None or incident.link_expires_at > now
    url = links.track_url(links.derive_token(incident.link_nonce)) if live else ""
    return {"status": attendance_status(session, incident, lang), "when": _say(lang, "case.attendance_when",
                                                                             day=_day(lang, incident.opened_at)),
            "url": url}


def labels(lang: str) -> dict[str, str]:
    return {key: languages.text(lang, f"case.{key}") for key in LABEL_KEYS}


def case_view(session: Session, who: VictimIdentity, now: datetime) -> Optional[dict]:
    """The case page for the victim `who` names (None when their case victim is gone)."""
    case_victim = session.get(CaseVictim, who.case_victim_id)
    if case_victim is None or case_victim.victim_id != who.victim_id or case_victim.occurrence_id != who.occurrence_id:
        return None
    occurrence = session.get(Occurrence, case_victim.occurrence_id)
    victim = session.get(Victim, case_victim.victim_id)
    if occurrence is None or victim is None:
        return None
    lang = languages.resolve_language(victim.language)
    code = code_in_force()
    events = list(session.exec(select(OccurrenceEvent).where(
        OccurrenceEvent.occurrence_id == occurrence.id, OccurrenceEvent.public == True)  # noqa: E712
        .order_by(OccurrenceEvent.at, OccurrenceEvent.id)).all())
    duties = list(session.exec(select(Duty).where(Duty.occurrence_id == occurrence.id,
                                                  Duty.victim_id == case_victim.victim_id)).all())
    single = len(session.exec(select(CaseVictim.id).where(CaseVictim.occurrence_id == occurrence.id)).all()) == 1
    every = case_victim.routine_every_days or code.routine_updates.then_every_calendar_days
    return {
        "lang": lang,
        "dir": languages.direction(lang),
        "reference": occurrence.crime_reference or occurrence.occurrence_number,
        "reported": reported_line(lang, occurrence),
        "status": status_words(lang, occurrence, [e.kind for e in events]),
        "oic": oic_line(lang, occurrence, settings().portal.show_officer_name),
        "timeline": timeline(lang, events, duties, single),
        "next_steps": next_steps(lang, duties, every, occurrence.status == OccurrenceStatus.OPEN, now),
        "rights": rights(lang, code),
        "support": support(lang),
        "compensation": compensation(lang),
        "complaints": complaints(lang, code),
        "right_to_review": right_to_review(lang, code, events),
        "attendance": attendance(session, lang, occurrence, now),
        "labels": labels(lang),
    }


def load_case_view(who: VictimIdentity, now: Optional[datetime] = None) -> Optional[dict]:
    """`case_view` in a read-only session of its own, for a Reflex state (through asyncio.to_thread) or a route."""
    with session_scope(readonly=True) as session:
        return case_view(session, who, now or utcnow())
