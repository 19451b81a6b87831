"""Measures three small changes to `AttendanceService.apply_sync` / `_position` proposed in bench/README.md,
against the product's code, on the same workload as bench/ingest.py (batched mode). NOT product code: the
changes live in a subclass here only to be measured; delete this file once they are adopted (or rejected).

  dedup      one `SELECT event_id ... WHERE event_id IN (<batch>)` per batch instead of a
             `session.get(ProcessedEvent, id)` per event;
  savepoint  no SAVEPOINT around a resource.position event (`_position` never raises Rejected, and any other
             error aborts the whole batch anyway);
  autoflush  `session.no_autoflush` around the active-assignment query in `_position` (every event that
             changes assignments runs in its own savepoint, whose release flushes, so nothing pending can
             change that query's answer; without it every fix forces a flush of the previous fix's rows).

    python bench/proposed_ingest.py [--events 4000] [--database-url postgresql://...] [--batch 500]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest  # noqa: E402  (sets up a temporary data folder and secret)
from sqlmodel import select  # noqa: E402

from integrations.storm.protocol import parse_frame  # noqa: E402
from rxapp.attendance import ApplyResult, AttendanceService, Rejected, _event_summary  # noqa: E402
from rxapp.db import session_scope  # noqa: E402
from rxapp.domain import attendance as rules  # noqa: E402
from rxapp.domain.events import DispatchEvent, ResourcePosition  # noqa: E402
from rxapp.models import Assignment, FeedCursor, Incident, ProcessedEvent, ResourceFix  # noqa: E402


class Proposed(AttendanceService):
    dedup = savepoint = autoflush = True

    def apply_sync(self, items):
        items = list(items)
        result = ApplyResult()
        with session_scope(self.db_url) as session:
            cursor = session.get(FeedCursor, self.feed)
            if cursor is None:
                cursor = FeedCursor(feed=self.feed, last_seq=0)
                session.add(cursor)
            high = cursor.last_seq
            seen: set[str] = set()
            if self.dedup:
                ids = [i.event_id for i in items if isinstance(i, DispatchEvent)]
                if ids:
                    seen = set(session.exec(select(ProcessedEvent.event_id).where(ProcessedEvent.event_id.in_(ids))))
            for item in items:
                if not isinstance(item, DispatchEvent):
                    self._dead_letter(session, item.raw, item.reason, item.seq, getattr(item, "event_id", None))
                    result.dead_letters += 1
                    continue
                known = item.event_id in seen if self.dedup else session.get(ProcessedEvent, item.event_id)
                if item.seq <= high or known:
                    result.duplicates += 1
                    continue
                try:
                    if self.savepoint and isinstance(item.payload, ResourcePosition):
                        changed = self._apply_event(session, item)
                        session.add(ProcessedEvent(event_id=item.event_id, feed=self.feed, seq=item.seq))
                    else:
                        with session.begin_nested():
                            changed = self._apply_event(session, item)
                            session.add(ProcessedEvent(event_id=item.event_id, feed=self.feed, seq=item.seq))
                except Rejected as exc:
                    self._dead_letter(session, _event_summary(item), str(exc), item.seq, item.event_id)
                    result.dead_letters += 1
                else:
                    result.applied += 1
                    result.changed_incidents.update(changed)
                    seen.add(item.event_id)
                high = max(high, item.seq)
            cursor.last_seq = high
            cursor.updated_at = self._now()
        return result

    def _position(self, session, p, at):
        if not self.autoflush:
            return super()._position(session, p, at)
        fix = session.get(ResourceFix, p.callsign)
        if fix is not None and p.fix_at <= fix.fix_at:
            return set()
        if fix is None:
            fix = ResourceFix(callsign=p.callsign, lat=p.lat, lon=p.lon, fix_at=p.fix_at)
            session.add(fix)
        fix.lat, fix.lon, fix.fix_at, fix.speed_mps, fix.heading = p.lat, p.lon, p.fix_at, p.speed_mps, p.heading
        changed = set()
        q = select(Assignment).where(Assignment.callsign == p.callsign, Assignment.active == True)  # noqa: E712
        with session.no_autoflush:
            assignments = list(session.exec(q))
        for assignment in assignments:
            if assignment.state not in (rules.R_ASSIGNED, rules.R_EN_ROUTE):
                continue
            incident = session.get(Incident, assignment.incident_id)
            if incident is None or not incident.is_open or incident.arrived_at is not None:
                continue
            if self._update_eta(incident, fix, max(at, p.fix_at)):
                changed.add(incident.id)
        return changed


def _snapshot(url: str) -> tuple:
    """What the run left that a person or the feed depends on (wall-clock bookkeeping left out)."""
    from sqlalchemy import text

    with session_scope(url) as s:
        incidents = s.exec(text("SELECT urn, status, version, eta_earliest, eta_latest, eta_point, eta_basis, "
                                "eta_callsign FROM incident ORDER BY urn")).all()
        fixes = s.exec(text("SELECT callsign, lat, lon, fix_at FROM resourcefix ORDER BY callsign")).all()
        processed = s.exec(text("SELECT count(*) FROM processedevent")).one()
        tables = {r[0] for r in s.exec(text(
            "SELECT name FROM sqlite_master WHERE type='table'" if url.startswith("sqlite") else
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).all()}
        messages = s.exec(text("SELECT count(*) FROM message")).one() if "message" in tables else None
    return tuple(map(tuple, incidents)), tuple(map(tuple, fixes)), tuple(processed), \
        tuple(messages) if messages is not None else None


def _variant(dedup: bool, savepoint: bool, autoflush: bool) -> type:
    return type("Variant", (Proposed,), {"dedup": dedup, "savepoint": savepoint, "autoflush": autoflush})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--incidents", type=int, default=200)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=3, help="rounds (variants interleaved); medians printed")
    args = parser.parse_args(argv)
    dbs = ingest.Databases(args.database_url)
    variants = [("product as it is", AttendanceService), ("+ dedup", _variant(True, False, False)),
                ("+ dedup, savepoint", _variant(True, True, False)),
                ("+ dedup, savepoint, autoflush", _variant(True, True, True))]
    print(f"proposed ingest changes: {args.events} positions, batches of {args.batch}, "
          f"{ingest._db_label(args.database_url)}")
    reference = None
    workload = ingest.Workload(args.incidents, args.events)  # one workload: identical frames for every variant
    frames = [parse_frame(f) for f in workload.position_frames]
    rates: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in variants}
    verdicts: dict[str, str] = {}
    for _ in range(args.repeat):
        for label, cls in variants:
            url = dbs.fresh("proposed")
            workload.seed_into(url)
            service = cls(url)
            c0, t0 = time.process_time(), time.perf_counter()
            for i in range(0, len(frames), args.batch):
                service.apply_sync(frames[i:i + args.batch])
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            rates[label].append((len(frames) / wall, len(frames) / cpu))
            check = ingest._check(url, workload)
            snapshot = _snapshot(url)
            reference = reference or snapshot
            ok = snapshot == reference and check["cursor_ok"]
            if not ok or label not in verdicts:
                verdicts[label] = "same result as the product" if ok else "RESULT DIFFERS from the product"
    for label, _ in variants:
        wall = sorted(r[0] for r in rates[label])[len(rates[label]) // 2]
        cpu = sorted(r[1] for r in rates[label])[len(rates[label]) // 2]
        runs = ", ".join(f"{r[0]:,.0f}" for r in rates[label])
        print(f"  {label:32s} median {wall:6,.0f} events/s ({cpu:,.0f} per CPU-second; runs {runs}); "
              f"{verdicts[label]}", flush=True)
    if args.database_url:
        ingest.with_suppress_drop(args.database_url)


if __name__ == "__main__":
    main()
