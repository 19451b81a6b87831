"""Telling a victim about their case: an update through the outbox, or, where automation must not or
cannot tell them (`rxapp/domain/journey.py` decides), a task for the officer in charge with the Code's
deadline."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Session, select

from rxapp.domain import journey as rules
from rxapp.domain.code_rules import Milestone, VictimsCode
from rxapp.domain.safety import MessageKind
from rxapp.domain.statuses import DutyState, TaskKind
from rxapp.investigation.duties import case_flags, crime_reference_sent_at, duty_for
from rxapp.investigation.models import CaseVictim, Duty, Occurrence, OccurrenceEvent
from rxapp.messaging.models import Message
from rxapp.messaging.outbox import enqueue
from rxapp.tasks.models import Task
from rxapp.tasks.service import open_task
from rxapp.victims.contact import contact_state, usable_channel
from rxapp.victims.models import Victim


class CaseContact:
    """The journey's ways of reaching a victim of a case, under one Code and its working calendar."""

    def __init__(self, rules_code: VictimsCode) -> None:
        self.code = rules_code
        self.calendar = rules_code.calendar()

    def milestone(self, session: Session, occurrence: Occurrence, victim: CaseVictim, milestone: Milestone,
                  template: str, key: str, happened_at: datetime, now: datetime, *,
                  held: bool = False) -> Optional[Duty]:
        """A milestone this victim must be told of by its deadline (theirs: standard or enhanced): queue the
        update, or hand it to a person. Once per victim and key. `held`: the milestone is dated in the
        future, so nobody is told now; the deadline sweep tells the victim when its date comes."""
        if duty_for(session, occurrence, victim.victim_id, key) is not None:
            return None
        due = self.code.deadline(milestone.key, happened_at, victim.enhanced, self.calendar)
        duty = Duty(occurrence_id=occurrence.id, victim_id=victim.victim_id, key=key, milestone=milestone.key,
                    right=milestone.right, title=milestone.label, triggered_at=happened_at, due_at=due,
                    template=template, created_at=now, updated_at=now)
        if held:
            duty.held_until = duty.check_at = happened_at
        session.add(duty)
        session.flush()
        if not held:
            self.tell(session, occurrence, victim, milestone, template, duty, now)
        return duty

    def release_held(self, session: Session, occurrence: Occurrence, victim: CaseVictim, duty: Duty, now: datetime,
                     happened_at: Optional[datetime] = None) -> None:
        """A held milestone (dated in the future when it came) is told through the normal path: its date has
        come, or a corrected record dated it `happened_at` (its deadline then counts from that). Its event
        joins the victim's timeline."""
        if happened_at is not None:
            duty.triggered_at = happened_at
            duty.due_at = self.code.deadline(duty.milestone, happened_at, victim.enhanced, self.calendar)
        duty.held_until, duty.check_at, duty.updated_at = None, None, now
        if duty.key.startswith("event:"):
            publish_held_event(session, occurrence, duty.key[len("event:"):])
        self.tell(session, occurrence, victim, self.code.milestones.get(duty.milestone),
                  duty.template or duty.milestone, duty, now)
        if duty.state == DutyState.DUE and duty.check_at is None:
            duty.check_at = duty.due_at  # nothing went (no message queued): the sweep marks it late then

    def plan(self, session: Session, occurrence: Occurrence, victim: CaseVictim,
             milestone: Optional[Milestone]) -> rules.Plan:
        person = session.get(Victim, victim.victim_id)
        state = contact_state(session, victim.victim_id)
        facts = rules.ContactFacts(
            flags=frozenset(case_flags(occurrence)),
            safe_contact_confirmed=state.safe_contact_confirmed,
            opted_out=state.opted_out_all,
            preferred_channel=person.preferred_channel,
            has_usable_channel=usable_channel(person, state) is not None,
            enhanced=victim.enhanced,
            enhanced_reasons=tuple(r for r in victim.enhanced_reasons.split("; ") if r))
        return rules.plan_contact(self.code, facts, milestone)

    def tell(self, session: Session, occurrence: Occurrence, victim: CaseVictim, milestone: Optional[Milestone],
             template: str, duty: Optional[Duty], now: datetime, extra: Optional[dict] = None) -> Optional[Message]:
        plan = self.plan(session, occurrence, victim, milestone)
        if not plan.automated:
            if duty is None:
                return None  # courtesy news: the officer will mention it when they next speak
            self.hand_to_person(session, occurrence, duty, plan.title,
                                self.task_words(session, victim, plan, milestone), now)
            return None
        values = {"crime_reference": occurrence.crime_reference or occurrence.occurrence_number,
                  "officer": occurrence.oic_collar or "the officer in charge"}
        values.update(extra or {})
        message = enqueue(session, victim=session.get(Victim, victim.victim_id), template=template,
                          kind=MessageKind.ROUTINE, personalisation=values, now=now, occurrence_id=occurrence.id,
                          duty_id=duty.id if duty else None)
        if message is not None and duty is not None:
            duty.message_id, duty.check_at, duty.updated_at = message.id, duty.due_at, now
        return message

    def task_words(self, session: Session, victim: CaseVictim, plan: rules.Plan, milestone: Optional[Milestone],
                   *, overdue: bool = False) -> str:
        """The task's text, from the Code's data: what to tell, why a person, the Right to Review, notes. The
        written confirmation asks only for what the text closing the police visit did not already say."""
        what = milestone.label if milestone else "A routine update: nothing new yet"
        reference_sent_at = None
        if milestone is not None and milestone.key == rules.WRITTEN_CONFIRMATION:
            reference_sent_at = crime_reference_sent_at(session, session.get(Occurrence, victim.occurrence_id),
                                                        victim.victim_id)
        return rules.task_detail(self.code, what, plan, milestone, session.get(Victim, victim.victim_id).contact_notes,
                                 overdue=overdue, crime_reference_sent_at=reference_sent_at)

    def hand_to_person(self, session: Session, occurrence: Occurrence, duty: Duty, title: str, detail: str,
                       now: datetime) -> Task:
        """A task for the officer in charge, due by the Code's deadline on the duty (already past when the
        duty is overdue: it then escalates at once)."""
        return open_task(session, kind=TaskKind.TELL_VICTIM, title=title, detail=detail, victim_id=duty.victim_id,
                         incident_id=occurrence.incident_id, due_at=duty.due_at,
                         occurrence_id=occurrence.id, duty_id=duty.id)


def held_staff_text(staff: str) -> str:
    return f"{staff} ({rules.HELD_WORDS})"[:1000]


def publish_held_event(session: Session, occurrence: Occurrence, change_id: str) -> None:
    """The timeline row of a held event, shown to the victim now that it is told."""
    suffix = f" ({rules.HELD_WORDS})"
    for event in session.exec(select(OccurrenceEvent).where(OccurrenceEvent.occurrence_id == occurrence.id,
                                                            OccurrenceEvent.change_id == change_id)):
        event.public = bool(event.text)
        if event.staff_text.endswith(suffix):
            event.staff_text = event.staff_text[:-len(suffix)]
