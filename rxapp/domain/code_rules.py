"""The Victims' Code as data: its rights, update deadlines, who gets enhanced rights, and when a support
referral needs the victim's explicit consent.

Every number lives in a rules file (`rxapp/rules/victims_code_2020.json`), never in code, so the next Code
(one was consulted on in February 2026) is a new file rather than a change here. `load_code` reads and
checks that file and is the only I/O in this module; everything else is a pure function of the loaded
`VictimsCode`. A malformed file fails at load with a ValueError naming the field at fault, so a bad
edit is caught when the service starts, not when a deadline is first computed.

Offence flags and vulnerabilities are matched case-insensitively, so the dispatch feed's flags
("DOMESTIC_ABUSE", "SEXUAL_OFFENCE") can be passed as they are. Flags the Code does not mention (for
example "CRIME_IN_PROGRESS") are simply not grounds for anything.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Optional
from zoneinfo import ZoneInfo

from .working_days import LONDON, WorkingCalendar, end_of_day

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "rules" / "victims_code_2020.json"

UNDER_18_REASON = "under 18 at the time of the offence"
PERSISTENTLY_TARGETED_REASON = "persistently targeted"


@dataclass(frozen=True)
class Right:
    number: int
    title: str
    owed_by: tuple[str, ...]


@dataclass(frozen=True)
class Milestone:
    key: str
    label: str
    right: int
    standard_working_days: int
    enhanced_working_days: int
    # Only a release with no further action carries the Victims' Right to Review.
    tell_right_to_review: bool = False
    # Records-feed events that are this milestone, each with the message template that tells the victim.
    events: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # The template for a milestone not raised by one event (written confirmation, a new officer, ...).
    template: Optional[str] = None
    # For a victim with enhanced rights, this news is given by a person (a task), not an automated text.
    personal_call_when_enhanced: bool = False

    def working_days(self, enhanced: bool) -> int:
        return self.enhanced_working_days if enhanced else self.standard_working_days


@dataclass(frozen=True)
class EnhancedEntitlement:
    offence_flags: Mapping[str, str]  # flag -> plain-English reason
    under_18_at_offence: bool
    vulnerabilities: Mapping[str, str]  # need -> plain-English reason
    persistently_targeted: bool


@dataclass(frozen=True)
class RoutineUpdates:
    first_standard_working_days: int
    first_enhanced_working_days: int
    then_every_calendar_days: int
    template: str = "routine_no_news"
    send_at_local_time: time = time(9, 0)  # on the day it falls due, so quiet hours never delay it
    send_window_hours: int = 8  # each case at its own time within this window from the send time


@dataclass(frozen=True)
class RightToReview:
    request_within_months: int
    acknowledge_working_days: int
    decide_working_days: int  # the Code says "about"; treat it as the target, not a hard limit


@dataclass(frozen=True)
class VictimsCode:
    version: str
    in_force_from: date
    rights: tuple[Right, ...]
    milestones: Mapping[str, Milestone]
    enhanced_entitlement: EnhancedEntitlement
    routine_updates: RoutineUpdates
    referral_consent_required_for: frozenset[str]
    right_to_review: RightToReview
    complaint_acknowledge_working_days: int
    extra_bank_holidays: tuple[date, ...] = ()
    removed_bank_holidays: tuple[date, ...] = ()
    # Preferred channels automation may use; each other channel maps to the task a person is given.
    automated_channels: frozenset[str] = frozenset({"SMS", "EMAIL"})
    task_for_channel: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def milestone_for_event(self, event: str) -> Optional[tuple[Milestone, str]]:
        """The milestone a records-feed event is, and the template telling the victim; None when the
        event is not one the Code sets a deadline for (a court date, a VPS taken, ...)."""
        for milestone in self.milestones.values():
            if event in milestone.events:
                return milestone, milestone.events[event]
        return None

    def calendar(self) -> WorkingCalendar:
        """The working calendar this Code's file describes (library bank holidays plus its corrections).
        One per set of corrections: building one costs far more than a deadline computed with it."""
        return _calendar(self.extra_bank_holidays, self.removed_bank_holidays)

    def milestone(self, key: str) -> Milestone:
        try:
            return self.milestones[key]
        except KeyError:
            raise ValueError(f"unknown milestone {key!r}; the Code has {sorted(self.milestones)}") from None

    def deadline(self, milestone_key: str, occurred_at: datetime, enhanced: bool,
                 calendar: Optional[WorkingCalendar] = None) -> datetime:
        """When the victim must have been told of this milestone: the end of the n-th working day after
        it happened (see `working_days`), as aware UTC."""
        days = self.milestone(milestone_key).working_days(enhanced)
        return (calendar or self.calendar()).add_working_days(occurred_at, days)

    def is_enhanced(self, *, offence_flags: Iterable[str], date_of_birth: Optional[date],
                    offence_date: Optional[date], vulnerabilities: Iterable[str],
                    persistently_targeted: bool) -> tuple[bool, list[str]]:
        """Whether the victim is entitled to enhanced rights, and every reason why (any one is enough;
        staff see them all). An unknown date of birth or offence date gives no age reason: the officer
        must still assess the victim, which is a human judgement this cannot make."""
        rules = self.enhanced_entitlement
        reasons: list[str] = []
        flags = _lowered(offence_flags)
        reasons += [reason for flag, reason in rules.offence_flags.items() if flag in flags]
        if (rules.under_18_at_offence and date_of_birth is not None and offence_date is not None
                and age_on(date_of_birth, offence_date) < 18):
            reasons.append(UNDER_18_REASON)
        needs = _lowered(vulnerabilities)
        reasons += [reason for need, reason in rules.vulnerabilities.items() if need in needs]
        if rules.persistently_targeted and persistently_targeted:
            reasons.append(PERSISTENTLY_TARGETED_REASON)
        return bool(reasons), reasons

    def referral_needs_explicit_consent(self, offence_flags: Iterable[str], bereaved: bool) -> bool:
        """Whether a referral to support services may only be made with the victim's explicit consent
        (sexual offences, domestic abuse, bereaved relatives): otherwise the victim's details may be
        passed on unless they object."""
        required = self.referral_consent_required_for
        if bereaved and "bereaved_close_relative" in required:
            return True
        return bool(_lowered(offence_flags) & required)

    def routine_update_due(self, reported_at: datetime, last_update_at: Optional[datetime], enhanced: bool,
                           calendar: Optional[WorkingCalendar] = None,
                           every_days: Optional[int] = None) -> datetime:
        """When the next routine ("nothing has happened") update is due, as aware UTC: the default
        heartbeat when the victim and the officer have not agreed their own.

        No update yet: the end of the 5th working day after the report (1st if enhanced). Otherwise the
        end of the London day 28 calendar days after the last update: calendar days, because the Code
        says "every 28 days", and the end of the day, because a promise is kept by the day, not the hour.
        `every_days` is the frequency the victim and the officer agreed instead, when they did.
        """
        rules = self.routine_updates
        if last_update_at is None:
            days = rules.first_enhanced_working_days if enhanced else rules.first_standard_working_days
            return (calendar or self.calendar()).add_working_days(reported_at, days)
        if last_update_at.tzinfo is None or last_update_at.utcoffset() is None:
            raise ValueError("last_update_at must be an aware datetime")
        last_day = last_update_at.astimezone(ZoneInfo(LONDON)).date()
        return end_of_day(last_day + timedelta(days=every_days or rules.then_every_calendar_days))


@lru_cache(maxsize=8)
def _calendar(extra: tuple[date, ...], removed: tuple[date, ...]) -> WorkingCalendar:
    return WorkingCalendar(extra, removed)


def age_on(date_of_birth: date, on: date) -> int:
    """Age in whole years on a date. Someone born on 29 February turns a year older on 1 March in a
    common year, as English law reads it (they have not reached the anniversary on 28 February)."""
    had_birthday = (on.month, on.day) >= (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - (0 if had_birthday else 1)


def load_code(path: Path | str = DEFAULT_PATH) -> VictimsCode:
    """Read and check a Code rules file. Raises ValueError naming the field at fault."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path.name} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    return parse_code(data)


