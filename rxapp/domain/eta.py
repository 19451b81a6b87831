"""Arrival windows: when an officer on the way is likely to arrive, and how to say so honestly.

From a vehicle's latest position fix the model estimates a travel time, turns it into a window (earliest,
latest) with a best guess (point) inside it, and keeps that window steady from one fix to the next so the
victim's page and the control-room board do not flicker. With several resources on the way, the one most
likely to arrive first is shown (`first_to_arrive`). `window_words` says a window one way, as data for a page
in any language and in English: a clock window on five-minute marks ("between 05:20 and 05:30") and a relative
phrase worked out from those same marks ("less than 15 minutes"), so the two always agree.

The model, in order:
1. Travel time. A routing engine's figure (`travel_seconds`, see `Router`) when the caller has one;
   otherwise the straight-line distance times a road-circuity factor (about 1.35 in towns, 1.25 in the
   country: roads wind more between houses than between villages) divided by a typical speed for the
   grade and area (`RoadSpeeds`). The vehicle's reported speed is blended in by half when it is
   plausible (2 to 45 m/s) and the fix is fresh: it is one instant's speed, zero at a junction and high
   on a dual carriageway, but it tells us whether this car is in slow traffic or on an open road.
2. Point. The fix's time plus the travel time (the vehicle was at that spot when the fix was taken,
   not now), never earlier than now.
3. Smoothing. The point is exponentially smoothed against the previous estimate, weighted by the time
   between them (time constant 30 s, so two estimates a second later barely move and one a minute
   later mostly follows the new fix). Smoothing stops, and the new figure is taken as it is, when there
   is no previous estimate (first fix, or a different officer: the caller passes previous=None), when
   the previous one is over ten minutes old, or when the two differ by more than half the time
   remaining: a change that large is news (a diversion, a closed road) and must show at once.
4. Uncertainty. The window is the point +-20 % of the time remaining, at least five minutes wide (then
   two fifths of it before the point and three fifths after: late arrivals, after lights and queues, are commoner than
   early ones), and never starting before now. A stale fix (older than 60 s) adds its age to the late
   edge, because a vehicle that has stopped reporting is more often stopped than speeding, and twice as
   much again for every second the vehicle should already have been there by that fix (a car silent 100 m
   from the door is parked short of it, or gone elsewhere); the basis becomes "stale_position". Within a
   minute of arrival on a fresh fix the window is simply the next three minutes.
5. Hysteresis. If the new window's edges are each within max(60 s, 10 % of the time remaining) of the
   previous window's, the previous edges are kept. A point wobbling across a five-minute boundary
   between fixes therefore leaves the stored window, and so every rounded text built from it,
   unchanged; callers that push to screens only when (earliest, latest, basis) or the rounded texts
   change (`window_changed`) push only real news, plus the natural tick of the minutes counting down.
   Real movement of more than the tolerance is shown at once, so the hold never hides a delay for long.

The constants are calibrated on `bench/windows.py`'s journeys (figures in bench/README.md); they are data
(`EtaParams`, `RoadSpeeds`), and a force should check them against its own vehicles' history.

Times are aware UTC datetimes (as the models hand them out); naive ones are taken to be UTC.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Optional, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from .geo import LatLon, distance_m
from .grades import EMERGENCY, PRIORITY

POSITION = "position"
STALE_POSITION = "stale_position"
APPOINTMENT = "appointment"
NONE = "none"
BASES = (POSITION, STALE_POSITION, APPOINTMENT, NONE)


@dataclass(frozen=True)
class EtaEstimate:
    """An arrival window. `earliest` <= `point` <= `latest`; all UTC."""

    earliest: datetime
    latest: datetime
    point: datetime
    computed_at: datetime
    basis: str  # "position" | "stale_position" | "appointment" | "none"
    stale: bool

    @classmethod
    def unknown(cls, now: datetime) -> "EtaEstimate":
        """Nothing honest to show: `describe_window` and `describe_clock_window` give empty text."""
        return cls(earliest=now, latest=now, point=now, computed_at=now, basis=NONE, stale=False)


@dataclass(frozen=True)
class RoadSpeeds:
    """Typical average road speed (km/h) to the scene, door to door, by grade and area: averages over a whole
    journey including junctions, lights, traffic and finding the door, not cruising speeds. Emergency calls go
    on blue lights; priority calls usually do not. Country roads are faster than town streets for every grade.
    The figures are calibrated on `bench/windows.py`'s journeys (see bench/README.md); a force should check
    them against its own vehicles' history."""

    emergency_urban_kmh: float = 40.0
    emergency_rural_kmh: float = 65.0
    priority_urban_kmh: float = 28.0
    priority_rural_kmh: float = 55.0
    standard_urban_kmh: float = 25.0
    standard_rural_kmh: float = 50.0

    def kmh(self, grade: str, rural: bool) -> float:
        if grade == EMERGENCY:
            return self.emergency_rural_kmh if rural else self.emergency_urban_kmh
        if grade == PRIORITY:
            return self.priority_rural_kmh if rural else self.priority_urban_kmh
        return self.standard_rural_kmh if rural else self.standard_urban_kmh  # standard, scheduled, unexpected

    def mps(self, grade: str, rural: bool) -> float:
        return self.kmh(grade, rural) / 3.6


