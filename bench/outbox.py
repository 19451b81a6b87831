"""Outbox throughput to the local Notify-compatible server, and duplicates under injected faults.

    python bench/outbox.py [--messages 10000] [--database-url URL] [--json FILE]

1. Throughput: N messages queued, one sender process drains them to the local server (no faults).
   Target: at least 200 messages a second (Notify itself allows 50 a second per key).
2. Faults: N more messages drained while the server fails 10 % of sends with 500, answers 429 to bursts,
   records-then-fails ("sent, but the answer was lost") and holds answers past the client's timeout; the
   clock is moved on between passes so backoff never makes the run wait. Counted: messages the server holds
   more than once (target 0), and messages not delivered.
3. Shared outbox (`--senders 2`, PostgreSQL only): the same N messages drained by one sender process, then
   (fresh database) by two sender processes at once, as two runners would, each claiming with
   `SELECT ... FOR UPDATE SKIP LOCKED`; the rate of each (from "go" to an empty outbox, imports excluded),
   their ratio (target at least 1.8), the senders' CPU per message, and messages the server holds more than
   once (target 0). `--notify-latency 0 0.1` runs the comparison once per value: how long the local Notify
   takes to answer each request. At 0 it answers from this machine at once, so every part (senders, Notify,
   PostgreSQL) competes for the same cores; the real Notify answers from across the internet, so a sender
   spends most of a send waiting, which is what several senders share.
Each run uses a fresh database; only 127.0.0.1 is used.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret-0123456789abcdef0123456789abcd")
os.environ.setdefault("VJ_DATA_DIR", tempfile.mkdtemp(prefix="vj-bench-"))


class RemoteNotify:
    """The local Notify-compatible server in its own process, as the real Notify is remote; driven over its
    control endpoints."""

    def __init__(self, rate_limit: int, latency: float = 0.0):
        import socket
        import subprocess

        import httpx

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "integrations.govuk_notify.simulator", "--port",
                                      str(self.port), "--rate-limit", str(rate_limit), "--latency", str(latency)],
                                     cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.http = httpx.Client(timeout=30)
        for _ in range(200):
            try:
                self.http.get(self.url + "/_control/faults")
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the local Notify server did not start")

    def fault(self, **spec) -> None:
        self.http.post(self.url + "/_control/faults", json=spec).raise_for_status()

    def counts_by_reference(self) -> dict[str, int]:
        items = self.http.get(self.url + "/_control/notifications").json()["notifications"]
        counts: dict[str, int] = {}
        for n in items:
            counts[n["reference"]] = counts.get(n["reference"], 0) + 1
        return counts

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _fresh_db(url: str | None) -> str:
    from rxapp.plumbing import db

    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='vj-outbox-')}/outbox.db"
    elif url.startswith("postgresql"):
        import sqlalchemy as sa

        _create_database(url)
        engine = db.make_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    db.migrate(url)
    return url


def _create_database(url: str) -> None:
    """The benchmark's database, created on the server when it is not there yet."""
    import psycopg

    base, name = url.rsplit("/", 1)
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _queue(url: str, count: int) -> list[str]:
    from rxapp.messaging.outbox import enqueue
    from rxapp.plumbing.db import session_scope
    from rxapp.victims.models import Victim

    refs = []
    with session_scope(url) as s:
        victims = []
        # Ofcom's drama range, 07700 900000 to 900999, less Notify's test numbers 900002 (permanent failure)
        # and 900003 (temporary failure): a message to those is rightly sent again, which is not a duplicate.
        for i in [n for n in range(1000) if n not in (2, 3)]:
            v = Victim(phone=f"+447700900{i:03d}", sms_consent=True, language="en")
            s.add(v)
            victims.append(v)
        s.flush()
        for i in range(count):
            m = enqueue(s, victim=victims[i % len(victims)], template="attendance_closed_no_crime", kind="service",
                        personalisation={})
            refs.append(m.reference)
    return refs


def _sender(url, server, clock, timeout=5.0, concurrency=16, stale_after=timedelta(seconds=0)):
    """The product's sender against `server`. `stale_after` 0 (the fault runs, which move their own clock on):
    a message left `sending` is looked up at once; senders sharing an outbox keep the product's 60 s, or each
    would look up (and hold up) the other's messages still on their way."""
    from integrations.govuk_notify.client import NotifyClient
    from integrations.govuk_notify.simulator import (
        DEFAULT_EMAIL_TEMPLATE_ID,
        DEFAULT_SMS_TEMPLATE_ID,
        DEMO_API_KEY,
    )
    from rxapp.messaging.providers import notify_providers
    from rxapp.messaging.sender import OutboxSender

    return OutboxSender(url, providers=notify_providers(NotifyClient(DEMO_API_KEY, server.url, timeout=timeout),
                        sms_template_id=DEFAULT_SMS_TEMPLATE_ID, email_template_id=DEFAULT_EMAIL_TEMPLATE_ID),
                        concurrency=concurrency, now=clock, stale_after=stale_after)


