"""The records feed's changes applied to a case: the occurrence, its victim, the officer in charge, the
investigation's milestones and the Code duties each one creates."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Optional

from sqlmodel import Session, select

from rxapp.attendance.models import Incident
from rxapp.domain import journey as rules
from rxapp.domain.records import (
    InvestigationEvent,
    OccurrenceFinalised,
    OccurrenceRecorded,
    OicChanged,
    PersonLinked,
    PersonUpdated,
    RecordsChange,
)
from rxapp.domain.statuses import DutyState, HowTold, OccurrenceStatus, TaskStatus
from rxapp.feeds.ingest import Rejected
from rxapp.investigation.duties import (
    add_to_timeline,
    case_flags,
    close_open_tasks,
    duty_for,
    mark_done,
    open_task_for,
    schedule_routine,
)
from rxapp.investigation.models import Duty, Occurrence, OccurrenceEvent
from rxapp.investigation.telling import CaseContact
from rxapp.tasks.models import Task
from rxapp.victims.contact import contact_state
from rxapp.victims.models import Victim


class RecordsApplier(CaseContact):
    """Applies one records change inside the caller's transaction (and savepoint)."""

    def apply(self, session: Session, change: RecordsChange, now: datetime) -> bool:
        payload = change.payload
        if isinstance(payload, OccurrenceRecorded):
            self._recorded(session, change, payload, now)
            return True
        occurrence = session.exec(select(Occurrence).where(
            Occurrence.occurrence_number == change.occurrence_number)).first()
        if occurrence is None:
            raise Rejected(f"{change.type} for an occurrence not recorded yet")
        if isinstance(payload, PersonLinked):
            if payload.role != "VICTIM":
                return False  # suspects and witnesses are not this product's business
            self._person_linked(session, occurrence, payload, change, now)
        elif isinstance(payload, PersonUpdated):
            return self._person_updated(session, occurrence, payload, change, now)
        elif isinstance(payload, OicChanged):
            self._oic_changed(session, occurrence, payload, change, now)
        elif isinstance(payload, InvestigationEvent):
            self._investigation_event(session, occurrence, payload, change, now)
        elif isinstance(payload, OccurrenceFinalised):
            self._finalised(session, occurrence, payload, change, now)
        return True

    def _recorded(self, session: Session, change: RecordsChange, p: OccurrenceRecorded, now: datetime) -> None:
        occurrence = session.exec(select(Occurrence).where(
            Occurrence.occurrence_number == p.occurrence_number)).first()
        new = occurrence is None
        if new:
            occurrence = Occurrence(occurrence_number=p.occurrence_number, reported_at=p.reported_at,
                                    recorded_at=p.recorded_at, created_at=now)
            session.add(occurrence)
        occurrence.crime_reference = p.crime_reference
        occurrence.classification_code, occurrence.classification_text = p.classification.code, p.classification.text
        occurrence.reported_at, occurrence.recorded_at = p.reported_at, p.recorded_at
        occurrence.flags = ",".join(p.flags)
        if p.oic is not None:
            _set_oic(occurrence, p.oic)
        occurrence.incident_urn = p.incident_urn or occurrence.incident_urn
        _link_attendance(session, occurrence)
        occurrence.updated_at = now
        session.flush()
        if new:
            add_to_timeline(session, occurrence, change.occurred_at, "recorded",
                      f"Your report was recorded as a crime (reference {p.crime_reference or 'to follow'}).",
                      f"Recorded as {p.classification.code} {p.classification.text}", change.change_id)
        self._refresh_entitlement(session, occurrence)
        self._open_case_duties(session, occurrence, now)

    def _person_linked(self, session: Session, occurrence: Occurrence, p: PersonLinked, change: RecordsChange,
                       now: datetime) -> None:
        _link_attendance(session, occurrence)  # the attendance may have reached us after the record
        victim = session.get(Victim, occurrence.victim_id) if occurrence.victim_id else None
        if victim is None:
            victim = session.exec(select(Victim).where(Victim.person_id == p.person_id)
                                  .order_by(Victim.id.desc())).first()
        continuing = victim is not None
        if victim is None:
            victim = Victim(created_at=now)
            session.add(victim)
        victim.person_id = p.person_id
        name = " ".join(x for x in (p.name.given, p.name.family) if x)
        contact, needs, consent = p.contact, p.needs, p.consent
        if not continuing:
            victim.name = name or None
            victim.phone, victim.email = contact.mobile, contact.email
            victim.language = contact.language or "en"
            victim.sms_consent = bool(contact.mobile) and consent.updates is not False and \
                (contact.preferred_channel in (None, "SMS"))
        else:
            # Same person, same contact choices: fill only what the attendance did not have.
            victim.name = victim.name or name or None
            victim.phone = victim.phone or contact.mobile
            victim.email = victim.email or contact.email
        victim.date_of_birth = p.date_of_birth
        victim.postal_address = contact.postal_address
        victim.preferred_channel = victim.preferred_channel or contact.preferred_channel
        victim.contact_notes = contact.contact_notes
        victim.vulnerabilities = ",".join(needs.vulnerable or ())
        victim.intimidated = bool(needs.intimidated)
        victim.persistently_targeted = bool(needs.persistently_targeted)
        victim.interpreter = bool(needs.interpreter)
        victim.accessibility = needs.accessibility
        victim.consent_updates = consent.updates
        victim.consent_referral = consent.support_referral
        session.flush()
        occurrence.victim_id = victim.id
        _apply_contact_safety(session, victim, contact.safe_to_contact, consent.updates, now)
        occurrence.updated_at = now
        self._refresh_entitlement(session, occurrence)
        self._open_case_duties(session, occurrence, now)

    def _person_updated(self, session: Session, occurrence: Occurrence, p: PersonUpdated, change: RecordsChange,
                        now: datetime) -> bool:
        victim = session.get(Victim, occurrence.victim_id) if occurrence.victim_id else None
        if victim is None or victim.person_id != p.person_id:
            return False  # not the victim of this case
        c = p.changed
        if p.name is not None and "name" in " ".join(c):
            victim.name = " ".join(x for x in (p.name.given, p.name.family) if x) or victim.name
        if "date_of_birth" in c:
            victim.date_of_birth = p.date_of_birth
        contact, needs, consent = p.contact, p.needs, p.consent
        if contact is not None:
            for path, attr, value in (("contact.mobile", "phone", contact.mobile),
                                      ("contact.email", "email", contact.email),
                                      ("contact.postal_address", "postal_address", contact.postal_address),
                                      ("contact.preferred_channel", "preferred_channel", contact.preferred_channel),
                                      ("contact.contact_notes", "contact_notes", contact.contact_notes),
                                      ("contact.language", "language", contact.language or "en")):
                if path in c:
                    setattr(victim, attr, value)
            if "contact.preferred_channel" in c:
                # Texts only where the victim now asks for them; email, a letter or a call otherwise.
                victim.sms_consent = contact.preferred_channel == "SMS" and bool(victim.phone)
        if needs is not None:
            if "needs.vulnerable" in c:
                victim.vulnerabilities = ",".join(needs.vulnerable or ())
            for name in ("intimidated", "persistently_targeted", "interpreter"):
                if f"needs.{name}" in c:
                    setattr(victim, name, bool(getattr(needs, name)))
            if "needs.accessibility" in c:
                victim.accessibility = needs.accessibility
        if consent is not None:
            if "consent.updates" in c:
                victim.consent_updates = consent.updates
            if "consent.support_referral" in c:
                victim.consent_referral = consent.support_referral
        safe = contact.safe_to_contact if contact is not None and "contact.safe_to_contact" in c else ...
        updates = consent.updates if consent is not None and "consent.updates" in c else ...
        _apply_contact_safety(session, victim, safe, updates, now)
        occurrence.updated_at = now
        self._refresh_entitlement(session, occurrence)
        if "consent.support_referral" in c:
            self._referral_consent_changed(session, occurrence, victim, now)
        return True

    def _oic_changed(self, session: Session, occurrence: Occurrence, p: OicChanged, change: RecordsChange,
                     now: datetime) -> None:
        before = occurrence.oic_collar
        _set_oic(occurrence, p.oic)
        occurrence.updated_at = now
        # Open tasks on the case go with it to the new officer.
        for task in session.exec(select(Task).where(Task.occurrence_id == occurrence.id,
                                                    Task.status == TaskStatus.OPEN)):
            task.assignee = occurrence.oic_collar
        add_to_timeline(session, occurrence, change.occurred_at, "oic_changed",
                  "A new officer is in charge of your case.",
                  f"Officer in charge changed from {before or 'none'} to {occurrence.oic_collar}", change.change_id)
        if before and before != occurrence.oic_collar:
            self._milestone(session, occurrence, self.code.milestone("oic_changed"), "oic_changed",
                            f"oic:{change.change_id}", change.change_id, change.occurred_at, now)

    def _investigation_event(self, session: Session, occurrence: Occurrence, p: InvestigationEvent,
                             change: RecordsChange, now: datetime) -> None:
        at = change.occurred_at
        public, staff = rules.event_words(p)
        add_to_timeline(session, occurrence, at, p.event.lower(), public, staff, change.change_id)
        found = self.code.milestone_for_event(p.event)
        if found is not None:
            milestone, template = found
            self._milestone(session, occurrence, milestone, template, f"event:{change.change_id}",
                            change.change_id, at, now)
            if p.event == "CHARGED":
                self._vps_offer(session, occurrence, at, now)
            return
        if p.event == "SUPPORT_REFERRAL_MADE":
            service = p.detail.get("service") if isinstance(p.detail.get("service"), str) else None
            how = f"referral made{f' to {service}' if service else ''} (records system)"
            self._met_by_records(session, occurrence, "support_referral", at, how, now)
            victim = session.get(Victim, occurrence.victim_id) if occurrence.victim_id else None
            if victim is not None:
                # Telling the victim who will contact them is courtesy, not a separate Code deadline.
                self._tell(session, occurrence, victim, None, "support_referral_made", None, now)
        elif p.event in ("VPS_OFFERED", "VPS_TAKEN"):
            self._met_by_records(session, occurrence, "vps_offer", at,
                                 "VPS offered by the officer" if p.event == "VPS_OFFERED" else "VPS taken", now)

    def _finalised(self, session: Session, occurrence: Occurrence, p: OccurrenceFinalised, change: RecordsChange,
                   now: datetime) -> None:
        occurrence.status, occurrence.result = OccurrenceStatus.FINALISED, p.result[:200]
        occurrence.finalised_at, occurrence.updated_at = change.occurred_at, now
        add_to_timeline(session, occurrence, change.occurred_at, "finalised", "Your case has been closed.",
                  f"Finalised: {p.result}", change.change_id)
        # The heartbeat stops with the case; milestone duties already owed stay owed.
        for duty in session.exec(select(Duty).where(Duty.occurrence_id == occurrence.id,
                                                    Duty.milestone == rules.ROUTINE, Duty.state == DutyState.DUE)):
            duty.state, duty.check_at, duty.updated_at = DutyState.CANCELLED, None, now

    def _refresh_entitlement(self, session: Session, occurrence: Occurrence) -> None:
        victim = session.get(Victim, occurrence.victim_id) if occurrence.victim_id else None
        enhanced, reasons = rules.entitlement(
            self.code, feed_flags=case_flags(occurrence), date_of_birth=victim.date_of_birth if victim else None,
            offence_at=occurrence.reported_at,
            vulnerabilities=(victim.vulnerabilities.split(",") if victim and victim.vulnerabilities else ()),
            intimidated=bool(victim and victim.intimidated),
            persistently_targeted=bool(victim and victim.persistently_targeted))
        occurrence.enhanced, occurrence.enhanced_reasons = enhanced, "; ".join(reasons)[:1000]

    def _open_case_duties(self, session: Session, occurrence: Occurrence, now: datetime) -> None:
        """Written confirmation, support referral and the first routine update: owed once the case has
        both its record and its victim. Idempotent (each has one key per case)."""
        victim = session.get(Victim, occurrence.victim_id) if occurrence.victim_id else None
        if victim is None or victim.person_id is None:
            return  # wait for the records system's person: their consent and needs decide the duties
        self._milestone(session, occurrence, self.code.milestone("written_confirmation"), "crime_recorded",
                        "written_confirmation", None, occurrence.recorded_at, now)
        if duty_for(session, occurrence, "support_referral") is None:
            self._referral(session, occurrence, victim, now)
        if occurrence.status == OccurrenceStatus.OPEN and session.exec(select(Duty.id).where(
                Duty.occurrence_id == occurrence.id, Duty.milestone == rules.ROUTINE)).first() is None:
            schedule_routine(session, self.code, occurrence, 1, None, now)
        # Milestones the records system sent before it linked the victim are owed all the same, by the
        # deadlines counted from when they happened.
        for event in session.exec(select(OccurrenceEvent).where(
                OccurrenceEvent.occurrence_id == occurrence.id, OccurrenceEvent.change_id != None)  # noqa: E711
                .order_by(OccurrenceEvent.at)):
            found = self.code.milestone_for_event(event.kind.upper())
            if found is not None:
                self._milestone(session, occurrence, found[0], found[1], f"event:{event.change_id}",
                                event.change_id, event.at, now)
                if event.kind == "charged":
                    self._vps_offer(session, occurrence, event.at, now)

    def _referral(self, session: Session, occurrence: Occurrence, victim: Victim, now: datetime) -> None:
        milestone = self.code.milestone("support_referral")
        due = self.code.deadline(milestone.key, occurrence.reported_at, False, self.calendar)
        duty = Duty(occurrence_id=occurrence.id, victim_id=victim.id, key="support_referral",
                    milestone=milestone.key, right=milestone.right, title=milestone.label,
                    triggered_at=occurrence.reported_at, due_at=due, created_at=now, updated_at=now)
        session.add(duty)
        session.flush()
        self._referral_consent_changed(session, occurrence, victim, now, duty)

    def _referral_consent_changed(self, session: Session, occurrence: Occurrence, victim: Victim, now: datetime,
                                  duty: Optional[Duty] = None) -> None:
        """The referral is made by a person in the records system; the product makes sure it is asked for
        the right way and on time. Explicit consent for sexual offences, domestic abuse and bereaved
        relatives; otherwise the referral goes ahead unless the victim objects."""
        duty = duty or duty_for(session, occurrence, "support_referral")
        if duty is None or duty.state == DutyState.CANCELLED:
            return
        consent = victim.consent_referral
        explicit = self.code.referral_needs_explicit_consent(
            rules.code_flags(case_flags(occurrence)), bereaved="BEREAVED" in case_flags(occurrence))
        if duty.state == DutyState.DONE:
            if consent is True and (duty.done_how or "").startswith(("victim did not", "victim objected")):
                # They said no, and now yes: the referral is owed again, two working days from now.
                duty.state, duty.done_at, duty.done_how, duty.late = DutyState.DUE, None, None, False
                duty.due_at = self.code.deadline("support_referral", now, False, self.calendar)
            else:
                return
        if consent is False:
            # The duty to offer is met; no referral may be made (the records system says no consent).
            how = ("victim did not give the explicit consent a referral needs" if explicit
                   else "victim objected to a referral")
            mark_done(duty, now, how)
            close_open_tasks(session, duty, now, HowTold.DECLINED, f"Recorded in the records system: {how}.")
            return
        if consent is None and explicit:
            title = "Ask the victim for explicit consent to a support referral"
            detail = ("The Code allows this referral only with the victim's explicit consent "
                      f"({'; '.join(rules.code_flags(case_flags(occurrence)))}). Ask them, by a safe route, "
                      "and record the answer in the records system.")
        else:
            title = "Refer the victim to support services"
            detail = ("Make the referral (the victim " +
                      ("consented" if consent else "has not objected") +
                      ") and record it in the records system; the product tells the victim when it is recorded.")
        existing = open_task_for(session, duty)
        if existing is not None and existing.title == title:
            return
        close_open_tasks(session, duty, now, None, "Superseded: the victim's consent changed.")
        self._hand_to_person(session, occurrence, duty, title, detail, now)

    def _vps_offer(self, session: Session, occurrence: Occurrence, charged_at: datetime, now: datetime) -> None:
        if duty_for(session, occurrence, "vps_offer") is not None:
            return  # already offered (or already owed)
        self._milestone(session, occurrence, self.code.milestone("vps_offer"), "vps_offer", "vps_offer", None,
                        charged_at, now)

    def _met_by_records(self, session: Session, occurrence: Occurrence, key: str, at: datetime, how: str,
                        now: datetime) -> None:
        """A duty the records system says a person has met (a referral made, a VPS offered)."""
        duty = duty_for(session, occurrence, key)
        if duty is None:
            milestone = self.code.milestone(key)
            duty = Duty(occurrence_id=occurrence.id, victim_id=occurrence.victim_id, key=key,
                        milestone=milestone.key, right=milestone.right, title=milestone.label, triggered_at=at,
                        due_at=self.code.deadline(key, at, occurrence.enhanced, self.calendar),
                        created_at=now, updated_at=now)
            session.add(duty)
            session.flush()
        if duty.state != DutyState.DONE:
            mark_done(duty, at, how)
            close_open_tasks(session, duty, now, HowTold.RECORDS, f"Recorded in the records system: {how}.")


