"""What each screen shows, built from the database as plain dictionaries.

`victim_view` is the only thing a victim's browser ever receives about an attendance: it is built from an
allow-list of fields, so call signs, positions, vehicles and officers' names cannot leak into it. It is said
in the victim's language (rxapp/attendance/track_words.py over rxapp/languages), with the page's fixed words
in `labels`, because one shared state carries it to every tab open on the link.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Optional

from sqlmodel import Session, select

from rxapp import languages
from rxapp.attendance import track_words as words
from rxapp.attendance.models import (
    Incident,
    IncidentStep,
    stored_estimate,
)
from rxapp.attendance.service import find_incident_by_token
from rxapp.attendance.targets import attendance_now, attendance_time
from rxapp.domain import attendance as rules
from rxapp.domain.attendance import Situation
from rxapp.domain.portal_access import access_ended
from rxapp.investigation.models import CaseVictim, Occurrence
from rxapp.plumbing import links
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.portal.invitations import live_invite
from rxapp.victims.models import Victim

# Texts the attendance sends (rxapp/attendance/texts.py keys in Incident.texts_sent) that the page must agree with.
NO_OFFICER_TEXT = "no-officer"
SLIPPED_TEXT = "slipped-"


# What is left on a channel whose link has expired: nothing of the attendance. Also the shape of every view.
ENDED_VIEW = {"lang": "en", "dir": "ltr", "situation": "", "status": "", "status_label": "", "explain": [],
              "is_open": False, "steps": [], "eta_text": "", "eta_clock": "", "eta_stale": False,
              "crime_reference": "", "updated": "", "live_text": "", "reconnecting_text": "", "advice": [],
              "after": [], "support": [], "portal_url": "", "labels": {}, "version": 0}


def _clock(at: Optional[datetime]) -> str:
    return rules.london_time(at) if at else ""


def victim_language(session: Session, incident: Incident) -> str:
    return _languages(session, [incident])[incident.id]


def _languages(session: Session, incidents: list[Incident]) -> dict[int, str]:
    """Each attendance's victim's language, in one query."""
    victim_ids = {i.victim_id for i in incidents if i.victim_id}
    spoken = dict(session.exec(select(Victim.id, Victim.language).where(Victim.id.in_(victim_ids))).all()) \
        if victim_ids else {}
    return {i.id: languages.resolve_language(spoken.get(i.victim_id) if i.victim_id else None) for i in incidents}


def _facts(incident: Incident, steps: list[IncidentStep]) -> rules.PageFacts:
    kinds = [s.kind for s in steps]
    last_diverted = max((i for i, k in enumerate(kinds) if k == "diverted"), default=-1)
    return rules.PageFacts(
        status=incident.status, is_open=incident.is_open, disposition=incident.disposition,
        diverted_count=incident.diverted_count,
        assigned_since_diversion="assigned" in kinds[last_diverted + 1:] if last_diverted >= 0 else False,
        appointments=kinds.count("appointment"),
        no_officer_apology=NO_OFFICER_TEXT in incident.texts_sent.split(","),
        arrived=incident.arrived_at is not None,
    )


def _steps(lang: str, incident: Incident, steps: list[IncidentStep], now: datetime) -> list[dict[str, str]]:
    out, assignments, appointments = [], 0, 0
    for s in steps:
        text = words.step(lang, s.kind, words.step_data(s.data), now, earlier_assignments=assignments,
                          earlier_appointments=appointments, incident_disposition=incident.disposition,
                          incident_reference=incident.crime_reference,
                          incident_appointment=(incident.appointment_start, incident.appointment_end))
        assignments += s.kind == "assigned"
        appointments += s.kind == "appointment"
        if text:
            out.append({"time": _clock(s.at), "day": words.relative_day(lang, s.at, now),
                        "today": "1" if rules.london_day(s.at, now) == "today" else "", "text": text})
    return out


def _explain(lang: str, situation: Situation, incident: Incident, has_window: bool, now: datetime) -> list[str]:
    booked = incident.appointment_start is not None and incident.appointment_end is not None and incident.is_open
    when = words.appointment(lang, incident.appointment_start, incident.appointment_end, now) if booked else ""
    if situation in (Situation.SCHEDULED, Situation.RESCHEDULED):
        return [languages.text(lang, f"explain.{situation}", when=when)]
    if situation == Situation.EN_ROUTE:
        out = [languages.text(lang, "explain.en_route" if has_window else "explain.en_route_no_window")]
        slipped = any(k.startswith(f"{SLIPPED_TEXT}{incident.diverted_count}-") for k in incident.texts_sent.split(","))
        return out + ([languages.text(lang, "explain.slipped")] if slipped else [])
    out = [languages.text(lang, f"explain.{situation}")]
    if booked and situation in (Situation.ASSIGNED, Situation.REASSIGNED):
        out.append(languages.text(lang, "explain.scheduled", when=when))
    return out


def _public_steps(session: Session, incident: Incident) -> list[IncidentStep]:
    return _steps_of(session, [incident.id])[incident.id]


def _steps_of(session: Session, ids: list[int]) -> dict[int, list[IncidentStep]]:
    """Each attendance's public steps in order, in one query."""
    out: dict[int, list[IncidentStep]] = {i: [] for i in ids}
    for step in session.exec(
            select(IncidentStep).where(IncidentStep.incident_id.in_(ids), IncidentStep.public == True)  # noqa: E712
            .order_by(IncidentStep.incident_id, IncidentStep.at, IncidentStep.id)):
        out[step.incident_id].append(step)
    return out


