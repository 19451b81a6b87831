"""How often the arrival window a victim is shown holds the real arrival, and how wide it is.

A seeded generator makes realistic journeys with known true arrival times: a road longer than the straight line
(winding more in towns), a cruising speed for the grade and area, traffic that speeds up and slows down every
minute or few, stops at lights and junctions, a slow last 200 m while the officer finds the door, GPS noise (and
now and then a reflection tens of metres off), speeds sometimes missing, fixes every 15 s arriving 1 to 4 s late,
silences of one to four minutes, and incidents with two cars where the nearer one stops 100 m short of the scene
and its fixes stop (the other one arrives). Urban and rural, emergency and priority.

All journeys are played together as one contract-shaped STORM stream (the events `parse_frame` reads) through the
product's own code: `AttendanceService.apply_sync` on a temporary SQLite database, every 15 s of simulated time
the fixes that arrived in it, and the window refresh job (`AttendanceService.refresh_windows`) every 30 s. After
each step the stored window of every attendance on the way is read as the page shows it (the clock window of
`rxapp.domain.eta.window_words`: "between 05:20 and 05:30", or "by 05:30" once its start has passed).

Scored: the window shown 10 and 5 minutes before the real arrival, and every 30 s while on the way: the share
holding the arrival and the mean width (of the clock window shown, and of the unrounded window stored), and when
the "arriving soon" text was queued before the real arrival. Target: at least 80 % holding, mean width at most
10 minutes.

    python bench/windows.py [--journeys 200] [--seed 10] [--json out.json]
"""
from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_TMP = Path(tempfile.mkdtemp(prefix="vj-bench-windows-"))
atexit.register(shutil.rmtree, _TMP, True)
os.environ.setdefault("SECRET_KEY", "bench-secret-0123456789abcdef0123456789abcdef")
os.environ.setdefault("VJ_DATA_DIR", str(_TMP))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_TMP / 'unused.db'}")

import logging  # noqa: E402

logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

from sqlmodel import select  # noqa: E402

from integrations.storm.protocol import format_timestamp, parse_frame  # noqa: E402
from rxapp.attendance.models import Incident, stored_estimate  # noqa: E402
from rxapp.attendance.service import AttendanceService  # noqa: E402
from rxapp.domain import eta  # noqa: E402
from rxapp.domain.geo import bng_to_wgs84  # noqa: E402
from rxapp.domain.rural import RuralAreas  # noqa: E402
from rxapp.plumbing import db as rxdb  # noqa: E402

FIX_INTERVAL_S = 15
REFRESH_S = 30
TARGET_HOLD, TARGET_WIDTH_MIN = 0.80, 10.0
# Middlesbrough for the towns; the moors to the south-east for the country (a RURAL_AREAS box).
URBAN_CENTRE = (449_500, 519_500)
RURAL_BOX = (465_000, 495_000, 490_000, 510_000)
M_PER_DEG_LAT = 111_320.0


# ---- journeys ------------------------------------------------------------------------------------------

@dataclass
class Drive:
    """One vehicle's drive: its fixes (time s, lat, lon, reported speed or None) and when it arrived."""

    callsign: str
    en_route_at: float
    fixes: list[tuple[float, float, float, Optional[float]]] = field(default_factory=list)
    arrived_at: Optional[float] = None  # None: it never got there (stopped short)


@dataclass
class Journey:
    urn: str
    kind: str  # urban | rural | two_cars
    grade: str
    easting: float
    northing: float
    opened_at: float
    drives: list[Drive]
    silence: bool = False

    @property
    def arrival(self) -> float:
        return min(d.arrived_at for d in self.drives if d.arrived_at is not None)