def _link_attendance(session: Session, occurrence: Occurrence) -> None:
    """A crime that came from an attendance continues that victim's journey: the same person, with the
    contact choices and opt-outs they already made."""
    if not occurrence.incident_urn or occurrence.incident_id is not None:
        return
    incident = session.exec(select(Incident).where(Incident.urn == occurrence.incident_urn)).first()
    if incident is None:
        return
    occurrence.incident_id = incident.id
    occurrence.victim_id = occurrence.victim_id or incident.victim_id
    if incident.crime_reference is None and occurrence.crime_reference:
        incident.crime_reference = occurrence.crime_reference

def _set_oic(occurrence: Occurrence, oic) -> None:
    occurrence.oic_collar, occurrence.oic_name = oic.collar_number, oic.name
    occurrence.oic_email, occurrence.oic_team = oic.email, oic.team

def _apply_contact_safety(session: Session, victim: Victim, safe_to_contact, updates, now: datetime) -> None:
    """The records system's safe-to-contact answer and consent to updates. `...` means not in the change."""

    state = contact_state(session, victim.id)
    if safe_to_contact is not ...:
        state.safe_contact_confirmed = safe_to_contact is True
    if updates is False:
        state.opted_out_all, state.opted_out_at = True, state.opted_out_at or now
    state.updated_at = now

def change_summary(change: RecordsChange) -> str:
    """What is kept of a well-formed change that could not be applied: its envelope, not its people."""
    return json.dumps({"change_id": change.change_id, "type": change.type,
                       "occurrence_number": change.occurrence_number,
                       "occurred_at": change.occurred_at.isoformat()})