def attendance_status(session: Session, incident: Incident, lang: str) -> str:
    """The attendance's status as its live page heads it ("Visit complete"), in `lang`: for the portal's case page."""
    return languages.text(lang, f"status.{rules.situation(_facts(incident, _public_steps(session, incident)))}")


def portal_offer(session: Session, incident: Incident) -> str:
    """The victim's portal link when a crime was recorded from this attendance and they have a live invitation to
    read it (not revoked, access not ended), else "". Derived from the invitation's nonce; the link is not stored."""
    return _portal_offers(session, [incident]).get(incident.id, "")


def _portal_offers(session: Session, incidents: list[Incident]) -> dict[int, str]:
    """`portal_offer` of each of these attendances that has one (one query, plus one per crime recorded)."""
    victims = {i.id: i.victim_id for i in incidents if i.victim_id is not None}
    if not victims:
        return {}
    found: dict[int, tuple[int, Optional[datetime]]] = {}  # incident id -> (its victim's first CaseVictim, finalised)
    for case_victim_id, finalised_at, incident_id, victim_id in session.exec(
            select(CaseVictim.id, Occurrence.finalised_at, Occurrence.incident_id, CaseVictim.victim_id)
            .join(Occurrence, Occurrence.id == CaseVictim.occurrence_id)
            .where(Occurrence.incident_id.in_(list(victims))).order_by(CaseVictim.id)):
        if victims.get(incident_id) == victim_id and incident_id not in found:
            found[incident_id] = (case_victim_id, finalised_at)
    out, now, days = {}, utcnow(), settings().portal.access_days_after_finalised
    for incident_id, (case_victim_id, finalised_at) in found.items():
        invite = live_invite(session, case_victim_id)
        if invite is not None and not access_ended(finalised_at, now, days):
            out[incident_id] = links.portal_url(links.derive_portal_token(invite.link_nonce))
    return out


def victim_view(session: Session, incident: Incident, now: Optional[datetime] = None) -> dict:
    return _views(session, [incident], now)[incident.id]