def parse_code(data: Any) -> VictimsCode:
    """Build a VictimsCode from the parsed rules file (a mapping)."""
    top = _mapping(data, "rules file")

    rights = tuple(_parse_right(item, f"rights[{i}]") for i, item in enumerate(_list(top, "rights", "")))
    numbers = [r.number for r in rights]
    if sorted(numbers) != list(range(1, len(numbers) + 1)) or not numbers:
        raise ValueError(f"rights must be numbered 1 to {len(numbers)} with none missing, not {numbers}")

    raw_milestones = _mapping(_get(top, "milestones", ""), "milestones")
    if not raw_milestones:
        raise ValueError("milestones must not be empty")
    milestones = {key: _parse_milestone(key, raw, set(numbers)) for key, raw in raw_milestones.items()}

    ent = _mapping(_get(top, "enhanced_entitlement", ""), "enhanced_entitlement")
    entitlement = EnhancedEntitlement(
        offence_flags=_reasons(ent, "offence_flags", "enhanced_entitlement."),
        under_18_at_offence=_bool(ent, "under_18_at_offence", "enhanced_entitlement."),
        vulnerabilities=_reasons(ent, "vulnerabilities", "enhanced_entitlement."),
        persistently_targeted=_bool(ent, "persistently_targeted", "enhanced_entitlement."),
    )

    ru = _mapping(_get(top, "routine_updates", ""), "routine_updates")
    routine = RoutineUpdates(
        first_standard_working_days=_days(ru, "first_standard_working_days", "routine_updates."),
        first_enhanced_working_days=_days(ru, "first_enhanced_working_days", "routine_updates."),
        then_every_calendar_days=_days(ru, "then_every_calendar_days", "routine_updates.", minimum=1),
        template=_text(ru, "template", "routine_updates.") if "template" in ru else "routine_no_news",
        send_at_local_time=_clock(ru.get("send_at_local_time", "09:00"), "routine_updates.send_at_local_time"),
        send_window_hours=_days(ru, "send_window_hours", "routine_updates.") if "send_window_hours" in ru else 8,
    )

    consent = _list(top, "referral_consent_required_for", "")
    for i, flag in enumerate(consent):
        if not isinstance(flag, str) or not flag:
            raise ValueError(f"referral_consent_required_for[{i}] must be a flag name, not {flag!r}")

    rtr = _mapping(_get(top, "right_to_review", ""), "right_to_review")
    review = RightToReview(
        request_within_months=_days(rtr, "request_within_months", "right_to_review.", minimum=1),
        acknowledge_working_days=_days(rtr, "acknowledge_working_days", "right_to_review."),
        decide_working_days=_days(rtr, "decide_working_days", "right_to_review."),
    )
    complaints = _mapping(_get(top, "complaints", ""), "complaints")

    bank = _mapping(top.get("bank_holidays", {}), "bank_holidays")
    extra, removed = (
        tuple(_iso_date(v, f"bank_holidays.{key}[{i}]")
              for i, v in enumerate(_list(bank, key, "bank_holidays.", required=False)))
        for key in ("extra", "removed")
    )

    automation = _mapping(top.get("automation", {}), "automation")
    automated = _list(automation, "automated_channels", "automation.", required=False) or ["SMS", "EMAIL"]
    task_for = _mapping(automation.get("task_for_channel", {}), "automation.task_for_channel")
    for name, title in task_for.items():
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"automation.task_for_channel.{name} must be the task's title, not {title!r}")
    seen_events: dict[str, str] = {}
    for key, milestone in milestones.items():
        for event in milestone.events:
            if event in seen_events:
                raise ValueError(f"milestones.{key}.events: {event} is already milestone {seen_events[event]}")
            seen_events[event] = key

    version = _get(top, "version", "")
    if not isinstance(version, str) or not version.strip():
        raise ValueError(f"version must be non-empty text, not {version!r}")

    return VictimsCode(
        version=version,
        in_force_from=_iso_date(_get(top, "in_force_from", ""), "in_force_from"),
        rights=rights,
        milestones=MappingProxyType(milestones),
        enhanced_entitlement=entitlement,
        routine_updates=routine,
        referral_consent_required_for=frozenset(f.lower() for f in consent),
        right_to_review=review,
        complaint_acknowledge_working_days=_days(complaints, "acknowledge_working_days", "complaints."),
        extra_bank_holidays=extra,
        removed_bank_holidays=removed,
        automated_channels=frozenset(str(c).upper() for c in automated),
        task_for_channel=MappingProxyType({k.upper(): v for k, v in task_for.items()}),
    )