@dataclass(frozen=True)
class EtaParams:
    """The model's constants, gathered so that a force can tune them and tests can state them."""

    circuity_urban: float = 1.35
    circuity_rural: float = 1.25
    speeds: RoadSpeeds = field(default_factory=RoadSpeeds)
    reported_speed_weight: float = 0.5
    min_plausible_speed_mps: float = 2.0
    max_plausible_speed_mps: float = 45.0
    stale_after_s: float = 60.0
    smoothing_tau_s: float = 30.0
    reset_change_share: float = 0.5
    max_previous_age_s: float = 600.0
    early_share: float = 0.2
    late_share: float = 0.2
    min_window_s: float = 300.0
    min_window_early_fraction: float = 0.4
    stale_growth: float = 1.0
    overdue_growth: float = 2.0
    arriving_within_s: float = 60.0
    arriving_window_s: float = 180.0
    hold_min_s: float = 60.0
    hold_share: float = 0.1


DEFAULT_PARAMS = EtaParams()


@dataclass(frozen=True)
class RouteResult:
    """A travel time and road distance from a router."""

    seconds: float
    metres: float


@runtime_checkable
class Router(Protocol):
    """Anything that can say how long a drive takes. Returns None when it cannot answer (the caller then
    uses the straight-line model), so a routing engine is an improvement, never a dependency."""

    async def travel_time(self, origin: LatLon, dest: LatLon) -> Optional[RouteResult]: ...


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def straight_line_route(origin: LatLon, dest: LatLon, *, grade: str, rural: bool = False,
                        reported_speed_mps: Optional[float] = None,
                        params: EtaParams = DEFAULT_PARAMS) -> RouteResult:
    """Travel time by the straight-line model (see the module notes, step 1)."""
    metres = distance_m(origin, dest) * (params.circuity_rural if rural else params.circuity_urban)
    speed = params.speeds.mps(grade, rural)
    if (reported_speed_mps is not None and math.isfinite(reported_speed_mps)
            and params.min_plausible_speed_mps <= reported_speed_mps <= params.max_plausible_speed_mps):
        w = params.reported_speed_weight
        speed = (1.0 - w) * speed + w * reported_speed_mps
    return RouteResult(seconds=metres / speed, metres=metres)


class StraightLineRouter:
    """The `Router` used when no routing engine is configured: the straight-line model for one grade."""

    def __init__(self, *, grade: str = "PRIORITY", rural: bool = False, params: EtaParams = DEFAULT_PARAMS):
        self.grade, self.rural, self.params = grade, rural, params

    async def travel_time(self, origin: LatLon, dest: LatLon) -> Optional[RouteResult]:
        return straight_line_route(origin, dest, grade=self.grade, rural=self.rural, params=self.params)