def _views(session: Session, incidents: list[Incident], now: Optional[datetime] = None) -> dict[int, dict]:
    """The victim's view of each attendance, with what it needs read in a few queries for all of them (its
    victim's language, its public steps, the portal's offer) instead of a few for each."""
    now = now or attendance_now()
    if not incidents:
        return {}
    spoken = _languages(session, incidents)
    steps = _steps_of(session, [i.id for i in incidents])
    out = {incident.id: _view(incident, spoken[incident.id], steps[incident.id], now) for incident in incidents}
    offered = [i for i in incidents if out[i.id]["after"]]  # the portal is offered with what comes after the visit
    for incident_id, url in (_portal_offers(session, offered) if offered else {}).items():
        out[incident_id]["portal_url"] = url
    return out


def _view(incident: Incident, lang: str, steps: list[IncidentStep], now: datetime) -> dict:
    situation = rules.situation(_facts(incident, steps))
    estimate = stored_estimate(incident) if incident.is_open and incident.status == rules.EN_ROUTE else None
    eta_text, eta_clock = words.window(lang, estimate, now)
    updated = _clock(attendance_time(incident.updated_at) if incident.updated_at else None)
    reference = (incident.crime_reference or "") if not incident.is_open else ""
    flags = [f for f in incident.flags.split(",") if f]
    after = words.after(lang, situation, reference)  # after the visit; with it, the portal's offer
    return {
        "lang": lang,
        "dir": languages.direction(lang),
        "situation": str(situation),
        "status": incident.status,
        "status_label": languages.text(lang, f"status.{situation}"),
        "explain": _explain(lang, situation, incident, bool(eta_text), now),
        "is_open": incident.is_open,
        "steps": _steps(lang, incident, steps, now),
        "eta_text": eta_text,
        "eta_clock": eta_clock,
        "eta_stale": bool(estimate and estimate.stale and eta_text),
        "crime_reference": reference,
        "updated": updated,
        "live_text": words.say(lang, "page.live", time=updated),
        "reconnecting_text": words.say(lang, "page.reconnecting", time=updated),
        "advice": words.advice(lang, situation, incident.category, flags),
        "after": after,
        "support": words.support(lang, situation, settings().support_contacts),
        "portal_url": "",  # filled in by _views when `after` is shown and the victim is invited
        "labels": words.labels(lang),
        "version": incident.version,
    }


def victim_view_for_link(token: str) -> tuple[Optional[int], Optional[dict]]:
    """(incident id, the victim's view) for a valid, unexpired link; (None, None) otherwise."""
    with session_scope(readonly=True) as session:
        incident = find_incident_by_token(session, token)
        if incident is None:
            return None, None
        return incident.id, victim_view(session, incident)


def victim_views(ids: Iterable[int]) -> dict[int, dict]:
    """The victim's view of each of these attendances that exists and whose link still works, read and rendered
    together."""
    return views_to_push(ids)[0]


def views_to_push(ids: Iterable[int], now: Optional[datetime] = None) -> tuple[dict[int, dict], set[int]]:
    """For the publisher: (the victim's view of each of these attendances whose link still works, the ids of those
    whose link has expired). A few queries for all of them, whatever their number."""
    ids = list(ids)
    if not ids:
        return {}, set()
    now = now or utcnow()
    with session_scope(readonly=True) as session:
        incidents = list(session.exec(select(Incident).where(Incident.id.in_(ids))).all())
        expired = {i.id for i in incidents if i.link_expires_at is not None and i.link_expires_at <= now}
        return _views(session, [i for i in incidents if i.id not in expired]), expired


def expired_links(ids: Iterable[int] = (), since: Optional[datetime] = None,
                  now: Optional[datetime] = None) -> set[int]:
    """Attendances whose victim link has expired: of `ids`, or (with `since`) every one expired since then."""
    now = now or utcnow()
    query = select(Incident.id).where(Incident.link_expires_at != None, Incident.link_expires_at <= now)  # noqa: E711
    if since is not None:
        query = query.where(Incident.link_expires_at > since)
    else:
        ids = list(ids)
        if not ids:
            return set()
        query = query.where(Incident.id.in_(ids))
    with session_scope(readonly=True) as session:
        return set(session.exec(query).all())
