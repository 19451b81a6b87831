"""Feed-event-to-screen latency and memory per connected viewer of victims' pages, against the real app.

The product runs as in production on one process (`reflex run --env prod --single-port`, temporary SQLite,
RUN_BACKGROUND_JOBS on), fed by a StormSimulator in a thread of this process. Viewers open real
`/track/<link>` pages: lightweight Socket.IO clients speaking Reflex's protocol (bench/viewer.py), plus real
Chromium pages through Playwright to check that a browser sees the same thing in the same time.

For each viewer count:
  1      one viewer at a time, hopping over attendances: each hop opens a page, the feed sends
         resource.status 5 (en route) then 6 (at scene), and the viewer closes (also done in Chromium);
  N > 1  N viewers spread round-robin over their own fresh attendances (50 by default); then status 5 is sent
         to each attendance in turn at --rate per second ("paced"), then status 6 to all of them in one burst
         ("burst": one STORM batch changing every attendance at once, the worst case); with --bursts B, B bursts
         two seconds apart (status 5 and 6 in turn), their latencies pooled.
Throughout, vehicles report positions (--positions-per-second) as a live feed would. At the largest count,
--backlog positions are then released at once (a feed catching up after an outage) and ten more victims open
their pages meanwhile: how long those pages take to show their status.

Latency is from the simulator's release of the frame to the viewer's receipt of the state delta showing the new
status (for Chromium: to the DOM text change). Memory is the RSS of the app's backend process before and after
connecting the N viewers, divided by N. Targets: p95 <= 1 s at 500 viewers; <= 300 KB per viewer.

Set-ups (`--setups`, side by side in one run): `sqlite`, the product on one process and a SQLite file; `scale`,
the same product with `--workers` Granian backend workers on one port (GRANIAN_WORKERS, as scripts/scale.sh),
PostgreSQL (`--postgres`, dropped and recreated) and Redis (`--redis`, flushed); `baseline`, the bare
`websockets` library doing the same fan-out with its clients in this process (bench/baseline.py). With several
workers, memory is the growth of all workers' RSS together. `--compare-ref COMMIT` runs the sqlite and scale set-ups
a second time from that commit, in the same run, so a change is measured beside what it replaced.

The rest of issue 13's table, in the same run: `--ingest N` releases N position fixes at once at the largest
viewer count (viewers still connected) and times the app's own STORM client storing them all; `--outbox N`
measures after each set-up the outbox's rate on its database engine (bench/outbox.py: one sender process on SQLite,
as that set-up runs one; one and then two at once on PostgreSQL, a database of their own beside the app's), once
per `--notify-latency` value.

    python bench/live.py [--viewers 1,100,500] [--setups sqlite,scale,baseline] [--workers 2]
                         [--postgres URL] [--redis URL] [--attendances 50] [--rate 5] [--bursts 1] [--backlog 3000]
                         [--ingest 20000] [--outbox 3000 [--notify-latency 0 0.1]] [--no-browser]
                         [--in-place | --git-ref HEAD] [--compare-ref COMMIT] [--sample-app]
                         [--env REFLEX_STATE_MANAGER_MODE=memory]
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SECRET = "bench-live-secret-0123456789abcdef0123456789abcdef"
FEED_TOKEN = "bench-live-feed-token"
_TMP = Path(tempfile.mkdtemp(prefix="vj-bench-live-"))
os.environ["SECRET_KEY"] = SECRET
os.environ["VJ_DATA_DIR"] = str(_TMP)
os.environ["DATABASE_URL"] = f"sqlite:///{_TMP / 'app.db'}"

import feedgen  # noqa: E402
import httpx  # noqa: E402
import liveapp  # noqa: E402
from viewer import Compiled, Viewer  # noqa: E402

P95_TARGET_S = 1.0
KB_PER_VIEWER_TARGET = 300
LABELS = {"assigned": "Officer assigned", "en_route": "Officer on the way", "at_scene": "Officer with you"}


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def summarise(latencies: list[float], missing: int = 0) -> dict:
    return {"n": len(latencies), "missing": missing, "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95), "max": max(latencies) if latencies else float("nan")}


def fmt(stats: dict) -> str:
    if not stats["n"]:
        return f"no samples ({stats['missing']} missing)"
    text = (f"p50 {stats['p50'] * 1000:6.0f} ms  p95 {stats['p95'] * 1000:6.0f} ms  max {stats['max'] * 1000:6.0f} ms"
            f"  ({stats['n']} samples")
    return text + (f", {stats['missing']} never arrived)" if stats["missing"] else ")")


class Bench:
    def __init__(self, args, data_dir: Path = _TMP, database_url: str | None = None, redis_url: str | None = None,
                 workers: int = 1, label: str = "one process, SQLite"):
        self.args = args
        self.label = label
        self.feed = liveapp.Feed(FEED_TOKEN)
        self.app = liveapp.LiveApp(data_dir, SECRET, self.feed, FEED_TOKEN, in_place=args.in_place,
                                   git_ref=args.git_ref, database_url=database_url, redis_url=redis_url,
                                   workers=workers)
        for pair in args.env:
            key, _, value = pair.partition("=")
            self.app.env[key] = value
        self.samples_dir = None
        if args.sample_app:
            self.samples_dir = data_dir / "samples"
            self.samples_dir.mkdir()
            self.app.env["VJ_BENCH_SAMPLE_DIR"] = str(self.samples_dir)
            self.app.env["PYTHONPATH"] = f"{ROOT / 'bench' / 'appsampler'}:{self.app.env['PYTHONPATH']}"
        self.rng = random.Random(11)
        self.tokens: dict[str, str] = {}
        self.compiled: Compiled | None = None
        self.http: httpx.AsyncClient | None = None
        self.browser = None
        self._pw = None
        self.results: dict = {"viewers": {}}

    # ---- set-up ---------------------------------------------------------------------------------------

    async def seed(self, attendances: list[feedgen.Attendance]) -> None:
        """Open and assign every attendance through the feed, and read each victim's link from the database."""
        from rxapp.plumbing.links import derive_token

        events = feedgen.seed_events(attendances, feedgen.utc_now() - timedelta(minutes=5), en_route=False)
        for i in range(0, len(events), 200):
            await self.feed.send(events[i:i + 200])
        import sqlalchemy

        wanted = {a.urn for a in attendances}
        deadline = time.monotonic() + 120
        engine = sqlalchemy.create_engine(self.app.db_url)
        while time.monotonic() < deadline:
            with engine.connect() as con:
                rows = con.execute(sqlalchemy.text("SELECT urn, link_nonce, status FROM incident")).fetchall()
            ready = {urn: nonce for urn, nonce, status in rows if urn in wanted and status == "assigned"}
            if len(ready) == len(wanted):
                self.tokens.update({urn: derive_token(nonce, SECRET) for urn, nonce in ready.items()})
                engine.dispose()
                return
            await asyncio.sleep(0.3)
        raise RuntimeError(f"only {len(ready)} of {len(wanted)} attendances reached the app:\n" + self.app.log_tail())

    async def start_browser(self) -> None:
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        self.browser = await self._pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                  "--no-first-run", "--disable-component-update", "--disable-sync"])

    async def stop_browser(self) -> None:
        if self.browser is not None:
            await self.browser.close()
        if self._pw is not None:
            await self._pw.stop()

    def viewer(self, a: feedgen.Attendance, label: str) -> Viewer:
        return Viewer(liveapp.HOST, self.app.port, self.app.base, self.compiled, self.tokens[a.urn], label)

    async def open_viewer(self, v: Viewer) -> float:
        page = await self.http.get(f"{self.app.base}{v.path}")
        page.raise_for_status()
        seconds = await v.open()
        if v.error:
            raise RuntimeError(f"viewer {v.label}: {v.error}")
        return seconds

    async def feed_health(self) -> dict:
        """The app's own view of its STORM client (reconnects, last error), from /healthz."""
        try:
            data = (await self.http.get(f"{self.app.base}/healthz",
                                        headers={"Authorization": f"Bearer {liveapp.HEALTHZ_TOKEN}"})).json()
            feed = (data.get("runner") or {}).get("feed") or {}
            return {"reconnects": feed.get("reconnects"), "last_error": feed.get("last_error")}
        except Exception as exc:  # noqa: BLE001 - diagnostics only
            return {"error": type(exc).__name__}

    async def samples(self, pid: int) -> dict:
        """The app's stack-sample counts so far (bench/appsampler), once its next dump has landed."""
        if self.samples_dir is None:
            return {}
        await asyncio.sleep(3.5)
        try:
            return json.loads((self.samples_dir / f"samples-{pid}.json").read_text())
        except (OSError, ValueError):
            return {}

    # ---- background positions ------------------------------------------------------------------------

    async def positions(self, pool: list[feedgen.Attendance], per_second: float, stop: asyncio.Event) -> int:
        if per_second <= 0:
            return 0
        sent, i = 0, 0
        interval = 1.0 / per_second
        next_at = time.perf_counter()
        while not stop.is_set():
            a = pool[i % len(pool)]
            i += 1
            await self.feed.send([feedgen.position(a, feedgen.now_utc(), 80)])
            sent += 1
            next_at += interval
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.perf_counter()))
            except asyncio.TimeoutError:
                pass
        return sent

    # ---- one viewer at a time ---------------------------------------------------------------------------

    async def single_viewer(self, pool: list[feedgen.Attendance]) -> dict:
        latencies, missing, hydrate = [], 0, []
        stop = asyncio.Event()
        moving = asyncio.create_task(self.positions(pool, self.args.positions_per_second, stop))
        try:
            for k, a in enumerate(pool):
                v = self.viewer(a, f"hop{k}")
                hydrate.append(await self.open_viewer(v))
                for code, status in (("5", "en_route"), ("6", "at_scene")):
                    waiter = v.wait_for_status(status)
                    [(sent, _)] = await self.feed.send([feedgen.status(a, feedgen.now_utc(), code)])
                    try:
                        latencies.append(await asyncio.wait_for(waiter, 10) - sent)
                    except asyncio.TimeoutError:
                        missing += 1
                    await asyncio.sleep(0.3)
                await v.close()
        finally:
            stop.set()
            await moving
        return {"latency": summarise(latencies, missing), "hydrate": summarise(hydrate)}

    async def browser_hops(self, pool: list[feedgen.Attendance]) -> dict:
        latencies, missing = [], 0
        for a in pool:
            page = await self.browser.new_page(viewport={"width": 360, "height": 780})
            try:
                await page.goto(f"{self.app.base}/track/{self.tokens[a.urn]}")
                await page.wait_for_function(
                    "t => document.querySelector('#status-label')?.textContent === t", arg=LABELS["assigned"],
                    timeout=30000)
                await _watch_label(page)
                for code, status in (("5", "en_route"), ("6", "at_scene")):
                    [(_, sent_wall)] = await self.feed.send([feedgen.status(a, feedgen.now_utc(), code)])
                    seen = await _label_time(page, LABELS[status], 10)
                    if seen is None:
                        missing += 1
                    else:
                        latencies.append(seen / 1000 - sent_wall)
                    await asyncio.sleep(0.3)
            finally:
                await page.close()
        return summarise(latencies, missing)

    # ---- many viewers -------------------------------------------------------------------------------------

    async def many_viewers(self, n: int, pool: list[feedgen.Attendance], previous: list[Viewer]) -> tuple[dict, list]:
        for v in previous:
            await v.close()
        await asyncio.sleep(3)
        backend = self.app.backend_pid()
        workers = self.app.worker_pids()
        rss_before = sum(liveapp.rss_bytes(pid) for pid in workers)

        viewers = [self.viewer(pool[i % len(pool)], f"v{n}-{i}") for i in range(n)]
        by_urn: dict[str, list[Viewer]] = {}
        for i, v in enumerate(viewers):
            by_urn.setdefault(pool[i % len(pool)].urn, []).append(v)
        gate = asyncio.Semaphore(self.args.connect_concurrency)
        hydrate: list[float] = []

        async def _open(v: Viewer) -> None:
            async with gate:
                hydrate.append(await self.open_viewer(v))

        started = time.perf_counter()
        await asyncio.gather(*(_open(v) for v in viewers))
        connect_s = time.perf_counter() - started
        await asyncio.sleep(3)
        rss_after = sum(liveapp.rss_bytes(pid) for pid in workers)

        page = None
        if self.browser is not None:
            page = await self.browser.new_page(viewport={"width": 360, "height": 780})
            await page.goto(f"{self.app.base}/track/{self.tokens[pool[0].urn]}")
            await page.wait_for_function(
                "t => document.querySelector('#status-label')?.textContent === t", arg=LABELS["assigned"],
                timeout=30000)
            await _watch_label(page)

        samples0 = await self.samples(backend)
        cpu0, wall0 = sum(liveapp.cpu_seconds(pid) for pid in workers), time.perf_counter()
        own0 = time.process_time()
        health0 = await self.feed_health()
        stop = asyncio.Event()
        moving = asyncio.create_task(self.positions(pool, self.args.positions_per_second, stop))
        browser_lat: list[float] = []
        try:
            # Paced: one attendance after another.
            sent_at: dict[str, float] = {}
            browser_sent = None
            for a in pool:
                [(sent, wall)] = await self.feed.send([feedgen.status(a, feedgen.now_utc(), "5")])
                sent_at[a.urn] = sent
                if a is pool[0]:
                    browser_sent = wall
                await asyncio.sleep(1.0 / self.args.rate)
            paced = await _collect(by_urn, sent_at, "en_route", timeout=15)
            if page is not None:
                seen = await _label_time(page, LABELS["en_route"], 5)
                if seen is not None:
                    browser_lat.append(seen / 1000 - browser_sent)
            await asyncio.sleep(2)
            # Burst: every attendance at once.
            times = await self.feed.send([feedgen.status(a, feedgen.now_utc(), "6") for a in pool])
            sent_at = {a.urn: t for a, (t, _) in zip(pool, times)}
            burst = await _collect(by_urn, sent_at, "at_scene", timeout=30)
            if page is not None:
                seen = await _label_time(page, LABELS["at_scene"], 5)
                if seen is not None:
                    browser_lat.append(seen / 1000 - times[0][1])
            # More bursts (--bursts): every attendance back to en route, then at scene again, and so on; the
            # figures pool them all, so one slow moment of a shared machine weighs less.
            burst_p95s = [burst["p95"]]
            for k in range(1, self.args.bursts):
                await asyncio.sleep(2)
                code, status = ("5", "en_route") if k % 2 else ("6", "at_scene")
                times = await self.feed.send([feedgen.status(a, feedgen.now_utc(), code) for a in pool])
                sent_at = {a.urn: t for a, (t, _) in zip(pool, times)}
                again = await _collect(by_urn, sent_at, status, timeout=30, after=times[0][0])
                burst_p95s.append(again["p95"])
                burst = {**summarise(burst["_lat"] + again["_lat"], burst["missing"] + again["missing"]),
                         "_lat": burst["_lat"] + again["_lat"]}
        finally:
            stop.set()
            positions_sent = await moving
            if page is not None:
                await page.close()
        elapsed = time.perf_counter() - wall0
        load = os.getloadavg()[0]  # the machine's 1-minute load average as the events end (2 cores here)
        busy = (sum(liveapp.cpu_seconds(pid) for pid in workers) - cpu0) / elapsed
        bench_busy = (time.process_time() - own0) / elapsed
        health1 = await self.feed_health()
        if self.samples_dir is not None:
            samples1 = await self.samples(backend)
            print(profile_report(samples0, samples1, f"{n} viewers"), flush=True)
        frames = sum(v.frames for v in viewers)
        backlog = await self.backlog_probe(pool) if self.args.backlog and n == self.largest else None
        ingest = await self.ingest_probe(pool, self.args.ingest) if self.args.ingest and n == self.largest else None
        result = {
            "viewers": n, "attendances": len(pool), "workers": len(workers), "paced": paced, "burst": burst, "backlog": backlog,
            "ingest": ingest,
            "burst_p95s": burst_p95s,
            "all": summarise(paced["_lat"] + burst["_lat"], paced["missing"] + burst["missing"]),
            "browser_ms": [round(x * 1000) for x in browser_lat],
            "hydrate": summarise(hydrate), "connect_seconds": connect_s,
            "rss_before_mb": rss_before / 2**20, "rss_after_mb": rss_after / 2**20,
            "kb_per_viewer": (rss_after - rss_before) / 1024 / n,
            "backend_cpu_busy": busy, "bench_cpu_busy": bench_busy, "positions_sent": positions_sent,
            "feed_reconnects": (health1.get("reconnects") or 0) - (health0.get("reconnects") or 0),
            "feed_last_error": health1.get("last_error"),
            "load_average": load, "frames_per_viewer": frames / n, "bytes_per_frame": sum(v.bytes for v in viewers) / max(frames, 1),
        }
        for part in ("paced", "burst"):
            result[part] = {k: v for k, v in result[part].items() if k != "_lat"}
        return result, viewers

    async def backlog_probe(self, pool: list[feedgen.Attendance], opening: int = 10) -> dict:
        """Victims opening their page while the app works through a feed backlog (e.g. after an outage):
        --backlog position frames are released at once, then `opening` new viewers open pages one by one."""
        frames = [feedgen.position(pool[i % len(pool)], feedgen.now_utc(), 80) for i in range(self.args.backlog)]
        started = time.perf_counter()
        await self.feed.send(frames)
        await asyncio.sleep(0.5)
        hydrate, failures = [], 0
        for i in range(opening):
            v = self.viewer(pool[i % len(pool)], f"backlog{i}")
            try:
                hydrate.append(await self.open_viewer(v))
            except Exception:  # noqa: BLE001 - a page that did not open is what is being counted
                failures += 1
            finally:
                await v.close()
        health = await self.feed_health()
        return {"positions": self.args.backlog, "hydrate": summarise(hydrate, failures),
                "probe_seconds": time.perf_counter() - started, "feed_last_error": health.get("last_error")}

    async def ingest_probe(self, pool: list[feedgen.Attendance], count: int) -> dict:
        """The app's ingest rate through its own STORM client, with the viewers still watching: `count` position
        fixes (each vehicle every 15 s, up to now, as a feed catching up sends them) released at once, timed from
        the release of the first until the app has stored the last one's seq (its resume point, read from the
        database every 50 ms). Every fix of a vehicle on its way re-estimates a window and may push a view."""
        import sqlalchemy as sa

        from rxapp.plumbing.db import make_engine

        start = feedgen.now_utc() - timedelta(seconds=count / len(pool) * feedgen.FIX_INTERVAL_S)
        frames = feedgen.position_stream(pool, count, start)
        engine = make_engine(self.app.db_url)
        try:
            started = time.perf_counter()
            await self.feed.send(frames)
            last = self.feed.sim._seq_high
            released = time.perf_counter() - started
            seq = 0
            while time.perf_counter() - started < 600:
                with engine.connect() as conn:
                    seq = conn.execute(sa.text("SELECT last_seq FROM feedcursor WHERE feed = 'storm'")).scalar() or 0
                if seq >= last:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
        finally:
            engine.dispose()
        health = await self.feed_health()
        return {"positions": count, "seconds": elapsed, "release_seconds": released, "stored": seq >= last,
                "per_second": count / elapsed, "feed_last_error": health.get("last_error")}

    # ---- run --------------------------------------------------------------------------------------------

    async def run(self) -> dict:
        args = self.args
        counts = [int(x) for x in args.viewers.split(",") if x.strip()]
        self.largest = max(counts)
        hop_pool = feedgen.make_attendances(args.hops if 1 in counts else 0, "H", self.rng, feedgen.utc_now())
        browser_pool = feedgen.make_attendances(args.browser_hops if not args.no_browser and 1 in counts else 0,
                                                "C", self.rng, feedgen.utc_now())
        pools = {n: feedgen.make_attendances(min(n, args.attendances), f"N{n}"[:5], self.rng, feedgen.utc_now())
                 for n in counts if n > 1}
        everything = hop_pool + browser_pool + [a for pool in pools.values() for a in pool]

        print(f"live [{self.label}]: starting the app ({'project folder' if args.in_place else 'copy of the project'}"
              f"{', ' + args.git_ref if args.git_ref else ''})...", flush=True)
        await asyncio.to_thread(self.app.start)
        pids = self.app.worker_pids()
        print(f"  app up in {self.app.startup_seconds:.1f} s at {self.app.base}; backend worker(s) {pids}"
              f" RSS {sum(liveapp.rss_bytes(pid) for pid in pids) / 2**20:.0f} MB", flush=True)
        self.compiled = Compiled(self.app.web_dir, importlib.metadata.version("reflex"))
        self.http = httpx.AsyncClient(timeout=30)
        await self.seed(everything)
        print(f"  {len(everything)} attendances opened and assigned through the feed", flush=True)
        if not args.no_browser:
            await self.start_browser()
        viewers: list[Viewer] = []
        try:
            for n in counts:
                if n == 1:
                    one = await self.single_viewer(hop_pool)
                    entry = {"viewers": 1, "all": one["latency"], "hydrate": one["hydrate"]}
                    print(f"  1 viewer     (websocket, {len(hop_pool)} hops): {fmt(one['latency'])}", flush=True)
                    if browser_pool:
                        chromium = await self.browser_hops(browser_pool)
                        entry["chromium"] = chromium
                        print(f"  1 viewer     (Chromium, {len(browser_pool)} hops):  {fmt(chromium)}", flush=True)
                else:
                    entry, viewers = await self.many_viewers(n, pools[n], viewers)
                    print(f"  {n:3d} viewers on {entry['attendances']} attendances: connected in "
                          f"{entry['connect_seconds']:.1f} s (hydrate p95 {entry['hydrate']['p95'] * 1000:.0f} ms)",
                          flush=True)
                    print(f"      paced ({args.rate:g}/s): {fmt(entry['paced'])}", flush=True)
                    print(f"      burst ({len(pools[n])} at once"
                          f"{f', {args.bursts} bursts pooled' if args.bursts > 1 else ''}): {fmt(entry['burst'])}",
                          flush=True)
                    if args.bursts > 1:
                        print("      each burst's p95: " + ", ".join(f"{x * 1000:.0f} ms" for x in entry["burst_p95s"]),
                              flush=True)
                    if entry["browser_ms"]:
                        print(f"      Chromium page among them: {entry['browser_ms']} ms", flush=True)
                    print(f"      memory: RSS {entry['rss_before_mb']:.0f} -> {entry['rss_after_mb']:.0f} MB, "
                          f"{entry['kb_per_viewer']:.0f} KB per viewer; backend CPU busy "
                          f"{entry['backend_cpu_busy'] * 100:.0f}% (this process {entry['bench_cpu_busy'] * 100:.0f}%) "
                          f"during the events; {entry['bytes_per_frame']:.0f} B per frame; machine load average "
                          f"{entry['load_average']:.1f}", flush=True)
                    if entry.get("ingest"):
                        g = entry["ingest"]
                        print(f"      ingest: {g['positions']:,} positions released at once, stored in {g['seconds']:.1f} s "
                              f"= {g['per_second']:,.0f} a second{'' if g['stored'] else ' (NOT all stored)'} "
                              f"(the release itself took {g['release_seconds']:.1f} s)", flush=True)
                    if entry.get("backlog"):
                        b = entry["backlog"]
                        print(f"      pages opened during a backlog of {b['positions']} positions: hydrate "
                              f"{fmt(b['hydrate'])}", flush=True)
                    if entry["feed_reconnects"]:
                        print(f"      the app's STORM client reconnected {entry['feed_reconnects']} time(s) during the "
                              f"events (last error: {entry['feed_last_error']})", flush=True)
                self.results["viewers"][n] = entry
        finally:
            for v in viewers:
                await v.close()
            if not args.no_browser:
                await self.stop_browser()
            await self.http.aclose()
        self.results["backend_rss_end_mb"] = sum(liveapp.rss_bytes(pid) for pid in self.app.worker_pids()) / 2**20
        self.results["app_log_warnings"] = _count_warnings(self.app.log_path)
        return self.results

    def close(self) -> None:
        try:
            self.app.stop()
        finally:
            self.feed.close()