def estimate_arrival(
    *,
    now: datetime,
    fix_lat: float,
    fix_lon: float,
    fix_at: datetime,
    speed_mps: Optional[float],
    dest_lat: float,
    dest_lon: float,
    grade: str,
    rural: bool = False,
    previous: Optional[EtaEstimate] = None,
    travel_seconds: Optional[float] = None,
    params: EtaParams = DEFAULT_PARAMS,
) -> EtaEstimate:
    """The arrival window from the latest fix of the vehicle on its way (see the module notes).

    `previous` is the estimate last stored for the same officer and incident; pass None after a
    re-assignment. `travel_seconds`, when given, is a routing engine's drive time from the fix to the
    destination and replaces the straight-line model.
    """
    now, fix_at = _aware(now), _aware(fix_at)
    age = max(0.0, (now - fix_at).total_seconds())
    stale = age > params.stale_after_s
    basis = STALE_POSITION if stale else POSITION

    if travel_seconds is not None and math.isfinite(travel_seconds) and travel_seconds >= 0:
        travel = float(travel_seconds)
    else:
        # An old fix's speed describes a moment long gone; only a fresh one may nudge the estimate.
        travel = straight_line_route((fix_lat, fix_lon), (dest_lat, dest_lon), grade=grade, rural=rural,
                                     reported_speed_mps=None if stale else speed_mps, params=params).seconds
    if not math.isfinite(travel):
        raise ValueError("travel time is not a finite number (bad coordinates?)")
    # A fix stamped in the future (clock skew between AVL and us) is treated as taken now.
    raw_point_unclamped = min(fix_at, now) + timedelta(seconds=travel)
    raw_point = max(raw_point_unclamped, now)

    point, continuing = raw_point, False
    if previous is not None and previous.basis in (POSITION, STALE_POSITION):
        since = (now - _aware(previous.computed_at)).total_seconds()
        prev_point = _aware(previous.point)
        if 0.0 <= since <= params.max_previous_age_s:
            scale = max((prev_point - now).total_seconds(), (raw_point - now).total_seconds(), 60.0)
            if abs((raw_point - prev_point).total_seconds()) <= params.reset_change_share * scale:
                weight = 1.0 - math.exp(-since / params.smoothing_tau_s) if params.smoothing_tau_s > 0 else 1.0
                point = prev_point + (raw_point - prev_point) * weight
                continuing = True
    point = max(point, now)

    remaining = (point - now).total_seconds()
    if remaining <= params.arriving_within_s and not stale:
        earliest, latest = now, max(point, now + timedelta(seconds=params.arriving_window_s))
    else:
        early, late = params.early_share * remaining, params.late_share * remaining
        if early + late < params.min_window_s:
            early = params.min_window_s * params.min_window_early_fraction
            late = params.min_window_s - early
        earliest = max(now, point - timedelta(seconds=early))
        latest = max(point + timedelta(seconds=late), earliest + timedelta(seconds=params.min_window_s))
        if stale:
            # Silent since its last fix: the later edge grows with the silence, and faster once the vehicle
            # should have been there by that fix (parked short of the door, or off somewhere else).
            overdue = max(0.0, (now - raw_point_unclamped).total_seconds())
            latest += timedelta(seconds=age * params.stale_growth + overdue * params.overdue_growth)

    if continuing and previous.basis == basis:
        prev_earliest, prev_latest = _aware(previous.earliest), _aware(previous.latest)
        tolerance = max(params.hold_min_s, params.hold_share * remaining)
        if (prev_earliest >= now and prev_earliest <= point <= prev_latest
                and abs((earliest - prev_earliest).total_seconds()) <= tolerance
                and abs((latest - prev_latest).total_seconds()) <= tolerance):
            earliest, latest = prev_earliest, prev_latest

    return EtaEstimate(earliest=earliest, latest=latest, point=point, computed_at=now, basis=basis, stale=stale)


def estimate_from_appointment(*, now: datetime, window_start: datetime, window_end: datetime) -> EtaEstimate:
    """The booked window as an estimate, for a scheduled attendance with no officer on the way yet."""
    now = _aware(now)
    earliest = max(now, _aware(window_start))
    latest = max(_aware(window_end), earliest)
    point = earliest + (latest - earliest) / 2
    return EtaEstimate(earliest=earliest, latest=latest, point=point, computed_at=now, basis=APPOINTMENT,
                       stale=False)


# --- Choosing among several resources on the way ------------------------------------------------------

