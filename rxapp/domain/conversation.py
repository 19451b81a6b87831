"""The portal's rules for the conversation between a victim and the officer in charge, for the victim's
preferences and for the short survey. Pure: the services in `rxapp/portal/` gather the facts and store.

- A message is plain text up to `MAX_MESSAGE_CHARS` characters (counted as characters, not bytes), kept
  exactly as written except for the whitespace around it; a huge one is refused before anything else looks
  at it.
- The automatic answer promises a reply by the end of the n-th working day after the message (the Code's
  working calendar; n is the force's setting PORTAL_REPLY_WORKING_DAYS).
- "Ask for an update" is due by the same reply deadline, or sooner for a victim with enhanced rights: the
  Code's enhanced deadline for a first update (1 working day in the 2020 Code).
- The survey: one subject at a time, the attendance that started the case once it has ended, then the case
  once it is finalised; a subject answered or declined is never offered again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional

from rxapp.domain.code_rules import VictimsCode
from rxapp.domain.working_days import WorkingCalendar

MAX_MESSAGE_CHARS = 2000
MAX_COMMENT_CHARS = 2000
SCORES = (1, 2, 3, 4, 5)
# How often a victim may choose to hear when nothing has changed (days); 28 is the Code's default.
FREQUENCIES = (7, 14, 28, 56)
# The channels a victim may prefer: two automated, two that a person carries out (the Code's task channels).
CHANNELS = ("SMS", "EMAIL", "PHONE", "LETTER")


def message_refusal(text: object, limit: int = MAX_MESSAGE_CHARS) -> Optional[str]:
    """Why a message cannot be sent (`empty`, `too_long`), or None. Cheap for any input: the length is
    checked before the text is stripped or copied."""
    if not isinstance(text, str):
        return "empty"
    if len(text) > limit + 10_000:  # far past the limit: no need to look at it at all
        return "too_long"
    cleaned = text.strip()
    if not cleaned:
        return "empty"
    if len(cleaned) > limit:
        return "too_long"
    return None


def clean_message(text: str) -> str:
    """The message as stored: exactly as written, without the whitespace around it."""
    return text.strip()


def reply_expected_by(written_at: datetime, working_days: int, calendar: WorkingCalendar) -> datetime:
    """When the victim can expect a reply: the end of the n-th working day after they wrote."""
    return calendar.add_working_days(written_at, working_days)


def update_request_due(code: VictimsCode, asked_at: datetime, enhanced: bool, working_days: int,
                       calendar: WorkingCalendar) -> datetime:
    """When an asked-for update is owed: the reply deadline, or the Code's enhanced deadline for a first
    update when the victim has enhanced rights and that is sooner."""
    days = working_days
    if enhanced:
        days = min(days, code.routine_updates.first_enhanced_working_days)
    return calendar.add_working_days(asked_at, days)


def too_many(recent: int, per_hour: int) -> bool:
    """A victim who has written `recent` messages in the last hour may not write another."""
    return recent >= per_hour


@dataclass(frozen=True)
class SurveyFacts:
    """What decides which survey is due for one victim of one case."""

    incident_id: Optional[int]  # the attendance that started the case, if any
    attendance_ended: bool
    occurrence_id: int
    case_finalised: bool
    closed_subjects: frozenset[str]  # answered or declined


def attendance_subject(incident_id: int) -> str:
    return f"attendance:{incident_id}"


def case_subject(occurrence_id: int) -> str:
    return f"case:{occurrence_id}"


def survey_due(facts: SurveyFacts) -> Optional[str]:
    """The one survey subject to offer now, or None."""
    wanted = []
    if facts.incident_id is not None and facts.attendance_ended:
        wanted.append(attendance_subject(facts.incident_id))
    if facts.case_finalised:
        wanted.append(case_subject(facts.occurrence_id))
    for subject in wanted:
        if subject not in facts.closed_subjects:
            return subject
    return None


def valid_score(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in SCORES


def channels_available(phone: Optional[str], email: Optional[str], postal_address: Optional[str]) -> list[str]:
    """The channels a victim may choose: those we have the details for (a phone call needs a number)."""
    out = []
    if phone:
        out += ["SMS"]
    if email:
        out += ["EMAIL"]
    if phone:
        out += ["PHONE"]
    if postal_address:
        out += ["LETTER"]
    return out


def average(values: Iterable[int]) -> Optional[float]:
    values = list(values)
    return round(sum(values) / len(values), 2) if values else None
