"""Call grades as data: attendance targets, typical road speeds, and whether an attendance is at risk.

The numbers are Cleveland's own targets (see shared/domain/victims-code.md, "Attendance"); another force, or
a new Code, changes them through configuration (`GRADE_TARGETS`, JSON), not code. `assess_breach` turns the
targets and the arrival estimate into the one-word risk level and one-line reason the control-room board
shows staff. Nothing here is ever shown to a victim.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Mapping, Optional
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

EMERGENCY = "EMERGENCY"
PRIORITY = "PRIORITY"
STANDARD = "STANDARD"
SCHEDULED = "SCHEDULED"
RESOLUTION_WITHOUT_DEPLOYMENT = "RESOLUTION_WITHOUT_DEPLOYMENT"
GRADES = (EMERGENCY, PRIORITY, STANDARD, SCHEDULED, RESOLUTION_WITHOUT_DEPLOYMENT)

# Risk levels, as the board shows them.
OK = "ok"
AT_RISK = "at_risk"
BREACHED = "breached"
UNASSIGNED = "unassigned"
BOOKED = "booked"  # a booked appointment whose window is not yet near: nobody needs to be assigned yet
RISK_LEVELS = (BREACHED, AT_RISK, UNASSIGNED, BOOKED, OK)  # most urgent first

# A target longer than a week is certainly a typing mistake in GRADE_TARGETS (minutes, not seconds).
_MAX_TARGET_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class GradeTargets:
    """Minutes from the incident being opened to an officer arriving, by grade.

    None means the grade has no clock of its own: a SCHEDULED attendance is due by the end of its booked
    appointment window, and RESOLUTION_WITHOUT_DEPLOYMENT sends nobody.
    """

    emergency_urban: int = 15
    emergency_rural: int = 20
    priority: int = 60
    # The Code document says standard attendance is "within 8 to 24 hours or by appointment". We hold the
    # force to the outer bound, 24 h (1440 minutes): the board should flag a miss of the promise, not of
    # the aspiration. A force that wants the 8-hour figure sets STANDARD to 480 in GRADE_TARGETS.
    standard: int = 1440
    scheduled: Optional[int] = None
    resolution_without_deployment: Optional[int] = None

    # Keys of the GRADE_TARGETS JSON (matched case-insensitively), the field each sets, and whether it may be null.
    _KEYS: ClassVar[dict[str, tuple[str, bool]]] = {
        "EMERGENCY_URBAN": ("emergency_urban", False),
        "EMERGENCY_RURAL": ("emergency_rural", False),
        "PRIORITY": ("priority", False),
        "STANDARD": ("standard", False),
        "SCHEDULED": ("scheduled", True),
        "RESOLUTION_WITHOUT_DEPLOYMENT": ("resolution_without_deployment", True),
    }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "GradeTargets":
        """Targets from a mapping such as {"EMERGENCY_URBAN": 15, "PRIORITY": 60}; keys left out keep the
        default. Raises ValueError naming the problem, so a bad setting stops start-up rather than
        silently changing what counts as a breach."""
        if not isinstance(data, Mapping):
            raise ValueError('GRADE_TARGETS must be a JSON object such as {"EMERGENCY_URBAN": 15, "PRIORITY": 60}')
        values: dict[str, Optional[int]] = {}
        for key, value in data.items():
            spec = cls._KEYS.get(str(key).upper()) if isinstance(key, str) else None
            if spec is None:
                raise ValueError(f"GRADE_TARGETS has an unknown key {key!r}; expected some of {', '.join(cls._KEYS)}")
            attr, nullable = spec
            if value is None:
                if not nullable:
                    raise ValueError(f"GRADE_TARGETS {key} cannot be null: it needs a number of minutes")
                values[attr] = None
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
                raise ValueError(f"GRADE_TARGETS {key} must be a whole number of minutes, not {value!r}")
            if not 1 <= value <= _MAX_TARGET_MINUTES:
                raise ValueError(
                    f"GRADE_TARGETS {key} must be between 1 and {_MAX_TARGET_MINUTES} minutes, not {value}")
            values[attr] = int(value)
        return cls(**values)

    @classmethod
    def from_json(cls, raw: str) -> "GradeTargets":
        """Targets from JSON text, e.g. the GRADE_TARGETS environment variable."""
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, TypeError) as exc:
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "not text"
            raise ValueError(f"GRADE_TARGETS is not valid JSON: {detail}") from None
        return cls.from_mapping(data)

    def as_mapping(self) -> dict[str, Optional[int]]:
        """The GRADE_TARGETS form of these targets (for showing the configuration to administrators)."""
        return {key: getattr(self, attr) for key, (attr, _) in self._KEYS.items()}

    def target_minutes(self, grade: str, rural: bool) -> Optional[int]:
        """Minutes allowed for this grade, or None when the grade has no clock (or is not one we know:
        the feed adapter rejects unknown grades, so None here means "nothing to measure against")."""
        if grade == EMERGENCY:
            return self.emergency_rural if rural else self.emergency_urban
        return {
            PRIORITY: self.priority,
            STANDARD: self.standard,
            SCHEDULED: self.scheduled,
            RESOLUTION_WITHOUT_DEPLOYMENT: self.resolution_without_deployment,
        }.get(grade)

    def target_deadline(self, grade: str, opened_at: datetime, rural: bool,
                        appointment_end: Optional[datetime] = None) -> Optional[datetime]:
        """When an officer must have arrived, or None when there is no target.

        A booked appointment replaces the clock for SCHEDULED and STANDARD attendances ("8 to 24 hours
        or by appointment"): the victim agreed that window, so its end is the promise. For emergency and
        priority calls an appointment never relaxes the target.
        """
        if appointment_end is not None and grade in (SCHEDULED, STANDARD):
            return appointment_end
        minutes = self.target_minutes(grade, rural)
        return None if minutes is None else opened_at + timedelta(minutes=minutes)


def target_minutes(grade: str, rural: bool, targets: Optional[GradeTargets] = None) -> Optional[int]:
    return (targets or GradeTargets()).target_minutes(grade, rural)


def target_deadline(grade: str, opened_at: datetime, rural: bool, appointment_end: Optional[datetime] = None,
                    targets: Optional[GradeTargets] = None) -> Optional[datetime]:
    return (targets or GradeTargets()).target_deadline(grade, opened_at, rural, appointment_end)


# Without an officer, a call that has used more than this share of its target is flagged at risk; the
# same applies to an assigned officer with no arrival estimate yet (not yet moving, or no position).
AT_RISK_SHARE_USED = 0.5
# A booked appointment is judged against its own window, not the time since the call: booked days ahead, it
# is not late, and nobody need be assigned yet. Without a resource it is at risk once its window is this
# close (a controller needs the time to find one), or, when only the end is known, this close to its end.
APPOINTMENT_AT_RISK_BEFORE_START = timedelta(hours=1)
APPOINTMENT_AT_RISK_BEFORE_END = timedelta(hours=1)
# A breach is new (highlighted on the board) for this long after its target passed.
NEW_BREACH_FOR = timedelta(minutes=10)


def assess_breach(
    grade: str,
    opened_at: datetime,
    now: datetime,
    predicted_arrival_latest: Optional[datetime],
    assigned: bool,
    arrived_at: Optional[datetime],
    rural: bool,
    appointment_end: Optional[datetime] = None,
    *,
    appointment_start: Optional[datetime] = None,
    targets: Optional[GradeTargets] = None,
    tz: str = "Europe/London",
) -> tuple[str, str]:
    """Risk level ("ok", "at_risk", "breached", "unassigned", "booked") and a short reason for control-room
    staff.

    Rules, first match wins:
    1. No target for the grade (phone resolution, or a scheduled call with no appointment yet): ok.
    2. Arrived: breached if after the deadline (kept for the record), else ok.
    3. Past the deadline with nobody at scene: breached (for a booked appointment: its window ended).
    4. A booked appointment (its end is the target) is judged against its own window (`_appointment`).
    5. No officer assigned: "unassigned", or "at_risk" once more than half the target has gone.
    6. Officer assigned: at risk if the latest edge of the predicted arrival window is after the deadline
       (we judge by the pessimistic edge because the board exists to act before the miss), or if there is
       no estimate yet and more than half the target has gone; otherwise ok.
    """
    targets = targets or GradeTargets()
    zone = ZoneInfo(tz)
    deadline = targets.target_deadline(grade, opened_at, rural, appointment_end)
    if deadline is None:
        if grade == SCHEDULED:
            return OK, "No appointment booked yet"
        if grade == RESOLUTION_WITHOUT_DEPLOYMENT:
            return OK, "Being resolved without an officer attending"
        return OK, "No attendance target for this grade"

    today = now.astimezone(zone).date()

    def clock(at: datetime) -> str:
        # Times on another day carry the weekday, so "16:00" is never mistaken for today's.
        local = at.astimezone(zone)
        return local.strftime("%H:%M") if local.date() == today else local.strftime("%a %H:%M")

    allowed = deadline - opened_at
    used = now - opened_at
    usage = _usage(used, allowed)

    if arrived_at is not None:
        if arrived_at > deadline:
            late = _span(arrived_at - deadline)
            return BREACHED, f"Arrived {clock(arrived_at)}, {late} after the {clock(deadline)} target"
        return OK, f"Arrived {clock(arrived_at)}, within the {clock(deadline)} target"

    by_appointment = appointment_end is not None and deadline == appointment_end
    if now > deadline:
        who = "no officer assigned" if not assigned else "officer not yet at scene"
        if by_appointment:
            return BREACHED, (f"{_booked(appointment_start, deadline, clock)}: window ended "
                              f"{_span(now - deadline)} ago, {who}")
        return BREACHED, f"Target {clock(deadline)} missed by {_span(now - deadline)}, {who}"
    if by_appointment:
        return _appointment(appointment_start, deadline, now, predicted_arrival_latest, assigned, clock)

    short_of_time = allowed.total_seconds() > 0 and used / allowed > AT_RISK_SHARE_USED
    if not assigned:
        return (AT_RISK if short_of_time else UNASSIGNED), f"No officer assigned, {usage}"

    if predicted_arrival_latest is not None:
        if predicted_arrival_latest > deadline:
            return AT_RISK, f"Predicted arrival {clock(predicted_arrival_latest)} is after the {clock(deadline)} target"
        return OK, f"Predicted arrival by {clock(predicted_arrival_latest)}, target {clock(deadline)}"
    if short_of_time:
        return AT_RISK, f"Officer assigned but no arrival estimate yet, {usage}"
    return OK, f"Officer assigned, {usage}"


def _booked(start: Optional[datetime], end: datetime, clock) -> str:
    """'Booked for 14:00–16:00' ('Booked for Wed 14:00–16:00' on another day), or 'Booked by 16:00'."""
    if start is None:
        return f"Booked by {clock(end)}"
    last = clock(end)
    # The end shown without its weekday when it falls on the start's day ("Wed 14:00–16:00").
    same_day = clock(start)[:-5] == last[:-5]
    return f"Booked for {clock(start)}–{last[-5:] if same_day else last}"


def _appointment(start: Optional[datetime], end: datetime, now: datetime, latest: Optional[datetime],
                 assigned: bool, clock) -> tuple[str, str]:
    """A booked visit before its window has ended, judged against that window:
    - nobody assigned and the window not yet near (an hour before it opens, or an hour before its end when
      only the end is known): "booked", nobody needed yet;
    - nobody assigned and the window near or open: at risk;
    - assigned: at risk when the predicted arrival's late edge is after the window's end, or when there is
      no estimate and the window ends within the hour; otherwise ok."""
    booked = _booked(start, end, clock)
    if start is not None:
        near = now >= start - APPOINTMENT_AT_RISK_BEFORE_START
        if now >= start:
            when = f"window open since {clock(start)}"
        else:
            when = f"starts in {_span(start - now)}"
    else:
        near = end - now <= APPOINTMENT_AT_RISK_BEFORE_END
        when = f"ends in {_span(end - now)}"
    if not assigned:
        if near:
            return AT_RISK, f"{booked}, {when}, no officer assigned"
        return BOOKED, f"{booked}, no officer needed yet"
    if latest is not None:
        if latest > end:
            return AT_RISK, f"{booked}, predicted arrival {clock(latest)} is after it"
        return OK, f"{booked}, predicted arrival by {clock(latest)}"
    if end - now <= APPOINTMENT_AT_RISK_BEFORE_END:
        return AT_RISK, f"{booked}, ends in {_span(end - now)}, officer assigned but no arrival estimate yet"
    return OK, f"{booked}, officer assigned"


def is_new_breach(level: str, deadline: Optional[datetime], now: datetime, arrived_at: Optional[datetime]) -> bool:
    """Whether a breach is new enough to be highlighted: its target passed, nobody has arrived, and less than
    NEW_BREACH_FOR ago."""
    return (level == BREACHED and deadline is not None and arrived_at is None
            and timedelta(0) <= now - deadline < NEW_BREACH_FOR)


def _usage(used: timedelta, allowed: timedelta) -> str:
    """'12 of 15 minutes used' / '13 of 24 hours used', floored so it never overstates progress."""
    used_min = max(0, int(used.total_seconds() // 60))
    allowed_min = int(allowed.total_seconds() // 60)
    if allowed_min >= 180:
        return f"{used_min // 60} of {allowed_min // 60} hours used"
    return f"{used_min} of {allowed_min} minutes used"


def _span(delta: timedelta) -> str:
    """A staff-facing duration: '7 minutes', '1 minute', '3 h 20 min'."""
    minutes = max(1, int(delta.total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} minute" + ("" if minutes == 1 else "s")
    return f"{minutes // 60} h {minutes % 60} min"