def first_to_arrive(candidates: dict[str, EtaEstimate], incumbent: Optional[str] = None,
                    margin_s: float = 60.0) -> Optional[str]:
    """Which resource's window the victim is shown when several are on the way: the one most likely to arrive
    first, ranked by its latest plausible arrival (the late edge). A resource whose fixes stop loses its place
    as its fix ages, because a stale fix's late edge grows with its age (`estimate_arrival`). The resource shown
    now (`incumbent`) keeps its place unless another's late edge is earlier by more than `margin_s`, so two cars
    with much the same window do not make it flicker. None when there is no candidate."""
    if not candidates:
        return None
    best = min(candidates, key=lambda key: (_aware(candidates[key].latest), key))
    if incumbent in candidates and incumbent != best:
        lead = (_aware(candidates[incumbent].latest) - _aware(candidates[best].latest)).total_seconds()
        if lead <= margin_s:
            return incumbent
    return best


def arriving_soon(estimate: Optional[EtaEstimate], now: datetime, within_s: float = 300.0) -> bool:
    """True when the officer is likely to arrive within about five minutes: the best guess from a fresh fix is
    that close. Not from a stale fix (the vehicle may have stopped) and not from a booked window."""
    if estimate is None or estimate.basis != POSITION or estimate.stale:
        return False
    return (_aware(estimate.point) - _aware(now)).total_seconds() <= within_s


# --- Words -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WindowWords:
    """One way of saying an arrival window, as data (for a page in any language) and in English.

    The clock window is the stored window rounded outwards to the clock's 5-minute marks (15 for windows over an
    hour): "between 05:20 and 05:30", or "by 05:30" once the rounded start has passed. The relative phrase is
    worked out from those same two marks and `now`, rounded outwards again ("less than 15 minutes" at 05:16), so
    the two always agree: every moment the clock window allows, the relative phrase allows too, and as time
    passes with the same window the relative phrase only counts down.

    `relative_kind` is "less_than" ("less than {high} {unit}") or "range" ("{low} to {high} minutes", "about {low}
    to {high} hours"); `relative_unit` is "minutes" or "hours"; `day` is the window's date ("2026-11-21") when it
    is not today in London, else ""."""

    start_at: datetime
    end_at: datetime
    start_clock: str
    end_clock: str
    start_passed: bool
    day: str
    day_name: str
    relative_kind: str
    relative_unit: str
    relative_low: int
    relative_high: int
    minutes_low: int
    minutes_high: int
    relative: str
    clock: str
    stale: bool
    basis: str

    def as_dict(self) -> dict:
        """Plain values only (strings, numbers, booleans): what a page's state may carry."""
        return {"start_clock": self.start_clock, "end_clock": self.end_clock, "start_passed": self.start_passed,
                "day": self.day, "day_name": self.day_name, "relative_kind": self.relative_kind,
                "relative_unit": self.relative_unit, "relative_low": self.relative_low,
                "relative_high": self.relative_high, "minutes_low": self.minutes_low,
                "minutes_high": self.minutes_high, "relative": self.relative, "clock": self.clock,
                "stale": self.stale, "basis": self.basis}


