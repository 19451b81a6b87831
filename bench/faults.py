"""Fault runs against the real product scaled out (issue 13, point 4): what victims' open pages go through when
Redis restarts, and when a backend worker is killed while 500 of them watch. Each run ends by checking that
every page shows the current state, and that the database's final state equals an undisturbed run of the same
feed (the feed frames this run sent, replayed to one runner process on a SQLite file: tests/faults/harness.py).

    python bench/faults.py [--faults redis,worker] [--viewers 500] [--attendances 50] [--kill leader|other]
                           [--postgres URL] [--json FILE]

The product runs as scripts/scale.sh runs it (bench/liveapp.py): `reflex run --env prod --single-port` with two
Granian workers on one port (GRANIAN_WORKERS=2), PostgreSQL (`--postgres`, a database of this run's own, DROPPED
and recreated for each fault) and a PRIVATE redis-server on a free port (never the machine's), fed by the STORM
simulator in this process. Viewers are bench/viewer.py's `ReconnectingViewer`: Reflex's own protocol, and its
client's reconnect (at once, then 200 ms x failed attempts).

redis   --redis-viewers tabs over --redis-attendances attendances; status 5 (en route) reaches them all; the
        private redis-server is killed and started again empty (`--save ''`: Reflex's states and locks are gone,
        as after a restart of a Redis that keeps nothing) after --redis-down seconds; as soon as it answers,
        status 6 (at scene) goes to every attendance in one feed batch. Passes when every open tab shows it, a
        fresh load of each page shows it, and the final state equals the undisturbed run.
worker  --viewers tabs over --attendances attendances; status 5 reaches them all; one worker is SIGKILLed (the
        runner's leader by default, so the feed and the pushes fail over too); the tabs it held reconnect;
        how long each took (from losing its connection to showing its status again) is recorded, p50/p95;
        Granian's replacement of the worker is timed; then status 6 goes to every attendance in one batch.
        Passes when every tab reconnected and shows it, a fresh load shows it, and the final state equals the
        undisturbed run.

Prints the figures and a PASS/FAIL line per fault; exits 1 if any fault failed.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import importlib.metadata
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import feedgen  # noqa: E402
import httpx  # noqa: E402
import live  # noqa: E402  (sets SECRET_KEY, VJ_DATA_DIR and DATABASE_URL for this process, as its runs do)
import liveapp  # noqa: E402
from viewer import Compiled, ReconnectingViewer  # noqa: E402

from tests.faults import harness  # noqa: E402

LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/e_faults_live"


def ms(seconds: float) -> str:
    return "–" if seconds != seconds else f"{seconds * 1000:,.0f} ms"


def loadavg() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


class Run:
    """One fault's product: two workers on PostgreSQL and a private Redis, every feed frame recorded."""

    def __init__(self, args, label: str, data_dir: Path):
        live._fresh_postgres(args.postgres)
        self.redis = harness.PrivateRedis()
        options = argparse.Namespace(in_place=False, git_ref=None, env=[], sample_app=False)
        self.bench = live.Bench(options, data_dir=data_dir, database_url=args.postgres, redis_url=self.redis.url,
                                workers=2, label=label)
        self.app = self.bench.app
        self.db_url = args.postgres
        self.frames: list[dict] = []
        sending = self.bench.feed.send

        async def send(events: list[dict]):  # the simulator numbers them in this order: seq = position + 1
            self.frames.extend(copy.deepcopy(events))
            return await sending(events)

        self.bench.feed.send = send
        self.viewers: list[ReconnectingViewer] = []

    async def start(self, attendances: list[feedgen.Attendance]) -> None:
        await asyncio.to_thread(self.app.start)
        self.bench.compiled = Compiled(self.app.web_dir, importlib.metadata.version("reflex"))
        self.bench.http = httpx.AsyncClient(timeout=30)
        await self.bench.seed(attendances)

    async def open_viewers(self, pool: list[feedgen.Attendance], n: int, concurrency: int = 20) -> float:
        gate = asyncio.Semaphore(concurrency)
        viewers = [ReconnectingViewer(liveapp.HOST, self.app.port, self.app.base, self.bench.compiled,
                                      self.bench.tokens[pool[i % len(pool)].urn], f"v{i}") for i in range(n)]

        async def _open(v):
            async with gate:
                await self.bench.open_viewer(v)
                v.keep_open()

        started = time.perf_counter()
        await asyncio.gather(*(_open(v) for v in viewers))
        self.viewers = viewers
        return time.perf_counter() - started

    async def send_status(self, pool, code: str) -> float:
        times = await self.bench.feed.send([feedgen.status(a, feedgen.now_utc(), code) for a in pool])
        return times[0][0]

    async def fresh_loads(self, pool) -> dict[str, str | None]:
        """What a page opened now shows, one fresh tab per attendance."""
        shown = {}
        for i, a in enumerate(pool):
            v = ReconnectingViewer(liveapp.HOST, self.app.port, self.app.base, self.bench.compiled,
                                   self.bench.tokens[a.urn], f"fresh{i}")
            try:
                await self.bench.open_viewer(v)
                shown[a.urn] = v.status
            except Exception as exc:  # noqa: BLE001 - a page that does not open is what is reported
                shown[a.urn] = f"error {type(exc).__name__}"
            finally:
                await v.close()
        return shown

    def stored_statuses(self) -> dict[str, str]:
        import sqlalchemy

        engine = sqlalchemy.create_engine(self.db_url)
        with engine.connect() as con:
            rows = con.execute(sqlalchemy.text("SELECT urn, status FROM incident")).fetchall()
        engine.dispose()
        return dict(rows)

    async def close(self) -> None:
        for v in self.viewers:
            await v.close()
        if self.bench.http is not None:
            await self.bench.http.aclose()

    def stop(self) -> None:
        try:
            self.bench.close()
        finally:
            self.redis.kill()


