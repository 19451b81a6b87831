"""First visit to a victim's page: every byte it costs and how long until its status shows, on a slow phone.

The product runs as in production (`reflex run --env prod --single-port`, temporary SQLite, the app from a
throw-away copy of the project: bench/liveapp.py), fed by a StormSimulator with one attendance whose officer is
on the way (opened, assigned, en route, a few fixes). Chromium (Debian's, through Playwright) opens its
`/track/<link>` with an empty cache, under Chrome DevTools' "Slow 3G" as the issue defines it (400 kbit/s down
and up, 400 ms round trip: CDP Network.emulateNetworkConditions) and a CPU four times slower
(Emulation.setCPUThrottlingRate 4). The browser fetches the page and its files through a counting TCP proxy
(headers and compressed bodies, both ways); Reflex's websocket keeps the backend's own port over plain http, so
its messages are counted by Chromium instead (their payloads as the page reads them).

Printed per run, and the median of --runs:
  - bytes by resource type as Chromium received them (encodedDataLength: compressed body plus headers), and the
    websocket's message payloads;
  - the proxy's totals (server to browser, browser to server) until the live page showed and a second after;
  - the verdict's total: everything both ways (the proxy's two totals and the websocket's messages both ways);
  - time to status visible: from navigation start to the first frame after an element `--status-selector`
    (default: the heading of the server-rendered snapshot, `#snapshot-status`, or of the live page,
    `#status-label`) holds `--status-text` (default "on the way", case-insensitive) and is displayed;
    whether it arrived with the HTML (a server-rendered snapshot) or only after the websocket; when the live
    page showed it (`--live-selector`, its state from the websocket: the visit is weighed a second after that);
    first contentful paint; the load event.
Targets (issue 10): at most 300 KB compressed, status visible in under 5 s.

    python bench/page_weight.py [--runs 3] [--in-place | --git-ref REF] [--no-throttle] [--path /login]
                                [--json out.json] [--keep]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SECRET = "bench-weight-secret-0123456789abcdef0123456789abcdef"
FEED_TOKEN = "bench-weight-feed-token"
_TMP = Path(tempfile.mkdtemp(prefix="vj-bench-weight-"))
os.environ["SECRET_KEY"] = SECRET
os.environ["VJ_DATA_DIR"] = str(_TMP)
os.environ["DATABASE_URL"] = f"sqlite:///{_TMP / 'app.db'}"

import feedgen  # noqa: E402
import liveapp  # noqa: E402

KB_TARGET = 300
SECONDS_TARGET = 5.0
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
CPU_SLOWDOWN = 4

# Runs in the page before any of its own scripts: records when the status is first displayed (a frame later,
# so it has been painted), whether the HTML already held it, and the first contentful paint.
WATCH_STATUS = """
(() => {
  const cfg = %s;
  const seen = {status: null, statusInHtml: null, live: null, fcp: null, load: null};
  window.__vjWeight = seen;
  const shows = (selector) => [...document.querySelectorAll(selector)].some(
    el => el.textContent.toLowerCase().includes(cfg.text) && el.getClientRects().length);
  const painted = (key) => requestAnimationFrame(() => setTimeout(() => { seen[key] = performance.now(); }, 0));
  const check = () => {
    if (!seen.statusDom && shows(cfg.selector)) {
      seen.statusDom = performance.now();
      seen.statusInHtml = document.readyState === 'loading';
      painted('status');
    }
    if (!seen.liveDom && shows(cfg.live)) {
      seen.liveDom = performance.now();
      painted('live');
    }
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
  document.addEventListener('DOMContentLoaded', check);
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) if (e.name === 'first-contentful-paint') seen.fcp = e.startTime;
  }).observe({type: 'paint', buffered: true});
  addEventListener('load', () => { seen.load = performance.now(); check(); });
})();
"""


class CountingProxy:
    """A TCP proxy that counts what passes each way (the browser's connections to the app)."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.down = 0  # server to browser
        self.up = 0
        self.connections = 0
        self.port = liveapp.free_port()
        self.server = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, liveapp.HOST, self.port)

    async def _handle(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(liveapp.HOST, self.target_port)
        except OSError:
            writer.close()
            return
        self.connections += 1

        async def pipe(src, dst, downstream: bool) -> None:
            try:
                while data := await src.read(65536):
                    if downstream:
                        self.down += len(data)
                    else:
                        self.up += len(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))

    def reset(self) -> None:
        self.down = self.up = self.connections = 0

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