def window_words(estimate: Optional[EtaEstimate], now: datetime, tz: str = "Europe/London",
                 reference: Optional[datetime] = None) -> Optional[WindowWords]:
    """The window as a person reads it at `now` (see `WindowWords`); None when there is no estimate.
    `reference` (default `now`) decides "by" against "between" and whether to name the day."""
    if estimate is None or estimate.basis == NONE:
        return None
    now = _aware(now)
    reference = _aware(reference or now)
    zone = ZoneInfo(tz)
    earliest, latest = _aware(estimate.earliest), _aware(estimate.latest)
    step = 300 if (latest - earliest).total_seconds() <= 3600 else 900
    start = _floor_to(earliest, step)
    end = _ceil_to(latest, step)
    if end <= start:
        end = start + timedelta(seconds=step)
    start_local, end_local = start.astimezone(zone), end.astimezone(zone)
    passed = start < reference
    clock = f"by {end_local:%H:%M}" if passed else f"between {start_local:%H:%M} and {end_local:%H:%M}"
    shown_day = end_local.date() if passed else start_local.date()
    day = day_name = ""
    if shown_day != reference.astimezone(zone).date():
        day, day_name = shown_day.isoformat(), _day_name(shown_day)
        clock += f" on {day_name}"

    lo = max(0.0, (start - now).total_seconds() / 60)
    hi = max(lo, (end - now).total_seconds() / 60)
    if hi <= 5:
        kind, unit, low, high, m_low, m_high = "less_than", "minutes", 0, 5, 0, 5
    elif hi <= 90:
        minute_step = 5 if hi <= 60 else 15
        low, high = _round_out(lo, hi, minute_step)
        kind, unit, m_low, m_high = ("less_than" if low == 0 else "range"), "minutes", low, high
    else:
        low, high = _round_out(lo / 60, hi / 60, 1)
        kind, unit, m_low, m_high = ("less_than" if low == 0 else "range"), "hours", low * 60, high * 60
    if kind == "less_than":
        relative = f"less than {high} {unit}"
    elif unit == "minutes":
        relative = f"{low} to {high} minutes"
    else:
        relative = f"about {low} to {high} hours"
    return WindowWords(start_at=start, end_at=end, start_clock=f"{start_local:%H:%M}", end_clock=f"{end_local:%H:%M}",
                       start_passed=passed, day=day, day_name=day_name, relative_kind=kind, relative_unit=unit,
                       relative_low=low, relative_high=high, minutes_low=m_low, minutes_high=m_high,
                       relative=relative, clock=clock, stale=estimate.stale, basis=estimate.basis)


def describe_window(estimate: EtaEstimate, now: datetime) -> str:
    """How long until the officer arrives, in plain English ("less than 15 minutes", "10 to 20 minutes", "about
    1 to 2 hours"): `window_words(...).relative`, so it agrees with the clock window. Empty with no estimate."""
    words = window_words(estimate, now)
    return words.relative if words else ""


def _round_out(lo: float, hi: float, step: int) -> tuple[int, int]:
    # The small allowance stops float noise (14.9999999) from widening a window by a whole step.
    lo_r = int(math.floor(lo / step + 1e-6)) * step
    hi_r = int(math.ceil(hi / step - 1e-6)) * step
    if hi_r <= lo_r:
        hi_r = lo_r + step
    return lo_r, hi_r


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


def _day_name(d: date) -> str:
    # Own names rather than strftime("%A"), which follows the server's locale.
    return f"{_DAYS[d.weekday()]} {d.day} {_MONTHS[d.month - 1]}"


def describe_clock_window(estimate: EtaEstimate, tz: str = "Europe/London",
                          now: Optional[datetime] = None) -> str:
    """The window as clock times in `tz`: "between 10:05 and 10:15", rounded outwards to 5 minutes (15 for
    windows over an hour); "by 10:15" when the rounded start has already passed at `now` (default: when the
    estimate was made), with the day added when the window is not on the same day (`window_words(...).clock`)."""
    words = window_words(estimate, now or estimate.computed_at, tz)
    return words.clock if words else ""


def _floor_to(at: datetime, step: int) -> datetime:
    # UK offsets are whole hours, so rounding in UTC is rounding on the local clock too.
    ts = at.timestamp()
    return datetime.fromtimestamp(math.floor(ts / step) * step, tz=timezone.utc)


def _ceil_to(at: datetime, step: int) -> datetime:
    ts = at.timestamp()
    return datetime.fromtimestamp(math.ceil(ts / step) * step, tz=timezone.utc)


def shown_text(estimate: Optional[EtaEstimate], now: datetime, tz: str = "Europe/London") -> str:
    """Everything a person sees of a window, as one string: compare it with `window_changed`."""
    words = window_words(estimate, now, tz)
    if words is None:
        return ""
    return f"{words.relative} ({words.clock})" + (" [position not recently updated]" if words.stale else "")


def window_changed(old_text: Optional[str], new_text: Optional[str]) -> bool:
    """True when what a person sees differs, ignoring case and spacing. Use with `shown_text` (or the two
    describe_* texts) to decide whether to push to screens; the hold in `estimate_arrival` already keeps
    the underlying window steady while fixes wobble."""
    def norm(text: Optional[str]) -> str:
        return " ".join((text or "").split()).casefold()
    return norm(old_text) != norm(new_text)
