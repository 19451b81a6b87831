"""The arrival window (rxapp.domain.eta): estimates, smoothing, hysteresis and the words victims read."""
from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from rxapp.domain.eta import (
    APPOINTMENT,
    NONE,
    POSITION,
    STALE_POSITION,
    EtaEstimate,
    EtaParams,
    Router,
    RouteResult,
    StraightLineRouter,
    describe_clock_window,
    describe_window,
    estimate_arrival,
    estimate_from_appointment,
    shown_text,
    straight_line_route,
    window_changed,
)
from rxapp.domain.geo import bng_to_wgs84, distance_m

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 9, 34, 0, tzinfo=UTC)  # winter: London clock = UTC
DEST = bng_to_wgs84(447835, 517445)  # Acklam Road, Middlesbrough
FIX = (54.529752, -1.234013)  # the sample's first fix, about 2.9 km away
S = timedelta(seconds=1)
MIN = timedelta(minutes=1)


def estimate(**overrides) -> EtaEstimate:
    args = dict(now=NOW, fix_lat=FIX[0], fix_lon=FIX[1], fix_at=NOW - 5 * S, speed_mps=None,
                dest_lat=DEST[0], dest_lon=DEST[1], grade="PRIORITY")
    args.update(overrides)
    return estimate_arrival(**args)


def point_towards(fraction_left: float) -> tuple[float, float]:
    """A point on the straight line from DEST towards FIX, `fraction_left` of the way out."""
    return (DEST[0] + (FIX[0] - DEST[0]) * fraction_left, DEST[1] + (FIX[1] - DEST[1]) * fraction_left)


def check_invariants(e: EtaEstimate, now: datetime) -> None:
    assert e.earliest >= now, "a window never starts in the past"
    assert e.earliest <= e.point <= e.latest
    assert e.computed_at == now


# --- The basic model -----------------------------------------------------------------------------------

def test_straight_line_model_numbers():
    e = estimate()
    metres = distance_m(FIX, DEST) * 1.35
    expected = NOW - 5 * S + timedelta(seconds=metres / (35 / 3.6))  # priority, 35 km/h
    assert e.point == expected
    assert (e.basis, e.stale) == (POSITION, False)
    check_invariants(e, NOW)
    # +-20 % of the time remaining, but at least five minutes wide
    remaining = (e.point - NOW).total_seconds()
    half = max(0.2 * remaining, 150)
    assert e.earliest == e.point - timedelta(seconds=half)
    assert e.latest == e.point + timedelta(seconds=half)


def test_rural_emergency_is_faster_and_less_winding():
    urban = estimate(grade="EMERGENCY")
    rural = estimate(grade="EMERGENCY", rural=True)
    priority = estimate(grade="PRIORITY")
    assert rural.point < urban.point < priority.point
    ratio = (rural.point - (NOW - 5 * S)) / (urban.point - (NOW - 5 * S))
    assert ratio == pytest.approx((1.25 / 64) / (1.35 / 48), rel=1e-6)


@pytest.mark.parametrize("speed,blended", [
    (None, False), (0.0, False), (1.5, False), (60.0, False), (float("nan"), False),  # implausible: ignored
    (5.0, True), (20.0, True),
])
def test_reported_speed_is_blended_only_when_plausible(speed, blended):
    plain = straight_line_route(FIX, DEST, grade="PRIORITY")
    with_speed = straight_line_route(FIX, DEST, grade="PRIORITY", reported_speed_mps=speed)
    if not blended:
        assert with_speed == plain
    else:
        expected_speed = 0.75 * (35 / 3.6) + 0.25 * speed
        assert with_speed.seconds == pytest.approx(plain.metres / expected_speed)


def test_stale_fix_speed_is_ignored():
    fresh_fast = estimate(speed_mps=30.0)
    fresh_none = estimate(speed_mps=None)
    assert fresh_fast.point < fresh_none.point
    stale_fast = estimate(fix_at=NOW - 5 * MIN, speed_mps=30.0)
    stale_none = estimate(fix_at=NOW - 5 * MIN, speed_mps=None)
    assert stale_fast.point == stale_none.point


def test_routing_engine_time_replaces_the_straight_line():
    e = estimate(travel_seconds=900)
    assert e.point == NOW - 5 * S + 900 * S
    assert estimate(travel_seconds=float("nan")).point == estimate().point  # a bad figure falls back