def _path(rng: random.Random, dist: float, bearing: float, circuity: float) -> list[tuple[float, float]]:
    """A road from a start `dist` metres away (east, north offsets from the scene) to the scene, winding so that
    its length is about `circuity` times the straight line."""
    k = max(6, int(dist / 350))
    waves = [(rng.uniform(0.5, 4.0), rng.uniform(0, 2 * math.pi), rng.uniform(0.3, 1.0)) for _ in range(4)]
    ux, uy = math.cos(bearing), math.sin(bearing)  # from the scene towards the start
    px, py = -uy, ux

    def points(amplitude: float) -> list[tuple[float, float]]:
        out = []
        for i in range(k + 1):
            f = 1 - i / k  # 1 at the start, 0 at the scene
            lateral = sum(w * math.sin(math.pi * f * freq + phase) - w * math.sin(phase) * (1 - f)
                          - w * math.sin(math.pi * freq + phase) * f for freq, phase, w in waves)
            lateral *= amplitude * math.sin(math.pi * f) ** 0.3
            out.append((ux * dist * f + px * lateral, uy * dist * f + py * lateral))
        return out

    def length(pts):
        return sum(math.dist(a, b) for a, b in zip(pts, pts[1:]))

    lo, hi = 0.0, dist
    for _ in range(40):
        mid = (lo + hi) / 2
        if length(points(mid)) < circuity * dist:
            lo = mid
        else:
            hi = mid
    return points(lo)


def _drive(rng: random.Random, callsign: str, path: list[tuple[float, float]], *, en_route_at: float,
           rural: bool, grade: str, stop_short_m: Optional[float], silences: list[tuple[float, float]],
           to_latlon, speed_scale: float = 1.0) -> Drive:
    """Drive the path second by second; fixes every 15 s; returns the drive with its true arrival."""
    seg = [math.dist(a, b) for a, b in zip(path, path[1:])]
    total = sum(seg)
    cum = [0.0]
    for s in seg:
        cum.append(cum[-1] + s)
    emergency = grade == "EMERGENCY"
    if rural:
        cruise = rng.uniform(75, 100) if emergency else rng.uniform(55, 80)
        stop_every, stop_p, stop_s = (2500, 0.3, (5, 30))
    else:
        cruise = rng.uniform(45, 65) if emergency else rng.uniform(32, 48)
        stop_every, stop_p, stop_s = (450, 0.15 if emergency else 0.45, (4, 15) if emergency else (10, 60))
    cruise *= speed_scale / 3.6
    stops: list[tuple[float, float]] = []  # (where along the road, how long)
    s = rng.uniform(0.3, 1.0) * stop_every
    while s < total - 150:
        if rng.random() < stop_p:
            stops.append((s, rng.uniform(*stop_s)))
        s += rng.uniform(0.6, 1.4) * stop_every
    end = total - stop_short_m if stop_short_m else total

    drive = Drive(callsign, en_route_at)
    t, pos, v = en_route_at, 0.0, 0.0
    traffic, next_regime = 1.0, en_route_at
    waiting_until = None
    phase = rng.uniform(0, FIX_INTERVAL_S)
    next_fix = en_route_at + phase
    fixes_on = True
    while pos < end and t < en_route_at + 4 * 3600:
        if t >= next_regime:
            traffic = (rng.uniform(0.6, 1.1) if rural else
                       rng.choice([rng.uniform(0.35, 0.6), rng.uniform(0.6, 0.9), rng.uniform(0.85, 1.15),
                                   rng.uniform(0.85, 1.15)]))
            next_regime = t + rng.uniform(60, 240)
        limit = cruise * traffic
        if total - pos < 200:
            limit = min(limit, 7.0)  # finding the door
        if waiting_until is not None:
            v = 0.0
            if t >= waiting_until:
                waiting_until = None
                stops.pop(0)
        else:
            brake_to = None
            if stops and stops[0][0] - pos <= max(v * v / 6.0, 1.0):
                brake_to = stops[0][0]
            if brake_to is not None and brake_to - pos <= v + 0.5:
                pos, v = brake_to, 0.0
                waiting_until = t + stops[0][1]
            elif brake_to is not None:
                v = max(1.0, v - 3.0)
            else:
                v = min(limit, v + 2.0) if v < limit else max(limit, v - 3.0)
            pos = min(end, pos + v)
        t += 1.0
        if t >= next_fix:
            next_fix += FIX_INTERVAL_S
            if any(a <= t < b for a, b in silences):
                continue
            if fixes_on:
                x, y = _at(path, cum, pos)
                sigma = 30.0 if rng.random() < 0.05 else 8.0
                x, y = x + rng.gauss(0, sigma), y + rng.gauss(0, sigma)
                lat, lon = to_latlon(x, y)
                speed = None if rng.random() < 0.1 else max(0.0, v + rng.gauss(0, 0.6))
                drive.fixes.append((t, lat, lon, speed))
    if stop_short_m:
        # Parked 100 m short: the vehicle's fixes stop there and it never reports at scene.
        return drive
    drive.arrived_at = t
    return drive