async def _collect(by_urn: dict[str, list[Viewer]], sent_at: dict[str, float], status: str, timeout: float,
                   after: float = 0.0) -> dict:
    """Wait until every viewer of every attendance shows `status` (or `timeout` passes); latencies in seconds, of
    the first arrival of `status` at or `after` that time (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if all(v.status == status or v.closed.is_set() for urn in sent_at for v in by_urn[urn]):
            break
        await asyncio.sleep(0.05)
    latencies, missing = [], 0
    for urn, sent in sent_at.items():
        for v in by_urn[urn]:
            arrived = v.arrival_of(status, after)
            if arrived is None:
                missing += 1
            else:
                latencies.append(arrived - sent)
    return {**summarise(latencies, missing), "_lat": latencies}


async def _watch_label(page) -> None:
    """Record (Date.now(), text) each time the status heading changes, from inside the page."""
    await page.evaluate("""() => {
        window.__changes = [];
        const el = document.querySelector('#status-label');
        new MutationObserver(() => window.__changes.push([Date.now(), el.textContent]))
            .observe(el, {childList: true, characterData: true, subtree: true});
    }""")


async def _label_time(page, text: str, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hit = await page.evaluate("t => (window.__changes || []).find(c => c[1] === t)?.[0] ?? null", text)
        if hit is not None:
            return hit
        await asyncio.sleep(0.05)
    return None


def _count_warnings(path: Path) -> dict:
    counts: dict[str, int] = {}
    try:
        for line in path.read_text(errors="replace").splitlines():
            if "Warning:" in line or " WARNING " in line or " ERROR " in line:
                key = line.split("Warning:", 1)[-1].strip()[:70] if "Warning:" in line else line[24:100]
                counts[key] = counts.get(key, 0) + 1
    except OSError:
        pass
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:5])


_IDLE_LEAVES = ("selectors.py:select", "threading.py:wait", "queue.py:get", "thread.py:_worker",
                "threading.py:_wait_for_tstate_lock")


def profile_report(before: dict, after: dict, label: str, top: int = 25) -> str:
    """Where the app's event loop thread and its worker threads spent the sampled time between two dumps."""
    delta = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}
    if not delta:
        return "      (no samples)"
    lines = [f"      ---- app stack samples during the {label} events ----"]
    for group, pick in (("event loop thread", lambda t: t == "MainThread"),
                        ("worker threads", lambda t: t != "MainThread")):
        total = busy = 0
        inclusive: dict[str, int] = {}
        leaf: dict[str, int] = {}
        for key, count in delta.items():
            thread, _, stack = key.partition("|")
            if not pick(thread):
                continue
            frames = stack.split(";")
            total += count
            if any(frames[-1].endswith(idle) for idle in _IDLE_LEAVES) or \
                    (len(frames) > 1 and frames[-2].endswith("selectors.py:select")):
                continue
            busy += count
            for name in set(frames):
                inclusive[name] = inclusive.get(name, 0) + count
            leaf[frames[-1]] = leaf.get(frames[-1], 0) + count
        if not total:
            continue
        lines.append(f"      {group}: busy in {busy / total * 100:.0f}% of {total} samples; "
                     f"share of busy samples inside:")
        interesting = [(name, c) for name, c in inclusive.items()
                       if name.startswith(("rxapp/", "reflex/", "reflex_base/", "socketio/", "engineio/",
                                           "sqlalchemy/orm/session.py", "pickle", "reflex_components"))
                       and "sitecustomize" not in name]
        for name, count in sorted(interesting, key=lambda kv: -kv[1])[:top]:
            lines.append(f"        {count / max(busy, 1) * 100:5.1f}%  {name}")
        lines.append("      hottest leaves: " + ", ".join(
            f"{name} {count / max(busy, 1) * 100:.0f}%" for name, count in sorted(leaf.items(), key=lambda kv: -kv[1])[:8]))
    return "\n".join(lines)


