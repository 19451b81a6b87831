"""Load: a force's busiest day, and a national peak, played through the STORM simulator into the running product.

    python bench/load.py [--profile cleveland|national] [--setup sqlite|scale|both] [--minutes M] [--speed S]
                         [--database-url postgresql://…/vj_bench_load] [--redis-url redis://127.0.0.1:6379/0]
                         [--workers 2] [--seed 13] [--json FILE]

Profiles (figures in bench/README.md, "Load: a busiest day"):
- cleveland: 700 attendances on the busiest day and 300 vehicles each reporting a fix every 15 s, played at ten
  times real speed. The window played is the day's busiest hour (--minutes 60 of simulated time, 6 real minutes),
  taken as twice the day's average rate: 58 attendances opened in it; --minutes 1440 plays the whole day (2.4
  real hours) at the same peak rate.
- national: 43 forces' worth, taken as 90 times Cleveland (England and Wales record about 6.6 million crimes a
  year, issue 13; Cleveland about 75,000, ONS police recorded crime, roughly 1.1 %; and Cleveland has about 1 %
  of the 147,000 officers, Home Office workforce statistics): 27,000 vehicles (1,800 fixes a second) and 63,000
  attendances a day, at real speed, 3 simulated minutes by default.

Each attendance: opened (70 % priority, 30 % emergency, a caller with a mobile number who agreed to texts),
a free vehicle assigned 1-10 minutes later (emergency 0.5-2), en route 20 s after, driving 5-20 minutes (emergency
4-12) with its fixes moving towards the scene, at scene, cleared 20-60 minutes later, the incident closed a
minute after with a crime reference. Every vehicle reports every 15 s, busy or not.

Setups: `sqlite`, one process on a SQLite file (the default deployment); `scale`, `--workers` backend workers on
PostgreSQL (`--database-url`, DROPPED and recreated) with Redis (`--redis-url`), as scripts/scale.sh runs them.
The app runs in place (`reflex run --env prod --single-port`, as tests/browser does), on the demo's clock
(DEMO_SPEED, DEMO_EPOCH) so that the simulated times it judges match the feed's; texts go to the local
Notify-compatible server in its own process, which posts delivery receipts back. The feed is a StormSimulator in
a process of its own (`python bench/load.py feed …`), releasing each event when its simulated time comes.

Measured once a second from the database: the feed's stored resume point against what the simulator has
released (the backlog, in events and in how long the oldest unapplied event has waited), and the outbox (messages
written, sent, and waiting though due). "No backlog": the oldest unapplied event never waited more than 2 s.
"""
from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import os
import pickle
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.feedgen import CENTRE_E, CENTRE_N  # noqa: E402
from integrations.storm.protocol import format_timestamp  # noqa: E402
from rxapp.domain.geo import bng_to_wgs84  # noqa: E402

FIX_SECONDS = 15
NATIONAL_FACTOR = 90
BACKLOG_LIMIT_S = 2.0
SECRET = "load-bench-secret-0123456789abcdef0123456789"
FEED_TOKEN = "load-bench-feed-token-0123456789"
CALLBACK_TOKEN = "load-bench-callback-token-0123456789"
DONE_STATUSES = ("sent", "delivered", "temporary-failure", "permanent-failure", "technical-failure")


@dataclass(frozen=True)
class Profile:
    name: str
    attendances_per_day: int
    vehicles: int
    speed: float
    minutes: float
    peak_factor: float = 2.0  # the busiest hour against the day's average
    spread_m: float = 9_000.0


PROFILES = {
    "cleveland": Profile("cleveland", 700, 300, speed=10.0, minutes=60.0),
    "national": Profile("national", 700 * NATIONAL_FACTOR, 300 * NATIONAL_FACTOR, speed=1.0, minutes=3.0,
                        spread_m=60_000.0),
}


# ---- the day's events -------------------------------------------------------------------------------------

@dataclass
class Vehicle:
    callsign: str
    e: float
    n: float
    free_at: float = 0.0
    moves: list = field(default_factory=list)  # (t0, t1, e0, n0, e1, n1), in time order

    def where(self, t: float) -> tuple[float, float]:
        e, n = self.e, self.n
        for t0, t1, e0, n0, e1, n1 in self.moves:
            if t < t0:
                break
            f = 1.0 if t >= t1 else (t - t0) / (t1 - t0)
            e, n = e0 + (e1 - e0) * f, n0 + (n1 - n0) * f
        return e, n