def _at(path, cum, s):
    for i in range(1, len(cum)):
        if cum[i] >= s:
            f = (s - cum[i - 1]) / max(cum[i] - cum[i - 1], 1e-9)
            (x0, y0), (x1, y1) = path[i - 1], path[i]
            return x0 + (x1 - x0) * f, y0 + (y1 - y0) * f
    return path[-1]


def make_journeys(count: int, seed: int, speed_scale: float = 1.0) -> list[Journey]:
    rng = random.Random(seed)
    journeys = []
    callsigns = iter(range(100, 10_000))
    for i in range(count):
        roll = rng.random()
        kind = "urban" if roll < 0.5 else "rural" if roll < 0.78 else "two_cars"
        rural = kind == "rural"
        grade = "EMERGENCY" if rng.random() < 0.35 else "PRIORITY"
        if rural:
            e, n = rng.uniform(RURAL_BOX[0] + 3000, RURAL_BOX[2] - 3000), rng.uniform(RURAL_BOX[1] + 3000,
                                                                                      RURAL_BOX[3] - 3000)
        else:
            e, n = URBAN_CENTRE[0] + rng.uniform(-6000, 6000), URBAN_CENTRE[1] + rng.uniform(-6000, 6000)
        lat0, lon0 = bng_to_wgs84(e, n)
        cos0 = math.cos(math.radians(lat0))

        def to_latlon(x, y, lat0=lat0, lon0=lon0, cos0=cos0):
            return round(lat0 + y / M_PER_DEG_LAT, 6), round(lon0 + x / (M_PER_DEG_LAT * cos0), 6)

        opened = rng.uniform(0, 1800)
        assigned = opened + rng.uniform(20, 300)
        silence = rng.random() < 0.3
        drives = []
        n_cars = 2 if kind == "two_cars" else 1
        far = rng.uniform(2500, 8000) if not rural else rng.uniform(5000, 18000)
        for car in range(n_cars):
            dist = far if car == n_cars - 1 else far * rng.uniform(0.35, 0.6)
            circuity = rng.uniform(1.1, 1.4) if rural else rng.uniform(1.2, 1.6)
            path = _path(rng, dist, rng.uniform(0, 2 * math.pi), circuity)
            en_route = assigned + rng.uniform(5, 60)
            silences = []
            if silence and car == n_cars - 1:
                start = en_route + rng.uniform(120, 900)
                silences.append((start, start + rng.uniform(60, 240)))
            drives.append(_drive(rng, f"CW{next(callsigns)}", path, en_route_at=en_route, rural=rural,
                                 grade=grade, stop_short_m=100.0 if car < n_cars - 1 else None,
                                 silences=silences, to_latlon=to_latlon, speed_scale=speed_scale))
        journeys.append(Journey(f"CLE-20261201-{1000 + i:04d}", kind, grade, e, n, opened, drives, silence))
    return journeys


# ---- the stream ----------------------------------------------------------------------------------------

def _event(kind: str, at: datetime, key: str, body: dict) -> dict:
    return {"seq": 0, "event_id": str(uuid.UUID(int=random.getrandbits(128))), "type": kind,
            "occurred_at": format_timestamp(at), key: body}


