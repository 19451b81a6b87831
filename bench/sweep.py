"""The Victims' Code deadline sweep with a million open victim records.

    python bench/sweep.py [--records 1000000] [--database-url URL] [--keep] [--json FILE]

1. Load: N open cases, each with its victim (and their contact state), a done written confirmation, a
   routine update due on one of the next 29 days at its own time in the day's send window (as the product
   schedules it), and for one case in ten a duty handed to the officer in charge with an open task
   (deadlines spread over the next 30 days). Bulk-loaded (SQLite executemany, PostgreSQL
   COPY), then ANALYZE. Load time is printed but is not the measure.
2. Sweeps, each in a fresh process so its peak memory (ru_maxrss) is the sweep's own:
   - `steady`: the regular sweep a minute after the last one: what fell due in that minute (in the send
     window about 70 routine updates queued and as many looked at two days ahead, per million cases);
   - `after an hour down`: the runner was stopped for an hour; it works the backlog in passes a second
     apart until none is left (a pass stops after 1.2 s of work, so each stays under the target);
   - `nothing due`: a pass when nothing has come due (the floor: two index probes).
   Each runs `JourneyService.sweep`, the product's own code: routine updates are queued in the outbox
   (through the real templates and safety choice), late duties get tasks, tasks past due are escalated.
Targets: at most 2 s a sweep and 500 MB of memory, on SQLite and on PostgreSQL.

The database is a temporary SQLite file, or `--database-url postgresql://...` (that database is DROPPED
and recreated). Only 127.0.0.1 is used. Victims are synthetic: drama numbers and example.org addresses.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret-0123456789abcdef0123456789abcd")
os.environ.setdefault("VJ_DATA_DIR", tempfile.mkdtemp(prefix="vj-bench-"))

# A fixed "now" on a Wednesday late morning (London time), inside the routine updates' send window.
NOW = datetime(2026, 12, 2, 11, 0, tzinfo=timezone.utc)
CHUNK = 20_000
MAX_CATCH_UP = 60
LONDON = ZoneInfo("Europe/London")


def _fresh_database(url: str) -> None:
    if url.startswith("postgresql"):
        import psycopg

        base, name = url.rsplit("/", 1)
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    from rxapp.plumbing.db import migrate

    migrate(url)


def _end_of_day(day) -> datetime:
    return datetime.combine(day, dtime(23, 59, 59, 999999), tzinfo=LONDON).astimezone(timezone.utc)


def _rows(n: int):
    """The synthetic cases, in chunks, in the state the product itself leaves them in: each case's next
    routine update due on one of the next 29 days (its send time spread over the day's window by the
    product's own `routine_send_at`; looked at first two days ahead), today's already sent where their
    time has passed; one case in ten has a duty handed to its officer with an open task."""
    from rxapp.domain.code_rules import load_code
    from rxapp.domain.journey import routine_send_at

    code = load_code()
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    today = NOW.astimezone(LONDON).date()
    ends = [_end_of_day(today + timedelta(days=d)) for d in range(29)]
    stamp = NOW.strftime(fmt)
    for start in range(0, n, CHUNK):
        victims, states, occurrences, case_victims, duties, tasks = [], [], [], [], [], []
        for i in range(start, min(n, start + CHUNK)):
            vid = oid = i + 1
            reported = NOW - timedelta(days=(i % 90) + 1, minutes=i % 600)
            day = (i * 7) % 29
            due = ends[day]
            send = routine_send_at(code, due, NOW - timedelta(days=60), oid)
            first = send - timedelta(days=2)
            if day == 0 and send <= NOW - timedelta(seconds=30):
                state, check, done = "done", None, send.strftime(fmt)  # today's, already sent
            else:
                state, check, done = "due", (send if first <= NOW - timedelta(seconds=30) else first).strftime(fmt), None
            victims.append((vid, f"+447700900{i % 1000:03d}", f"victim{i}@example.org", True, "en", stamp, f"P-{i}",
                            "SMS", "", False, False, False, True, True))
            states.append((vid, False, False, False, True, False, False, stamp))
            occurrences.append((oid, f"BN{i:09d}", f"BN/26/{i:07d}", "28/1", "Burglary - residential - home",
                                reported.strftime(fmt), reported.strftime(fmt), "", f"PC {1000 + i % 900}",
                                "Bench Team", "open", stamp, stamp))
            case_victims.append((oid, oid, vid, False, "", stamp, stamp))
            base = 2 * i + 1
            duties.append((base, oid, vid, "written_confirmation", "written_confirmation", 3,
                           "Written confirmation", reported.strftime(fmt), (reported + timedelta(days=1)).strftime(fmt),
                           "done", False, reported.strftime(fmt), "text delivered", None, None, "crime_recorded",
                           "{}", None, stamp, stamp))
            duties.append((base + 1, oid, vid, "routine:2", "routine_update", 6, "Routine update (nothing new yet)",
                           reported.strftime(fmt), due.strftime(fmt), state, False, done,
                           "text sent" if done else None, None, None, "routine_no_news", "{}", check, stamp, stamp))
            if i % 10 == 0:
                task_due = NOW + timedelta(seconds=(i * 104729) % (30 * 24 * 3600) - 60)
                tasks.append((i // 10 + 1, oid, vid, "tell_victim", "Phone the victim (enhanced rights)",
                              "Bench task", "open", task_due.strftime(fmt), stamp, oid,
                              f"PC {1000 + i % 900}", task_due.strftime(fmt)))
        yield victims, states, occurrences, case_victims, duties, tasks


VICTIM_COLS = ("id", "phone", "email", "sms_consent", "language", "created_at", "person_id", "preferred_channel",
               "vulnerabilities", "intimidated", "persistently_targeted", "interpreter", "consent_updates",
               "consent_referral")
STATE_COLS = ("victim_id", "opted_out_all", "opted_out_sms", "opted_out_email", "safe_contact_confirmed",
              "phone_failed_permanently", "email_failed_permanently", "updated_at")
OCC_COLS = ("id", "occurrence_number", "crime_reference", "classification_code", "classification_text",
            "reported_at", "recorded_at", "flags", "oic_collar", "oic_team", "status", "created_at", "updated_at")
CASE_VICTIM_COLS = ("id", "occurrence_id", "victim_id", "enhanced", "enhanced_reasons", "linked_at", "updated_at")
DUTY_COLS = ("id", "occurrence_id", "victim_id", "key", "milestone", "right", "title", "triggered_at", "due_at",
             "state", "late", "done_at", "done_how", "message_id", "task_id", "template", "personalisation",
             "check_at", "created_at", "updated_at")
TASK_COLS = ("id", "occurrence_id", "victim_id", "kind", "title", "detail", "status", "due_at", "created_at",
             "duty_id", "assignee", "escalate_at")


def load(url: str, n: int) -> float:
    from rxapp.plumbing.db import engine

    started = time.perf_counter()
    eng = engine(url)
    tables = (("victim", VICTIM_COLS), ("victimcontactstate", STATE_COLS), ("occurrence", OCC_COLS),
              ("casevictim", CASE_VICTIM_COLS), ("duty", DUTY_COLS), ("task", TASK_COLS))
    if url.startswith("postgresql"):
        raw = eng.raw_connection()
        try:
            cur = raw.cursor()
            for chunk in _rows(n):
                for (table, cols), rows in zip(tables, chunk):
                    if not rows:
                        continue
                    quoted = ", ".join(f'"{c}"' for c in cols)
                    with cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
                        for row in rows:
                            copy.write_row(row)
            raw.commit()
            for table, _ in tables:
                if table == "victimcontactstate":
                    continue  # keyed by victim, no sequence
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM \"{table}\"))")
            raw.commit()
            cur.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
    else:
        raw = eng.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("BEGIN")
            for chunk in _rows(n):
                for (table, cols), rows in zip(tables, chunk):
                    if rows:
                        marks = ", ".join("?" for _ in cols)
                        quoted = ", ".join(f'"{c}"' for c in cols)
                        cur.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', rows)
            cur.execute("COMMIT")
            cur.execute("ANALYZE")
        finally:
            raw.close()
    return time.perf_counter() - started


def sweep_once(url: str, at: datetime) -> dict:
    """One sweep at `at`, timed, in this process (run it in a fresh one)."""
    from rxapp.investigation.service import JourneyService

    service = JourneyService(url, now=lambda: at)
    started = time.perf_counter()
    result = service.sweep(at)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "more": result.more,
            "routine_queued": result.routine_queued, "became_late": result.became_late,
            "escalated": result.escalated, "duties_checked": result.checked,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _sweep_in_child(url: str, at: datetime) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child-sweep", at.isoformat(), "--database-url", url],
                         cwd=ROOT, capture_output=True, text=True, env=dict(os.environ))
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _counts(url: str) -> dict:
    import sqlalchemy as sa

    from rxapp.plumbing.db import engine

    with engine(url).connect() as conn:
        return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar()
                for t in ("victim", "occurrence", "duty", "task", "message")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file and print its path")
    parser.add_argument("--child-sweep", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child_sweep:
        print(json.dumps(sweep_once(args.database_url, datetime.fromisoformat(args.child_sweep))))
        return 0

    tmp = None
    url = args.database_url
    if url is None:
        tmp = Path(tempfile.mkdtemp(prefix="vj-sweep-")) / "sweep.db"
        url = f"sqlite:///{tmp}"
    _fresh_database(url)
    print(f"loading {args.records:,} open cases into {'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}…",
          flush=True)
    seconds = load(url, args.records)
    counts = _counts(url)
    print(f"  loaded in {seconds:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()), flush=True)

    runs = []
    # The runner sweeps every minute; the first pass here catches up the 30 s before NOW the load left due.
    passes = [("first pass (catch-up)", NOW), ("steady: one minute later", NOW + timedelta(minutes=1)),
              ("steady: one more minute", NOW + timedelta(minutes=2)),
              ("nothing due (same minute again)", NOW + timedelta(minutes=2))]
    # Then the runner was down for an hour: it works the backlog in passes a second apart (rxapp/runner.py)
    # until none is left.
    back = NOW + timedelta(hours=1, minutes=2)
    passes += [(f"after an hour down, pass {i + 1}", back + timedelta(seconds=i)) for i in range(MAX_CATCH_UP)]
    for label, at in passes:
        r = _sweep_in_child(url, at)
        r["pass"] = label
        runs.append(r)
        print(f"  {label:34s} {r['seconds']:6.3f} s  peak {r['peak_rss_mb']:6.1f} MB  "
              f"duties looked at {r['duties_checked']:5d}  routine queued {r['routine_queued']:5d}  "
              f"late {r['became_late']:4d}  escalated {r['escalated']:4d}"
              f"{'  (more due: next pass)' if r['more'] else ''}", flush=True)
        if label.startswith("after") and not r["more"]:
            break
    catch_up = [r for r in runs if r["pass"].startswith("after")]
    print(f"an hour's backlog: {sum(r['duties_checked'] for r in catch_up):,} duties and "
          f"{sum(r['escalated'] for r in catch_up)} tasks in {len(catch_up)} passes, "
          f"{sum(r['seconds'] for r in catch_up):.1f} s of sweeping")
    worst = max(r["seconds"] for r in runs)
    peak = max(r["peak_rss_mb"] for r in runs)
    print(f"worst sweep {worst:.3f} s (target ≤ 2 s), peak memory {peak:.0f} MB (target ≤ 500 MB)")
    summary = {"database": "postgresql" if url.startswith("postgresql") else "sqlite", "records": args.records,
               "load_seconds": round(seconds, 1), "counts": counts, "runs": runs, "worst_seconds": worst,
               "peak_rss_mb": peak}
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    if tmp is not None:
        if args.keep:
            print(f"kept {tmp}")
        else:
            for f in tmp.parent.glob("sweep.db*"):
                f.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
