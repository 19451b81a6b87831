"""The investigation journey service: the records feed (NICHE) in, the Victims' Code duties out.

`JourneyService` is the `RecordsSink` of `integrations/niche/poller.py`. A page of changes is applied in
ONE transaction with its cursor (a crash re-reads the page; a repeated `change_id` changes nothing), bad
changes become dead letters while the rest of the page applies.

Each change becomes rows the rest of the product reads:
- `Occurrence`: the recorded crime; an `incident_urn` that matches an attendance continues that victim's
  journey (same person, same contact choices and opt-outs).
- `Duty`: each thing the Code says the victim must be told or given, with its deadline from the rules
  file: written confirmation, support referral, each milestone, a Victim Personal Statement offer after a
  charge, a new officer in charge, and the routine "nothing new yet" heartbeat.
- The update itself: an outbox message (`rxapp/messaging.py`; the sender applies the safety rules again
  when it sends), or, where automation must not or cannot tell the victim, a `Task` for the officer in
  charge with the Code's deadline (`rxapp/domain/journey.py` decides which).

A duty follows what happens to its message (sent: done; failed: owed again, or taken over by a task) and
to its task (completed: done, with how the victim was told). `sweep` is the deadline sweep: it reads only
duties and tasks whose `check_at` / `escalate_at` has come, by index, so its cost follows the work due,
not the number of open cases: routine updates fall due, unmet deadlines become late with a task, and
tasks not done by their deadline are escalated to the supervisor.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Optional, Sequence

from sqlmodel import Session, select

from integrations.niche.protocol import (
    BadChange,
    InvestigationEvent,
    OccurrenceFinalised,
    OccurrenceRecorded,
    OicChanged,
    PersonLinked,
    PersonUpdated,
    RecordsChange,
)

from rxapp.plumbing.db import session_scope
from rxapp.domain import journey as rules
from rxapp.domain.code_rules import Milestone, VictimsCode, load_code
from rxapp.feeds.models import DeadLetter, FeedCursor, ProcessedEvent
from rxapp.investigation.models import Duty, Occurrence, OccurrenceEvent
from rxapp.attendance.models import Incident
from rxapp.messaging.models import Message
from rxapp.tasks.models import Task
from rxapp.victims.models import Victim, VictimContactState
from rxapp.plumbing.columns import utcnow

log = logging.getLogger(__name__)

FEED = "niche"
RAW_LIMIT = 64 * 1024
SWEEP_BATCH = 200
SWEEP_BUDGET_SECONDS = 1.2
MIN_EVERY_DAYS, MAX_EVERY_DAYS = 1, 90  # an agreed routine-update frequency
TASK_OUTCOMES = {
    "phone": "by phone", "in_person": "in person", "letter": "by letter", "sms": "by text",
    "email": "by email", "portal": "through the victim's portal", "declined": "victim declined",
    "not_reached": "could not be reached",
}


@lru_cache(maxsize=1)
def code() -> VictimsCode:
    """The Victims' Code in force: the rules file named by VJ_CODE_RULES, or the bundled 2020 Code."""
    from rxapp.plumbing.config import settings

    path = settings().code_rules_path
    return load_code(path) if path else load_code()


class Rejected(Exception):
    """A well-formed change the product cannot apply (e.g. a person for an unknown occurrence)."""


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    ignored: int = 0


@dataclass
class SweepResult:
    routine_queued: int = 0
    became_late: int = 0
    escalated: int = 0
    checked: int = 0
    more: bool = False  # stopped at its time budget with more due: the next pass carries on
    tasks: list[int] = field(default_factory=list)