def stream(journeys: list[Journey], start: datetime, rng: random.Random) -> list[tuple[float, dict]]:
    """(simulated second at which the gateway delivers it, contract event), in delivery order."""
    random.seed(rng.random())
    out: list[tuple[float, dict]] = []

    def at(s: float) -> datetime:
        return start + timedelta(seconds=s)

    for j in journeys:
        out.append((j.opened_at, _event("incident.opened", at(j.opened_at), "incident", {
            "urn": j.urn, "grade": j.grade, "category": "BURGLARY_DWELLING",
            "location": {"easting": round(j.easting), "northing": round(j.northing), "description": "Bench Road"},
            "caller": {"name": "Bench Caller", "phone": "07700900123", "email": "bench@example.org",
                       "sms_consent": True, "language": "en"},
            "flags": []})))
        first_assigned = min(d.en_route_at for d in j.drives) - 5
        for d in j.drives:
            out.append((first_assigned, _event("resource.assigned", at(first_assigned), "assignment",
                                               {"urn": j.urn, "callsign": d.callsign, "resource_type": "car"})))
            out.append((d.en_route_at, _event("resource.status", at(d.en_route_at), "resource",
                                              {"callsign": d.callsign, "urn": j.urn, "status_code": "5"})))
            for t, lat, lon, speed in d.fixes:
                delivered = t + rng.uniform(1, 4)
                out.append((delivered, _event("resource.position", at(delivered), "resource", {
                    "callsign": d.callsign, "lat": lat, "lon": lon, "fix_at": format_timestamp(at(t)),
                    "speed_mps": None if speed is None else round(speed, 1), "heading": None})))
            if d.arrived_at is not None:
                out.append((d.arrived_at, _event("resource.status", at(d.arrived_at), "resource",
                                                 {"callsign": d.callsign, "urn": j.urn, "status_code": "6"})))
    out.sort(key=lambda x: x[0])
    for seq, (_, e) in enumerate(out, start=1):
        e["seq"] = seq
    return out


# ---- what the page shows -------------------------------------------------------------------------------

def shown(estimate: eta.EtaEstimate, now: datetime) -> tuple[datetime, datetime]:
    """The window a victim reads at `now`: the clock window, from now when its start has passed."""
    words = getattr(eta, "window_words", None)
    if words is not None:
        w = words(estimate, now)
        return max(w.start_at, now), w.end_at
    # Before `window_words`: describe_clock_window's rounding (outwards to 5 minutes, 15 over an hour).
    step = 300 if (estimate.latest - estimate.earliest).total_seconds() <= 3600 else 900
    lo = datetime.fromtimestamp(math.floor(estimate.earliest.timestamp() / step) * step, tz=timezone.utc)
    hi = datetime.fromtimestamp(math.ceil(estimate.latest.timestamp() / step) * step, tz=timezone.utc)
    if hi <= lo:
        hi = lo + timedelta(seconds=step)
    return max(lo, now), hi


@dataclass
class Sample:
    at: float
    start: datetime
    end: datetime
    earliest: datetime
    latest: datetime
    point: datetime


