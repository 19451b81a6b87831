"""The investigation journey's rules: who a Code duty goes to (an automated message or a person), what a
duty's status is, and the words staff and victims read about it.

Plain Python, no I/O: `rxapp/journey.py` loads the case, asks these functions, and stores the answer.
Every number comes from the Code rules file (`code_rules.VictimsCode`); the choices here are the ones the
Code and the force's safety rules leave to the product:

1. A victim who opted out of automated updates (or told the records system they want none) is still owed
   the Code's information: a person takes it over.
2. Domestic abuse and sexual offences: nothing automated until a contact is confirmed safe to use.
3. A victim with enhanced rights hears the milestones the rules file marks `personal_call_when_enhanced`
   (decisions, charges, bail) from a person, not a text.
4. A victim who asked for a phone call or a letter gets one, from a person.
5. A victim with no usable mobile or email is told by phone or letter.
Otherwise the update goes through the outbox, where the sender applies the safety rules once more at the
moment of sending (quiet hours, opt-outs made since, network limits).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable, Optional
from zoneinfo import ZoneInfo

from .code_rules import Milestone, VictimsCode
from .records import InvestigationEvent
from .statuses import DutyState
from .working_days import LONDON

SAFE_CONTACT_FLAGS = frozenset({"DOMESTIC_ABUSE", "SEXUAL_OFFENCE"})

# The records feed's offence flags, in the rules file's words (the Code's own terms).
CODE_FLAG = {
    "DOMESTIC_ABUSE": "domestic_abuse",
    "HATE_CRIME": "hate_crime",
    "SEXUAL_OFFENCE": "sexual_offence",
    "TERRORISM": "terrorism",
    "HUMAN_TRAFFICKING": "human_trafficking",
    "ATTEMPTED_MURDER": "attempted_murder",
    "KIDNAP": "kidnap",
    "FALSE_IMPRISONMENT": "false_imprisonment",
    "ARSON_ENDANGERING_LIFE": "arson_with_intent_to_endanger_life",
    "WOUNDING_WITH_INTENT": "wounding_or_gbh_with_intent",
    "BEREAVED": "bereaved_close_relative",
}
# The feed's vulnerabilities, and "intimidated", in the rules file's words.
CODE_NEED = {
    "MENTAL_DISORDER": "mental_disorder",
    "LEARNING_DISABILITY": "learning_disability",
    "PHYSICAL_DISABILITY": "physical_disability",
    "INTIMIDATED": "fear_or_distress_about_giving_evidence",
}

ROUTINE = "routine_update"


def code_flags(feed_flags: Iterable[str]) -> list[str]:
    return [CODE_FLAG[f] for f in feed_flags if f in CODE_FLAG]


def code_needs(vulnerabilities: Iterable[str], intimidated: bool) -> list[str]:
    needs = [CODE_NEED[v] for v in vulnerabilities if v in CODE_NEED]
    return needs + ([CODE_NEED["INTIMIDATED"]] if intimidated else [])


def entitlement(code: VictimsCode, *, feed_flags: Iterable[str], date_of_birth: Optional[date],
                offence_at: datetime, vulnerabilities: Iterable[str], intimidated: bool,
                persistently_targeted: bool) -> tuple[bool, list[str]]:
    """Enhanced or not, with every reason, from what the records feed says about the case and the person.
    The offence date is the report's London date (the feed carries no separate offence date)."""
    return code.is_enhanced(
        offence_flags=code_flags(feed_flags), date_of_birth=date_of_birth,
        offence_date=offence_at.astimezone(ZoneInfo(LONDON)).date(),
        vulnerabilities=code_needs(vulnerabilities, intimidated), persistently_targeted=persistently_targeted)


@dataclass(frozen=True)
class ContactFacts:
    """What decides who tells the victim, gathered by the service."""

    flags: frozenset[str]  # the feed's flags on the case
    safe_contact_confirmed: bool
    opted_out: bool  # of all automated updates (STOP, or no consent to updates in the records system)
    preferred_channel: Optional[str]  # SMS, EMAIL, LETTER, PHONE, or None (not said)
    has_usable_channel: bool  # a mobile they agreed to texts on, or an email, not failed or opted out
    enhanced: bool
    enhanced_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """`message`: queue the template. `task`: a person tells the victim; `title` and `reason` say why."""

    action: str  # "message" | "task"
    title: str = ""
    reason: str = ""
    rule: str = ""

    @property
    def automated(self) -> bool:
        return self.action == "message"


