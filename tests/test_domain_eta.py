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
    arriving_soon,
    describe_clock_window,
    describe_window,
    estimate_arrival,
    estimate_from_appointment,
    first_to_arrive,
    shown_text,
    straight_line_route,
    window_changed,
    window_words,
)
from rxapp.domain.geo import bng_to_wgs84, distance_m

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 9, 34, 0, tzinfo=UTC)  # winter: London clock = UTC
PRIORITY_URBAN_MPS = 28 / 3.6
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
    expected = NOW - 5 * S + timedelta(seconds=metres / PRIORITY_URBAN_MPS)  # priority in town, 28 km/h
    assert e.point == expected
    assert (e.basis, e.stale) == (POSITION, False)
    check_invariants(e, NOW)
    # +-20 % of the time remaining, but at least five minutes wide (two fifths before the point, the rest after)
    remaining = (e.point - NOW).total_seconds()
    assert 0.4 * remaining < 300
    assert e.earliest == e.point - timedelta(seconds=120)
    assert e.latest == e.point + timedelta(seconds=180)
    far = estimate(fix_lat=point_towards(4.0)[0], fix_lon=point_towards(4.0)[1])
    far_remaining = (far.point - NOW).total_seconds()
    assert far.earliest == far.point - timedelta(seconds=0.2 * far_remaining)
    assert far.latest == far.point + timedelta(seconds=0.2 * far_remaining)


def test_rural_emergency_is_faster_and_less_winding():
    urban = estimate(grade="EMERGENCY")
    rural = estimate(grade="EMERGENCY", rural=True)
    priority = estimate(grade="PRIORITY")
    assert rural.point < urban.point < priority.point
    ratio = (rural.point - (NOW - 5 * S)) / (urban.point - (NOW - 5 * S))
    assert ratio == pytest.approx((1.25 / 65) / (1.35 / 40), rel=1e-6)
    # Country roads are faster for a priority call too (before, one speed for both, far too slow in the country).
    assert estimate(grade="PRIORITY", rural=True).point < priority.point


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
        expected_speed = 0.5 * PRIORITY_URBAN_MPS + 0.5 * speed
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
    # Said on the clock's five-minute marks: by 09:40 at 09:34 ("less than 10 minutes", the same bound).
    assert (describe_window(e, NOW), describe_clock_window(e, now=NOW)) == ("less than 10 minutes", "by 09:40")
    on_the_mark = estimate(now=NOW + MIN, travel_seconds=40, fix_at=NOW + MIN)
    assert describe_window(on_the_mark, NOW + MIN) == "less than 5 minutes"


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
    late = 0.2 * remaining if 0.4 * remaining >= 300 else 180
    assert stale.latest == stale.point + late * S + age_s * S


def test_a_silent_vehicle_that_should_have_arrived_loses_credibility_fast():
    # Its last fix was 100 m from the door two minutes ago: it should have been there long since.
    near = point_towards(0.035)
    quiet = estimate(fix_lat=near[0], fix_lon=near[1], fix_at=NOW - 2 * MIN)
    assert quiet.basis == STALE_POSITION and quiet.earliest == NOW
    overdue = (NOW - (NOW - 2 * MIN + timedelta(seconds=distance_m(near, DEST) * 1.35 / PRIORITY_URBAN_MPS))).total_seconds()
    # At least five minutes from now, plus the silence, plus twice what it is overdue.
    assert quiet.latest == NOW + 300 * S + 120 * S + 2 * overdue * S
    older = estimate(fix_lat=near[0], fix_lon=near[1], fix_at=NOW - 4 * MIN)
    assert older.latest - quiet.latest > 5 * MIN  # two more silent minutes: three times that on the late edge


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

NOW5 = NOW + MIN  # 09:35, on the clock's five-minute mark


def window(lo_min: float, hi_min: float, basis: str = POSITION, at: datetime = NOW5) -> EtaEstimate:
    return EtaEstimate(earliest=at + lo_min * MIN, latest=at + hi_min * MIN, point=at + (lo_min + hi_min) / 2 * MIN,
                       computed_at=at, basis=basis, stale=basis == STALE_POSITION)