def replay(journeys: list[Journey], seed: int) -> tuple[dict[str, list[Sample]], dict[str, float], datetime]:
    """Play the journeys through the product; the window shown for each after every 15 s step, and when its
    "arriving soon" text was queued."""
    rng = random.Random(seed + 1)
    # On the hour, so the clock's five-minute marks fall the same way on every run.
    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    events = stream(journeys, start, rng)
    rxdb.dispose_all()
    url = f"sqlite:///{_TMP / f'windows-{uuid.uuid4().hex[:8]}.db'}"  # a fresh database for each replay
    rxdb.migrate(url)
    clock = [start]
    service = AttendanceService(url, now=lambda: clock[0])
    service.rural_areas = RuralAreas((RURAL_BOX,))
    end_s = max(j.arrival for j in journeys) + FIX_INTERVAL_S
    samples: dict[str, list[Sample]] = {j.urn: [] for j in journeys}
    soon: dict[str, float] = {}
    arrival = {j.urn: j.arrival for j in journeys}
    i, step = 0, 0
    while step * FIX_INTERVAL_S <= end_s:
        tick = step * FIX_INTERVAL_S
        now = start + timedelta(seconds=tick)
        batch = []
        while i < len(events) and events[i][0] <= tick:
            batch.append(parse_frame(json.dumps(events[i][1])))
            i += 1
        clock[0] = now
        if batch:
            result = service.apply_sync(batch)
            if result.dead_letters:
                raise SystemExit(f"the product refused {result.dead_letters} generated event(s)")
        if tick % REFRESH_S == 0:
            service.refresh_windows(now)
        with rxdb.session_scope(url, readonly=True) as session:
            for incident in session.exec(select(Incident).where(Incident.is_open == True,  # noqa: E712
                                                                Incident.arrived_at == None)):  # noqa: E711
                if incident.urn not in soon and "soon-" in incident.texts_sent:
                    soon[incident.urn] = tick
                estimate = stored_estimate(incident)
                if estimate is None or tick >= arrival[incident.urn]:
                    continue
                lo, hi = shown(estimate, now)
                samples[incident.urn].append(Sample(tick, lo, hi, estimate.earliest, estimate.latest, estimate.point))
        step += 1
    return samples, soon, start


# ---- scores --------------------------------------------------------------------------------------------

def _score(pairs: list[tuple[Sample, datetime]]) -> dict:
    if not pairs:
        return {"n": 0}
    held = sum(1 for s, real in pairs if s.start <= real <= s.end)
    raw_held = sum(1 for s, real in pairs if s.earliest <= real <= s.latest)
    widths = [(s.end - s.start).total_seconds() / 60 for s, _ in pairs]
    raw = [(s.latest - s.earliest).total_seconds() / 60 for s, _ in pairs]
    late = [(real - s.end).total_seconds() / 60 for s, real in pairs if real > s.end]
    errors = sorted((real - s.point).total_seconds() / 60 for s, real in pairs)
    return {"n": len(pairs), "held": held / len(pairs), "width_min": statistics.fmean(widths),
            "raw_held": raw_held / len(pairs), "raw_width_min": statistics.fmean(raw),
            "late_by_min": statistics.median(late) if late else 0.0,
            "error_min": statistics.median(errors),
            "error_spread_min": errors[int(0.9 * (len(errors) - 1))] - errors[int(0.1 * (len(errors) - 1))]}


def score(journeys: list[Journey], samples: dict[str, list[Sample]], start: datetime) -> dict:
    out = {}
    groups = {"all": journeys}
    for kind in ("urban", "rural", "two_cars"):
        groups[kind] = [j for j in journeys if j.kind == kind]
    groups["with_silence"] = [j for j in journeys if j.silence]
    # Two cars, from two minutes after the nearer one's fixes stopped: what the choice between them can fix.
    groups["two_cars_after_stop"] = groups["two_cars"]
    for name, group in groups.items():
        row = {}
        if name == "two_cars_after_stop":
            row["every-30s"] = _score([(s, start + timedelta(seconds=j.arrival)) for j in group
                                       for s in samples[j.urn] if s.at % REFRESH_S == 0
                                       and s.at >= _stopped_at(j) + 120])
            out[name] = row
            continue
        for label, before in (("t-10", 600), ("t-5", 300)):
            pairs, missing = [], 0
            for j in group:
                real = start + timedelta(seconds=j.arrival)
                at = j.arrival - before
                shown_then = [s for s in samples[j.urn] if s.at <= at]
                if j.arrival - min(d.en_route_at for d in j.drives) < before:
                    continue  # the journey was shorter than that
                if not shown_then:
                    missing += 1
                    continue
                pairs.append((shown_then[-1], real))
            row[label] = {**_score(pairs), "no_window": missing}
        pairs = [(s, start + timedelta(seconds=j.arrival)) for j in group for s in samples[j.urn]
                 if s.at % REFRESH_S == 0]
        row["every-30s"] = _score(pairs)
        out[name] = row
    return out