def _event(kind: str, key: str, body: dict) -> dict:
    return {"seq": 0, "event_id": "", "type": kind, "occurred_at": None, key: body}


def day_events(profile: Profile, minutes: float, seed: int) -> tuple[list[tuple[float, dict]], int]:
    """(offset in simulated seconds, event) in time order, with times and ids filled in when released; and the
    number of attendances opened."""
    rng = random.Random(seed)
    window = minutes * 60
    count = round(profile.attendances_per_day / 1440 * profile.peak_factor * minutes)
    vehicles = [Vehicle(f"V{i // 300:02d}C{i % 300:03d}", CENTRE_E + rng.uniform(-1, 1) * profile.spread_m,
                        CENTRE_N + rng.uniform(-1, 1) * profile.spread_m) for i in range(profile.vehicles)]
    day = datetime.now(timezone.utc)
    out: list[tuple[float, dict]] = []
    for j, t_open in enumerate(sorted(rng.uniform(0, window) for _ in range(count))):
        emergency = rng.random() < 0.3
        e = CENTRE_E + rng.uniform(-1, 1) * profile.spread_m
        n = CENTRE_N + rng.uniform(-1, 1) * profile.spread_m
        urn = f"LD{chr(65 + j // 1_000_000 % 26)}-{day:%Y%m%d}-{j % 1_000_000:06d}"
        out.append((t_open, _event("incident.opened", "incident", {
            "urn": urn, "grade": "EMERGENCY" if emergency else "PRIORITY", "category": "BURGLARY_DWELLING",
            "location": {"easting": round(e), "northing": round(n), "description": "Load Test Road"},
            "caller": {"name": "Load Caller", "phone": f"07700900{j % 1000:03d}", "email": None,
                       "sms_consent": True, "language": "en"}, "flags": []})))
        t_assign = t_open + (rng.uniform(30, 120) if emergency else rng.uniform(60, 600))
        # The nearest of a few free vehicles, as a controller would pick.
        free = [v for v in rng.sample(vehicles, min(40, len(vehicles))) if v.free_at <= t_assign]
        if not free:
            continue  # every vehicle sampled is busy: the incident waits unassigned (the sweep's business)
        car = min(free, key=lambda v: math.dist(v.where(t_assign), (e, n)))
        t_go = t_assign + 20
        t_arrive = t_go + (rng.uniform(240, 720) if emergency else rng.uniform(300, 1200))
        t_clear = t_arrive + rng.uniform(1200, 3600)
        e0, n0 = car.where(t_go)
        car.moves.append((t_go, t_arrive, e0, n0, e, n))
        car.free_at = t_clear + 60
        resource = {"callsign": car.callsign, "urn": urn}
        out += [
            (t_assign, _event("resource.assigned", "assignment", {**resource, "resource_type": "car"})),
            (t_go, _event("resource.status", "resource", {**resource, "status_code": "5"})),
            (t_arrive, _event("resource.status", "resource", {**resource, "status_code": "6"})),
            (t_clear, _event("resource.status", "resource", {"callsign": car.callsign, "urn": None,
                                                             "status_code": "2"})),
            (t_clear + 60, _event("incident.closed", "incident", {
                "urn": urn, "disposition": "ATTENDED", "crime_reference": f"CL/26/{j % 1_000_000:06d}"})),
        ]
    for car in vehicles:
        t = rng.uniform(0, FIX_SECONDS)
        while t < window:
            e, n = car.where(t)
            lat, lon = bng_to_wgs84(e + rng.gauss(0, 5), n + rng.gauss(0, 5))
            out.append((t, _event("resource.position", "resource", {
                "callsign": car.callsign, "lat": round(lat, 6), "lon": round(lon, 6), "fix_at": None,
                "speed_mps": round(rng.uniform(0, 14), 1), "heading": None})))
            t += FIX_SECONDS
    out = [item for item in out if item[0] < window]
    out.sort(key=lambda item: item[0])
    return out, count


# ---- the feed process -------------------------------------------------------------------------------------