@pytest.mark.parametrize("scenario", [
    dict(),
    dict(fix_at=NOW - 10 * MIN),                 # very stale
    dict(fix_at=NOW + 3 * MIN),                  # AVL clock ahead of ours
    dict(travel_seconds=0),                      # already there
    dict(travel_seconds=30, fix_at=NOW - 45 * S),  # should have arrived already
    dict(fix_lat=DEST[0], fix_lon=DEST[1]),      # at the door
    dict(grade="STANDARD", travel_seconds=3 * 3600),
    dict(previous=EtaEstimate(NOW - 20 * MIN, NOW - 10 * MIN, NOW - 15 * MIN, NOW - 1 * MIN, POSITION, False)),
    dict(previous=EtaEstimate(NOW + 2 * MIN, NOW + 9 * MIN, NOW + 5 * MIN, NOW - 10 * S, POSITION, False)),
])
def test_window_never_earlier_than_now(scenario):
    e = estimate(**scenario)
    check_invariants(e, NOW)


def test_window_is_at_least_five_minutes_wide_and_grows_with_distance():
    widths = []
    for frac in (0.3, 0.6, 1.0, 3.0, 8.0):
        lat, lon = point_towards(frac)
        e = estimate(fix_lat=lat, fix_lon=lon, fix_at=NOW)
        widths.append((e.latest - e.earliest).total_seconds())
    assert all(w >= 300 for w in widths)
    assert widths == sorted(widths)
    assert widths[-1] > 2 * widths[0]


def test_within_a_minute_of_arrival_the_window_is_small():
    e = estimate(travel_seconds=40, fix_at=NOW)
    assert e.earliest == NOW
    assert e.latest - e.earliest <= 3 * MIN
    assert describe_window(e, NOW) == "less than 5 minutes"


@pytest.mark.parametrize("age_s", [61, 120, 300, 900])
def test_stale_fix_widens_the_window_by_its_age(age_s):
    lat, lon = point_towards(1.0)
    fresh = estimate(fix_lat=lat, fix_lon=lon, fix_at=NOW - 30 * S, travel_seconds=1200)
    stale = estimate(fix_lat=lat, fix_lon=lon, fix_at=NOW - age_s * S, travel_seconds=1200)
    assert (fresh.basis, fresh.stale) == (POSITION, False)
    assert (stale.basis, stale.stale) == (STALE_POSITION, True)
    check_invariants(stale, NOW)
    fresh_width = (fresh.latest - fresh.earliest).total_seconds()
    stale_width = (stale.latest - stale.earliest).total_seconds()
    assert stale_width > fresh_width
    # Same point rule (fix time + travel), then the age added to the late edge.
    remaining = (stale.point - NOW).total_seconds()
    assert stale.latest == stale.point + max(0.2 * remaining, 150) * S + age_s * S


# --- Smoothing and hysteresis --------------------------------------------------------------------------

def drive(noise_s, *, smooth: bool, interval_s: int = 15, travel_s: float = 20 * 60):
    """A car on schedule to arrive at NOW + travel_s, whose per-fix travel figure wobbles by noise_s[i].

    Returns the estimates and the texts a victim would have seen after each fix."""
    arrival = NOW + travel_s * S
    previous, estimates, texts = None, [], []
    for i, noise in enumerate(noise_s):
        now = NOW + i * interval_s * S
        fix_at = now - 2 * S
        e = estimate(now=now, fix_at=fix_at, travel_seconds=(arrival - fix_at).total_seconds() + noise,
                     previous=previous if smooth else None)
        check_invariants(e, now)
        estimates.append(e)
        texts.append((describe_window(e, now), describe_clock_window(e, now=now)))
        previous = e
    return estimates, texts


WOBBLE = [0, 70, -60, 80, -70, 60, -80, 70, -60, 75, -65, 80, -70, 60, -80, 70]  # +-1 minute, every fix


def test_smoothing_keeps_the_window_still_when_fixes_wobble():
    smoothed, _ = drive(WOBBLE, smooth=True)
    raw, _ = drive(WOBBLE, smooth=False)
    stored_smoothed = {(e.earliest, e.latest) for e in smoothed}
    stored_raw = {(e.earliest, e.latest) for e in raw}
    assert len(stored_raw) == len(WOBBLE)      # without: the stored window moves on every fix
    assert len(stored_smoothed) <= 2           # with: it barely moves in four minutes of wobble
    # and the smoothed point moves far less than the raw one
    spread = lambda es: (max(e.point for e in es) - min(e.point for e in es)).total_seconds()  # noqa: E731
    assert spread(smoothed) < spread(raw) / 2