async def seed(app: liveapp.LiveApp, feed: liveapp.Feed) -> str:
    """One attendance with its officer on the way and a few fixes; returns the victim's link token."""
    from rxapp.plumbing.links import derive_token

    a = feedgen.make_attendances(1, "W", random.Random(7), feedgen.utc_now())[0]
    a.urn = f"BEN-{feedgen.utc_now():%Y%m%d}-{random.randrange(10**5, 10**6)}"  # the contract's shape
    start = feedgen.utc_now() - timedelta(minutes=3)
    events = feedgen.seed_events([a], start, en_route=True)
    events += [feedgen.position(a, start + timedelta(seconds=20 + 15 * i), 12) for i in range(6)]
    await feed.send(events)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sqlite3.connect(app.db_url.split("///", 1)[1], timeout=30) as con:
            row = con.execute("SELECT link_nonce, status FROM incident WHERE urn = ?", (a.urn,)).fetchone()
        if row is not None and row[1] == "en_route":
            await asyncio.sleep(1.0)  # the fixes after the status, and the window they give
            return derive_token(row[0], SECRET)
        await asyncio.sleep(0.3)
    raise RuntimeError("the seeded attendance never reached the app:\n" + app.log_tail())


async def one_visit(browser, url: str, proxy: CountingProxy, args) -> dict:
    context = await browser.new_context(viewport={"width": 360, "height": 780}, is_mobile=True, has_touch=True,
                                        device_scale_factor=2, service_workers="block")
    page = await context.new_page()
    await page.add_init_script(WATCH_STATUS % json.dumps({"selector": args.status_selector, "live": args.live_selector,
                                                          "text": args.status_text.lower()}))
    cdp = await context.new_cdp_session(page)
    requests: dict[str, dict] = {}
    sockets = {"frames_in": 0, "bytes_in": 0, "frames_out": 0, "bytes_out": 0, "extensions": ""}

    def will_send(e):
        requests[e["requestId"]] = {"type": e.get("type", "Other"), "url": e["request"]["url"], "bytes": 0,
                                    "encoding": ""}

    def response(e):
        r = requests.setdefault(e["requestId"], {"type": e.get("type", "Other"), "url": e["response"]["url"],
                                                 "bytes": 0, "encoding": ""})
        headers = {k.lower(): v for k, v in (e["response"].get("headers") or {}).items()}
        r["encoding"] = headers.get("content-encoding", "")
        r["type"] = e.get("type", r["type"])

    def finished(e):
        if e["requestId"] in requests:
            requests[e["requestId"]]["bytes"] = e["encodedDataLength"]

    def frame(e, direction):
        payload = e["response"].get("payloadData", "")
        sockets[f"frames_{direction}"] += 1
        sockets[f"bytes_{direction}"] += len(payload.encode()) if e["response"].get("opcode") == 1 \
            else len(payload) * 3 // 4

    cdp.on("Network.requestWillBeSent", will_send)
    cdp.on("Network.responseReceived", response)
    cdp.on("Network.loadingFinished", finished)
    def handshake(e):
        headers = {k.lower(): v for k, v in (e["response"].get("headers") or {}).items()}
        sockets["extensions"] = headers.get("sec-websocket-extensions", "") or "none"

    cdp.on("Network.webSocketHandshakeResponseReceived", handshake)
    cdp.on("Network.webSocketFrameReceived", lambda e: frame(e, "in"))
    cdp.on("Network.webSocketFrameSent", lambda e: frame(e, "out"))
    await cdp.send("Network.enable")
    await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    if not args.no_throttle:
        await cdp.send("Network.emulateNetworkConditions", SLOW_3G)
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    proxy.reset()
    await page.goto(url, wait_until="commit", timeout=120_000)
    # Polled from here: the page's policy forbids eval, which Playwright's wait_for_function needs.
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        # Both: the status first shown (perhaps by the snapshot), and the live page up with its state.
        if await page.evaluate("() => window.__vjWeight && window.__vjWeight.status !== null "
                               "&& window.__vjWeight.live !== null"):
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(1.0)  # what follows straight after (the websocket's first pushes)
    seen = await page.evaluate("window.__vjWeight")
    wire = {"down": proxy.down, "up": proxy.up, "connections": proxy.connections}
    await context.close()
    by_type: dict[str, int] = {}
    for r in requests.values():
        by_type[r["type"]] = by_type.get(r["type"], 0) + r["bytes"]
    return {"status_s": None if seen["status"] is None else seen["status"] / 1000,
            "live_s": None if seen["live"] is None else seen["live"] / 1000,
            "status_in_html": seen["statusInHtml"], "fcp_s": (seen["fcp"] or 0) / 1000 or None,
            "load_s": (seen["load"] or 0) / 1000 or None, "by_type": by_type, "websocket": sockets, "wire": wire,
            "requests": sorted(({"url": r["url"].split("?")[0].replace(proxy_base(proxy), ""), "type": r["type"],
                                 "bytes": r["bytes"], "encoding": r["encoding"]} for r in requests.values()),
                               key=lambda r: -r["bytes"])}


def proxy_base(proxy: CountingProxy) -> str:
    return f"http://{liveapp.HOST}:{proxy.port}"


def kb(n: float) -> str:
    return f"{n / 1000:.1f} KB"


def everything(run: dict) -> int:
    ws = run["websocket"]
    return run["wire"]["down"] + run["wire"]["up"] + ws["bytes_in"] + ws["bytes_out"]