async def _feed(args) -> None:
    """A StormSimulator releasing the timeline: each event when its simulated time comes, its times on the
    product's demo clock (DEMO_EPOCH, DEMO_SPEED). Waits for a line on stdin before it starts the clock."""
    from integrations.storm.simulator import StormSimulator

    with open(args.timeline, "rb") as handle:
        timeline: list[tuple[float, dict]] = pickle.load(handle)
    sim = StormSimulator([], heartbeat_interval=5.0, token=FEED_TOKEN)
    await sim.start("127.0.0.1", args.port)
    print(f"URL {sim.url}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    go = time.time()
    epoch = datetime.fromisoformat(args.epoch)
    base = epoch + timedelta(seconds=(go - epoch.timestamp()) * args.speed)
    print(f"GO {go:.6f}", flush=True)
    serial = 0
    index = 0
    while index < len(timeline):
        due = (time.time() - go) * args.speed
        while index < len(timeline) and timeline[index][0] <= due:
            offset, event = timeline[index]
            stamp = format_timestamp(base + timedelta(seconds=offset))
            event["occurred_at"] = stamp
            if event["type"] == "resource.position":
                event["resource"]["fix_at"] = stamp
            serial += 1
            event["event_id"] = f"load-{serial}"
            sim.append_event(event)
            index += 1
        await asyncio.sleep(0.02)
    await loop.run_in_executor(None, sys.stdin.readline)  # until the benchmark closes our stdin
    await sim.stop()


# ---- the product --------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare_postgres(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')


class Product:
    """The app (one process, or N workers), the Notify-compatible server and the feed process."""

    def __init__(self, args, setup: str, timeline_path: Path, data: Path, speed: float):
        from integrations.govuk_notify.simulator import (
            DEFAULT_EMAIL_TEMPLATE_ID,
            DEFAULT_SMS_TEMPLATE_ID,
            DEMO_API_KEY,
        )

        self.setup, self.data, self.speed = setup, data, speed
        self.port, feed_port, notify_port = _free_port(), _free_port(), _free_port()
        self.epoch = datetime.now(timezone.utc).replace(microsecond=0)
        self.env = dict(os.environ)
        self.env.update({
            "SECRET_KEY": SECRET, "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}", "VJ_DATA_DIR": str(data),
            "STORM_FEED_URL": f"ws://127.0.0.1:{feed_port}/feed", "STORM_FEED_TOKEN": FEED_TOKEN,
            "DEMO_SPEED": f"{speed:g}", "DEMO_EPOCH": self.epoch.isoformat(), "QUIET_HOURS": "off",
            "NOTIFY_API_KEY": DEMO_API_KEY, "NOTIFY_BASE_URL": f"http://127.0.0.1:{notify_port}",
            "NOTIFY_SMS_TEMPLATE_ID": DEFAULT_SMS_TEMPLATE_ID, "NOTIFY_EMAIL_TEMPLATE_ID": DEFAULT_EMAIL_TEMPLATE_ID,
            "NOTIFY_CALLBACK_TOKEN": CALLBACK_TOKEN,
            "REFLEX_USE_SYSTEM_BUN": "1", "TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false",
            "PYTHONPATH": str(ROOT),
        })
        for name in ("REDIS_URL", "GRANIAN_WORKERS", "DATABASE_URL"):
            self.env.pop(name, None)
        if setup == "scale":
            _prepare_postgres(args.database_url)
            import redis

            redis.Redis.from_url(args.redis_url).flushdb()
            self.env.update({"DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url,
                             "GRANIAN_WORKERS": str(args.workers)})
            self.workers = args.workers
        else:
            self.env["DATABASE_URL"] = f"sqlite:///{data / 'app.db'}"
            self.workers = 1
        self.db_url = self.env["DATABASE_URL"]
        self.procs: list[subprocess.Popen] = []
        self.notify = self._spawn([sys.executable, "-m", "integrations.govuk_notify.simulator", "--port",
                                   str(notify_port), "--api-key", DEMO_API_KEY, "--callback-token", CALLBACK_TOKEN,
                                   "--callback-url", f"http://127.0.0.1:{self.port}/notify/delivery-receipts",
                                   "--receipt-delay", "1"], "notify.log")
        self.feed = self._spawn([sys.executable, str(Path(__file__)), "feed", "--port", str(feed_port),
                                 "--timeline", str(timeline_path), "--speed", f"{speed:g}",
                                 "--epoch", self.epoch.isoformat()], "feed.log", pipe=True)
        line = self.feed.stdout.readline()
        if not line.startswith("URL "):
            raise RuntimeError("the feed process did not start: " + (data / "feed.log").read_text()[-2000:])
        # Migrated once, before the workers start.
        subprocess.run([sys.executable, "-c", "from rxapp.plumbing.db import migrate; migrate()"], env=self.env,
                       cwd=ROOT, check=True, capture_output=True)
        self.app = self._spawn(["reflex", "run", "--env", "prod", "--single-port", "--backend-port",
                                str(self.port), "--backend-host", "127.0.0.1"], "reflex.log")
        self._wait_ready()

    def _spawn(self, command: list[str], log: str, pipe: bool = False) -> subprocess.Popen:
        handle = open(self.data / log, "w")
        proc = subprocess.Popen(command, env=self.env, cwd=ROOT, text=True, start_new_session=True,
                                stdin=subprocess.PIPE if pipe else subprocess.DEVNULL,
                                stdout=subprocess.PIPE if pipe else handle, stderr=handle)
        self.procs.append(proc)
        return proc

    def _wait_ready(self, timeout: float = 400) -> None:
        import httpx

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.app.poll() is not None:
                raise RuntimeError("the app stopped:\n" + (self.data / "reflex.log").read_text()[-3000:])
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200 and \
                        "connected" in (self.data / "reflex.log").read_text():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError("the app did not start in time:\n" + (self.data / "reflex.log").read_text()[-3000:])

    def go(self) -> float:
        self.feed.stdin.write("go\n")
        self.feed.stdin.flush()
        line = self.feed.stdout.readline()
        return float(line.split()[1])

    def cpu_seconds(self) -> float:
        from bench.liveapp import _descendants, cpu_seconds

        return sum(cpu_seconds(pid) for pid in _descendants(self.app.pid) | {self.app.pid})

    def stop(self) -> None:
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


# ---- measuring ----------------------------------------------------------------------------------------------

def _sample(engine, now: datetime) -> dict:
    import sqlalchemy as sa

    with engine.connect() as conn:
        seq = conn.execute(sa.text("SELECT last_seq FROM feedcursor WHERE feed = 'storm'")).scalar() or 0
        statuses = dict(conn.execute(sa.text("SELECT status, count(*) FROM message GROUP BY status")).all())
        waiting = conn.execute(sa.text("SELECT count(*) FROM message WHERE status IN ('queued', 'retry') "
                                       "AND due_at <= :now"), {"now": now.replace(tzinfo=None)}).scalar()
        incidents = conn.execute(sa.text("SELECT count(*) FROM incident")).scalar()
    return {"seq": seq, "messages": sum(statuses.values()),
            "done": sum(statuses.get(s, 0) for s in DONE_STATUSES), "waiting": waiting, "incidents": incidents}


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def run_setup(args, profile: Profile, setup: str, timeline: list[tuple[float, dict]], opened: int,
              timeline_path: Path) -> dict:
    import sqlalchemy as sa

    data = Path(tempfile.mkdtemp(prefix=f"vj-load-{setup}-"))
    product = Product(args, setup, timeline_path, data, args.speed)
    engine = sa.create_engine(product.db_url)
    offsets = [offset for offset, _ in timeline]
    window_real = args.minutes * 60 / args.speed
    samples: list[dict] = []
    try:
        cpu0 = product.cpu_seconds()
        go = product.go()
        while True:
            time.sleep(1.0)
            now = time.time()
            row = _sample(engine, datetime.fromtimestamp(now, timezone.utc))
            released = bisect.bisect_right(offsets, (now - go) * args.speed)
            row.update(t=now - go, released=released, backlog=max(0, released - row["seq"]),
                       age=(now - (go + offsets[row["seq"]] / args.speed)) if row["seq"] < released else 0.0)
            samples.append(row)
            print(f"  {setup} t={row['t']:6.1f}s released {released:>7} applied {row['seq']:>7} "
                  f"backlog {row['backlog']:>5} ({row['age']:.1f} s) messages {row['messages']:>5} "
                  f"sent {row['done']:>5} waiting {row['waiting']:>4}", flush=True)
            if row["t"] > window_real and row["seq"] >= len(offsets) and row["waiting"] == 0:
                break
            if row["t"] > window_real + 120:
                print("  stopped waiting 120 s after the window: not caught up", flush=True)
                break
        cpu = product.cpu_seconds() - cpu0
    finally:
        engine.dispose()
        product.stop()
    in_window = [s for s in samples if s["t"] <= window_real]
    ages = [s["age"] for s in in_window]
    first, last = in_window[0], in_window[-1]
    span = max(last["t"] - first["t"], 1e-9)
    sent_rates = [(b["done"] - a["done"]) / (b["t"] - a["t"]) for a, b in zip(samples, samples[10:])]
    after = next((s["t"] - window_real for s in samples if s["t"] > window_real and s["seq"] >= len(offsets)),
                 None)
    return {
        "setup": setup, "workers": product.workers, "events": len(offsets), "attendances": opened,
        "offered_per_s": len(offsets) / window_real, "applied_per_s": (last["seq"] - first["seq"]) / span,
        "backlog_max_events": max(s["backlog"] for s in in_window), "backlog_p95_s": _percentile(ages, 0.95),
        "backlog_max_s": max(ages), "no_backlog": max(ages) <= BACKLOG_LIMIT_S,
        "caught_up_after_window_s": after, "incidents": samples[-1]["incidents"],
        "messages": samples[-1]["messages"], "sent": samples[-1]["done"],
        "sent_per_s_mean": last["done"] / window_real, "sent_per_s_peak_10s": max(sent_rates, default=0.0),
        "waiting_max": max(s["waiting"] for s in samples), "waiting_end": samples[-1]["waiting"],
        "app_cpu_s_per_real_s": cpu / samples[-1]["t"], "load_average": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["feed"]:
        parser = argparse.ArgumentParser(prog="load.py feed")
        parser.add_argument("feed")
        for name in ("--port", "--timeline", "--speed", "--epoch"):
            parser.add_argument(name, required=True, type=float if name == "--speed" else
                                int if name == "--port" else str)
        asyncio.run(_feed(parser.parse_args(argv)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="cleveland")
    parser.add_argument("--setup", choices=("sqlite", "scale", "both"), default="both")
    parser.add_argument("--minutes", type=float, help="simulated minutes played (default: the profile's)")
    parser.add_argument("--speed", type=float, help="times real speed (default: the profile's)")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/vj_bench_load")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    args.minutes = args.minutes or profile.minutes
    args.speed = args.speed or profile.speed
    started = time.time()
    timeline, opened = day_events(profile, args.minutes, args.seed)
    fixes = sum(1 for _, e in timeline if e["type"] == "resource.position")
    print(f"{profile.name}: {opened} attendances and {profile.vehicles} vehicles over {args.minutes:g} simulated "
          f"minutes at {args.speed:g}x: {len(timeline)} events ({fixes} fixes), "
          f"{len(timeline) / (args.minutes * 60 / args.speed):.0f} a second; generated in "
          f"{time.time() - started:.1f} s", flush=True)
    with tempfile.NamedTemporaryFile("wb", suffix=".pickle", delete=False) as handle:
        pickle.dump(timeline, handle)
        timeline_path = Path(handle.name)
    results = []
    try:
        for setup in (("sqlite", "scale") if args.setup == "both" else (args.setup,)):
            results.append(run_setup(args, profile, setup, timeline, opened, timeline_path))
    finally:
        timeline_path.unlink(missing_ok=True)
    print(f"\n{profile.name} at {args.speed:g}x, {args.minutes:g} simulated minutes "
          f"(load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print("| setup | events offered /s | applied /s | backlog max (events, s) | p95 s | no backlog | "
          "caught up after | attendances | messages | sent | sent /s mean / peak 10 s | waiting max | app CPU |")
    for r in results:
        name = "one process, SQLite" if r["setup"] == "sqlite" else f"{r['workers']} workers, PostgreSQL + Redis"
        after = "-" if r["caught_up_after_window_s"] is None else f"{r['caught_up_after_window_s']:.0f} s"
        print(f"| {name} | {r['offered_per_s']:.0f} | {r['applied_per_s']:.0f} | {r['backlog_max_events']}, "
              f"{r['backlog_max_s']:.1f} | {r['backlog_p95_s']:.1f} | {'yes' if r['no_backlog'] else 'NO'} | "
              f"{after} | {r['incidents']} of {r['attendances']} | {r['messages']} | {r['sent']} | "
              f"{r['sent_per_s_mean']:.1f} / {r['sent_per_s_peak_10s']:.1f} | {r['waiting_max']} | "
              f"{r['app_cpu_s_per_real_s']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"profile": profile.name, "speed": args.speed, "minutes": args.minutes,
                                         "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
