"""Writers and a reader sharing one SQLite database, as in the running app while the feed replays a backlog:
the STORM feed's batches back to back (`AttendanceService.apply_sync`, the client's worker thread), the
arrival-window refresh job (`AttendanceService.refresh_windows`: every 30 s in the app, here every
--refresh-every seconds so that a short run meets as many overlaps as hours of service would), and the page
publisher's read (`views.victim_view` of one attendance, every 0.1 s).

Prints how many feed batches and refreshes failed and how long the reads took. A failed feed batch makes the
STORM client drop its link and replay from the stored seq (a delay of about a second, and an ERROR in the log);
a failed refresh leaves windows stale until the next one; a slow read delays every page push behind it.

    python bench/writers.py [--seconds 20] [--refresh-every 1.0] [--batch 50]
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest  # noqa: E402  (sets up a temporary data folder and secret)

from integrations.storm.protocol import parse_frame  # noqa: E402


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc  # the driver's own error under SQLAlchemy's wrapper
    return f"{type(cause).__module__}.{type(cause).__name__}: {str(cause).splitlines()[0][:80]}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--refresh-every", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--incidents", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None, help="also write the counts to this file")
    args = parser.parse_args(argv)

    workload = ingest.Workload(args.incidents, 40_000)
    url = ingest.Databases(None).fresh("writers")
    service = workload.seed_into(url)
    frames = [parse_frame(f) for f in workload.position_frames]
    errors: collections.Counter = collections.Counter()
    counts = {"batches": 0, "batches_failed": 0, "refreshes": 0, "refreshes_failed": 0}
    stop = threading.Event()

    def refresher() -> None:
        while not stop.wait(args.refresh_every):
            try:
                service.refresh_windows()
                counts["refreshes"] += 1
            except Exception as exc:  # noqa: BLE001 - counted, not fatal
                counts["refreshes_failed"] += 1
                errors["refresh: " + _reason(exc)] += 1

    reads: list[float] = []

    def reader() -> None:
        from rxapp.attendance.models import Incident
        from rxapp.attendance.views import victim_view
        from rxapp.plumbing.db import session_scope

        ident = 0
        while not stop.wait(0.1):
            ident = ident % args.incidents + 1
            started = time.perf_counter()
            try:
                with session_scope(url, readonly=True) as session:
                    incident = session.get(Incident, ident)
                    if incident is not None:
                        victim_view(session, incident)
                reads.append(time.perf_counter() - started)
            except Exception as exc:  # noqa: BLE001 - counted, not fatal
                counts["reads_failed"] = counts.get("reads_failed", 0) + 1
                errors["read: " + _reason(exc)] += 1

    threads = [threading.Thread(target=refresher, daemon=True), threading.Thread(target=reader, daemon=True)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + args.seconds
    position = 0
    while time.monotonic() < deadline and position < len(frames):
        batch = frames[position:position + args.batch]
        try:
            service.apply_sync(batch)
            counts["batches"] += 1
            position += len(batch)
        except Exception as exc:  # noqa: BLE001 - the client would reconnect and replay this batch
            counts["batches_failed"] += 1
            errors["feed: " + _reason(exc)] += 1
            time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join()
    reads.sort()
    print(f"writers: {args.seconds:g} s of feed batches of {args.batch} with a window refresh every "
          f"{args.refresh_every:g} s on SQLite")
    print(f"  feed batches: {counts['batches']} applied, {counts['batches_failed']} failed; "
          f"refreshes: {counts['refreshes']} done, {counts['refreshes_failed']} failed")
    if reads:
        print(f"  page reads: {len(reads)} done, {counts.get('reads_failed', 0)} failed; p50 "
              f"{reads[len(reads) // 2] * 1000:.0f} ms, p95 {reads[int(len(reads) * 0.95)] * 1000:.0f} ms, "
              f"max {reads[-1] * 1000:.0f} ms")
        counts["read_p95_ms"] = reads[int(len(reads) * 0.95)] * 1000
    for text, n in errors.most_common(4):
        print(f"  {n:5d} x {text}")
    if args.json:
        args.json.write_text(json.dumps({**counts, "errors": dict(errors)}, indent=2))
    return counts


if __name__ == "__main__":
    main()