def plan_contact(code: VictimsCode, facts: ContactFacts, milestone: Optional[Milestone]) -> Plan:
    """Who tells the victim of this milestone (None: a routine "nothing new" update). The first rule that
    applies decides; see the module notes for the order and why."""
    if facts.opted_out:
        return Plan("task", "Tell the victim another way (they opted out of automated updates)",
                    "The victim opted out of automated updates; the Code still requires them to be told.",
                    "opted_out")
    sensitive = sorted(facts.flags & SAFE_CONTACT_FLAGS)
    if sensitive and not facts.safe_contact_confirmed:
        what = " and ".join(f.replace("_", " ").lower() for f in sensitive)
        return Plan("task", "Tell the victim by a safe method",
                    f"A {what} case with no contact confirmed as safe: nothing automated may go.",
                    "safe_contact_not_confirmed")
    if facts.enhanced and milestone is not None and milestone.personal_call_when_enhanced:
        why = "; ".join(facts.enhanced_reasons) or "enhanced rights"
        return Plan("task", "Phone the victim (enhanced rights)",
                    f"The victim is entitled to enhanced rights ({why}): a person gives this news.",
                    "enhanced_personal_call")
    preferred = (facts.preferred_channel or "").upper()
    if preferred and preferred not in code.automated_channels:
        title = code.task_for_channel.get(preferred, "Contact the victim as they asked")
        return Plan("task", title, f"The victim asked to be told by {preferred.lower()}.", "preferred_channel")
    if not facts.has_usable_channel:
        return Plan("task", "Tell the victim by phone or letter",
                    "The victim has no usable mobile number or email address.", "no_channel")
    return Plan("message")


# ---- dates and statuses ----------------------------------------------------------------------------------

def routine_send_at(code: VictimsCode, due_at: datetime, now: datetime, spread_key: int = 0) -> datetime:
    """When to send a routine update due by `due_at` (the end of a London day): that day at the rules
    file's send time plus this case's own offset within the send window (`spread_key`, e.g. the case's
    id, spreads a day's updates, and the calls they prompt, over the working day), or now if that has
    passed."""
    rules = code.routine_updates
    day = due_at.astimezone(ZoneInfo(LONDON)).date()
    local = datetime.combine(day, rules.send_at_local_time, tzinfo=ZoneInfo(LONDON))
    window_minutes = rules.send_window_hours * 60
    if window_minutes:
        local += timedelta(minutes=(spread_key * 7919) % window_minutes)
    return max(local.astimezone(now.tzinfo), now)


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def day_words(at: datetime) -> str:
    """'Tuesday 29 December', in London time: how a date is written to victims."""
    local = at.astimezone(ZoneInfo(LONDON))
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}"


def when_words(at: datetime) -> str:
    """'Tue 29 Dec 2026, 10:05': for staff screens, London time."""
    local = at.astimezone(ZoneInfo(LONDON))
    return f"{_DAYS[local.weekday()][:3]} {local.day} {_MONTHS[local.month - 1][:3]} {local.year}, {local:%H:%M}"


# ---- facts at their own time ------------------------------------------------------------------------------

# How the records system's "no" to a support referral is recorded on its duty (`Duty.done_how`): the duty to
# offer is met by the answer, so it is never late because of when the product read it.
REFERRAL_NO_EXPLICIT_CONSENT = "victim did not give the explicit consent a referral needs"
REFERRAL_OBJECTED = "victim objected to a referral"
HELD_WORDS = "dated in the future: not told; check the record"


def referral_declined(done_how: Optional[str]) -> bool:
    """Whether a done duty was met by the victim declining (a referral they did not consent to)."""
    return (done_how or "").startswith((REFERRAL_NO_EXPLICIT_CONSENT, REFERRAL_OBJECTED))


def dated_in_future(at: datetime, now: datetime, tolerance: timedelta) -> bool:
    """An event dated later than now by more than the clocks' tolerance cannot have happened yet: it is held
    (recorded and shown to the officer in charge), and nobody is told of it before its date."""
    return at > now + tolerance


def met_late(done_at: datetime, due_at: datetime, declined: bool) -> bool:
    """Whether a duty met at `done_at` (the fact's own time) was met after its deadline. A victim's "no" is
    never late: the duty to offer was met by their answer."""
    return not declined and done_at > due_at


@dataclass(frozen=True)
class DutyStatus:
    label: str  # Done, Done late, Declined, Held, Due, Late, With a person, With a person (late), Not owed
    detail: str
    tone: str  # good, warn, bad, neutral