def verdict(results: dict) -> list[str]:
    lines = []
    biggest = max(results["viewers"]) if results["viewers"] else None
    if biggest and biggest > 1:
        entry = results["viewers"][biggest]
        p95 = entry["paced"]["p95"]
        lines.append(f"p95 at {biggest} viewers (paced): {p95 * 1000:.0f} ms -> "
                     f"{'meets' if p95 <= P95_TARGET_S else 'MISSES'} the {P95_TARGET_S * 1000:.0f} ms target"
                     f"; burst p95 {entry['burst']['p95'] * 1000:.0f} ms")
        kb = entry["kb_per_viewer"]
        lines.append(f"memory at {biggest} viewers: {kb:.0f} KB per viewer -> "
                     f"{'meets' if kb <= KB_PER_VIEWER_TARGET else 'MISSES'} the {KB_PER_VIEWER_TARGET} KB target")
    return lines


def _fresh_postgres(url: str) -> None:
    """Drop and recreate the benchmark's own PostgreSQL database."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(database="postgres").render_as_string(hide_password=False).replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')


def _fresh_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def run_setup(args, label: str, **app_options) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="vj-bench-live-", dir=_TMP))
    bench = Bench(args, data_dir=data_dir, label=label, **app_options)
    try:
        results = asyncio.run(bench.run())
    except BaseException:
        print(bench.app.log_tail(3000), file=sys.stderr)
        raise
    finally:
        bench.close()
    for line in verdict(results):
        print("  " + line)
    if results.get("app_log_warnings"):
        print(f"  most frequent app log warnings: {results['app_log_warnings']}")
    return results


def outbox_figures(args, label: str, database_url: str | None, senders: int) -> list[dict]:
    """The outbox's rate on this set-up's database engine, in the same run: `senders` sender processes against
    one sender on a fresh outbox of --outbox messages (bench/outbox.py), once per --notify-latency. One process on
    SQLite runs one sender (its runner holds the only lock), so that set-up has one sender's rate only."""
    if not args.outbox:
        return []
    from bench import outbox

    figures = []
    for latency in args.notify_latency:
        if senders > 1:
            runs = outbox.compare_senders(database_url, args.outbox, senders, latency)
        else:
            runs = [outbox.shared(outbox._fresh_db(None), args.outbox, 1, latency)]
        for run in runs:
            print(f"  outbox [{label}]: " + outbox.describe(run), flush=True)
        figures.append({"latency": latency, "runs": runs,
                        "ratio": runs[-1]["per_second"] / runs[0]["per_second"] if len(runs) > 1 else None})
    return figures