def describe(run: dict) -> str:
    types = ", ".join(f"{t} {kb(b)}" for t, b in sorted(run["by_type"].items(), key=lambda kv: -kv[1]) if b)
    ws = run["websocket"]
    status = "never" if run["status_s"] is None else f"{run['status_s']:.2f} s" + (
        " (in the HTML)" if run["status_in_html"] else " (after the websocket)")
    live = "never" if run["live_s"] is None else f"{run['live_s']:.2f} s"
    return (f"status visible {status}; live page {live}; first paint {run['fcp_s'] or 0:.2f} s; "
            f"load {run['load_s'] or 0:.2f} s\n"
            f"    by type (as received, compressed): {types}; total {kb(sum(run['by_type'].values()))}\n"
            f"    websocket messages: {ws['frames_in']} in ({kb(ws['bytes_in'])}), {ws['frames_out']} out "
            f"({kb(ws['bytes_out'])}); compression: {ws['extensions'] or 'unknown'}\n"
            f"    HTTP on the wire: {kb(run['wire']['down'])} to the browser, {kb(run['wire']['up'])} from it, "
            f"{run['wire']['connections']} connections; everything both ways {kb(everything(run))}")


async def run(args) -> dict:
    from playwright.async_api import async_playwright

    feed = liveapp.Feed(FEED_TOKEN)
    app = liveapp.LiveApp(_TMP, SECRET, feed, FEED_TOKEN, in_place=args.in_place, git_ref=args.git_ref)
    proxy = CountingProxy(app.port)
    # The browser comes through the proxy: that is the product's public address (allowed origin and host).
    app.env["PUBLIC_BASE_URL"] = proxy_base(proxy)
    results: dict = {"runs": []}
    try:
        await proxy.start()
        began = time.time()
        await asyncio.to_thread(app.start)
        print(f"  app started in {time.time() - began:.0f} s", flush=True)
        token = await seed(app, feed)
        path = args.path or f"/track/{token}"
        url = proxy_base(proxy) + path
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            await one_visit(browser, url, proxy, argparse.Namespace(**{**vars(args), "no_throttle": True}))  # warm
            for i in range(args.runs):
                visit = await one_visit(browser, url, proxy, args)
                results["runs"].append(visit)
                print(f"  run {i + 1}: {describe(visit)}", flush=True)
            await browser.close()
    except BaseException:
        print(app.log_tail(3000), file=sys.stderr)
        raise
    finally:
        app.stop()
        feed.close()
        await proxy.stop()
    runs = results["runs"]
    times = [r["status_s"] for r in runs if r["status_s"] is not None]
    results["median_status_s"] = statistics.median(times) if len(times) == len(runs) else None
    lives = [r["live_s"] for r in runs if r["live_s"] is not None]
    results["median_live_s"] = statistics.median(lives) if len(lives) == len(runs) else None
    results["median_received_bytes"] = statistics.median(sum(r["by_type"].values()) for r in runs)
    results["median_wire_down_bytes"] = statistics.median(r["wire"]["down"] for r in runs)
    results["median_everything_bytes"] = statistics.median(everything(r) for r in runs)
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="first visits, each with an empty cache")
    parser.add_argument("--path", default=None, help="another page to weigh instead (e.g. /login)")
    parser.add_argument("--status-selector", default="#snapshot-status, #status-label",
                        help="where the status shows: the server-rendered snapshot's heading, the live page's")
    parser.add_argument("--live-selector", default="#status-label",
                        help="the live page's status: the visit is weighed once it shows (and a second more)")
    parser.add_argument("--status-text", default="on the way")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the status")
    parser.add_argument("--no-throttle", action="store_true", help="no network or CPU throttling")
    parser.add_argument("--in-place", action="store_true", help="run the app from the project folder itself")
    parser.add_argument("--git-ref", default=None, help="run a committed version (e.g. the one before a change)")
    parser.add_argument("--top", type=int, default=8, help="largest requests listed")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (app log, database)")
    args = parser.parse_args(argv)
    try:
        results = asyncio.run(run(args))
    finally:
        if args.keep:
            print(f"  kept {_TMP}")
        else:
            shutil.rmtree(_TMP, ignore_errors=True)
    last = results["runs"][-1]
    print("  largest requests (last run): " + "; ".join(
        f"{r['url'] or '/'} {r['type']} {kb(r['bytes'])}{' ' + r['encoding'] if r['encoding'] else ''}"
        for r in last["requests"][:args.top]))
    status = results["median_status_s"]
    total = results["median_everything_bytes"]
    print(f"  median of {len(results['runs'])}: HTTP received {kb(results['median_received_bytes'])}; everything both "
          f"ways {kb(total)} ({'met' if total <= KB_TARGET * 1000 else 'NOT met'}: at most {KB_TARGET} KB); "
          "status visible "
          + ("never" if status is None else f"{status:.2f} s")
          + f" ({'met' if status is not None and status < SECONDS_TARGET else 'NOT met'}: under "
            f"{SECONDS_TARGET:.0f} s); live page " + ("never" if results["median_live_s"] is None
                                                      else f"{results['median_live_s']:.2f} s"))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return results


if __name__ == "__main__":
    main()