def test_clock_window_does_not_flip_across_a_five_minute_boundary():
    # Arrival at 09:54:00 +- wobble puts the late edge right on a five-minute boundary.
    _, texts_smoothed = drive(WOBBLE, smooth=True)
    _, texts_raw = drive(WOBBLE, smooth=False)
    clock_smoothed = [t[1] for t in texts_smoothed]
    clock_raw = [t[1] for t in texts_raw]
    flips = lambda xs: sum(1 for a, b in zip(xs, xs[1:]) if window_changed(a, b))  # noqa: E731
    assert flips(clock_raw) >= 4, clock_raw    # the wobble really does straddle a boundary
    assert flips(clock_smoothed) == 0, clock_smoothed


def test_a_real_delay_shows_through():
    # On schedule for four fixes, then the car is held up: 8 more minutes.
    noise = [0, 0, 0, 0] + [480] * 8
    estimates, _ = drive(noise, smooth=True)
    before, after = estimates[3], estimates[-1]
    assert after.latest - before.latest > 5 * MIN


def test_a_large_change_is_taken_at_once():
    previous = estimate(travel_seconds=600)
    later = NOW + 15 * S
    jumped = estimate(now=later, fix_at=later, travel_seconds=1800, previous=previous)  # diversion: 3x longer
    assert jumped.point == later + 1800 * S     # not smoothed


def test_old_previous_estimate_is_not_smoothed_against():
    previous = estimate(travel_seconds=600)
    later = NOW + 11 * MIN
    e = estimate(now=later, fix_at=later, travel_seconds=300, previous=previous)
    assert e.point == later + 300 * S


def test_no_previous_means_no_smoothing():
    e = estimate(fix_at=NOW, travel_seconds=777, previous=None)
    assert e.point == NOW + 777 * S


def test_same_instant_recomputation_is_stable():
    first = estimate(fix_at=NOW, travel_seconds=900)
    again = estimate(fix_at=NOW, travel_seconds=930, previous=first)
    assert (again.earliest, again.latest, again.point) == (first.earliest, first.latest, first.point)


def test_basis_change_is_always_shown():
    fresh = estimate(fix_at=NOW - 30 * S, travel_seconds=1200)
    later = NOW + 45 * S
    stale = estimate(now=later, fix_at=NOW - 30 * S, travel_seconds=1200, previous=fresh)
    assert stale.basis == STALE_POSITION
    assert stale.latest > fresh.latest


def test_sample_journey_pushes_rarely():
    """Replay the burglary sample's positions: the stored window changes only a handful of times."""
    import json
    from pathlib import Path

    sample = Path(__file__).resolve().parents[1] / "integrations" / "storm" / "scenarios" / "burglary-priority.jsonl"
    previous, changes, texts = None, 0, []
    for line in sample.read_text().splitlines():
        ev = json.loads(line)
        if ev["type"] != "resource.position":
            continue
        r = ev["resource"]
        fix_at = datetime.fromisoformat(r["fix_at"].replace("Z", "+00:00"))
        now = fix_at + 2 * S
        e = estimate(now=now, fix_lat=r["lat"], fix_lon=r["lon"], fix_at=fix_at, speed_mps=r["speed_mps"],
                     previous=previous)
        check_invariants(e, now)
        if previous is None or (e.earliest, e.latest, e.basis) != (previous.earliest, previous.latest, previous.basis):
            changes += 1
        texts.append(shown_text(e, now))
        previous = e
    assert len(texts) > 15
    assert changes <= 8
    arrived = datetime(2026, 11, 20, 9, 39, 20, tzinfo=UTC)  # status 6 in the sample
    first = estimate(now=datetime(2026, 11, 20, 9, 33, 57, tzinfo=UTC), fix_at=datetime(2026, 11, 20, 9, 33, 55, tzinfo=UTC),
                     speed_mps=10.4)
    assert first.earliest <= arrived <= first.latest  # the model's first window held the real arrival


# --- Words ---------------------------------------------------------------------------------------------

def window(lo_min: float, hi_min: float, basis: str = POSITION) -> EtaEstimate:
    return EtaEstimate(earliest=NOW + lo_min * MIN, latest=NOW + hi_min * MIN, point=NOW + (lo_min + hi_min) / 2 * MIN,
                       computed_at=NOW, basis=basis, stale=basis == STALE_POSITION)


@pytest.mark.parametrize("lo,hi,text", [
    (0, 3, "less than 5 minutes"),
    (0, 5, "less than 5 minutes"),
    (1, 6, "less than 10 minutes"),
    (10, 15, "10 to 15 minutes"),
    (11, 14, "10 to 15 minutes"),
    (9.5, 15.5, "5 to 20 minutes"),
    (31, 44, "30 to 45 minutes"),
    (40, 58, "40 to 60 minutes"),
    (50, 70, "45 to 75 minutes"),
    (80, 89, "75 to 90 minutes"),
    (70, 100, "about 1 to 2 hours"),
    (130, 200, "about 2 to 4 hours"),
    (30, 120, "less than 2 hours"),
    (-5, 12, "less than 15 minutes"),    # earliest already passed: only the upper edge means anything
    (20, 20, "20 to 25 minutes"),        # a degenerate window still reads as a range
])
def test_describe_window(lo, hi, text):
    assert describe_window(window(lo, hi), NOW) == text


