"""Synthetic but contract-shaped STORM feed traffic for the benchmarks: incidents around Middlesbrough, one
car assigned to each, and vehicles reporting a fix every 15 s while they drive towards their incident.

Everything here is a plain contract event (a dict as it travels on the wire); the benchmarks feed them through
`integrations.storm.protocol.parse_frame` or a real `StormSimulator`, so the product's own code path is measured.
"""
from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from integrations.storm.protocol import format_timestamp
from rxapp.domain.geo import bng_to_wgs84

# Middlesbrough town centre on the British National Grid, and how far incidents spread around it.
CENTRE_E, CENTRE_N = 449_500, 519_500
SPREAD_M = 9_000
FIX_INTERVAL_S = 15


@dataclass
class Attendance:
    urn: str
    callsign: str
    easting: float
    northing: float
    lat: float
    lon: float
    # Where the vehicle starts, and how far it moves towards the incident between fixes.
    start_lat: float = 0.0
    start_lon: float = 0.0
    fixes: int = 0


def _ts(at: datetime) -> str:
    return format_timestamp(at)


def _event(kind: str, at: datetime, key: str, body: dict, seq: int = 0) -> dict:
    return {"seq": seq, "event_id": str(uuid.uuid4()), "type": kind, "occurred_at": _ts(at), key: body}


def make_attendances(count: int, tag: str, rng: random.Random, day: datetime) -> list[Attendance]:
    # The contract's reference shape (PREFIX-YYYYMMDD-serial, integrations/storm/shapes.py): the pool's tag goes
    # in the prefix, its digits as letters, so pools never share a reference.
    prefix = "B" + "".join(chr(ord("A") + int(c)) if c.isdigit() else c for c in tag.upper())[:5]
    out = []
    for i in range(count):
        e = CENTRE_E + rng.uniform(-SPREAD_M, SPREAD_M)
        n = CENTRE_N + rng.uniform(-SPREAD_M, SPREAD_M)
        lat, lon = bng_to_wgs84(e, n)
        # The car starts 3 to 8 km away, in a random direction.
        dist = rng.uniform(3_000, 8_000)
        bearing = rng.uniform(0, 2 * math.pi)
        s_lat, s_lon = bng_to_wgs84(e + dist * math.cos(bearing), n + dist * math.sin(bearing))
        out.append(Attendance(urn=f"{prefix}-{day:%Y%m%d}-{i:05d}", callsign=f"B{tag}{i:04d}"[:20],
                              easting=e, northing=n, lat=lat, lon=lon, start_lat=s_lat, start_lon=s_lon))
    return out


def opened(a: Attendance, at: datetime, grade: str = "PRIORITY") -> dict:
    return _event("incident.opened", at, "incident", {
        "urn": a.urn, "grade": grade, "category": "BURGLARY_DWELLING",
        "location": {"easting": round(a.easting), "northing": round(a.northing), "description": "Benchmark Road"},
        "caller": {"name": "Bench Caller", "phone": "07700900123", "email": "bench@example.org",
                   "sms_consent": True, "language": "en"},
        "flags": [],
    })


def assigned(a: Attendance, at: datetime) -> dict:
    return _event("resource.assigned", at, "assignment", {"urn": a.urn, "callsign": a.callsign,
                                                           "resource_type": "car"})


def status(a: Attendance, at: datetime, code: str) -> dict:
    return _event("resource.status", at, "resource", {"callsign": a.callsign, "urn": a.urn, "status_code": code})


def position(a: Attendance, at: datetime, total_fixes: int) -> dict:
    """The next fix of `a`'s vehicle: a straight line from its start to just short of the incident."""
    frac = min(a.fixes / max(total_fixes, 1), 0.97)
    a.fixes += 1
    lat = a.start_lat + (a.lat - a.start_lat) * frac
    lon = a.start_lon + (a.lon - a.start_lon) * frac
    return _event("resource.position", at, "resource", {
        "callsign": a.callsign, "lat": round(lat, 6), "lon": round(lon, 6), "fix_at": _ts(at),
        "speed_mps": 11.0 + (a.fixes % 7) * 0.5, "heading": None,
    })


def seed_events(attendances: list[Attendance], start: datetime, en_route: bool = True) -> list[dict]:
    """Opened, assigned and (optionally) en route, one incident after another, a second apart."""
    events = []
    for i, a in enumerate(attendances):
        t = start + timedelta(seconds=i)
        events.append(opened(a, t))
        events.append(assigned(a, t + timedelta(milliseconds=200)))
        if en_route:
            events.append(status(a, t + timedelta(milliseconds=400), "5"))
    return events


def position_stream(attendances: list[Attendance], count: int, start: datetime) -> list[dict]:
    """`count` fixes, every vehicle reporting every 15 s with its own phase, in time order."""
    per_vehicle = math.ceil(count / len(attendances))
    events = []
    k = len(attendances)
    for j in range(count):
        a = attendances[j % k]
        # Vehicle i reports at start + i*15/k + round*15: evenly interleaved, strictly increasing overall.
        at = start + timedelta(seconds=(j // k) * FIX_INTERVAL_S + (j % k) * FIX_INTERVAL_S / k)
        events.append(position(a, at, per_vehicle))
    return events


def numbered(events: list[dict], first_seq: int = 1) -> list[dict]:
    for i, e in enumerate(events):
        e["seq"] = first_seq + i
    return events


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def now_utc() -> datetime:
    """Now, to the microsecond (live events: fixes from one vehicle must have strictly increasing times)."""
    return datetime.now(timezone.utc)