# --- checking the file: each helper names the full path of the field it rejects -------------------------

def _get(data: Mapping[str, Any], key: str, prefix: str) -> Any:
    if key not in data:
        raise ValueError(f"{prefix}{key} is missing")
    return data[key]


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object, not {type(value).__name__}")
    return value


def _list(data: Mapping[str, Any], key: str, prefix: str, required: bool = True) -> list:
    value = _get(data, key, prefix) if required else data.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f"{prefix}{key} must be a list, not {type(value).__name__}")
    return value


def _days(data: Mapping[str, Any], key: str, prefix: str, minimum: int = 0) -> int:
    value = _get(data, key, prefix)
    # bool is an int in Python; "true" working days is a typo, not a number.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{prefix}{key} must be a whole number, {minimum} or more, not {value!r}")
    return value


def _bool(data: Mapping[str, Any], key: str, prefix: str) -> bool:
    value = _get(data, key, prefix)
    if not isinstance(value, bool):
        raise ValueError(f"{prefix}{key} must be true or false, not {value!r}")
    return value


def _text(data: Mapping[str, Any], key: str, prefix: str) -> str:
    value = _get(data, key, prefix)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{prefix}{key} must be non-empty text, not {value!r}")
    return value


def _reasons(data: Mapping[str, Any], key: str, prefix: str) -> Mapping[str, str]:
    value = _mapping(_get(data, key, prefix), f"{prefix}{key}")
    for name, reason in value.items():
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"{prefix}{key}.{name} must be a plain-English reason, not {reason!r}")
    return MappingProxyType({name.lower(): reason for name, reason in value.items()})