class JourneyService:
    """The records feed's sink, and the journey's actions on the database."""

    def __init__(self, db_url: Optional[str] = None, *, rules_code: Optional[VictimsCode] = None,
                 now=utcnow) -> None:
        self.db_url = db_url
        self.code = rules_code or code()
        self.calendar = self.code.calendar()
        self._now = now

    # ---- RecordsSink -------------------------------------------------------------------------------

    async def cursor(self) -> Optional[str]:
        return await asyncio.to_thread(self.stored_cursor)

    async def apply(self, items: Sequence[RecordsChange | BadChange], next_cursor: str) -> None:
        await asyncio.to_thread(self.apply_page, items, next_cursor)

    def stored_cursor(self) -> Optional[str]:
        with session_scope(self.db_url, readonly=True) as session:
            row = session.get(FeedCursor, FEED)
            return row.cursor if row else None

    def apply_page(self, items: Sequence[RecordsChange | BadChange], next_cursor: Optional[str]) -> ApplyResult:
        result = ApplyResult()
        now = self._now()
        with session_scope(self.db_url) as session:
            for item in items:
                if isinstance(item, BadChange):
                    self._dead_letter(session, item.raw, item.reason, item.change_id)
                    result.dead_letters += 1
                    continue
                key = f"{FEED}:{item.change_id}"
                if session.get(ProcessedEvent, key) is not None:
                    result.duplicates += 1
                    continue
                try:
                    with session.begin_nested():
                        applied = self._apply(session, item, now)
                        session.add(ProcessedEvent(event_id=key, feed=FEED, seq=0, processed_at=now))
                except Rejected as exc:
                    self._dead_letter(session, _summary(item), str(exc), item.change_id)
                    result.dead_letters += 1
                except (ValueError, LookupError, TypeError) as exc:
                    # A change this code cannot handle must not block every change after it (the savepoint
                    # undid its part). Database errors are not caught: the page is retried whole.
                    # The type only: an exception's message or traceback may quote a person's details.
                    log.error("records change %s could not be applied (%s)", item.change_id, type(exc).__name__)
                    self._dead_letter(session, _summary(item), f"could not be applied ({type(exc).__name__})",
                                      item.change_id)
                    result.dead_letters += 1
                else:
                    result.applied += applied
                    result.ignored += not applied
            if next_cursor is not None:
                row = session.get(FeedCursor, FEED)
                if row is None:
                    row = FeedCursor(feed=FEED, last_seq=0)
                    session.add(row)
                row.cursor, row.updated_at = next_cursor, now
        return result

    def _dead_letter(self, session: Session, raw, reason: str, change_id: Optional[str]) -> None:
        raw = str(raw)[:RAW_LIMIT]
        # The page may be read again after a crash or a retry: keep one copy of each bad change.
        same = select(DeadLetter.id).where(DeadLetter.feed == FEED, DeadLetter.raw == raw,
                                           DeadLetter.event_id == change_id if change_id is not None
                                           else DeadLetter.event_id.is_(None))
        if session.exec(same).first() is not None:
            return
        session.add(DeadLetter(feed=FEED, event_id=change_id, reason=reason[:500], raw=raw))
        log.warning("dead-lettered records change %s: %s", change_id, reason)

    # ---- changes -----------------------------------------------------------------------------------

    def _apply(self, session: Session, change: RecordsChange, now: datetime) -> bool:
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
            _timeline(session, occurrence, change.occurred_at, "recorded",
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
        for task in session.exec(select(Task).where(Task.occurrence_id == occurrence.id, Task.status == "open")):
            task.assignee = occurrence.oic_collar
        _timeline(session, occurrence, change.occurred_at, "oic_changed",
                  "A new officer is in charge of your case.",
                  f"Officer in charge changed from {before or 'none'} to {occurrence.oic_collar}", change.change_id)
        if before and before != occurrence.oic_collar:
            self._milestone(session, occurrence, self.code.milestone("oic_changed"), "oic_changed",
                            f"oic:{change.change_id}", change.change_id, change.occurred_at, now)

    def _investigation_event(self, session: Session, occurrence: Occurrence, p: InvestigationEvent,
                             change: RecordsChange, now: datetime) -> None:
        at = change.occurred_at
        public, staff = _event_words(p)
        _timeline(session, occurrence, at, p.event.lower(), public, staff, change.change_id)
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
        occurrence.status, occurrence.result = "finalised", p.result[:200]
        occurrence.finalised_at, occurrence.updated_at = change.occurred_at, now
        _timeline(session, occurrence, change.occurred_at, "finalised", "Your case has been closed.",
                  f"Finalised: {p.result}", change.change_id)
        # The heartbeat stops with the case; milestone duties already owed stay owed.
        for duty in session.exec(select(Duty).where(Duty.occurrence_id == occurrence.id,
                                                    Duty.milestone == rules.ROUTINE, Duty.state == "due")):
            duty.state, duty.check_at, duty.updated_at = "cancelled", None, now

    # ---- duties ------------------------------------------------------------------------------------

    def _refresh_entitlement(self, session: Session, occurrence: Occurrence) -> None:
        victim = session.get(Victim, occurrence.victim_id) if occurrence.victim_id else None
        enhanced, reasons = rules.entitlement(
            self.code, feed_flags=_flags(occurrence), date_of_birth=victim.date_of_birth if victim else None,
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
        if _duty(session, occurrence, "support_referral") is None:
            self._referral(session, occurrence, victim, now)
        if occurrence.status == "open" and session.exec(select(Duty.id).where(
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
        duty = duty or _duty(session, occurrence, "support_referral")
        if duty is None or duty.state == "cancelled":
            return
        consent = victim.consent_referral
        explicit = self.code.referral_needs_explicit_consent(
            rules.code_flags(_flags(occurrence)), bereaved="BEREAVED" in _flags(occurrence))
        if duty.state == "done":
            if consent is True and (duty.done_how or "").startswith(("victim did not", "victim objected")):
                # They said no, and now yes: the referral is owed again, two working days from now.
                duty.state, duty.done_at, duty.done_how, duty.late = "due", None, None, False
                duty.due_at = self.code.deadline("support_referral", now, False, self.calendar)
            else:
                return
        if consent is False:
            # The duty to offer is met; no referral may be made (the records system says no consent).
            how = ("victim did not give the explicit consent a referral needs" if explicit
                   else "victim objected to a referral")
            _done(duty, now, how)
            _close_open_tasks(session, duty, now, "declined", f"Recorded in the records system: {how}.")
            return
        if consent is None and explicit:
            title = "Ask the victim for explicit consent to a support referral"
            detail = ("The Code allows this referral only with the victim's explicit consent "
                      f"({'; '.join(rules.code_flags(_flags(occurrence)))}). Ask them, by a safe route, "
                      "and record the answer in the records system.")
        else:
            title = "Refer the victim to support services"
            detail = ("Make the referral (the victim " +
                      ("consented" if consent else "has not objected") +
                      ") and record it in the records system; the product tells the victim when it is recorded.")
        existing = _open_task(session, duty)
        if existing is not None and existing.title == title:
            return
        _close_open_tasks(session, duty, now, None, "Superseded: the victim's consent changed.")
        self._hand_to_person(session, occurrence, duty, title, detail, now)

    def _vps_offer(self, session: Session, occurrence: Occurrence, charged_at: datetime, now: datetime) -> None:
        if _duty(session, occurrence, "vps_offer") is not None:
            return  # already offered (or already owed)
        self._milestone(session, occurrence, self.code.milestone("vps_offer"), "vps_offer", "vps_offer", None,
                        charged_at, now)

    def _met_by_records(self, session: Session, occurrence: Occurrence, key: str, at: datetime, how: str,
                        now: datetime) -> None:
        """A duty the records system says a person has met (a referral made, a VPS offered)."""
        duty = _duty(session, occurrence, key)
        if duty is None:
            milestone = self.code.milestone(key)
            duty = Duty(occurrence_id=occurrence.id, victim_id=occurrence.victim_id, key=key,
                        milestone=milestone.key, right=milestone.right, title=milestone.label, triggered_at=at,
                        due_at=self.code.deadline(key, at, occurrence.enhanced, self.calendar),
                        created_at=now, updated_at=now)
            session.add(duty)
            session.flush()
        if duty.state != "done":
            _done(duty, at, how)
            _close_open_tasks(session, duty, now, "records", f"Recorded in the records system: {how}.")

    def _milestone(self, session: Session, occurrence: Occurrence, milestone: Milestone, template: str, key: str,
                   change_id: Optional[str], happened_at: datetime, now: datetime) -> Optional[Duty]:
        """A milestone the victim must be told of by its deadline: queue the update, or hand it to a person."""
        victim = session.get(Victim, occurrence.victim_id) if occurrence.victim_id else None
        if victim is None or _duty(session, occurrence, key) is not None:
            return None
        due = self.code.deadline(milestone.key, happened_at, occurrence.enhanced, self.calendar)
        duty = Duty(occurrence_id=occurrence.id, victim_id=victim.id, key=key, milestone=milestone.key,
                    right=milestone.right, title=milestone.label, triggered_at=happened_at, due_at=due,
                    template=template, created_at=now, updated_at=now)
        session.add(duty)
        session.flush()
        self._tell(session, occurrence, victim, milestone, template, duty, now)
        return duty

    def _plan(self, session: Session, occurrence: Occurrence, victim: Victim,
              milestone: Optional[Milestone]) -> rules.Plan:
        from rxapp.messaging.outbox import choose_channel, contact_state

        state = contact_state(session, victim.id)
        facts = rules.ContactFacts(
            flags=frozenset(_flags(occurrence)),
            safe_contact_confirmed=state.safe_contact_confirmed,
            opted_out=state.opted_out_all,
            preferred_channel=victim.preferred_channel,
            has_usable_channel=choose_channel(victim, state) is not None,
            enhanced=occurrence.enhanced,
            enhanced_reasons=tuple(r for r in occurrence.enhanced_reasons.split("; ") if r))
        return rules.plan_contact(self.code, facts, milestone)

    def _tell(self, session: Session, occurrence: Occurrence, victim: Victim, milestone: Optional[Milestone],
              template: str, duty: Optional[Duty], now: datetime,
              extra: Optional[dict] = None) -> Optional[Message]:
        from rxapp.messaging.outbox import enqueue

        plan = self._plan(session, occurrence, victim, milestone)
        if not plan.automated:
            if duty is None:
                return None  # courtesy news: the officer will mention it when they next speak
            what = milestone.label if milestone else "A routine update: nothing new yet"
            detail = (f"Tell the victim: {what}. {plan.reason}"
                      + (f" Contact notes: {victim.contact_notes}" if victim.contact_notes else ""))
            self._hand_to_person(session, occurrence, duty, plan.title, detail, now)
            return None
        values = {"crime_reference": occurrence.crime_reference or occurrence.occurrence_number,
                  "officer": occurrence.oic_collar or "the officer in charge"}
        values.update(extra or {})
        message = enqueue(session, victim=victim, template=template, kind="routine", personalisation=values,
                          now=now, occurrence_id=occurrence.id, duty_id=duty.id if duty else None)
        if message is not None and duty is not None:
            duty.message_id, duty.check_at, duty.updated_at = message.id, duty.due_at, now
        return message

    def _hand_to_person(self, session: Session, occurrence: Occurrence, duty: Duty, title: str, detail: str,
                        now: datetime) -> Task:
        from rxapp.messaging.outbox import open_task

        return open_task(session, kind="tell_victim", title=title, detail=detail, victim_id=duty.victim_id,
                         incident_id=occurrence.incident_id, due_at=max(duty.due_at, now),
                         occurrence_id=occurrence.id, duty_id=duty.id)

    # ---- the deadline sweep ------------------------------------------------------------------------

    def sweep(self, now: Optional[datetime] = None, batch: int = SWEEP_BATCH,
              budget_seconds: Optional[float] = SWEEP_BUDGET_SECONDS) -> SweepResult:
        """One pass over what has fallen due. Touches only rows whose check time has come (an index range),
        at most `batch` of each kind per transaction. A pass stops starting new batches once it has run for
        `budget_seconds`, so one pass never holds the runner (or SQLite's writer lock) for long: a backlog
        (after the runner was down) drains over the next passes, oldest first. `result.more` says so."""
        now = now or self._now()
        result = SweepResult()
        deadline = time.monotonic() + budget_seconds if budget_seconds is not None else None
        while True:
            with session_scope(self.db_url) as session:
                tasks = session.exec(select(Task).where(Task.escalate_at <= now)
                                     .order_by(Task.escalate_at).limit(batch)).all()
                held = _preload(session, Occurrence, {t.occurrence_id for t in tasks})  # kept while working
                with session.no_autoflush:  # one flush of the batch's updates, not one per row read
                    for task in tasks:
                        self._escalate(session, task, now, result)
                duties = session.exec(select(Duty).where(Duty.check_at <= now)
                                      .order_by(Duty.check_at).limit(batch)).all()
                # The batch's cases, victims and contact states in three queries, not three per duty.
                held += (_preload(session, Occurrence, {d.occurrence_id for d in duties})
                         + _preload(session, Victim, {d.victim_id for d in duties})
                         + _preload(session, VictimContactState, {d.victim_id for d in duties},
                                    VictimContactState.victim_id))
                with session.no_autoflush:  # one flush of the batch's updates, not one per row read
                    for duty in duties:
                        if deadline is not None and result.checked and time.monotonic() >= deadline:
                            # Every pass makes progress; the rest keep their check time for the next pass.
                            result.more = True
                            break
                        self._check_duty(session, duty, now, result)
                        result.checked += 1
                held.clear()
            if result.more:
                return result
            if len(duties) < batch and len(tasks) < batch:
                return result
            if deadline is not None and time.monotonic() >= deadline:
                result.more = True
                return result

    def _check_duty(self, session: Session, duty: Duty, now: datetime, result: SweepResult) -> None:
        duty.updated_at = now
        occurrence = session.get(Occurrence, duty.occurrence_id)
        if duty.state in ("done", "cancelled"):
            duty.check_at = None
            return
        if (duty.milestone == rules.ROUTINE and duty.state == "due" and duty.message_id is None
                and now < duty.due_at):
            # The heartbeat falls due. A person's update is handed over two days ahead, so they have time
            # to make the call or write the letter; an automated one goes on its day at the send time.
            victim = session.get(Victim, duty.victim_id) if duty.victim_id else None
            duty.check_at = duty.due_at
            if victim is None or occurrence.status != "open":
                duty.state, duty.check_at = "cancelled", None
                return
            send_at = rules.routine_send_at(self.code, duty.due_at, now, duty.occurrence_id)
            if now < send_at and self._plan(session, occurrence, victim, None).automated:
                duty.check_at = send_at
                return
            next_due = self.code.routine_update_due(occurrence.reported_at, now, occurrence.enhanced, self.calendar,
                                                    occurrence.routine_every_days)
            self._tell(session, occurrence, victim, None, duty.template or self.code.routine_updates.template, duty,
                       now, extra={"next_update": rules.day_words(next_due)})
            result.routine_queued += 1
            return
        if now >= duty.due_at:
            duty.late, duty.check_at = True, None
            result.became_late += 1
            _timeline(session, occurrence, now, "duty_late", "", f"Code deadline missed: {duty.title}", None,
                      public=False)
            if duty.state == "due":
                # Automation did not manage it in time (held, retrying, or waiting on a person's record):
                # a person takes it over at once, and the task escalates straight away.
                task = self._hand_to_person(session, occurrence, duty, f"Overdue: {duty.title}",
                                            "The Victims' Code deadline for this has passed and it is not "
                                            "done. Tell the victim now and record how.", now)
                result.tasks.append(task.id)
            return
        duty.check_at = duty.due_at

    def _escalate(self, session: Session, task: Task, now: datetime, result: SweepResult) -> None:
        task.escalate_at = None
        if task.status != "open":
            return
        occurrence = session.get(Occurrence, task.occurrence_id) if task.occurrence_id else None
        team = occurrence.oic_team if occurrence and occurrence.oic_team else "the team"
        task.escalated_at, task.escalated_to = now, f"Supervisor, {team}"[:120]
        result.escalated += 1
        if occurrence is not None:
            _timeline(session, occurrence, now, "task_escalated", "",
                      f"Task '{task.title}' not done by its deadline: escalated to the supervisor ({team})",
                      None, public=False)

    # ---- people completing tasks -------------------------------------------------------------------

    def complete_task(self, task_id: int, *, how_told: str, by: str, note: str = "",
                      now: Optional[datetime] = None) -> Task:
        """A person finished a task, saying how the victim was told; the duty it carried is then done (and
        counts for compliance) unless the victim could not be reached."""
        now = now or self._now()
        if how_told not in TASK_OUTCOMES:
            raise ValueError("how the victim was told must be one of " + ", ".join(TASK_OUTCOMES))
        with session_scope(self.db_url) as session:
            task = session.get(Task, task_id)
            if task is None:
                raise LookupError("no such task")
            if task.status != "open":
                raise ValueError("this task is already closed")
            task.status, task.completed_at, task.completed_by = "done", now, by[:80]
            task.how_told, task.outcome, task.escalate_at = how_told, (note or TASK_OUTCOMES[how_told])[:300], None
            duty = session.get(Duty, task.duty_id) if task.duty_id else None
            if duty is not None and duty.state != "done":
                occurrence = session.get(Occurrence, duty.occurrence_id)
                if how_told == "not_reached":
                    # Still owed, and still a person's: a fresh task, due by the Code's deadline (or within
                    # a working day if that has passed), escalating like any other.
                    follow_up_due = duty.due_at if duty.due_at > now else self.calendar.add_working_days(now, 1)
                    from rxapp.messaging.outbox import open_task

                    open_task(session, kind=task.kind, title=f"Try again: {task.title}"[:200],
                              detail=f"Not reached on {rules.when_words(now)} by {by}. {task.detail}",
                              victim_id=task.victim_id, incident_id=task.incident_id, due_at=follow_up_due,
                              occurrence_id=task.occurrence_id, duty_id=duty.id)
                    _timeline(session, occurrence, now, "not_reached", "",
                              f"{duty.title}: the victim could not be reached ({by})", None, public=False)
                else:
                    _done(duty, now, f"{TASK_OUTCOMES[how_told]}, by {by}"[:200])
                    _timeline(session, occurrence, now, "told_by_person", "",
                              f"{duty.title}: {TASK_OUTCOMES[how_told]}, by {by}", None, public=False)
                    if how_told != "declined" and duty.key != "written_confirmation":
                        told(session, self.code, occurrence, now)
            return task

    def agree_update_frequency(self, occurrence_number: str, every_days: Optional[int], *, by: str,
                               now: Optional[datetime] = None) -> Occurrence:
        """The victim and the officer agreed how often routine updates come (None: back to the Code's
        default). The next routine update moves at once."""
        now = now or self._now()
        if every_days is not None and not (MIN_EVERY_DAYS <= every_days <= MAX_EVERY_DAYS):
            raise ValueError(f"updates must be agreed every {MIN_EVERY_DAYS} to {MAX_EVERY_DAYS} days")
        with session_scope(self.db_url) as session:
            occurrence = session.exec(select(Occurrence).where(
                Occurrence.occurrence_number == occurrence_number)).first()
            if occurrence is None:
                raise LookupError("no such case")
            occurrence.routine_every_days, occurrence.updated_at = every_days, now
            words = f"every {every_days} days" if every_days else "the Code's default"
            _timeline(session, occurrence, now, "frequency_agreed", "",
                      f"Routine updates agreed with the victim: {words} (recorded by {by})", None, public=False)
            reschedule_routine(session, self.code, occurrence, now)
            return occurrence


# ---- hooks from messaging ---------------------------------------------------------------------------

def message_outcome(session: Session, message: Message, status: str) -> None:
    """A message carrying a duty changed status (called from `messaging.log_event`)."""
    duty = session.get(Duty, message.duty_id)
    if duty is None:
        return
    now = message.updated_at or utcnow()
    if status in ("sent", "delivered"):
        how = {"sms": "text", "email": "email"}.get(message.channel, message.channel)
        how = f"{how} {'delivered' if status == 'delivered' else 'sent'}"
        if duty.state == "done" and duty.message_id == message.id:
            if status == "delivered":
                duty.done_how, duty.updated_at = how, now
            return
        first = duty.state != "done"
        duty.message_id = message.id
        _done(duty, message.sent_at or now, how)
        if first:
            _close_open_tasks(session, duty, now, message.channel, f"Told by {how} after all.")
            occurrence = session.get(Occurrence, duty.occurrence_id)
            if duty.key != "written_confirmation":  # the first update is about the investigation itself
                told(session, code(), occurrence, duty.done_at)
            if duty.milestone == rules.ROUTINE and occurrence.status == "open":
                number = int(duty.key.split(":")[1]) + 1 if duty.key.startswith("routine:") else 2
                if _duty(session, occurrence, f"routine:{number}") is None:
                    schedule_routine(session, code(), occurrence, number, duty.done_at, now)
    elif status in ("failed", "permanent-failure", "technical-failure", "cancelled") and duty.message_id == message.id:
        if duty.state == "done":
            duty.state, duty.done_at, duty.done_how = "due", None, None
        duty.check_at = duty.due_at if duty.due_at > now else now
        duty.updated_at = now


def task_opened(session: Session, task: Task) -> None:
    """A task was opened on a case (called from `messaging.open_task`): it goes to the officer in charge,
    and a duty it carries is now with a person."""
    occurrence = session.get(Occurrence, task.occurrence_id)
    if occurrence is not None and task.assignee is None:
        task.assignee = occurrence.oic_collar
    if task.duty_id:
        duty = session.get(Duty, task.duty_id)
        if duty is not None and duty.state != "done":
            # The sweep still marks it late at its deadline (the task escalates on its own clock).
            duty.state, duty.task_id = "handed", task.id
            duty.check_at = None if duty.late else duty.due_at
            duty.updated_at = utcnow()


def told(session: Session, rules_code: VictimsCode, occurrence: Occurrence, at: datetime) -> None:
    """The victim heard something about the case: the routine heartbeat restarts from then."""
    occurrence.last_update_at = max(occurrence.last_update_at or at, at)
    reschedule_routine(session, rules_code, occurrence, at)


def reschedule_routine(session: Session, rules_code: VictimsCode, occurrence: Occurrence, at: datetime) -> None:
    """Move the routine update still to come to what the last update and the agreed frequency now say."""
    for duty in session.exec(select(Duty).where(Duty.occurrence_id == occurrence.id,
                                                Duty.milestone == rules.ROUTINE, Duty.state == "due",
                                                Duty.message_id == None)):  # noqa: E711
        duty.due_at = rules_code.routine_update_due(occurrence.reported_at, occurrence.last_update_at,
                                                    occurrence.enhanced, rules_code.calendar(),
                                                    occurrence.routine_every_days)
        duty.check_at = routine_first_check(rules_code, duty.due_at, at, occurrence.id)
        duty.updated_at = at


def routine_first_check(rules_code: VictimsCode, due_at: datetime, now: datetime, spread_key: int) -> datetime:
    """When the sweep first looks at a routine update: two days before its send time (a person's update
    is handed over then; an automated one is put back to its send time)."""
    return max(now, rules.routine_send_at(rules_code, due_at, now, spread_key) - timedelta(days=2))


def schedule_routine(session: Session, rules_code: VictimsCode, occurrence: Occurrence, number: int,
                     last_update_at: Optional[datetime], now: datetime) -> Duty:
    due = rules_code.routine_update_due(occurrence.reported_at, last_update_at, occurrence.enhanced,
                                        rules_code.calendar(), occurrence.routine_every_days)
    duty = Duty(occurrence_id=occurrence.id, victim_id=occurrence.victim_id, key=f"routine:{number}",
                milestone=rules.ROUTINE, right=6,
                title="Routine update (nothing new yet)" if number > 1 else "First update on the investigation",
                triggered_at=last_update_at or occurrence.reported_at, due_at=due,
                template=rules_code.routine_updates.template,
                check_at=routine_first_check(rules_code, due, now, occurrence.id), created_at=now, updated_at=now)
    session.add(duty)
    session.flush()
    return duty


# ---- helpers ----------------------------------------------------------------------------------------

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


def _preload(session: Session, model, ids: set, column=None) -> list:
    """Load rows by primary key in one query, so that `session.get` finds them in the session. The caller
    keeps the returned list while it works: the session holds unchanged rows only weakly."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return []
    column = column if column is not None else model.id
    return list(session.exec(select(model).where(column.in_(sorted(ids)))).all())


def _flags(occurrence: Occurrence) -> list[str]:
    return [f for f in occurrence.flags.split(",") if f]


def _set_oic(occurrence: Occurrence, oic) -> None:
    occurrence.oic_collar, occurrence.oic_name = oic.collar_number, oic.name
    occurrence.oic_email, occurrence.oic_team = oic.email, oic.team


def _duty(session: Session, occurrence: Occurrence, key: str) -> Optional[Duty]:
    return session.exec(select(Duty).where(Duty.occurrence_id == occurrence.id, Duty.key == key)).first()


def _open_task(session: Session, duty: Duty) -> Optional[Task]:
    return session.exec(select(Task).where(Task.duty_id == duty.id, Task.status == "open")).first()


def _done(duty: Duty, at: datetime, how: str) -> None:
    duty.state, duty.done_at, duty.done_how, duty.check_at = "done", at, how[:200], None
    duty.late = duty.late or at > duty.due_at
    duty.updated_at = at


def _close_open_tasks(session: Session, duty: Duty, now: datetime, how: Optional[str], outcome: str) -> None:
    for task in session.exec(select(Task).where(Task.duty_id == duty.id, Task.status == "open")):
        task.status, task.completed_at, task.escalate_at = ("done" if how else "cancelled"), now, None
        task.how_told, task.outcome, task.completed_by = how, outcome[:300], "records system" if how else None


def _apply_contact_safety(session: Session, victim: Victim, safe_to_contact, updates, now: datetime) -> None:
    """The records system's safe-to-contact answer and consent to updates. `...` means not in the change."""
    from rxapp.messaging.outbox import contact_state

    state = contact_state(session, victim.id)
    if safe_to_contact is not ...:
        state.safe_contact_confirmed = safe_to_contact is True
    if updates is False:
        state.opted_out_all, state.opted_out_at = True, state.opted_out_at or now
    state.updated_at = now


def _timeline(session: Session, occurrence: Occurrence, at: datetime, kind: str, text: str, staff_text: str,
              change_id: Optional[str], public: bool = True) -> None:
    session.add(OccurrenceEvent(occurrence_id=occurrence.id, at=at, kind=kind[:40], public=public and bool(text),
                                text=text[:500], staff_text=staff_text[:1000], change_id=change_id))


_EVENT_WORDS = {
    "NOT_INVESTIGATED": "We decided not to investigate further for now.",
    "SUSPECT_ARRESTED": "A suspect was arrested.",
    "SUSPECT_INTERVIEWED": "A suspect was interviewed.",
    "RELEASED_NFA": "The suspect was released with no further action. You can ask for this decision to be "
                    "reviewed (Victims' Right to Review) within 3 months.",
    "RELEASED_ON_BAIL": "The suspect was released on bail while enquiries continue.",
    "RELEASED_UNDER_INVESTIGATION": "The suspect was released while enquiries continue.",
    "BAIL_CONDITIONS_CHANGED": "The suspect's bail conditions changed.",
    "BAIL_CANCELLED": "The suspect's bail was cancelled.",
    "CHARGED": "A suspect was charged. The case will go to court.",
    "OUT_OF_COURT_DISPOSAL": "The case was dealt with without going to court.",
    "COURT_HEARING_SCHEDULED": "A court hearing was arranged.",
    "CASE_OUTCOME": "The court reached an outcome.",
    "PROPERTY_READY_FOR_RETURN": "Property is ready to be returned to you.",
    "NEEDS_ASSESSMENT_COMPLETED": "We assessed what support you need.",
    "SUPPORT_REFERRAL_MADE": "We referred you to a support service.",
    "VPS_OFFERED": "You were offered the chance to make a Victim Personal Statement.",
    "VPS_TAKEN": "Your Victim Personal Statement was taken.",
    "FILED_PENDING_INFORMATION": "The case was filed until new information comes in.",
}


def _event_words(p: InvestigationEvent) -> tuple[str, str]:
    staff = p.event.replace("_", " ").capitalize()
    if p.reason:
        staff += f": {p.reason}"
    if p.conditions:
        staff += " (conditions: " + "; ".join(p.conditions) + ")"
    if p.charges:
        staff += " (charges: " + "; ".join(p.charges) + ")"
    if p.kind:
        staff += f" ({p.kind})"
    return _EVENT_WORDS.get(p.event, staff), staff


def _summary(change: RecordsChange) -> str:
    """What is kept of a well-formed change that could not be applied: its envelope, not its people."""
    return json.dumps({"change_id": change.change_id, "type": change.type,
                       "occurrence_number": change.occurrence_number,
                       "occurred_at": change.occurred_at.isoformat()})