# On a five-minute mark, the relative words are the clock window counted from now.
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
    (30, 120, "less than 3 hours"),      # a long window is said on quarter hours (10:00 to 11:45): up to 130 min
    (-5, 12, "less than 15 minutes"),    # earliest already passed: only the upper edge means anything
    (20, 20, "20 to 25 minutes"),        # a degenerate window still reads as a range
])
def test_describe_window(lo, hi, text):
    assert describe_window(window(lo, hi), NOW5) == text


def test_describe_window_none_is_empty():
    assert EtaEstimate.unknown(NOW).basis == NONE
    assert describe_window(EtaEstimate.unknown(NOW), NOW) == ""
    assert describe_clock_window(EtaEstimate.unknown(NOW)) == ""
    assert shown_text(None, NOW) == ""


def test_the_relative_words_and_the_clock_window_agree():
    """The issue's case: at 05:16 the page said "less than 10 minutes" beside "between 05:20 and 05:30"."""
    at = datetime(2026, 11, 20, 5, 16, tzinfo=UTC)
    e = EtaEstimate(at + 5 * MIN, at + 10 * MIN, at + 7 * MIN, at, POSITION, False)  # 05:21 to 05:26 unrounded
    words = window_words(e, at)
    assert words.clock == "between 05:20 and 05:30"
    assert words.relative == "less than 15 minutes"  # not "less than 10": the officer may come at 05:29
    assert (words.start_clock, words.end_clock, words.minutes_low, words.minutes_high) == ("05:20", "05:30", 0, 15)


@pytest.mark.parametrize("seed", range(4))
def test_at_every_moment_the_relative_words_hold_the_clock_window_and_only_count_down(seed):
    import random

    rng = random.Random(seed)
    for _ in range(300):
        made = NOW + rng.uniform(0, 3600) * S
        lo = rng.uniform(0, 200)
        e = EtaEstimate(made + lo * MIN, made + (lo + rng.uniform(0, 120)) * MIN, made + lo * MIN, made,
                        rng.choice((POSITION, STALE_POSITION, APPOINTMENT)), False)
        previous_high = None
        for step in range(0, 240, 7):
            now = made + step * 17 * S
            words = window_words(e, now)
            shown_from = max(words.start_at, now)
            said_from = now + words.minutes_low * MIN
            said_to = now + words.minutes_high * MIN
            if words.end_at > now:  # (a second's allowance for the float noise rounding forgives)
                assert said_from <= shown_from + S and words.end_at <= said_to + S, (words, now)
            assert words.start_at <= e.earliest and words.end_at >= e.latest  # the clock window holds the stored one
            high_at = now + words.minutes_high * MIN
            if previous_high is not None and words.relative_unit == "minutes":
                assert high_at <= previous_high + 5 * MIN  # the upper bound never moves out by more than a step
            previous_high = high_at
            assert words.start_passed == (words.start_at < now)
            assert words.clock.startswith("by " if words.start_passed else "between ")


def test_window_words_as_data_for_other_languages():
    e = window(10, 15)
    words = window_words(e, NOW5)
    data = words.as_dict()
    assert data == {"start_clock": "09:45", "end_clock": "09:50", "start_passed": False, "day": "", "day_name": "",
                    "relative_kind": "range", "relative_unit": "minutes", "relative_low": 10, "relative_high": 15,
                    "minutes_low": 10, "minutes_high": 15, "relative": "10 to 15 minutes",
                    "clock": "between 09:45 and 09:50", "stale": False, "basis": POSITION}
    assert all(isinstance(v, (str, int, bool)) for v in data.values())
    tomorrow = window_words(window(15 * 60, 16 * 60), NOW5)
    assert (tomorrow.day, tomorrow.day_name) == ("2026-11-21", "Saturday 21 November")
    assert tomorrow.relative_kind == "range" and tomorrow.relative_unit == "hours"
    assert tomorrow.clock == "between 00:35 and 01:35 on Saturday 21 November"
    assert window_words(None, NOW) is None and window_words(EtaEstimate.unknown(NOW), NOW) is None


@pytest.mark.parametrize("now,lo,hi,text", [
    (NOW, 6, 14, "between 09:40 and 09:50"),
    (NOW, 3, 14, "between 09:35 and 09:50"),
    (NOW + 2 * MIN, 3, 14, "by 09:50"),                       # the rounded start has passed
    (NOW, 30, 150, "between 10:00 and 12:15"),                 # long windows in 15-minute steps
    (NOW, 14 * 60 + 30, 15 * 60 + 30, "between 00:00 and 01:05 on Saturday 21 November"),
])
def test_describe_clock_window_winter(now, lo, hi, text):
    assert describe_clock_window(window(lo, hi, at=NOW), now=now) == text