def _iso_date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a date as YYYY-MM-DD, not {value!r}") from None


def _parse_right(raw: Any, name: str) -> Right:
    item = _mapping(raw, name)
    number = _days(item, "number", f"{name}.", minimum=1)
    owed_by = _list(item, "owed_by", f"{name}.")
    if not owed_by or not all(isinstance(o, str) and o for o in owed_by):
        raise ValueError(f"{name}.owed_by must list who owes the right, not {owed_by!r}")
    return Right(number=number, title=_text(item, "title", f"{name}."), owed_by=tuple(owed_by))


def _parse_milestone(key: str, raw: Any, rights: set[int]) -> Milestone:
    prefix = f"milestones.{key}."
    item = _mapping(raw, f"milestones.{key}")
    right = _days(item, "right", prefix, minimum=1)
    if right not in rights:
        raise ValueError(f"{prefix}right must be one of the Code's rights, not {right!r}")
    tell = item.get("tell_right_to_review", False)
    if not isinstance(tell, bool):
        raise ValueError(f"{prefix}tell_right_to_review must be true or false, not {tell!r}")
    events = _mapping(item.get("events", {}), f"{prefix}events")
    for event, template in events.items():
        if not isinstance(template, str) or not template.strip():
            raise ValueError(f"{prefix}events.{event} must name a message template, not {template!r}")
    template = item.get("template")
    if template is not None and (not isinstance(template, str) or not template.strip()):
        raise ValueError(f"{prefix}template must name a message template, not {template!r}")
    call = item.get("personal_call_when_enhanced", False)
    if not isinstance(call, bool):
        raise ValueError(f"{prefix}personal_call_when_enhanced must be true or false, not {call!r}")
    return Milestone(
        events=MappingProxyType(dict(events)),
        template=template,
        personal_call_when_enhanced=call,
        key=key,
        label=_text(item, "label", prefix),
        right=right,
        standard_working_days=_days(item, "standard_working_days", prefix),
        enhanced_working_days=_days(item, "enhanced_working_days", prefix),
        tell_right_to_review=tell,
    )


def _clock(value: Any, name: str) -> time:
    try:
        parsed = time.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a time of day as HH:MM, not {value!r}") from None
    return parsed


def _lowered(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.lower() for v in values)
