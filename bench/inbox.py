"""The officer inbox's read model (`rxapp/inbox/views.py inbox`) for one officer with 50 cases, among a force's year.

    python bench/inbox.py [--database-url postgresql://postgres@127.0.0.1:5432/vj_bench_inbox] [--cases 73000]
                          [--victims 100000] [--messages 1000000] [--tasks 500000] [--runs 30] [--keep] [--json F]

1. Load (PostgreSQL COPY in chunks, then ANALYZE; the load time is printed but is not the measure), Cleveland-sized:
   73,000 cases (open), each with an officer in charge among 1,460 collar numbers (so 50 cases each) and teams of
   20 officers; 100,000 victims linked to them (a case in four has a second); 1,000,000 portal messages spread over
   the victims (victim, automatic answer and officer in turn; one victim in eight has one or two not read yet);
   500,000 tasks (one in ten open, assigned to the case's officer, deadlines from 10 days ago to 20 ahead); four
   duties per victim (written confirmation done, support referral done, a routine update due in the next 30 days,
   one in five handed). Victims are synthetic: drama numbers, example.org addresses.
2. Time `inbox(session, officer, now)` for the officer "PC 1000" (50 open cases): the first call (cold caches in
   this process), then --runs calls, each in a fresh read-only transaction; median, p95 and max. Each query's
   EXPLAIN ANALYZE time is printed too, to show where time goes. Target (issue 12): under 200 ms.

The database named by --database-url is DROPPED and recreated. Only 127.0.0.1 is used.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret-0123456789abcdef0123456789abcd")

NOW = datetime(2026, 12, 2, 11, 0, tzinfo=timezone.utc)
OFFICERS = 1460
CHUNK = 20_000
FMT = "%Y-%m-%d %H:%M:%S.%f"
TARGET_MS = 200.0


def _fresh_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    from rxapp.plumbing.db import migrate

    migrate(url)


def collar(case: int) -> str:
    return f"PC {1000 + case % OFFICERS}"


def team(case: int) -> str:
    return f"Team {(case % OFFICERS) // 20}"


def case_rows(cases: int):
    stamp = NOW.strftime(FMT)
    for start in range(0, cases, CHUNK):
        rows = []
        for i in range(start, min(cases, start + CHUNK)):
            reported = NOW - timedelta(days=i % 365, minutes=i % 600)
            flags = "DOMESTIC_ABUSE" if i % 9 == 0 else ""
            rows.append((i + 1, f"BN{i:09d}", f"BN/26/{i:07d}", "28/1", "Burglary - residential - home",
                         reported.strftime(FMT), reported.strftime(FMT), flags, collar(i), team(i), "open", stamp,
                         stamp))
        yield rows


def victim_of(v: int, cases: int) -> int:
    """Which case (0-based) victim v (0-based) belongs to: the first `cases` one each, then every fourth case."""
    return v if v < cases else ((v - cases) * 4) % cases


def victim_rows(victims: int, cases: int):
    stamp = NOW.strftime(FMT)
    for start in range(0, victims, CHUNK):
        people, states, links, duties = [], [], [], []
        for v in range(start, min(victims, start + CHUNK)):
            case = victim_of(v, cases)
            people.append((v + 1, f"+447700900{v % 1000:03d}", f"victim{v}@example.org", True,
                           ("en", "pl", "ur")[v % 3] if v % 10 == 0 else "en", stamp, f"P-{v}",
                           ("SMS", "EMAIL", "PHONE")[v % 3], "Call after 6pm" if v % 7 == 0 else None, "", False,
                           False, False, True, True))
            states.append((v + 1, False, False, False, v % 2 == 0, False, False, stamp))
            links.append((v + 1, case + 1, v + 1, v % 5 == 0, "", stamp, stamp))
            reported = NOW - timedelta(days=case % 365)
            due = NOW + timedelta(hours=(v * 7919) % (30 * 24))
            base = 4 * v + 1
            for k, (key, milestone, right, title, at, state) in enumerate((
                    ("written_confirmation", "written_confirmation", 3, "Written confirmation", reported, "done"),
                    ("support_referral", "support_referral", 4, "Support referral", reported, "done"),
                    ("routine:2", "routine_update", 6, "Routine update", due,
                     "handed" if v % 5 == 0 else "due"),
                    ("vps_offer", "vps_offer", 7, "Victim Personal Statement offer", reported, "done"))):
                duties.append((base + k, case + 1, v + 1, key, milestone, right, title, reported.strftime(FMT),
                               (at + timedelta(days=1) if state == "done" else at).strftime(FMT), state, False,
                               reported.strftime(FMT) if state == "done" else None, "{}", stamp, stamp))
        yield people, states, links, duties


def message_rows(messages: int, victims: int):
    for start in range(0, messages, CHUNK):
        rows = []
        for m in range(start, min(messages, start + CHUNK)):
            v = m % victims
            turn = m // victims  # the victim's n-th message
            at = NOW - timedelta(days=60) + timedelta(minutes=turn * 600 + v % 500)
            author = ("victim", "auto", "officer")[turn % 3]
            last_turns = (messages - 1 - v) // victims  # the victim's last turn
            unread = author == "victim" and v % 8 == 0 and turn >= last_turns - 3
            read = None if author != "victim" or unread else (at + timedelta(hours=2)).strftime(FMT)
            rows.append((m + 1, v + 1, author, "PC 1000" if author == "officer" else "", "Bench message text",
                         "portal", False, at.strftime(FMT), read))
        yield rows


def task_rows(tasks: int, victims: int, cases: int):
    stamp = NOW.strftime(FMT)
    for start in range(0, tasks, CHUNK):
        rows = []
        for t in range(start, min(tasks, start + CHUNK)):
            v = ((t // 10) * 7919 + (t % 10) * 104729) % victims  # open ones (every tenth) over every victim
            case = victim_of(v, cases)
            is_open = t % 10 == 0
            due = NOW + timedelta(hours=((t * 104729) % (30 * 24)) - 240)
            rows.append((t + 1, case + 1, v + 1, "contact_victim", "Phone the victim", "Bench task",
                         "open" if is_open else "done", due.strftime(FMT), stamp, collar(case),
                         None if is_open else stamp))
        yield rows


TABLES = {
    "occurrence": ("id", "occurrence_number", "crime_reference", "classification_code", "classification_text",
                   "reported_at", "recorded_at", "flags", "oic_collar", "oic_team", "status", "created_at",
                   "updated_at"),
    "victim": ("id", "phone", "email", "sms_consent", "language", "created_at", "person_id", "preferred_channel",
               "contact_notes", "vulnerabilities", "intimidated", "persistently_targeted", "interpreter",
               "consent_updates", "consent_referral"),
    "victimcontactstate": ("victim_id", "opted_out_all", "opted_out_sms", "opted_out_email", "safe_contact_confirmed",
                           "phone_failed_permanently", "email_failed_permanently", "updated_at"),
    "casevictim": ("id", "occurrence_id", "victim_id", "enhanced", "enhanced_reasons", "linked_at", "updated_at"),
    "duty": ("id", "occurrence_id", "victim_id", "key", "milestone", "right", "title", "triggered_at", "due_at",
             "state", "late", "done_at", "personalisation", "created_at", "updated_at"),
    "portalmessage": ("id", "case_victim_id", "author", "author_label", "body", "via", "asks_for_update",
                      "created_at", "read_by_officer_at"),
    "task": ("id", "occurrence_id", "victim_id", "kind", "title", "detail", "status", "due_at", "created_at",
             "assignee", "completed_at"),
}


def load(url: str, cases: int, victims: int, messages: int, tasks: int) -> dict:
    from rxapp.plumbing.db import engine

    counts = dict.fromkeys(TABLES, 0)
    started = time.perf_counter()
    raw = engine(url).raw_connection()
    try:
        cur = raw.cursor()

        def copy(table: str, rows: list) -> None:
            cols = ", ".join(f'"{c}"' for c in TABLES[table])
            with cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as out:
                for row in rows:
                    out.write_row(row)
            counts[table] += len(rows)

        for rows in case_rows(cases):
            copy("occurrence", rows)
        for people, states, links, duties in victim_rows(victims, cases):
            copy("victim", people)
            copy("victimcontactstate", states)
            copy("casevictim", links)
            copy("duty", duties)
        raw.commit()
        for rows in message_rows(messages, victims):
            copy("portalmessage", rows)
        for rows in task_rows(tasks, victims, cases):
            copy("task", rows)
        raw.commit()
        for table in TABLES:
            if table != "victimcontactstate":
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM \"{table}\"))")
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return {"seconds": round(time.perf_counter() - started, 1), "rows": counts}


class Officer:
    role, collar_number, team, username, display_name = "officer", "PC 1000", "Team 0", "pc.1000", "PC 1000"


def time_inbox(url: str, runs: int) -> dict:
    from rxapp.inbox.views import inbox
    from rxapp.plumbing.db import session_scope

    def once() -> tuple[float, dict]:
        started = time.perf_counter()
        with session_scope(url, readonly=True) as s:
            box = inbox(s, Officer(), NOW)
        return (time.perf_counter() - started) * 1000, box

    first, box = once()
    times = sorted(once()[0] for _ in range(runs))
    return {"first_ms": round(first, 1), "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1), "max_ms": round(times[-1], 1),
            "runs": runs, "counts": box["counts"]}


def explain(url: str) -> list[tuple[str, float]]:
    """Each query the read model sends, with PostgreSQL's own execution time (EXPLAIN ANALYZE)."""
    from sqlalchemy import event

    from rxapp.inbox.views import inbox
    from rxapp.plumbing.db import engine, session_scope

    seen: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    eng = engine(url)
    event.listen(eng, "before_cursor_execute", keep)
    try:
        with session_scope(url, readonly=True) as s:
            inbox(s, Officer(), NOW)
    finally:
        event.remove(eng, "before_cursor_execute", keep)
    out = []
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        for statement, parameters in seen:
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
            plan = cur.fetchone()[0][0]
            out.append((" ".join(statement.split())[:110], round(plan["Execution Time"], 2)))
        raw.rollback()
    finally:
        raw.close()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/vj_bench_inbox")
    parser.add_argument("--cases", type=int, default=73_000)
    parser.add_argument("--victims", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--tasks", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="measure the database as it is: no drop, no load")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    url = args.database_url
    if not url.startswith("postgresql://") or "@127.0.0.1" not in url:
        parser.error("--database-url must be postgresql://...@127.0.0.1...: this benchmark drops that database")
    if args.victims < args.cases:
        parser.error("--victims must be at least --cases (every case has a victim)")
    os.environ["DATABASE_URL"] = url
    result: dict = {}
    if not args.keep:
        _fresh_database(url)
        result["load"] = load(url, args.cases, args.victims, args.messages, args.tasks)
        print(f"loaded in {result['load']['seconds']} s: {result['load']['rows']}")
    result["inbox"] = time_inbox(url, args.runs)
    r = result["inbox"]
    print(f"inbox for PC 1000: first {r['first_ms']} ms; median {r['median_ms']} ms, p95 {r['p95_ms']} ms, "
          f"max {r['max_ms']} ms over {r['runs']} runs (target < {TARGET_MS:.0f} ms: "
          f"{'met' if r['p95_ms'] < TARGET_MS else 'NOT met'})")
    print(f"what it found: {r['counts']}")
    result["queries"] = explain(url)
    for statement, ms in result["queries"]:
        print(f"  {ms:8.2f} ms  {statement}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
