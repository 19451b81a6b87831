"""Telling a victim about their case: an update through the outbox, or, where automation must not or
cannot tell them (`rxapp/domain/journey.py` decides), a task for the officer in charge with the Code's
deadline."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Session

from rxapp.domain import journey as rules
from rxapp.domain.code_rules import Milestone, VictimsCode
from rxapp.domain.safety import MessageKind
from rxapp.domain.statuses import TaskKind
from rxapp.investigation.duties import case_flags, duty_for
from rxapp.investigation.models import CaseVictim, Duty, Occurrence
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
                  template: str, key: str, happened_at: datetime, now: datetime) -> Optional[Duty]:
        """A milestone this victim must be told of by its deadline (theirs: standard or enhanced): queue the
        update, or hand it to a person. Once per victim and key."""
        if duty_for(session, occurrence, victim.victim_id, key) is not None:
            return None
        due = self.code.deadline(milestone.key, happened_at, victim.enhanced, self.calendar)
        duty = Duty(occurrence_id=occurrence.id, victim_id=victim.victim_id, key=key, milestone=milestone.key,
                    right=milestone.right, title=milestone.label, triggered_at=happened_at, due_at=due,
                    template=template, created_at=now, updated_at=now)
        session.add(duty)
        session.flush()
        self.tell(session, occurrence, victim, milestone, template, duty, now)
        return duty

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
        """The task's text, from the Code's data: what to tell, why a person, the Right to Review, notes."""
        what = milestone.label if milestone else "A routine update: nothing new yet"
        return rules.task_detail(self.code, what, plan, milestone, session.get(Victim, victim.victim_id).contact_notes,
                                 overdue=overdue)

    def hand_to_person(self, session: Session, occurrence: Occurrence, duty: Duty, title: str, detail: str,
                       now: datetime) -> Task:
        """A task for the officer in charge, due by the Code's deadline on the duty (already past when the
        duty is overdue: it then escalates at once)."""
        return open_task(session, kind=TaskKind.TELL_VICTIM, title=title, detail=detail, victim_id=duty.victim_id,
                         incident_id=occurrence.incident_id, due_at=duty.due_at,
                         occurrence_id=occurrence.id, duty_id=duty.id)