def _left(url) -> int:
    from sqlmodel import func, select

    from rxapp.messaging.models import Message
    from rxapp.plumbing.db import session_scope

    with session_scope(url) as s:
        return s.exec(select(func.count()).select_from(Message).where(
            Message.status.in_(("queued", "retry", "sending", "held")))).one()


async def throughput(url: str, count: int) -> dict:
    server = RemoteNotify(rate_limit=10_000_000)
    try:
        refs = _queue(url, count)
        sender = _sender(url, server, lambda: datetime.now(timezone.utc))
        started = time.perf_counter()
        result = await sender.drain(max_passes=10_000)
        elapsed = time.perf_counter() - started
        counts = server.counts_by_reference()
        duplicates = sum(1 for ref in refs if counts.get(ref, 0) > 1)
        return {"messages": count, "sent": result.sent, "seconds": round(elapsed, 2),
                "per_second": round(result.sent / elapsed, 1), "duplicates": duplicates, "left": _left(url)}
    finally:
        server.stop()


async def faults(url: str, count: int) -> dict:
    server = RemoteNotify(rate_limit=60_000)
    offset = {"t": timedelta(0)}
    try:
        refs = _queue(url, count)
        sender = _sender(url, server, lambda: datetime.now(timezone.utc) + offset["t"], timeout=0.5)
        server.fault(action="fail_rate", p=0.10, status=500)
        started = time.perf_counter()
        passes = 0
        # A bad spell at the provider: bursts of faults for the first 30 passes, then it recovers.
        while _left(url) and passes < 30:
            if passes % 3 == 0:
                server.fault(action="accept_then_fail_next", n=25)  # recorded, then a 500
                server.fault(action="delay_next", n=5, seconds=1.0)  # answered after the client gave up
                server.fault(action="fail_next", n=10, status=429)
            await sender.run_once()
            offset["t"] += timedelta(minutes=11)  # past any backoff (the longest is 10 minutes)
            # Real time too, longer than a held answer can take: in production the sender waits
            # `stale_after` (60 s) before looking up and retrying a request whose outcome it never heard.
            await asyncio.sleep(2.0)
            passes += 1
        server.fault(action="reset")
        while _left(url) and passes < 400:
            await sender.run_once()
            offset["t"] += timedelta(minutes=11)
            passes += 1
        elapsed = time.perf_counter() - started
        by_ref = server.counts_by_reference()
        counts = [by_ref.get(ref, 0) for ref in refs]
        from sqlmodel import func, select

        from rxapp.messaging.models import Message
        from rxapp.plumbing.db import session_scope

        with session_scope(url) as s:
            statuses = dict(s.exec(select(Message.status, func.count()).group_by(Message.status)).all())
            from rxapp.messaging.models import MessageEvent

            dup = [ref for ref in refs if by_ref.get(ref, 0) > 1]
            for m in s.exec(select(Message).where((Message.status == "failed") | Message.reference.in_(dup))):
                events = s.exec(select(MessageEvent).where(MessageEvent.message_id == m.id)).all()
                print("odd:", m.reference, m.status, m.attempts, [(e.status, e.detail) for e in events][:12],
                      flush=True)
        return {"messages": count, "passes": passes, "seconds": round(elapsed, 1),
                "duplicates": sum(1 for c in counts if c > 1), "never_sent": sum(1 for c in counts if c == 0),
                "left_in_outbox": _left(url), "statuses": statuses}
    finally:
        server.stop()


SENDER_PROCESS = """
import asyncio, sys, time
from datetime import datetime, timedelta, timezone
sys.path.insert(0, {root!r})
from bench.outbox import _sender, _left

class Server:
    url = {server!r}

sender = _sender({url!r}, Server, lambda: datetime.now(timezone.utc), stale_after=timedelta(seconds=60))
print("ready", flush=True)
sys.stdin.readline()
cpu0 = time.process_time()

async def go():
    sent = 0
    while True:
        sent += (await sender.drain(max_passes=10_000)).sent
        if not _left({url!r}):
            return sent
        await asyncio.sleep(0.05)  # rows another sender holds: look again

sent = asyncio.run(go())
print("sent", sent, time.process_time() - cpu0, flush=True)
"""