def _outbox_database(url: str) -> str:
    base, name = url.rsplit("/", 1)
    return f"{base}/{name}_outbox"


def throughput_table(all_results: dict) -> list[str]:
    """The same run's ingest rate (at the largest viewer count, viewers watching) and outbox rates."""
    lines = ["| set-up | ingest, positions a second (viewers watching) | outbox, Notify latency | one sender | "
             "two senders | ratio | sender CPU a message (one / two) | duplicates |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label, results in all_results.items():
        viewers = results.get("viewers") or {}
        largest = max(viewers) if viewers else 0
        g = (viewers.get(largest) or {}).get("ingest") if largest else None
        rate = f"{g['per_second']:,.0f} ({g['positions']:,} at {largest:,} viewers)" if g else "–"
        figures = results.get("outbox") or []
        if not figures:
            lines.append(f"| {label} | {rate} | – | – | – | – | – | – |")
        for figure in figures:
            runs = figure["runs"]
            one, two = runs[0], (runs[1] if len(runs) > 1 else None)
            two_rate = f"{two['per_second']:,.0f}/s" if two else "– (one runs)"
            ratio = f"{figure['ratio']:.2f}x" if two else "–"
            cpu = f"{one['sender_cpu_ms_per_message']} / {two['sender_cpu_ms_per_message'] if two else '–'} ms"
            lines.append(f"| {label} | {rate} | {figure['latency']:g} s | {one['per_second']:,.0f}/s | {two_rate} | "
                         f"{ratio} | {cpu} | {sum(r['duplicates'] for r in runs)} |")
    return lines


def side_by_side(all_results: dict) -> list[str]:
    """One table: each set-up's paced and burst p50/p95 and memory per viewer, by viewer count."""
    lines = ["| set-up | viewers | paced p50 / p95 | burst p50 / p95 | memory per viewer | missing | load average |",
             "| --- | --- | --- | --- | --- | --- | --- |"]

    def ms(x):
        return "–" if x != x else f"{x * 1000:,.0f} ms"

    for label, results in all_results.items():
        for n, e in sorted(results.get("viewers", {}).items()):
            if n == 1:
                continue
            load = f"{e['load_average']:.1f}" if "load_average" in e else "–"
            lines.append(f"| {label} | {n:,} | {ms(e['paced']['p50'])} / {ms(e['paced']['p95'])} | "
                         f"{ms(e['burst']['p50'])} / {ms(e['burst']['p95'])} | {e['kb_per_viewer']:.0f} KB | "
                         f"{e['paced']['missing'] + e['burst']['missing']} | {load} |")
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", default="1,100,500", help="comma-separated viewer counts")
    parser.add_argument("--setups", default="sqlite",
                        help="comma-separated: sqlite (one process, SQLite), scale (--workers backend workers on "
                             "PostgreSQL with Redis), baseline (bare websockets, same viewer counts)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/d_bench_live",
                        help="the scale set-up's database (**dropped and recreated**)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/1", help="the scale set-up's Redis (flushed)")
    parser.add_argument("--workers", type=int, default=2, help="backend workers of the scale set-up")
    parser.add_argument("--attendances", type=int, default=50, help="attendances the viewers spread over")
    parser.add_argument("--hops", type=int, default=20, help="attendances the single websocket viewer visits")
    parser.add_argument("--browser-hops", type=int, default=5, help="attendances the single Chromium page visits")
    parser.add_argument("--rate", type=float, default=5.0, help="paced status events per second")
    parser.add_argument("--bursts", type=int, default=1,
                        help="bursts per viewer count (each attendance to en route and back to at scene in turn); "
                             "the burst figures pool them all")
    parser.add_argument("--positions-per-second", type=float, default=10.0, help="background vehicle fixes")
    parser.add_argument("--backlog", type=int, default=3000,
                        help="at the largest viewer count, release this many positions at once and time page "
                             "opens meanwhile (0: skip)")
    parser.add_argument("--ingest", type=int, default=0,
                        help="at the largest viewer count, release this many positions at once and time until the "
                             "app has stored them all (0: skip)")
    parser.add_argument("--outbox", type=int, default=0,
                        help="after each set-up, the outbox's rate on its database engine with this many messages "
                             "(bench/outbox.py: one sender, and two on PostgreSQL; 0: skip)")
    parser.add_argument("--notify-latency", type=float, nargs="+", default=[0.0, 0.1], metavar="SECONDS",
                        help="with --outbox: the local Notify's answer time, one measurement per value")
    parser.add_argument("--connect-concurrency", type=int, default=20)
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium pages")
    parser.add_argument("--in-place", action="store_true", help="run the app from the project folder itself")
    parser.add_argument("--git-ref", default=None, help="run a committed version (e.g. HEAD) instead of the "
                                                          "working tree")
    parser.add_argument("--compare-ref", default=None, metavar="REF",
                        help="also run the sqlite and scale set-ups from this committed version (e.g. the commit "
                             "before a change), in the same run, for a side-by-side 'before' row")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the app, e.g. REFLEX_STATE_MANAGER_MODE=memory (repeatable)")
    parser.add_argument("--sample-app", action="store_true",
                        help="sample the app's stacks (bench/appsampler) and print where its time goes")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (app log, database)")
    args = parser.parse_args(argv)
    if args.ingest < 0 or args.outbox < 0:
        parser.error("--ingest and --outbox take a number of events or messages, 0 or more")
    if any(not 0 <= value <= 10 for value in args.notify_latency):
        parser.error("--notify-latency must be between 0 and 10 seconds")
    setups = [x.strip() for x in args.setups.split(",") if x.strip()]
    all_results: dict = {}
    try:
        if "sqlite" in setups:
            label = "one process, SQLite"
            all_results[label] = run_setup(args, label)
            all_results[label]["outbox"] = outbox_figures(args, label, None, 1)
        if "scale" in setups:
            _fresh_postgres(args.postgres)
            _fresh_redis(args.redis)
            label = f"{args.workers} workers, PostgreSQL + Redis"
            all_results[label] = run_setup(args, label, database_url=args.postgres, redis_url=args.redis,
                                           workers=args.workers)
            all_results[label]["outbox"] = outbox_figures(args, label, _outbox_database(args.postgres), 2)
        if args.compare_ref:  # the same set-ups from an earlier commit, for a 'before' row beside each
            before = argparse.Namespace(**{**vars(args), "git_ref": args.compare_ref, "in_place": False})
            if "sqlite" in setups:
                label = f"one process, SQLite (before: {args.compare_ref})"
                all_results[label] = run_setup(before, label)
            if "scale" in setups:
                _fresh_postgres(args.postgres)
                _fresh_redis(args.redis)
                label = f"{args.workers} workers, PostgreSQL + Redis (before: {args.compare_ref})"
                all_results[label] = run_setup(before, label, database_url=args.postgres, redis_url=args.redis,
                                               workers=args.workers)
        if "baseline" in setups:
            import baseline

            counts = [int(x) for x in args.viewers.split(",") if x.strip() and int(x) > 1]
            print("live [bare websockets baseline, clients in this process]:", flush=True)
            base = {"viewers": {}}
            for n in counts:
                r = asyncio.run(baseline.run(n, args.attendances, args.rate))
                base["viewers"][n] = r
                print(f"  {n:5d} clients: paced {fmt(r['paced'])}\n               burst {fmt(r['burst'])}"
                      f"\n               {r['kb_per_viewer']:.0f} KB per connection (both ends)", flush=True)
            all_results["bare websockets"] = base
    finally:
        if args.keep:
            print(f"  kept {_TMP}")
        else:
            shutil.rmtree(_TMP, ignore_errors=True)
    print("\n".join(side_by_side(all_results)))
    if any(r.get("outbox") or any((e or {}).get("ingest") for e in r.get("viewers", {}).values())
           for r in all_results.values()):
        print("\n".join(throughput_table(all_results)))
    if args.json:  # one set-up: its figures as before (bench/run_all.py reads them); several: by set-up
        shape = next(iter(all_results.values())) if len(all_results) == 1 else all_results
        args.json.write_text(json.dumps(shape, indent=2, default=str))
    return all_results


if __name__ == "__main__":
    main()