def test_describe_window_none_is_empty():
    assert EtaEstimate.unknown(NOW).basis == NONE
    assert describe_window(EtaEstimate.unknown(NOW), NOW) == ""
    assert describe_clock_window(EtaEstimate.unknown(NOW)) == ""
    assert shown_text(None, NOW) == ""


@pytest.mark.parametrize("now,lo,hi,text", [
    (NOW, 6, 14, "between 09:40 and 09:50"),
    (NOW, 3, 14, "between 09:35 and 09:50"),
    (NOW + 2 * MIN, 3, 14, "by 09:50"),                       # the rounded start has passed
    (NOW, 30, 150, "between 10:00 and 12:15"),                 # long windows in 15-minute steps
    (NOW, 14 * 60 + 30, 15 * 60 + 30, "between 00:00 and 01:05 on Saturday 21 November"),
])
def test_describe_clock_window_winter(now, lo, hi, text):
    assert describe_clock_window(window(lo, hi), now=now) == text


def test_describe_clock_window_is_london_time_in_summer():
    summer = datetime(2026, 7, 1, 9, 2, tzinfo=UTC)  # 10:02 BST
    e = EtaEstimate(summer + 8 * MIN, summer + 19 * MIN, summer + 13 * MIN, summer, POSITION, False)
    assert describe_clock_window(e) == "between 10:10 and 10:25"
    assert describe_window(e, summer) == "5 to 20 minutes"


def test_naive_times_are_taken_as_utc():
    naive = NOW.replace(tzinfo=None)
    e = EtaEstimate(naive + 10 * MIN, naive + 15 * MIN, naive + 12 * MIN, naive, POSITION, False)
    assert describe_window(e, NOW) == "10 to 15 minutes"
    assert describe_clock_window(e) == "between 09:40 and 09:50"


def test_window_changed():
    assert not window_changed("10 to 15 minutes", "10 to 15  minutes ")
    assert window_changed("10 to 15 minutes", "15 to 20 minutes")
    assert window_changed(None, "less than 5 minutes")
    assert not window_changed(None, "")


def test_shown_text_mentions_staleness():
    e = estimate(fix_at=NOW - 5 * MIN)
    assert shown_text(e, NOW).endswith("[position not recently updated]")


def test_appointment_estimate():
    e = estimate_from_appointment(now=NOW, window_start=NOW + 2 * 60 * MIN, window_end=NOW + 4 * 60 * MIN)
    assert e.basis == APPOINTMENT and not e.stale
    check_invariants(e, NOW)
    assert describe_window(e, NOW) == "about 2 to 4 hours"
    assert describe_clock_window(e) == "between 11:30 and 13:45"  # a two-hour window: 15-minute steps
    during = estimate_from_appointment(now=NOW + 3 * 60 * MIN, window_start=NOW + 2 * 60 * MIN,
                                       window_end=NOW + 4 * 60 * MIN)
    check_invariants(during, NOW + 3 * 60 * MIN)


# --- Routers -------------------------------------------------------------------------------------------

def test_straight_line_router_is_a_router():
    router = StraightLineRouter(grade="EMERGENCY")
    assert isinstance(router, Router)
    result = asyncio.run(router.travel_time(FIX, DEST))
    assert isinstance(result, RouteResult)
    assert result == straight_line_route(FIX, DEST, grade="EMERGENCY")
    assert result.metres == pytest.approx(distance_m(FIX, DEST) * 1.35)


def test_params_are_data():
    p = EtaParams(circuity_urban=1.5, min_window_s=600)
    e = estimate(params=p, fix_at=NOW)
    assert (e.latest - e.earliest) >= 10 * MIN
    assert replace(p, circuity_urban=1.35) != p


# --- Throughput ----------------------------------------------------------------------------------------

def test_fast_enough_for_a_thousand_fixes_a_second():
    previous = estimate()
    n = 3000
    fixes = itertools.cycle([point_towards(f) for f in (0.9, 0.8, 0.7, 0.6)])
    started = time.perf_counter()
    for i in range(n):
        lat, lon = next(fixes)
        now = NOW + i * S
        previous = estimate(now=now, fix_lat=lat, fix_lon=lon, fix_at=now, speed_mps=11.0, previous=previous)
    rate = n / (time.perf_counter() - started)
    assert rate > 2000, f"{rate:.0f} estimates/s"