def duty_status(*, state: str, due_at: datetime, done_at: Optional[datetime], done_how: Optional[str],
                late: bool, now: datetime, assignee: Optional[str] = None,
                held_until: Optional[datetime] = None, task_due_at: Optional[datetime] = None) -> DutyStatus:
    """A duty's status as staff and oversight read it: done (when, how), declined by the victim, held (its
    event is dated in the future), due (by when), late, or handed to a person. `task_due_at`: when the task
    carrying it is due, which is what a handed duty says (the same as the task's own card); it differs from
    the Code's deadline only for a fresh try after the victim could not be reached past that deadline."""
    if state == DutyState.CANCELLED:
        return DutyStatus("Not owed", "No longer owed (the case closed or the victim declined).", "neutral")
    if state == DutyState.DONE and done_at is not None and referral_declined(done_how):
        return DutyStatus("Declined", f"{when_words(done_at)}, {done_how}", "good")
    if state == DutyState.DUE and held_until is not None:
        return DutyStatus("Held", f"Event {HELD_WORDS} (dated {when_words(held_until)})", "warn")
    if state == DutyState.DONE and done_at is not None:
        on_time = done_at <= due_at
        return DutyStatus("Done" if on_time else "Done late",
                          f"{when_words(done_at)}, {done_how or 'recorded'}" +
                          ("" if on_time else f" (was due by {when_words(due_at)})"),
                          "good" if on_time else "warn")
    overdue = late or now > due_at
    if state == DutyState.HANDED:
        who = assignee or "the officer in charge"
        task_due = task_due_at or due_at
        deadline = "" if task_due == due_at else f" (the Code's deadline was {when_words(due_at)})"
        return DutyStatus("With a person (late)" if overdue else "With a person",
                          f"Task for {who}, due by {when_words(task_due)}{deadline}", "bad" if overdue else "warn")
    if overdue:
        return DutyStatus("Late", f"Was due by {when_words(due_at)}", "bad")
    return DutyStatus("Due", f"By {when_words(due_at)}", "neutral")


# What the victim reads on their timeline for each investigation event; staff read the event itself.
EVENT_WORDS = {
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


def event_words(p: InvestigationEvent) -> tuple[str, str]:
    staff = p.event.replace("_", " ").capitalize()
    if p.reason:
        staff += f": {p.reason}"
    if p.conditions:
        staff += " (conditions: " + "; ".join(p.conditions) + ")"
    if p.charges:
        staff += " (charges: " + "; ".join(p.charges) + ")"
    if p.kind:
        staff += f" ({p.kind})"
    return EVENT_WORDS.get(p.event, staff), staff


def task_detail(code: VictimsCode, what: str, plan: Plan, milestone: Optional[Milestone],
                contact_notes: Optional[str], *, overdue: bool = False,
                crime_reference_sent_at: Optional[datetime] = None) -> str:
    """What the officer's task says: what to tell the victim, why a person tells them (the plan's reason,
    e.g. a safe-contact warning), the Victims' Right to Review where the milestone carries it (its time
    limit from the rules file), and the victim's contact notes. `crime_reference_sent_at`: for the written
    confirmation, when the text closing the police visit gave the victim their crime reference: the task
    then asks only for what that text did not say."""
    parts = []
    if overdue:
        parts.append("The Victims' Code deadline for this has passed and it is not done: tell the victim now "
                     "and record how.")
    if crime_reference_sent_at is not None and milestone is not None and milestone.key == WRITTEN_CONFIRMATION:
        parts.append(what_is_still_missing(crime_reference_sent_at))
    else:
        parts.append(f"Tell the victim: {what}.")
    if plan.reason:
        parts.append(plan.reason)
    if milestone is not None and milestone.tell_right_to_review:
        months = code.right_to_review.request_within_months
        parts.append(f"Tell them about the Victims' Right to Review: they can ask for this decision to be "
                     f"reviewed within {months} months of being told of it.")
    if contact_notes:
        parts.append(f"Contact notes: {contact_notes}")
    return " ".join(parts)


# ---- the written confirmation and the text that closes a police visit ---------------------------------------

WRITTEN_CONFIRMATION = "written_confirmation"
# The text that closes a police visit to a crime (`rxapp/templates/attendance_closed.json`) gives the crime
# reference and "call 101", but not who the officer in charge is nor what happens next, both of which the
# Code's written acknowledgement (right 3) must give. So it meets that duty only in part: it never marks the
# duty done, but a person telling the victim the rest says only what is still missing, not the reference again.
CRIME_REFERENCE_TEXT = "attendance_closed"
STILL_MISSING = ("who the officer in charge of their case is and how to reach them (101, giving the crime "
                 "reference), and what happens next (updates on the investigation, and support services)")


def what_is_still_missing(crime_reference_sent_at: datetime) -> str:
    """The written confirmation task's instruction once the victim has their crime reference by text."""
    return (f"The victim already has their crime reference: the text closing the police visit gave it "
            f"({when_words(crime_reference_sent_at)}). Do not give it again as news. Tell them only what that "
            f"text did not: {STILL_MISSING}.")


def narrowed_task_detail(detail: str, what: str, crime_reference_sent_at: datetime) -> str:
    """An open written confirmation task's words once the crime reference text has gone: its "Tell the victim:
    <what>." becomes only what is still missing (said first if the task words say something else)."""
    missing = what_is_still_missing(crime_reference_sent_at)
    if "The victim already has their crime reference" in detail:
        return detail
    sentence = f"Tell the victim: {what}."
    if sentence in detail:
        return detail.replace(sentence, missing, 1)
    return f"{missing} {detail}"