async def wait_all(viewers, status: str, timeout: float) -> float:
    """Wait until every viewer shows `status` (and is connected); returns the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if all(v.status == status and v.connected for v in viewers):
            break
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


def arrivals(viewers, status: str, sent_at: float) -> list[float]:
    return [at - sent_at for v in viewers if (at := v.arrival_of(status, sent_at)) is not None]


def undisturbed_state(frames: list[dict], workdir: Path) -> dict:
    """The same frames, paced by nothing, to one runner process on a fresh SQLite file: the state to end in."""
    from rxapp.plumbing import db

    url = f"sqlite:///{workdir / 'undisturbed.db'}"
    db.migrate(url)
    feed = harness.FeedServer(feedgen.numbered(copy.deepcopy(frames)), workdir).start()
    runner = harness.Runner(url, workdir, STORM_FEED_URL=feed.url)
    try:
        harness.wait_for(lambda: harness.stored_seq(url) == feed.count, 120, "the undisturbed run's feed")
        time.sleep(1)  # the sweeps' first pass after the last frame, as the app had time for
    finally:
        runner.stop()
        feed.stop()
    try:
        return harness.final_state(url)
    finally:
        db.dispose_all()


def compare_final(run: Run, workdir: Path) -> tuple[bool, str]:
    harness.wait_for(lambda: harness.stored_seq(run.db_url) == len(run.frames), 60, "the app to apply every frame")
    time.sleep(1)
    disturbed = harness.final_state(run.db_url)
    expected = undisturbed_state(run.frames, workdir)
    diff = harness.difference(expected, disturbed)
    return not diff, diff


def check_pages(run: Run, pool, status: str, fresh: dict) -> dict:
    stored = run.stored_statuses()
    by_urn = {a.urn: a for a in pool}
    wrong_tabs = [v.label for v in run.viewers if v.status != status or not v.connected]
    return {
        "tabs": len(run.viewers), "tabs_right": len(run.viewers) - len(wrong_tabs), "tabs_wrong": wrong_tabs[:10],
        "stored_right": sum(1 for urn in by_urn if stored.get(urn) == status), "attendances": len(pool),
        "fresh_right": sum(1 for urn in by_urn if fresh.get(urn) == status),
        "fresh_wrong": {urn: shown for urn, shown in fresh.items() if shown != status},
    }


# ---- the faults -----------------------------------------------------------------------------------------------


async def redis_restarted(args, data_dir: Path) -> dict:
    run = Run(args, "redis restarted", data_dir)
    rng = random.Random(41)
    pool = feedgen.make_attendances(args.redis_attendances, "R", rng, feedgen.utc_now())
    result: dict = {"fault": "redis", "load_start": loadavg()}
    try:
        await run.start(pool)
        result["connect_s"] = await run.open_viewers(pool, args.redis_viewers)
        sent = await run.send_status(pool, "5")
        result["before_s"] = await wait_all(run.viewers, "en_route", 30)
        result["before_p95"] = live.percentile(arrivals(run.viewers, "en_route", sent), 95)
        result["before_right"] = sum(v.status == "en_route" for v in run.viewers)

        # Each restart, then status 6 to the next group of attendances as soon as Redis answers again.
        groups = [pool[k::args.redis_restarts] for k in range(args.redis_restarts)]
        late, downs, shown_after, missed = [], [], [], 0
        for group in groups:
            watching = [v for v in run.viewers if v.link in {run.bench.tokens[a.urn] for a in group}]
            run.redis.kill()
            down_at = time.perf_counter()
            await asyncio.sleep(args.redis_down)
            await asyncio.to_thread(run.redis.start)
            downs.append(time.perf_counter() - down_at)
            sent = await run.send_status(group, "6")
            shown_after.append(await wait_all(watching, "at_scene", args.settle))
            late += arrivals(watching, "at_scene", sent)
            missed += sum(1 for v in watching if v.status != "at_scene")
        result.update(restarts=len(groups), redis_down_s=max(downs), after_s=max(shown_after),
                      after_p50=live.percentile(late, 50), after_p95=live.percentile(late, 95),
                      after_max=max(late) if late else float("nan"), missed_after_restart=missed,
                      dropped=sum(1 for v in run.viewers if v.reconnects),
                      reconnects=sum(len(v.reconnects) for v in run.viewers))
        fresh = await run.fresh_loads(pool)
        result["pages"] = check_pages(run, pool, "at_scene", fresh)
        await run.close()
        result["final_equal"], result["final_diff"] = await asyncio.to_thread(compare_final, run, data_dir)
        result["app_log_warnings"] = live._count_warnings(run.app.log_path)
    finally:
        await run.close()
        run.stop()
    result["load_end"] = loadavg()
    result["passed"] = bool(result.get("final_equal")) and _pages_pass(result.get("pages"))
    return result


def connections_by_worker(app: liveapp.LiveApp) -> dict[int, int]:
    """Established connections to the app's port held by each process of its tree (the viewers' websockets)."""
    inodes = liveapp.socket_inodes(app.port, "01")
    counts = {}
    for pid in liveapp._descendants(app.proc.pid):
        n = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    n += 1
        except OSError:
            continue
        if n:
            counts[pid] = n
    return counts


def leader_pid(db_url: str) -> int | None:
    from rxapp.plumbing.jobs import runner_status

    try:
        leader = runner_status(db_url=db_url)["leader"]
    except Exception:  # noqa: BLE001
        return None
    return leader["pid"] if leader and leader.get("state") == "leading" else None


async def worker_killed(args, data_dir: Path) -> dict:
    run = Run(args, "worker killed", data_dir)
    rng = random.Random(43)
    pool = feedgen.make_attendances(args.attendances, "W", rng, feedgen.utc_now())
    result: dict = {"fault": "worker", "load_start": loadavg(), "viewers": args.viewers, "attendances": len(pool)}
    try:
        await run.start(pool)
        result["connect_s"] = await run.open_viewers(pool, args.viewers)
        sent = await run.send_status(pool, "5")
        result["before_s"] = await wait_all(run.viewers, "en_route", 60)
        result["before_right"] = sum(v.status == "en_route" for v in run.viewers)
        await asyncio.sleep(1)

        workers = run.app.worker_pids()
        leader = leader_pid(run.db_url)
        victim = leader if args.kill == "leader" and leader in workers else next(p for p in workers if p != leader)
        result.update(workers_before=workers, leader_before=leader, killed=victim,
                      killed_was_leader=victim == leader, held_before=connections_by_worker(run.app))
        os.kill(victim, signal.SIGKILL)
        killed_at = time.perf_counter()

        # Granian's replacement of the worker, and the runner's new leader.
        respawned_s = new_leader_s = None
        new_leader = None
        deadline = killed_at + args.settle
        while time.perf_counter() < deadline and (respawned_s is None or new_leader_s is None):
            if respawned_s is None and run.app.proc.poll() is None:
                now = set(run.app.worker_pids())
                if len(now) == 2 and victim not in now:
                    respawned_s = time.perf_counter() - killed_at
                    result["workers_after"] = sorted(now)
            if new_leader_s is None:
                new_leader = await asyncio.to_thread(leader_pid, run.db_url)
                if new_leader and new_leader != victim:
                    new_leader_s = time.perf_counter() - killed_at
            if run.app.proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        result.update(respawned_s=respawned_s, new_leader=new_leader, new_leader_s=new_leader_s,
                      server_exited=run.app.proc.poll() is not None)

        # Every tab the dead worker held reconnects (and shows its status).
        await wait_all(run.viewers, "en_route", args.settle)
        dropped = [v for v in run.viewers if v.reconnects or v.lost_at is not None]
        took = [shown - lost for v in dropped for lost, shown, _ in v.reconnects[:1]]
        since_kill = [shown - killed_at for v in dropped for _, shown, _ in v.reconnects[:1]]
        result.update(dropped=len(dropped), reconnected=sum(1 for v in dropped if v.reconnects and v.connected),
                      reconnect_p50=live.percentile(took, 50), reconnect_p95=live.percentile(took, 95),
                      reconnect_max=max(took) if took else float("nan"),
                      since_kill_p95=live.percentile(since_kill, 95),
                      reconnect_deciles=[round(live.percentile(took, q), 3) for q in range(0, 101, 10)],
                      failed_attempts=sum(v.failed_attempts for v in run.viewers),
                      held_after=connections_by_worker(run.app))

        sent = await run.send_status(pool, "6")
        result["after_s"] = await wait_all(run.viewers, "at_scene", 60)
        late = arrivals(run.viewers, "at_scene", sent)
        result.update(after_p50=live.percentile(late, 50), after_p95=live.percentile(late, 95))
        fresh = await run.fresh_loads(pool)
        result["pages"] = check_pages(run, pool, "at_scene", fresh)
        await run.close()
        result["final_equal"], result["final_diff"] = await asyncio.to_thread(compare_final, run, data_dir)
        result["app_log_warnings"] = live._count_warnings(run.app.log_path)
        result["granian_log"] = [line.strip() for line in run.app.log_tail(20000).splitlines()
                                 if "worker" in line.lower() and ("respawn" in line.lower() or "exit" in line.lower())]
    finally:
        await run.close()
        run.stop()
    result["load_end"] = loadavg()
    result["passed"] = bool(result.get("final_equal")) and _pages_pass(result.get("pages")) and \
        result.get("reconnected") == result.get("dropped")
    return result


def _pages_pass(pages: dict | None) -> bool:
    return bool(pages) and pages["tabs_right"] == pages["tabs"] and pages["fresh_right"] == pages["attendances"] \
        and pages["stored_right"] == pages["attendances"]


def _s(seconds) -> str:
    return "never" if seconds is None else f"{seconds:.1f} s"


def report(r: dict) -> list[str]:
    pages = r.get("pages") or {}
    lines = []
    if r["fault"] == "redis":
        lines.append(f"redis restarted {r.get('restarts')} times under {pages.get('tabs')} tabs (away up to "
                     f"{r.get('redis_down_s', 0):.1f} s); after each, status 6 to a share of the attendances as soon as "
                     f"it answered: shown by all their tabs within {ms(r.get('after_s', float('nan')))} "
                     f"(p50 {ms(r.get('after_p50', float('nan')))}, p95 {ms(r.get('after_p95', float('nan')))}); "
                     f"tabs that lost their connection: {r.get('dropped')}; tabs that missed a change: "
                     f"{r.get('missed_after_restart')}")
    else:
        lines.append(f"worker killed: {r['viewers']} tabs over {r['attendances']} attendances; connections by worker "
                     f"before {r.get('held_before')}; killed {r.get('killed')} "
                     f"({'the runner leader' if r.get('killed_was_leader') else 'not the leader'})")
        lines.append(f"  Granian replaced it after {_s(r.get('respawned_s'))}; new runner "
                     f"leader {r.get('new_leader')} after {_s(r.get('new_leader_s'))}; "
                     f"server exited: {r.get('server_exited')}")
        lines.append(f"  tabs dropped {r.get('dropped')}, reconnected {r.get('reconnected')}: reconnect p50 "
                     f"{ms(r.get('reconnect_p50', float('nan')))} p95 {ms(r.get('reconnect_p95', float('nan')))} max "
                     f"{ms(r.get('reconnect_max', float('nan')))} (p95 from the kill "
                     f"{ms(r.get('since_kill_p95', float('nan')))}); failed attempts {r.get('failed_attempts')}; "
                     f"connections after {r.get('held_after')}")
        lines.append(f"  status 6 after: every tab in {ms(r.get('after_s', float('nan')))} (p50 "
                     f"{ms(r.get('after_p50', float('nan')))}, p95 {ms(r.get('after_p95', float('nan')))})")
    if pages:
        lines.append(f"  tabs showing the current state {pages['tabs_right']}/{pages['tabs']}; fresh loads "
                     f"{pages['fresh_right']}/{pages['attendances']}; stored {pages['stored_right']}/{pages['attendances']}"
                     + (f"; wrong tabs e.g. {pages['tabs_wrong']}" if pages["tabs_wrong"] else "")
                     + (f"; fresh loads wrong {pages['fresh_wrong']}" if pages["fresh_wrong"] else ""))
    if "final_equal" in r:
        lines.append("  final state equals the undisturbed run" if r["final_equal"]
                     else "  final state DIFFERS from the undisturbed run:\n" + r["final_diff"])
    lines.append(f"  load average {r.get('load_start')} -> {r.get('load_end')}; "
                 f"{'PASS' if r.get('passed') else 'FAIL'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faults", default="redis,worker", help="comma-separated: redis, worker")
    parser.add_argument("--postgres", default=LOCAL_PG, help="this run's own database (DROPPED and recreated)")
    parser.add_argument("--viewers", type=int, default=500, help="tabs watching when the worker is killed")
    parser.add_argument("--attendances", type=int, default=50)
    parser.add_argument("--kill", choices=("leader", "other"), default="leader",
                        help="which worker: the one running the feed and the sender (leader), or the other")
    parser.add_argument("--redis-viewers", type=int, default=100)
    parser.add_argument("--redis-attendances", type=int, default=10)
    parser.add_argument("--redis-restarts", type=int, default=5,
                        help="restarts, each followed by status 6 to the next share of the attendances")
    parser.add_argument("--redis-down", type=float, default=3.0, help="seconds Redis stays stopped")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds allowed for pages to recover")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (app logs)")
    args = parser.parse_args(argv)
    results = []
    try:
        for fault in [f.strip() for f in args.faults.split(",") if f.strip()]:
            data_dir = Path(tempfile.mkdtemp(prefix=f"vj-faults-{fault}-", dir=live._TMP))
            print(f"fault: {fault} (load average {loadavg()})...", flush=True)
            run = {"redis": redis_restarted, "worker": worker_killed}[fault]
            try:
                r = asyncio.run(run(args, data_dir))
            except Exception as exc:  # noqa: BLE001 - reported as a failure, the next fault still runs
                r = {"fault": fault, "passed": False, "error": f"{type(exc).__name__}: {exc}"}
                print(f"  {fault}: ERROR {r['error']}", flush=True)
                log = data_dir / "reflex.log"
                if log.exists():
                    print(log.read_text(errors="replace")[-3000:], flush=True)
            else:
                print("\n".join(report(r)), flush=True)
            results.append(r)
    finally:
        if args.keep:
            print(f"kept {live._TMP}")
        else:
            shutil.rmtree(live._TMP, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0 if results and all(r.get("passed") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
