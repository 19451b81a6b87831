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


def _clock(at: Optional[datetime]) -> str:
    return rules.london_time(at) if at else ""


def victim_language(session: Session, incident: Incident) -> str:
    victim = session.get(Victim, incident.victim_id) if incident.victim_id else None
    return languages.resolve_language(victim.language if victim else None)


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
    return list(session.exec(
        select(IncidentStep).where(IncidentStep.incident_id == incident.id, IncidentStep.public == True)  # noqa: E712
        .order_by(IncidentStep.at, IncidentStep.id)
    ).all())


def attendance_status(session: Session, incident: Incident, lang: str) -> str:
    """The attendance's status as its live page heads it ("Visit complete"), in `lang`: for the portal's case page."""
    return languages.text(lang, f"status.{rules.situation(_facts(incident, _public_steps(session, incident)))}")


def portal_offer(session: Session, incident: Incident) -> str:
    """The victim's portal link when a crime was recorded from this attendance and they have a live invitation to
    read it (not revoked, access not ended), else "". Derived from the invitation's nonce; the link is not stored."""
    if incident.victim_id is None:
        return ""
    found = session.exec(select(CaseVictim.id, Occurrence.finalised_at)
                         .join(Occurrence, Occurrence.id == CaseVictim.occurrence_id)
                         .where(Occurrence.incident_id == incident.id, CaseVictim.victim_id == incident.victim_id)
                         .order_by(CaseVictim.id)).first()
    invite = live_invite(session, found[0]) if found is not None else None
    if invite is None or access_ended(found[1], utcnow(), settings().portal.access_days_after_finalised):
        return ""
    return links.portal_url(links.derive_portal_token(invite.link_nonce))


def victim_view(session: Session, incident: Incident, now: Optional[datetime] = None) -> dict:
    now = now or attendance_now()
    lang = victim_language(session, incident)
    steps = _public_steps(session, incident)
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
        "portal_url": portal_offer(session, incident) if after else "",
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


def victim_views(ids: set[int]) -> dict[int, dict]:
    """The victim's view of each of these attendances, to push to their open pages."""
    out = {}
    with session_scope(readonly=True) as session:
        for incident_id in ids:
            incident = session.get(Incident, incident_id)
            if incident is not None:
                out[incident_id] = victim_view(session, incident)
    return out


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
