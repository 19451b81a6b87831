"""The bare-websockets baseline for bench/live.py: what the `websockets` library alone does with the same fan-out.

A `websockets` server and N clients in this process (as the issue measured it), the clients spread over
`attendances` groups as live.py's viewers are; a message the size of a victim's view (about 2.2 KB of JSON) goes
to a group with one `websockets.broadcast`. Paced: one group after another at `rate` a second; burst: every group
at once. Latency is from just before the broadcast to the client's receipt; memory is this process's RSS growth
per connection (server and client sides together, so an upper bound for the server side).

    python bench/baseline.py [--viewers 500,3000] [--attendances 50] [--rate 5]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import broadcast, serve

VIEW = {"status_label": "Officer on the way", "explain": ["An officer is on the way to you."] * 3,
        "steps": [{"day": "Tue", "time": "10:05", "text": "Officer assigned", "today": "1"}] * 6,
        "advice": ["Keep the door locked until the officer arrives."] * 4, "labels": {f"k{i}": "x" * 40 for i in range(20)}}


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(1, min(len(ordered), int(-(-pct * len(ordered) // 100)))) - 1]


def _stats(latencies: list[float], expected: int) -> dict:
    return {"n": len(latencies), "missing": expected - len(latencies), "p50": _pct(latencies, 50),
            "p95": _pct(latencies, 95), "max": max(latencies) if latencies else float("nan")}


async def run(viewers: int, attendances: int, rate: float) -> dict:
    groups: dict[int, list] = {}
    arrivals: dict[tuple[int, str], list[float]] = {}

    async def handler(ws):
        group = int(ws.request.path.rsplit("/", 1)[-1])
        groups.setdefault(group, []).append(ws)
        await ws.wait_closed()

    async def client(group: int, ready: asyncio.Event, done: asyncio.Event):
        async with connect(f"ws://127.0.0.1:{port}/g/{group}", ping_interval=None, max_size=None) as ws:
            ready.set()
            async for message in ws:
                arrived = time.perf_counter()
                head = json.loads(message[:message.index("|")])
                arrivals.setdefault((group, head["phase"]), []).append(arrived - head["sent"])

    rss0 = _rss()
    async with serve(handler, "127.0.0.1", 0, ping_interval=None, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        done = asyncio.Event()
        tasks = []
        for i in range(viewers):
            ready = asyncio.Event()
            tasks.append(asyncio.create_task(client(i % attendances, ready, done)))
            await ready.wait()
        await asyncio.sleep(1)
        rss1 = _rss()
        body = json.dumps(VIEW)

        def send(group: int, phase: str) -> None:
            broadcast(groups[group], json.dumps({"phase": phase, "sent": time.perf_counter()}) + "|" + body)

        for group in range(attendances):  # paced
            send(group, "paced")
            await asyncio.sleep(1.0 / rate)
        await asyncio.sleep(2)
        for group in range(attendances):  # burst: every group at once
            send(group, "burst")
        await asyncio.sleep(5)
        for ws in [w for g in groups.values() for w in g]:
            await ws.close()
        await asyncio.gather(*tasks, return_exceptions=True)
    out = {"viewers": viewers, "attendances": attendances, "bytes_per_message": len(body),
           "kb_per_viewer": (rss1 - rss0) / 1024 / viewers}
    for phase in ("paced", "burst"):
        lat = [x for (g, p), xs in arrivals.items() if p == phase for x in xs]
        out[phase] = _stats(lat, viewers)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", default="500,3000")
    parser.add_argument("--attendances", type=int, default=50)
    parser.add_argument("--rate", type=float, default=5.0)
    args = parser.parse_args(argv)
    results = {}
    for n in [int(x) for x in args.viewers.split(",")]:
        r = asyncio.run(run(n, args.attendances, args.rate))
        results[n] = r
        print(f"  bare websockets {websockets.version.version}, {n} clients: paced p50 {r['paced']['p50'] * 1000:.0f} ms"
              f" p95 {r['paced']['p95'] * 1000:.0f} ms; burst p50 {r['burst']['p50'] * 1000:.0f} ms p95 "
              f"{r['burst']['p95'] * 1000:.0f} ms ({r['burst']['missing']} missing); {r['kb_per_viewer']:.0f} KB per "
              f"connection (both ends)", flush=True)
    return results


if __name__ == "__main__":
    main()