def _stopped_at(journey: Journey) -> float:
    """When the car that never arrives sent its last fix."""
    return max((d.fixes[-1][0] for d in journey.drives if d.arrived_at is None and d.fixes), default=math.inf)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--journeys", type=int, default=200)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--speed-scale", type=float, default=1.0,
                        help="drive every journey this much faster (1.2) or slower (0.8) than the generator's "
                             "speeds, to see how the windows hold when the model's speeds are off")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    journeys = make_journeys(args.journeys, args.seed, args.speed_scale)
    generated = time.perf_counter() - t0
    samples, soon, start = replay(journeys, args.seed)
    played = time.perf_counter() - t0 - generated
    figures = score(journeys, samples, start)
    soon_before = [(j.arrival - soon[j.urn]) / 60 for j in journeys if j.urn in soon]
    figures["arriving_soon"] = {
        "sent": len(soon_before), "of": len(journeys),
        "minutes_before_arrival_median": statistics.median(soon_before) if soon_before else None,
        "over_8_min_before": sum(1 for m in soon_before if m > 8),
        "over_8_min_before_one_car": sum(1 for j in journeys if j.urn in soon and j.kind != "two_cars"
                                         and (j.arrival - soon[j.urn]) / 60 > 8),
        "after_arrival": sum(1 for m in soon_before if m < 0),
    }
    durations = [(j.arrival - min(d.en_route_at for d in j.drives)) / 60 for j in journeys]
    print(f"windows: {len(journeys)} journeys (seed {args.seed}, speed scale {args.speed_scale:g}; {sum(j.kind == 'urban' for j in journeys)} urban, "
          f"{sum(j.kind == 'rural' for j in journeys)} rural, {sum(j.kind == 'two_cars' for j in journeys)} with two "
          f"cars, {sum(j.silence for j in journeys)} with a fix silence), on the way {min(durations):.0f} to "
          f"{max(durations):.0f} min (median {statistics.median(durations):.0f}); generated in {generated:.1f} s, "
          f"replayed in {played:.1f} s")
    print(f"{'group':<20}{'when':<10}{'n':>5}{'held':>7}{'width':>7}{'raw held':>10}{'raw width':>11}"
          f"{'late by':>9}{'error':>7}{'p10-90':>8}{'no window':>11}")
    for group, rows in figures.items():
        if group == "arriving_soon":
            continue
        for when, r in rows.items():
            if not r.get("n"):
                continue
            print(f"{group:<20}{when:<10}{r['n']:>5}{r['held']:>7.0%}{r['width_min']:>7.1f}{r['raw_held']:>10.0%}"
                  f"{r['raw_width_min']:>11.1f}{r['late_by_min']:>9.1f}{r['error_min']:>7.1f}{r['error_spread_min']:>8.1f}"
                  f"{r.get('no_window', ''):>11}")
    a = figures["arriving_soon"]
    print(f"arriving soon: queued for {a['sent']} of {a['of']}, median {a['minutes_before_arrival_median']:.1f} min "
          f"before arrival, {a['over_8_min_before']} more than 8 min before ({a['over_8_min_before_one_car']} with one car), "
          f"{a['after_arrival']} after")
    verdicts = {}
    for when in ("t-10", "t-5", "every-30s"):
        r = figures["all"][when]
        verdicts[when] = r["held"] >= TARGET_HOLD and r["width_min"] <= TARGET_WIDTH_MIN
    met = all(verdicts.values())
    print("target (each of t-10, t-5 and every 30 s: >= {:.0%} held, mean width <= {:g} min): {}".format(
        TARGET_HOLD, TARGET_WIDTH_MIN, ", ".join(f"{w} {'met' if ok else 'NOT met'}" for w, ok in verdicts.items())))
    figures["summary"] = {"met": met, **verdicts}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return figures


if __name__ == "__main__":
    main()
