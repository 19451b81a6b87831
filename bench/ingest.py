"""How many STORM position events one process ingests per second, arrival windows recomputed.

Three ways, each on a freshly migrated database holding the same seed (N incidents, one car each, assigned and
en route):

  batched  parsed frames applied through `AttendanceService.apply_sync` in batches of up to 500, as the
           STORM client does when frames are waiting;
  single   one frame per transaction (the feed at its slowest: frames arrive one by one);
  e2e      over a real WebSocket: a StormSimulator in its own process serves the frames, a StormClient reads
           them and applies them through the AttendanceService; timed from the start of the first apply to
           the end of the last.

    python bench/ingest.py [--events 20000] [--incidents 200] [--modes batched,single,e2e]
                           [--database-url postgresql://postgres@127.0.0.1:5432/vj_bench] [--profile MODE]

SQLite (a temporary file) unless --database-url names PostgreSQL; that database is dropped and created afresh
for each mode, so never point it at one you want to keep. Prints events per second; the target is 1,000/s.
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

_TMP = Path(tempfile.mkdtemp(prefix="vj-bench-ingest-"))
atexit.register(shutil.rmtree, _TMP, True)
os.environ.setdefault("SECRET_KEY", "bench-secret-0123456789abcdef0123456789abcdef")
os.environ.setdefault("VJ_DATA_DIR", str(_TMP))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_TMP / 'unused.db'}")

import logging  # noqa: E402

logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

import feedgen  # noqa: E402

from integrations.storm.protocol import encode_event, parse_frame  # noqa: E402
from rxapp.attendance.models import Incident  # noqa: E402
from rxapp.attendance.service import AttendanceService  # noqa: E402
from rxapp.plumbing import db as rxdb  # noqa: E402

TARGET = 1_000
BATCH_MAX = 500


# ---- databases -------------------------------------------------------------------------------------------

class Databases:
    """A fresh, migrated database per mode: a new SQLite file, or the PostgreSQL database dropped and created."""

    def __init__(self, pg_url: str | None):
        self.pg_url = pg_url
        self.count = 0

    def fresh(self, label: str) -> str:
        self.count += 1
        rxdb.dispose_all()
        if not self.pg_url:
            url = f"sqlite:///{_TMP / f'ingest-{self.count}-{label}.db'}"
        else:
            url = self.pg_url
            _recreate_pg(url)
        rxdb.migrate(url)
        return url


def _recreate_pg(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing to recreate database {name!r}: use a plain name such as vj_bench")
    admin = parsed.set(drivername="postgresql", database="postgres")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


# ---- workload --------------------------------------------------------------------------------------------

class Workload:
    def __init__(self, incidents: int, events: int, seed: int = 7):
        rng = random.Random(seed)
        start = feedgen.utc_now() - timedelta(hours=2)
        self.attendances = feedgen.make_attendances(incidents, "I", rng, start)
        self.seed = feedgen.numbered(feedgen.seed_events(self.attendances, start), 1)
        first_fix = start + timedelta(seconds=incidents + 5)
        self.positions = feedgen.numbered(feedgen.position_stream(self.attendances, events, first_fix),
                                          len(self.seed) + 1)
        self.seed_frames = [encode_event(e) for e in self.seed]
        self.position_frames = [encode_event(e).encode() for e in self.positions]

    def seed_into(self, url: str) -> AttendanceService:
        service = AttendanceService(url)
        result = service.apply_sync([parse_frame(f) for f in self.seed_frames])
        assert result.applied == len(self.seed) and not result.dead_letters, result
        return service


def _check(url: str, workload: Workload) -> dict:
    """What the run left behind: every incident still en route with a window, the cursor at the last seq."""
    from sqlmodel import func, select

    from rxapp.feeds.models import FeedCursor
    from rxapp.plumbing.db import session_scope

    with session_scope(url) as s:
        with_window = s.exec(select(func.count()).select_from(Incident).where(Incident.eta_point != None)).one()  # noqa: E711
        cursor = s.get(FeedCursor, "storm").last_seq
    expected = workload.positions[-1]["seq"]
    return {"incidents_with_window": with_window, "cursor_ok": cursor == expected}


# ---- modes -----------------------------------------------------------------------------------------------

def run_batched(url: str, workload: Workload, profile: bool = False) -> dict:
    service = workload.seed_into(url)
    t0 = time.perf_counter()
    parsed = [parse_frame(f) for f in workload.position_frames]
    parse_s = time.perf_counter() - t0
    prof = cProfile.Profile() if profile else None
    changed = 0
    c0 = time.process_time()
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    for i in range(0, len(parsed), BATCH_MAX):
        result = service.apply_sync(parsed[i:i + BATCH_MAX])
        changed += len(result.changed_incidents)
    if prof:
        prof.disable()
    apply_s = time.perf_counter() - t0
    cpu_s = time.process_time() - c0
    n = len(parsed)
    return {"mode": "batched", "events": n, "seconds": apply_s, "per_s": n / apply_s, "cpu_per_s": n / cpu_s,
            "parse_per_s": n / parse_s, "parse_and_apply_per_s": n / (parse_s + apply_s),
            "pushes_due": changed, "profile": prof, **_check(url, workload)}


def run_single(url: str, workload: Workload, profile: bool = False) -> dict:
    service = workload.seed_into(url)
    prof = cProfile.Profile() if profile else None
    c0 = time.process_time()
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    changed = 0
    for frame in workload.position_frames:
        result = service.apply_sync([parse_frame(frame)])
        changed += len(result.changed_incidents)
    if prof:
        prof.disable()
    seconds = time.perf_counter() - t0
    cpu_s = time.process_time() - c0
    n = len(workload.position_frames)
    return {"mode": "single", "events": n, "seconds": seconds, "per_s": n / seconds, "cpu_per_s": n / cpu_s,
            "pushes_due": changed,
            "profile": prof, **_check(url, workload)}


class _TimedSink:
    """The AttendanceService as the client's sink, noting when applies start and end and how big they are."""

    def __init__(self, service: AttendanceService, last_seq: int):
        self.service = service
        self.last = last_seq
        self.first_start: float | None = None
        self.first_cpu: float | None = None
        self.last_cpu: float | None = None
        self.last_end: float | None = None
        self.batches: list[int] = []
        self.done = asyncio.Event()

    async def last_seq(self) -> int:
        return await self.service.last_seq()

    async def apply(self, items: list) -> None:
        if self.first_start is None:
            self.first_start = time.perf_counter()
            self.first_cpu = time.process_time()
        await self.service.apply(items)
        self.last_end = time.perf_counter()
        self.last_cpu = time.process_time()
        self.batches.append(len(items))
        if any(getattr(item, "seq", 0) == self.last for item in items):
            self.done.set()