def shared(url: str, count: int, senders: int, latency: float = 0.0) -> dict:
    """`senders` sender processes draining one outbox at once (see the module notes, 3)."""
    import subprocess

    server = RemoteNotify(rate_limit=10_000_000, latency=latency)
    logs = [tempfile.TemporaryFile("w+") for _ in range(senders)]
    try:
        refs = _queue(url, count)
        code = SENDER_PROCESS.format(root=str(ROOT), server=server.url, url=url)
        procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=log, text=True) for log in logs]
        for proc in procs:
            _expect(proc, "ready", logs)
        from bench.liveapp import cpu_seconds

        notify_cpu0, load0 = cpu_seconds(server.proc.pid), os.getloadavg()[0]
        started = time.perf_counter()
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        answers = [_expect(proc, "sent", logs) for proc in procs]
        elapsed = time.perf_counter() - started
        notify_cpu, load1 = cpu_seconds(server.proc.pid) - notify_cpu0, os.getloadavg()[0]
        for proc in procs:
            proc.wait(timeout=30)
        each = [int(answer[1]) for answer in answers]
        cpu = sum(float(answer[2]) for answer in answers)  # the senders' own CPU from "go" to the end
        counts = server.counts_by_reference()
        return {"senders": senders, "messages": count, "notify_latency": latency, "sent_by_each": each,
                "seconds": round(elapsed, 2), "per_second": round(sum(each) / elapsed, 1),
                "sender_cpu_ms_per_message": round(cpu / max(1, sum(each)) * 1000, 2),
                "notify_cpu_ms_per_message": round(notify_cpu / max(1, sum(each)) * 1000, 2),
                "load_average": [round(load0, 1), round(load1, 1)],
                "duplicates": sum(1 for r in refs if counts.get(r, 0) > 1),
                "never_sent": sum(1 for r in refs if counts.get(r, 0) == 0), "left": _left(url)}
    finally:
        server.stop()
        for log in logs:
            log.close()


def _expect(proc, word: str, logs) -> list[str]:
    """The sender process's next line, which must start with `word`; else what it printed on stderr."""
    line = proc.stdout.readline().split()
    if not line or line[0] != word:
        proc.kill()
        for log in logs:
            log.seek(0)
        raise RuntimeError(f"a sender process stopped (expected {word!r}, got {line!r}):\n"
                           + "\n".join(log.read()[-3000:] for log in logs))
    return line


def compare_senders(url: str, count: int, senders: int, latency: float = 0.0) -> list[dict]:
    """One sender, then `senders` at once, each on a fresh outbox of `count` messages at `url` (PostgreSQL)."""
    return [shared(_fresh_db(url), count, n, latency) for n in (1, senders)]


def describe(run: dict) -> str:
    return (f"{run['senders']} sender(s), Notify latency {run['notify_latency']:g} s: {run['messages']} messages in "
            f"{run['seconds']} s = {run['per_second']} a second (each sent {run['sent_by_each']}; CPU a message: "
            f"senders {run['sender_cpu_ms_per_message']} ms, local Notify {run['notify_cpu_ms_per_message']} ms), "
            f"duplicates {run['duplicates']}, never sent {run['never_sent']}, left {run['left']}; load average "
            f"{run['load_average'][0]} -> {run['load_average'][1]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--senders", type=int, default=0,
                        help="compare one sender process with this many on one outbox (PostgreSQL), then stop")
    parser.add_argument("--notify-latency", type=float, default=[0.0], nargs="+", metavar="SECONDS",
                        help="with --senders: how long the local Notify takes to answer each request, one comparison "
                             "per value (the real one is across the internet; default 0)")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)
    if args.senders:
        if not (args.database_url or "").startswith("postgresql"):
            parser.error("--senders needs --database-url postgresql://...")
        if any(not 0 <= value <= 10 for value in args.notify_latency):
            parser.error("--notify-latency must be between 0 and 10 seconds")
        results = []
        for latency in args.notify_latency:
            runs = compare_senders(args.database_url, args.messages, args.senders, latency)
            for run in runs:
                print(describe(run), flush=True)
            ratio = runs[1]["per_second"] / runs[0]["per_second"]
            print(f"{args.senders} senders / 1 at Notify latency {latency:g} s: {ratio:.2f}x (target >= 1.8)",
                  flush=True)
            results.append({"latency": latency, "runs": runs, "ratio": round(ratio, 2)})
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
        return 0
    first = asyncio.run(throughput(_fresh_db(args.database_url), args.messages))
    print(f"throughput: {first['sent']} messages in {first['seconds']} s = {first['per_second']} a second "
          f"(target >= 200), duplicates {first['duplicates']}", flush=True)
    second = asyncio.run(faults(_fresh_db(args.database_url), args.messages))
    print(f"with faults: {second['messages']} messages, {second['duplicates']} duplicates (target 0), "
          f"{second['never_sent']} never sent, {second['left_in_outbox']} left, {second['passes']} passes, "
          f"{second['seconds']} s; final statuses {second['statuses']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"throughput": first, "faults": second}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
