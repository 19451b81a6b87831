"""Arrival windows: when an officer on the way is likely to arrive, and how to say so honestly.

From a vehicle's latest position fix the model estimates a travel time, turns it into a window (earliest,
latest) with a best guess (point) inside it, and keeps that window steady from one fix to the next so the
victim's page and the control-room board do not flicker. `describe_window` and `describe_clock_window` turn
a window into the plain English a victim reads: always a range, rounded outwards, never a precise minute.

The model, in order:
1. Travel time. A routing engine's figure (`travel_seconds`, see `Router`) when the caller has one;
   otherwise the straight-line distance times a road-circuity factor (about 1.35 in towns, 1.25 in the
   country: roads wind more between houses than between villages) divided by a typical speed for the
   grade (`grades.SpeedModel`). The vehicle's reported speed is blended in lightly (a quarter) when it
   is plausible (2 to 45 m/s) and the fix is fresh: it is one instant's speed, zero at a junction and
   high on a dual carriageway, so it tells us about traffic but says little about the whole trip.
2. Point. The fix's time plus the travel time (the vehicle was at that spot when the fix was taken,
   not now), never earlier than now.
3. Smoothing. The point is exponentially smoothed against the previous estimate, weighted by the time
   between them (time constant 30 s, so two estimates a second later barely move and one a minute
   later mostly follows the new fix). Smoothing stops, and the new figure is taken as it is, when there
   is no previous estimate (first fix, or a different officer: the caller passes previous=None), when
   the previous one is over ten minutes old, or when the two differ by more than half the time
   remaining: a change that large is news (a diversion, a closed road) and must show at once.
4. Uncertainty. The window is the point +-20 % of the time remaining, at least five minutes wide, and
   never starting before now. A stale fix (older than 60 s) adds its age to the late edge, because a
   vehicle that has stopped reporting is more often stopped than speeding; the basis becomes
   "stale_position". Within a minute of arrival on a fresh fix the window is simply the next three
   minutes.
5. Hysteresis. If the new window's edges are each within max(60 s, 10 % of the time remaining) of the
   previous window's, the previous edges are kept. A point wobbling across a five-minute boundary
   between fixes therefore leaves the stored window, and so every rounded text built from it,
   unchanged; callers that push to screens only when (earliest, latest, basis) or the rounded texts
   change (`window_changed`) push only real news, plus the natural tick of the minutes counting down.
   Real movement of more than the tolerance is shown at once, so the hold never hides a delay for long.

Times are aware UTC datetimes (as the models hand them out); naive ones are taken to be UTC.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Optional, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from .geo import LatLon, distance_m
from .grades import SpeedModel

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
class EtaParams:
    """The model's constants, gathered so that a force can tune them and tests can state them."""

    circuity_urban: float = 1.35
    circuity_rural: float = 1.25
    speeds: SpeedModel = field(default_factory=SpeedModel)
    reported_speed_weight: float = 0.25
    min_plausible_speed_mps: float = 2.0
    max_plausible_speed_mps: float = 45.0
    stale_after_s: float = 60.0
    smoothing_tau_s: float = 30.0
    reset_change_share: float = 0.5
    max_previous_age_s: float = 600.0
    uncertainty_share: float = 0.2
    min_window_s: float = 300.0
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
    raw_point = max(min(fix_at, now) + timedelta(seconds=travel), now)

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
        half = max(params.uncertainty_share * remaining, params.min_window_s / 2)
        earliest = max(now, point - timedelta(seconds=half))
        latest = max(point + timedelta(seconds=half), earliest + timedelta(seconds=params.min_window_s))
        if stale:
            latest += timedelta(seconds=age)

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


# --- Words -------------------------------------------------------------------------------------------

def describe_window(estimate: EtaEstimate, now: datetime) -> str:
    """How long until the officer arrives, in plain English: "10 to 15 minutes", "less than 5 minutes",
    "30 to 45 minutes", "about 1 to 2 hours". Edges are rounded outwards (earliest down, latest up) to
    5-minute steps up to an hour, 15-minute steps up to an hour and a half, whole hours beyond, so the
    text is never more precise than the model. Empty when there is no estimate."""
    if estimate.basis == NONE:
        return ""
    now = _aware(now)
    lo = max(0.0, (_aware(estimate.earliest) - now).total_seconds() / 60)
    hi = max(lo, (_aware(estimate.latest) - now).total_seconds() / 60)
    if hi <= 5:
        return "less than 5 minutes"
    if hi <= 90:
        step = 5 if hi <= 60 else 15
        lo_r, hi_r = _round_out(lo, hi, step)
        return f"less than {hi_r} minutes" if lo_r == 0 else f"{lo_r} to {hi_r} minutes"
    lo_h, hi_h = _round_out(lo / 60, hi / 60, 1)
    return f"less than {hi_h} hours" if lo_h == 0 else f"about {lo_h} to {hi_h} hours"


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
    """The window as clock times in `tz`: "between 10:05 and 10:15", rounded outwards to 5 minutes (15
    for windows over an hour). "by 10:15" when the rounded start would already have passed, and the day
    is added when the window is not on the same day as `now` (default: when the estimate was made)."""
    if estimate.basis == NONE:
        return ""
    zone = ZoneInfo(tz)
    reference = _aware(now or estimate.computed_at)
    earliest, latest = _aware(estimate.earliest), _aware(estimate.latest)
    step = 300 if (latest - earliest).total_seconds() <= 3600 else 900
    start = _floor_to(earliest, step)
    end = _ceil_to(latest, step)
    if end <= start:
        end = start + timedelta(seconds=step)
    start_local, end_local = start.astimezone(zone), end.astimezone(zone)
    text = (f"by {end_local:%H:%M}" if start < reference
            else f"between {start_local:%H:%M} and {end_local:%H:%M}")
    shown_day = end_local.date() if start < reference else start_local.date()
    if shown_day != reference.astimezone(zone).date():
        text += f" on {_day_name(shown_day)}"
    return text


def _floor_to(at: datetime, step: int) -> datetime:
    # UK offsets are whole hours, so rounding in UTC is rounding on the local clock too.
    ts = at.timestamp()
    return datetime.fromtimestamp(math.floor(ts / step) * step, tz=timezone.utc)


def _ceil_to(at: datetime, step: int) -> datetime:
    ts = at.timestamp()
    return datetime.fromtimestamp(math.ceil(ts / step) * step, tz=timezone.utc)


def shown_text(estimate: Optional[EtaEstimate], now: datetime, tz: str = "Europe/London") -> str:
    """Everything a person sees of a window, as one string: compare it with `window_changed`."""
    if estimate is None or estimate.basis == NONE:
        return ""
    text = f"{describe_window(estimate, now)} ({describe_clock_window(estimate, tz, now)})"
    return text + (" [position not recently updated]" if estimate.stale else "")


def window_changed(old_text: Optional[str], new_text: Optional[str]) -> bool:
    """True when what a person sees differs, ignoring case and spacing. Use with `shown_text` (or the two
    describe_* texts) to decide whether to push to screens; the hold in `estimate_arrival` already keeps
    the underlying window steady while fixes wobble."""
    def norm(text: Optional[str]) -> str:
        return " ".join((text or "").split()).casefold()
    return norm(old_text) != norm(new_text)
