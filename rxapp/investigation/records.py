"""The records feed's changes applied to a case: the occurrence, its victim, the officer in charge, the
investigation's milestones and the Code duties each one creates."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
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
from rxapp.domain.statuses import DutyState, HowTold, OccurrenceStatus, TaskKind, TaskStatus
from rxapp.feeds.ingest import Rejected
from rxapp.investigation.duties import (
    add_to_timeline,
    case_flags,
    case_victim,
    case_victims,
    close_open_tasks,
    duty_for,
    mark_done,
    open_task_for,
    schedule_routine,
)
from rxapp.investigation.models import CaseVictim, Duty, Occurrence, OccurrenceEvent
from rxapp.investigation.people import copy_linked_person, copy_person_update
from rxapp.investigation.telling import CaseContact, held_staff_text, publish_held_event
from rxapp.portal import live
from rxapp.portal.invitations import invite_case
from rxapp.tasks.models import Task
from rxapp.tasks.service import open_task
from rxapp.victims.contact import contact_state
from rxapp.victims.models import Victim


class RecordsApplier(CaseContact):
    """Applies one records change inside the caller's transaction (and savepoint). An investigation event
    dated more than `future_tolerance` after now is held: on the timeline for staff only, its milestones owed
    but told by the deadline sweep when its date comes, and a task for the officer in charge to check it."""

    def __init__(self, rules_code, future_tolerance: timedelta = timedelta(0)) -> None:
        super().__init__(rules_code)
        self.future_tolerance = future_tolerance

    def apply(self, session: Session, change: RecordsChange, now: datetime) -> bool:
        payload = change.payload
        if isinstance(payload, OccurrenceRecorded):
            self._recorded(session, change, payload, now)
            return True
        occurrence = session.exec(select(Occurrence).where(
            Occurrence.occurrence_number == change.occurrence_number)).first()
        if occurrence is None:
            raise Rejected(f"{change.type} for an occurrence not recorded yet")
        # A victim reading their case in the portal sees the change once it commits (rxapp/portal/live.py).
        for case_victim_id in session.exec(select(CaseVictim.id).where(CaseVictim.occurrence_id == occurrence.id)):
            live.changed_after_commit(session, case_victim_id)
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
        # A re-recorded crime (new flags, a new date) may change what each victim is owed.
        for victim in case_victims(session, occurrence):
            self._refresh_entitlement(session, occurrence, victim)
            self._open_case_duties(session, occurrence, victim, change.occurred_at, now)
        invite_case(session, occurrence, now)  # the victim portal: each eligible victim, once

    def _person_linked(self, session: Session, occurrence: Occurrence, p: PersonLinked, change: RecordsChange,
                       now: datetime) -> None:
        """A victim linked to the case: the same person again (their record refreshed), the caller of the
        attendance the crime came from, the same person from another case, or someone new. Another person
        never changes an existing victim's record."""
        _link_attendance(session, occurrence)  # the attendance may have reached us after the record
        person = _victim_on_case(session, occurrence, p.person_id) or _attendance_caller(session, occurrence)
        if person is None:
            person = session.exec(select(Victim).where(Victim.person_id == p.person_id)
                                  .order_by(Victim.id.desc())).first()
        continuing = person is not None
        if person is None:
            person = Victim(created_at=now)
            session.add(person)
        copy_linked_person(person, p, continuing)
        session.flush()
        victim = case_victim(session, occurrence.id, person.id)
        if victim is None:
            victim = CaseVictim(occurrence_id=occurrence.id, victim_id=person.id, linked_at=now, updated_at=now)
            session.add(victim)
            session.flush()
        _apply_contact_safety(session, person, p.contact.safe_to_contact, p.consent.updates, now)
        occurrence.updated_at = now
        self._refresh_entitlement(session, occurrence, victim)
        self._open_case_duties(session, occurrence, victim, change.occurred_at, now)
        invite_case(session, occurrence, now)

    def _person_updated(self, session: Session, occurrence: Occurrence, p: PersonUpdated, change: RecordsChange,
                        now: datetime) -> bool:
        person = _victim_on_case(session, occurrence, p.person_id)
        if person is None:
            if p.role is not None and p.role != "VICTIM":
                return False  # a suspect's or a witness's details: not this product's business
            raise Rejected("person.updated for a person not linked to this occurrence as a victim")
        victim = case_victim(session, occurrence.id, person.id)
        copy_person_update(person, p)
        c = p.changed
        safe = p.contact.safe_to_contact if p.contact is not None and "contact.safe_to_contact" in c else ...
        updates = p.consent.updates if p.consent is not None and "consent.updates" in c else ...
        _apply_contact_safety(session, person, safe, updates, now)
        occurrence.updated_at = now
        self._refresh_entitlement(session, occurrence, victim)
        if "consent.support_referral" in c:
            self._referral_consent_changed(session, occurrence, victim, change.occurred_at, now)
        invite_case(session, occurrence, now)  # consent given or a safe contact confirmed: invited then, once
        return True

    def _oic_changed(self, session: Session, occurrence: Occurrence, p: OicChanged, change: RecordsChange,
                     now: datetime) -> None:
        before = occurrence.oic_collar
        _set_oic(occurrence, p.oic)
        occurrence.updated_at = now
        # Open tasks on the case go with it to the new officer.
        for task in session.exec(select(Task).where(Task.occurrence_id == occurrence.id,
                                                    Task.status == TaskStatus.OPEN)):
            if task.assignee != occurrence.oic_collar:
                # The new officer sees where it came from (rxapp/inbox lists it for them from now on).
                note = f"Passed on from {task.assignee or 'no one'} when {occurrence.oic_collar} took the case."
                task.detail = f"{note} {task.detail}"[:1000] if task.detail else note
            task.assignee = occurrence.oic_collar
        add_to_timeline(session, occurrence, change.occurred_at, "oic_changed",
                        "A new officer is in charge of your case.",
                        f"Officer in charge changed from {before or 'none'} to {occurrence.oic_collar}",
                        change.change_id)
        if before and before != occurrence.oic_collar:
            for victim in case_victims(session, occurrence):
                self.milestone(session, occurrence, victim, self.code.milestone("oic_changed"), "oic_changed",
                               f"oic:{change.change_id}", change.occurred_at, now)

    def _investigation_event(self, session: Session, occurrence: Occurrence, p: InvestigationEvent,
                             change: RecordsChange, now: datetime) -> None:
        at = change.occurred_at
        public, staff = rules.event_words(p)
        held = rules.dated_in_future(at, now, self.future_tolerance)
        found = self.code.milestone_for_event(p.event)
        if held:
            # Not told to anyone before its date: staff see it (and why); the officer checks the record.
            add_to_timeline(session, occurrence, at, p.event.lower(), public, held_staff_text(staff),
                            change.change_id, public=False)
            check_record_task(session, occurrence, change, self.calendar, now)
            if found is not None:  # owed from its date; a referral or a VPS dated ahead meets nothing yet
                for victim in case_victims(session, occurrence):
                    self.milestone(session, occurrence, victim, found[0], found[1], f"event:{change.change_id}",
                                   at, now, held=True)
                    if p.event == "CHARGED":
                        self._vps_offer(session, occurrence, victim, at, now)
            return
        add_to_timeline(session, occurrence, at, p.event.lower(), public, staff, change.change_id)
        if found is not None:
            milestone, template = found
            for victim in case_victims(session, occurrence):
                self._supersede_held(session, occurrence, victim, milestone.key, template, now)
                self.milestone(session, occurrence, victim, milestone, template, f"event:{change.change_id}", at,
                               now)
                if p.event == "CHARGED":
                    self._vps_offer(session, occurrence, victim, at, now)
            return
        # A referral or a statement is one person's: the one the detail names, else every victim of the case.
        named = p.detail.get("person_id") if isinstance(p.detail.get("person_id"), str) else None
        person = _victim_on_case(session, occurrence, named) if named else None
        victims = [case_victim(session, occurrence.id, person.id)] if person else case_victims(session, occurrence)
        for victim in victims:
            if p.event == "SUPPORT_REFERRAL_MADE":
                service = p.detail.get("service") if isinstance(p.detail.get("service"), str) else None
                how = f"referral made{f' to {service}' if service else ''} (records system)"
                self._met_by_records(session, occurrence, victim, "support_referral", at, how, now)
                # Telling the victim who will contact them is courtesy, not a separate Code deadline.
                self.tell(session, occurrence, victim, None, "support_referral_made", None, now)
            elif p.event in ("VPS_OFFERED", "VPS_TAKEN"):
                self._met_by_records(session, occurrence, victim, "vps_offer", at,
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

    def _refresh_entitlement(self, session: Session, occurrence: Occurrence, victim: CaseVictim) -> None:
        """Enhanced rights follow the crime (its flags) and the person (age at the offence, needs)."""
        person = session.get(Victim, victim.victim_id)
        enhanced, reasons = rules.entitlement(
            self.code, feed_flags=case_flags(occurrence), date_of_birth=person.date_of_birth,
            offence_at=occurrence.reported_at,
            vulnerabilities=(person.vulnerabilities.split(",") if person.vulnerabilities else ()),
            intimidated=bool(person.intimidated), persistently_targeted=bool(person.persistently_targeted))
        victim.enhanced, victim.enhanced_reasons = enhanced, "; ".join(reasons)[:1000]

    def _open_case_duties(self, session: Session, occurrence: Occurrence, victim: CaseVictim, at: datetime,
                          now: datetime) -> None:
        """Written confirmation, support referral and the first routine update: owed to each victim once the
        case has its record and the victim is linked. Idempotent (one key per victim and case)."""
        self.milestone(session, occurrence, victim, self.code.milestone("written_confirmation"), "crime_recorded",
                       "written_confirmation", occurrence.recorded_at, now)
        if duty_for(session, occurrence, victim.victim_id, "support_referral") is None:
            self._referral(session, occurrence, victim, at, now)
        if occurrence.status == OccurrenceStatus.OPEN and session.exec(select(Duty.id).where(
                Duty.occurrence_id == occurrence.id, Duty.victim_id == victim.victim_id,
                Duty.milestone == rules.ROUTINE)).first() is None:
            schedule_routine(session, self.code, occurrence, victim, 1, None, now)
        # Milestones the records system sent before it linked the victim are owed all the same, by the
        # deadlines counted from when they happened.
        for event in session.exec(select(OccurrenceEvent).where(
                OccurrenceEvent.occurrence_id == occurrence.id, OccurrenceEvent.change_id != None)  # noqa: E711
                .order_by(OccurrenceEvent.at)):
            found = self.code.milestone_for_event(event.kind.upper())
            if found is not None and not _superseded(event):
                held = rules.dated_in_future(event.at, now, self.future_tolerance)
                if not held and not event.public:
                    publish_held_event(session, occurrence, event.change_id)  # held with nobody linked; now told
                self.milestone(session, occurrence, victim, found[0], found[1], f"event:{event.change_id}",
                               event.at, now, held=held)
                if event.kind == "charged":
                    self._vps_offer(session, occurrence, victim, event.at, now)

    def _referral(self, session: Session, occurrence: Occurrence, victim: CaseVictim, at: datetime,
                  now: datetime) -> None:
        milestone = self.code.milestone("support_referral")
        due = self.code.deadline(milestone.key, occurrence.reported_at, False, self.calendar)
        duty = Duty(occurrence_id=occurrence.id, victim_id=victim.victim_id, key="support_referral",
                    milestone=milestone.key, right=milestone.right, title=milestone.label,
                    triggered_at=occurrence.reported_at, due_at=due, created_at=now, updated_at=now)
        session.add(duty)
        session.flush()
        self._referral_consent_changed(session, occurrence, victim, at, now, duty)

    def _referral_consent_changed(self, session: Session, occurrence: Occurrence, victim: CaseVictim,
                                  at: datetime, now: datetime, duty: Optional[Duty] = None) -> None:
        """The referral is made by a person in the records system; the product makes sure it is asked for
        the right way and on time. Explicit consent for sexual offences, domestic abuse and bereaved
        relatives; otherwise the referral goes ahead unless the victim objects. `at` is when the records
        system recorded the victim's answer: that, not when we read it, decides whether it was in time."""
        duty = duty or duty_for(session, occurrence, victim.victim_id, "support_referral")
        if duty is None or duty.state == DutyState.CANCELLED:
            return
        consent = session.get(Victim, victim.victim_id).consent_referral
        explicit = self.code.referral_needs_explicit_consent(
            rules.code_flags(case_flags(occurrence)), bereaved="BEREAVED" in case_flags(occurrence))
        if duty.state == DutyState.DONE:
            if consent is True and rules.referral_declined(duty.done_how):
                # They said no, and now yes: the referral is owed again, two working days from then.
                duty.state, duty.done_at, duty.done_how, duty.late = DutyState.DUE, None, None, False
                duty.due_at = self.code.deadline("support_referral", at, False, self.calendar)
            else:
                return
        if consent is False:
            # The duty to offer is met; no referral may be made (the records system says no consent).
            how = rules.REFERRAL_NO_EXPLICIT_CONSENT if explicit else rules.REFERRAL_OBJECTED
            mark_done(duty, at, how, fact=True)
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
        self.hand_to_person(session, occurrence, duty, title, detail, now)

    def _vps_offer(self, session: Session, occurrence: Occurrence, victim: CaseVictim, charged_at: datetime,
                   now: datetime) -> None:
        held = rules.dated_in_future(charged_at, now, self.future_tolerance)
        existing = duty_for(session, occurrence, victim.victim_id, "vps_offer")
        if existing is not None:
            if existing.held_until is not None and not held and existing.state == DutyState.DUE:
                # Owed from a charge dated ahead, now charged at a real date: owed (and told) from that.
                self.release_held(session, occurrence, victim, existing, now, happened_at=charged_at)
            return  # already offered (or already owed)
        self.milestone(session, occurrence, victim, self.code.milestone("vps_offer"), "vps_offer", "vps_offer",
                       charged_at, now, held=held)

    def _supersede_held(self, session: Session, occurrence: Occurrence, victim: CaseVictim, milestone: str,
                        template: str, now: datetime) -> None:
        """The same milestone arrived dated now while one dated in the future is held (the records system's
        correction of a wrong date): the victim is told once, of this one; the held one is no longer owed."""
        for duty in session.exec(select(Duty).where(
                Duty.occurrence_id == occurrence.id, Duty.victim_id == victim.victim_id,
                Duty.milestone == milestone, Duty.template == template, Duty.state == DutyState.DUE,
                Duty.held_until != None)):  # noqa: E711
            duty.state, duty.held_until, duty.check_at, duty.updated_at = DutyState.CANCELLED, None, None, now
            duty.done_how = "superseded by a corrected record"
            for event in session.exec(select(OccurrenceEvent).where(
                    OccurrenceEvent.occurrence_id == occurrence.id,
                    OccurrenceEvent.change_id == duty.key[len("event:"):])):
                event.staff_text = (event.staff_text + " " + SUPERSEDED)[:1000]

    def _met_by_records(self, session: Session, occurrence: Occurrence, victim: CaseVictim, key: str,
                        at: datetime, how: str, now: datetime) -> None:
        """A duty the records system says a person has met (a referral made, a VPS offered)."""
        duty = duty_for(session, occurrence, victim.victim_id, key)
        if duty is None:
            milestone = self.code.milestone(key)
            duty = Duty(occurrence_id=occurrence.id, victim_id=victim.victim_id, key=key,
                        milestone=milestone.key, right=milestone.right, title=milestone.label, triggered_at=at,
                        due_at=self.code.deadline(key, at, victim.enhanced, self.calendar),
                        created_at=now, updated_at=now)
            session.add(duty)
            session.flush()
        if duty.state != DutyState.DONE:
            mark_done(duty, at, how, fact=True)
            close_open_tasks(session, duty, now, HowTold.RECORDS, f"Recorded in the records system: {how}.")


SUPERSEDED = "(superseded by a corrected record: never told)"


def _superseded(event: OccurrenceEvent) -> bool:
    return event.staff_text.endswith(SUPERSEDED)


def check_record_task(session: Session, occurrence: Occurrence, change: RecordsChange, calendar,
                      now: datetime) -> Task:
    """A task for the officer in charge: the records system sent a change dated in the future."""
    return open_task(session, kind=TaskKind.CHECK_RECORD, title="Check the date of a record in the records system",
                     detail=(f"The records system sent a {change.type} change dated "
                             f"{rules.when_words(change.occurred_at)}, which is in the future. Nothing was told to "
                             "the victim. Check the date in the records system: a corrected record is told when it "
                             "arrives; an event left dated ahead is told on its date."),
                     incident_id=occurrence.incident_id, due_at=calendar.add_working_days(now, 1),
                     occurrence_id=occurrence.id)


def _link_attendance(session: Session, occurrence: Occurrence) -> None:
    """The attendance a crime came from: its crime reference, and its caller (the first victim linked)."""
    if not occurrence.incident_urn or occurrence.incident_id is not None:
        return
    incident = session.exec(select(Incident).where(Incident.urn == occurrence.incident_urn)).first()
    if incident is None:
        return
    occurrence.incident_id = incident.id
    if incident.crime_reference is None and occurrence.crime_reference:
        incident.crime_reference = occurrence.crime_reference


def _victim_on_case(session: Session, occurrence: Occurrence, person_id: str) -> Optional[Victim]:
    """The victim of this case whom the records system knows as `person_id`."""
    return session.exec(select(Victim).join(CaseVictim, CaseVictim.victim_id == Victim.id).where(
        CaseVictim.occurrence_id == occurrence.id, Victim.person_id == person_id)).first()


def _attendance_caller(session: Session, occurrence: Occurrence) -> Optional[Victim]:
    """The caller of the attendance the crime came from, until the records system names them: a crime that
    came from an attendance continues that victim's journey (the same person, with the contact choices and
    opt-outs they already made)."""
    if occurrence.incident_id is None:
        return None
    incident = session.get(Incident, occurrence.incident_id)
    caller = session.get(Victim, incident.victim_id) if incident and incident.victim_id else None
    return caller if caller is not None and caller.person_id is None else None


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