async def _e2e(url: str, workload: Workload, timeout: float) -> dict:
    from integrations.storm.client import StormClient

    service = workload.seed_into(url)
    frames = _TMP / "e2e-frames.jsonl"
    with frames.open("w", encoding="utf-8") as handle:
        for event in workload.seed + workload.positions:
            handle.write(json.dumps(event) + "\n")
    token = "bench-feed-token"
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "simserve.py"), str(frames), "--token", token],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout=120)
        if not line.startswith("URL "):
            raise RuntimeError(f"simulator did not start: {line!r}")
        sim_url = line.split()[1]
        sink = _TimedSink(service, workload.positions[-1]["seq"])
        client = StormClient(sim_url, sink, token=token, batch_max=BATCH_MAX, heartbeat_timeout=60)
        started = time.perf_counter()
        task = asyncio.create_task(client.run())
        try:
            await asyncio.wait_for(sink.done.wait(), timeout=timeout)
        finally:
            await client.stop()
            task.cancel()
        n = len(workload.positions)
        seconds = sink.last_end - sink.first_start
        return {"mode": "e2e", "events": n, "seconds": seconds, "per_s": n / seconds,
                "cpu_per_s": n / (sink.last_cpu - sink.first_cpu),
                "from_connect_per_s": n / (sink.last_end - started), "batches": len(sink.batches),
                "mean_batch": sum(sink.batches) / len(sink.batches), "status": client.status,
                **_check(url, workload)}
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_e2e(url: str, workload: Workload, timeout: float = 900) -> dict:
    return asyncio.run(_e2e(url, workload, timeout))


MODES = {"batched": run_batched, "single": run_single, "e2e": run_e2e}


def _print_profile(prof: cProfile.Profile, limit: int = 30) -> None:
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    out.write("\n---- by cumulative time ----\n")
    stats.sort_stats("cumulative").print_stats(limit)
    print(out.getvalue())


def _db_label(url: str | None) -> str:
    if not url:
        return "SQLite (temporary file, WAL, synchronous=NORMAL)"
    from sqlalchemy.engine import make_url

    return "PostgreSQL " + make_url(url).render_as_string(hide_password=True)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--incidents", type=int, default=200)
    parser.add_argument("--modes", default="batched,single,e2e")
    parser.add_argument("--database-url", default=None, help="postgresql://... (dropped and recreated per mode)")
    parser.add_argument("--profile", default=None, choices=["batched", "single"],
                        help="print a cProfile of that mode's apply loop")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.database_url and not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be a postgresql:// URL (SQLite is the default)")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            parser.error(f"unknown mode {m}")
    workload = Workload(args.incidents, args.events)
    dbs = Databases(args.database_url)
    print(f"ingest: {args.events} resource.position events, {args.incidents} incidents en route, "
          f"{_db_label(args.database_url)}", flush=True)
    results = []
    for mode in modes:
        for a in workload.attendances:
            a.fixes = 0
        url = dbs.fresh(mode)
        if mode == "e2e":
            result = run_e2e(url, workload)
        else:
            result = MODES[mode](url, workload, profile=(args.profile == mode))
        prof = result.pop("profile", None)
        verdict = "meets" if result["per_s"] >= TARGET else "MISSES"
        extra = ""
        if mode == "batched":
            extra = (f"  (parse alone {result['parse_per_s']:,.0f}/s; parse+apply {result['parse_and_apply_per_s']:,.0f}/s)")
        if mode == "e2e":
            extra = f"  ({result['batches']} batches, mean {result['mean_batch']:.0f} frames)"
        result["load_after"] = os.getloadavg()[0]
        print(f"  {mode:8s} {result['per_s']:8,.0f} events/s, {result['cpu_per_s']:,.0f} per CPU-second  "
              f"({result['events']} in {result['seconds']:.1f} s; load {result['load_after']:.1f}; "
              f"{verdict} {TARGET:,}/s target; windows on {result['incidents_with_window']} incidents, "
              f"cursor {'ok' if result['cursor_ok'] else 'WRONG'}){extra}", flush=True)
        result["database"] = "postgresql" if args.database_url else "sqlite"
        results.append(result)
        if prof is not None:
            _print_profile(prof)
    rxdb.dispose_all()
    if args.database_url:
        with_suppress_drop(args.database_url)
    if args.json:
        for r in results:
            r.pop("status", None)
        args.json.write_text(json.dumps({"events": args.events, "incidents": args.incidents, "results": results},
                                        indent=2, default=str))
    return results


def with_suppress_drop(url: str) -> None:
    try:
        import psycopg
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    except Exception as exc:  # noqa: BLE001 - tidying up only
        print(f"  (could not drop the benchmark database: {type(exc).__name__})")


if __name__ == "__main__":
    main()
