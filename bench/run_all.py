"""Runs both benchmarks with their defaults and prints one summary. Each runs in its own process.

    python bench/run_all.py [--postgres postgresql://postgres@127.0.0.1:5432/vj_bench] [--quick]
                            [--git-ref HEAD] [--no-browser]

  --postgres  also run the ingest benchmark on PostgreSQL (that database is dropped and recreated)
  --quick     fewer events and viewers (a smoke run of the benchmarks themselves, not figures to quote)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def _run(script: str, args: list[str], out: Path) -> dict | None:
    cmd = [sys.executable, str(BENCH / script), *args, "--json", str(out)]
    print("$ " + " ".join(cmd[1:]), flush=True)
    started = time.time()
    proc = subprocess.run(cmd, cwd=ROOT)
    print(f"  ({script} took {time.time() - started:.0f} s, exit {proc.returncode})\n", flush=True)
    if proc.returncode != 0 or not out.exists():
        return None
    return json.loads(out.read_text())


def _machine() -> str:
    cpus = os.cpu_count()
    try:
        mem_kb = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")).split()[1])
        mem = f"{mem_kb / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        mem = "?"
    model = "?"
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{cpus} x {model}, {mem} RAM, Python {platform.python_version()}, load average now {load}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default=None, metavar="URL")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--git-ref", default=None, help="live benchmark: run this committed version of the app")
    parser.add_argument("--no-browser", action="store_true", help="live benchmark: no Chromium pages")
    args = parser.parse_args()

    print(f"machine: {_machine()}\n", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="vj-bench-all-"))
    ingest_args = ["--events", "3000", "--incidents", "100"] if args.quick else []
    live_args = ["--viewers", "1,50", "--hops", "4", "--browser-hops", "2", "--attendances", "10"] if args.quick else []
    if args.git_ref:
        live_args += ["--git-ref", args.git_ref]
    if args.no_browser:
        live_args += ["--no-browser"]

    ingest = {"SQLite": _run("ingest.py", ingest_args, tmp / "ingest-sqlite.json")}
    if args.postgres:
        ingest["PostgreSQL"] = _run("ingest.py", ingest_args + ["--database-url", args.postgres],
                                    tmp / "ingest-postgres.json")
    live = _run("live.py", live_args, tmp / "live.json")
    writers = _run("writers.py", ["--seconds", "10"] if args.quick else [], tmp / "writers.json")

    print("=" * 78)
    print("SUMMARY")
    print(f"machine: {_machine()}")
    ok = True
    for db, data in ingest.items():
        if data is None:
            print(f"ingest ({db}): FAILED (see above)")
            ok = False
            continue
        print(f"ingest ({db}, {data['events']} position events, {data['incidents']} incidents; target 1,000/s):")
        for r in data["results"]:
            mark = "ok " if r["per_s"] >= 1000 else "MISS"
            print(f"  [{mark}] {r['mode']:8s} {r['per_s']:7,.0f} events/s  ({r['cpu_per_s']:,.0f} per CPU-second)")
    if live is None:
        print("live: FAILED (see above)")
        ok = False
    else:
        print("live (feed event to screen; targets p95 <= 1000 ms at 500 viewers, <= 300 KB per viewer):")
        for n, entry in sorted(live["viewers"].items(), key=lambda kv: int(kv[0])):
            if int(n) == 1:
                line = (f"    1 viewer : p50 {entry['all']['p50'] * 1000:5.0f} ms  p95 {entry['all']['p95'] * 1000:5.0f} ms"
                        f"  ({entry['all']['n']} samples)")
                if "chromium" in entry:
                    line += (f"; Chromium p50 {entry['chromium']['p50'] * 1000:.0f} ms"
                             f" p95 {entry['chromium']['p95'] * 1000:.0f} ms")
                print(line)
                continue
            paced, burst = entry["paced"], entry["burst"]
            mark = "ok " if paced["p95"] <= 1.0 and entry["kb_per_viewer"] <= 300 else "MISS"
            print(f"  [{mark}] {int(n):3d} viewers: paced p50 {paced['p50'] * 1000:5.0f} ms  p95 {paced['p95'] * 1000:5.0f} ms;"
                  f"  burst of {entry['attendances']} p50 {burst['p50'] * 1000:5.0f} ms  p95 {burst['p95'] * 1000:5.0f} ms;"
                  f"  {entry['kb_per_viewer']:.0f} KB/viewer"
                  + (f"; {paced['missing'] + burst['missing']} never arrived" if paced["missing"] + burst["missing"] else "")
                  + (f"; feed reconnected {entry['feed_reconnects']}x" if entry.get("feed_reconnects") else ""))
            if entry.get("backlog"):
                b = entry["backlog"]["hydrate"]
                print(f"         pages opened during a backlog of {entry['backlog']['positions']} positions: "
                      f"p50 {b['p50'] * 1000:.0f} ms  p95 {b['p95'] * 1000:.0f} ms"
                      + (f"; {b['missing']} of {b['n'] + b['missing']} never opened" if b["missing"] else ""))
    if writers is None:
        print("writers: FAILED (see above)")
        ok = False
    else:
        print(f"SQLite writers during a feed backlog: {writers['batches_failed']} of "
              f"{writers['batches'] + writers['batches_failed']} feed batches and {writers['refreshes_failed']} of "
              f"{writers['refreshes'] + writers['refreshes_failed']} window refreshes failed; page reads p95 "
              f"{writers.get('read_p95_ms', float('nan')):.0f} ms, {writers.get('reads_failed', 0)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