def test_describe_clock_window_is_london_time_in_summer():
    summer = datetime(2026, 7, 1, 9, 2, tzinfo=UTC)  # 10:02 BST
    e = EtaEstimate(summer + 8 * MIN, summer + 19 * MIN, summer + 13 * MIN, summer, POSITION, False)
    assert describe_clock_window(e) == "between 10:10 and 10:25"
    assert describe_window(e, summer) == "5 to 25 minutes"  # 8 to 23 minutes to those marks, rounded outwards


def test_naive_times_are_taken_as_utc():
    naive = NOW.replace(tzinfo=None)
    e = EtaEstimate(naive + 10 * MIN, naive + 15 * MIN, naive + 12 * MIN, naive, POSITION, False)
    assert describe_window(e, NOW) == "5 to 20 minutes"  # 09:40 to 09:50 seen from 09:34
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
    assert describe_clock_window(e) == "between 11:30 and 13:45"  # a two-hour window: 15-minute steps
    assert describe_window(e, NOW) == "about 1 to 5 hours"  # 116 to 251 minutes from 09:34 to those marks
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


# --- Several resources on the way, and "arriving soon" ---------------------------------------------------

def test_the_window_follows_the_resource_most_likely_to_arrive_first():
    near, far = point_towards(0.3), point_towards(1.0)
    a = estimate(fix_lat=near[0], fix_lon=near[1], fix_at=NOW)
    b = estimate(fix_lat=far[0], fix_lon=far[1], fix_at=NOW)
    assert first_to_arrive({"A": a, "B": b}) == "A"
    assert first_to_arrive({"A": a, "B": b}, incumbent="B") == "A"  # far ahead: the change is taken
    assert first_to_arrive({}) is None
    # Much the same late edge: the one shown keeps its place, so two cars side by side do not flicker.
    twin = replace(a, latest=a.latest - 30 * S)
    assert first_to_arrive({"A": a, "T": twin}, incumbent="A") == "A"
    assert first_to_arrive({"A": a, "T": twin}) == "T"


def test_a_car_whose_fixes_stopped_short_of_the_scene_loses_its_place_as_its_fix_ages():
    """The issue's case: two cars; the nearer one's fixes stop 100 m from the scene, the other drives on."""
    parked = point_towards(0.035)
    stopped_at = NOW
    shown, chosen_over_time = "A", []
    for k in range(0, 16):
        now = NOW + k * 30 * S
        b_at = point_towards(max(0.05, 1.2 - 0.08 * k))  # B closes in at a steady pace
        a = estimate(now=now, fix_lat=parked[0], fix_lon=parked[1], fix_at=stopped_at)
        b = estimate(now=now, fix_lat=b_at[0], fix_lon=b_at[1], fix_at=now)
        shown = first_to_arrive({"A": a, "B": b}, incumbent=shown)
        chosen_over_time.append(shown)
    assert chosen_over_time[0] == "A"  # fresh and 100 m away: A first
    switched = chosen_over_time.index("B")
    assert switched <= 6, chosen_over_time  # within three minutes of silence the window is B's
    assert set(chosen_over_time[switched:]) == {"B"}  # and it stays there


def test_arriving_soon_means_likely_within_about_five_minutes():
    assert arriving_soon(estimate(travel_seconds=4 * 60, fix_at=NOW), NOW)
    assert not arriving_soon(estimate(travel_seconds=7 * 60, fix_at=NOW), NOW)
    # Before: "arriving soon" went when the late edge was within ten minutes, here over six minutes early.
    slow = estimate(travel_seconds=7 * 60, fix_at=NOW)
    assert slow.latest - NOW <= 10 * MIN
    assert not arriving_soon(slow, NOW)
    assert not arriving_soon(estimate(travel_seconds=60, fix_at=NOW - 3 * MIN), NOW)  # stale: may have stopped
    booked = estimate_from_appointment(now=NOW, window_start=NOW, window_end=NOW + 2 * MIN)
    assert not arriving_soon(booked, NOW) and not arriving_soon(None, NOW)
