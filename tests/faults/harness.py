"""What the fault tests run, each piece in its own process as in production, so that a piece can be killed
(SIGKILL) or restarted without the test process going with it:
- `FeedServer`: a STORM gateway (tests/faults/feedserver.py, the product's `StormSimulator`) on a port of its
  own, serving a prepared stream; restarted on the same port with the same stream, as a gateway that keeps
  its sequence numbers would be;
- `NotifyServer`: the local GOV.UK Notify (`python -m integrations.govuk_notify.simulator`), failing on request
  through its `/_control/faults` switches, and telling which references it was sent and how often;
- `Runner`: a process running `rxapp.plumbing.runner.run_background`, as each worker's lifespan does;
- `PrivatePostgres`: a PostgreSQL server of the test's own (initdb/pg_ctl, data in /tmp, its own port), so
  restarting it touches nothing else on the machine; `PrivateRedis` likewise.
`final_state` is what an undisturbed run is compared with: incidents, assignments, steps, vehicle fixes, the
feed's resume point, dead letters, messages and duties, without ids and wall-clock bookkeeping.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from sqlmodel import select

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")

# A runner process as each worker's lifespan starts one, with a quicker heartbeat so the test need not wait.
RUNNER_PROCESS = """
import asyncio, logging, sys
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
from rxapp.plumbing import jobs, runner
jobs.HEARTBEAT_SECONDS = 0.5
asyncio.run(runner.run_background())
"""
FINAL_MESSAGE_STATUSES = {"sent", "delivered", "cancelled", "blocked", "failed", "permanent-failure",
                          "temporary-failure", "technical-failure"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _python_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("STORM_FEED_URL", "NICHE_FEED_URL", "NOTIFY_API_KEY", "SMTP_URL", "ROUTING_URL",
                        "REDIS_URL", "VJ_FAILPOINT")}
    env.update(PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""), **extra)
    return env


# ---- the feed ---------------------------------------------------------------------------------------------


def feed_frames(attendances: int = 30, fixes: int = 4500, seed: int = 13) -> list[dict]:
    """A night's traffic as one stream: `attendances` burglaries opened, a car assigned and on its way to each,
    its fixes every 15 s (`fixes` in all), then each car arriving, and the incident closed. Times end a few
    minutes ago, so every frame is recent enough for the client and none is in the future."""
    sys.path.insert(0, str(ROOT))
    from bench import feedgen

    rng = random.Random(seed)
    end = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    per_car = fixes // attendances
    start = end - timedelta(seconds=15 * per_car + attendances + 120)
    cars = feedgen.make_attendances(attendances, "F", rng, start)
    events = feedgen.seed_events(cars, start)
    events += feedgen.position_stream(cars, fixes, start + timedelta(seconds=attendances + 1))
    at = start + timedelta(seconds=attendances + 2 + 15 * per_car)
    for i, car in enumerate(cars):
        events.append(feedgen.status(car, at + timedelta(seconds=i), "6"))
    for i, car in enumerate(cars):
        events.append(feedgen._event("incident.closed", at + timedelta(seconds=60 + i), "incident",
                                     {"urn": car.urn, "disposition": "ATTENDED", "crime_reference": None}))
    for event in events:  # the same ids every run, so two runs' streams are the same stream
        event["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if event["type"] == "incident.opened":  # a caller each (Ofcom's drama range, less Notify's test numbers)
            serial = 10 + int(event["incident"]["urn"].rsplit("-", 1)[1])
            event["incident"]["caller"] = {**event["incident"]["caller"], "phone": f"07700900{serial:03d}",
                                           "email": f"caller{serial}@example.org"}
    return feedgen.numbered(events)


class FeedServer:
    """The STORM gateway in its own process on a fixed port, serving `frames` (numbered from 1)."""

    def __init__(self, frames: list[dict], workdir: Path, *, pace: float = 0.0):
        self.path = workdir / "frames.jsonl"
        self.path.write_text("".join(json.dumps(f) + "\n" for f in frames), encoding="utf-8")
        self.port = free_port()
        self.pace = pace
        self.proc: subprocess.Popen | None = None
        self.count = len(frames)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/feed"

    def start(self) -> "FeedServer":
        self.proc = subprocess.Popen([sys.executable, str(HERE / "feedserver.py"), str(self.path), "--port",
                                      str(self.port), "--pace", str(self.pace)], cwd=ROOT, env=_python_env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("URL "), f"the feed server did not start: {line!r}"
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    stop = kill


class NotifyServer:
    """The local Notify in its own process. `fault(...)` as `POST /_control/faults` takes it."""

    def __init__(self):
        from integrations.govuk_notify.simulator import DEMO_API_KEY

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = DEMO_API_KEY
        self.proc = subprocess.Popen([sys.executable, "-m", "integrations.govuk_notify.simulator", "--port",
                                      str(self.port), "--rate-limit", "1000000", "--receipt-delay", "3600"],
                                     cwd=ROOT, env=_python_env(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.http = httpx.Client(timeout=30)
        wait_for(self._up, 20, "the local Notify to answer", every=0.05)

    def _up(self) -> bool:
        try:
            self.http.get(self.url + "/_control/faults")
            return True
        except httpx.HTTPError:
            return False

    def env(self) -> dict:
        from integrations.govuk_notify.simulator import DEFAULT_EMAIL_TEMPLATE_ID, DEFAULT_SMS_TEMPLATE_ID

        return {"NOTIFY_API_KEY": self.api_key, "NOTIFY_BASE_URL": self.url,
                "NOTIFY_SMS_TEMPLATE_ID": DEFAULT_SMS_TEMPLATE_ID, "NOTIFY_EMAIL_TEMPLATE_ID": DEFAULT_EMAIL_TEMPLATE_ID}

    def fault(self, **spec) -> None:
        self.http.post(self.url + "/_control/faults", json=spec).raise_for_status()

    def sends_by_reference(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.http.get(self.url + "/_control/notifications").json()["notifications"]:
            counts[item["reference"]] = counts.get(item["reference"], 0) + 1
        return counts

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Runner:
    """One worker's background runner, in its own process."""

    def __init__(self, db_url: str, data_dir: Path, **env: str):
        self.log = open(data_dir / f"runner-{time.monotonic_ns()}.log", "w+")
        self.proc = subprocess.Popen([sys.executable, "-c", RUNNER_PROCESS], cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=self.log, env=_python_env(DATABASE_URL=db_url, VJ_DATA_DIR=str(data_dir),
                                                                      **env))
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def errors(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


# ---- private servers -----------------------------------------------------------------------------------------


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class PrivatePostgres:
    """A PostgreSQL server of our own: `initdb` into a directory in /tmp, `pg_ctl` on a free port. Never the
    machine's shared server."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="vj-faults-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                                     "--no-sync"]), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.start()

    def _ctl(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
                                     "-w", "-t", "60", *args]), check=True, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        self._ctl("-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def create(self, name: str) -> str:
        import sqlalchemy as sa

        from rxapp.plumbing import db

        admin = db.make_engine(self.url("postgres")).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        db.migrate(self.url(name))
        return self.url(name)

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A redis-server of our own on a free port, nothing saved to disk."""

    def __init__(self):
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_for(up, 20, "the private redis-server", every=0.05)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    stop = kill


# ---- the state compared ------------------------------------------------------------------------------------


def stored_seq(db_url: str) -> int:
    from rxapp.feeds.models import FeedCursor
    from rxapp.plumbing.db import session_scope

    try:
        with session_scope(db_url, readonly=True) as s:
            cursor = s.get(FeedCursor, "storm")
            return cursor.last_seq if cursor else 0
    except Exception:  # the database is away just now
        return -1


def outbox_settled(db_url: str) -> bool:
    """Every message written has reached an end (sent, cancelled, ...): nothing queued, retrying or sending."""
    from sqlmodel import func

    from rxapp.messaging.models import Message
    from rxapp.plumbing.db import session_scope

    try:
        with session_scope(db_url, readonly=True) as s:
            total = s.exec(select(func.count()).select_from(Message)).one()
            open_ = s.exec(select(func.count()).select_from(Message)
                           .where(Message.status.not_in(FINAL_MESSAGE_STATUSES))).one()
    except Exception:
        return False
    return total > 0 and open_ == 0


def final_state(db_url: str) -> dict:
    """Everything the feed and the sender leave behind, comparable between two runs."""
    sys.path.insert(0, str(ROOT))
    from rxapp.attendance.models import Incident
    from rxapp.investigation.models import Duty
    from rxapp.messaging.models import Message
    from rxapp.plumbing.db import session_scope
    from tests.helpers import snapshot

    state = snapshot(db_url)
    with session_scope(db_url, readonly=True) as s:
        urns = {i.id: i.urn for i in s.exec(select(Incident))}
        # Whether a text went or was cancelled as no longer relevant (an "arriving soon" the arrival overtook)
        # depends on when the sender's pass fell between two frames, in an undisturbed run too: what is
        # compared is every message written, each at an end; `outbox_settled` and Notify's counts say none was
        # lost or sent twice.
        state["messages"] = sorted(
            (urns.get(m.incident_id), m.template, m.kind, m.channel, m.destination, m.status in FINAL_MESSAGE_STATUSES)
            for m in s.exec(select(Message)))
        state["duties"] = sorted((d.key, d.milestone, d.state, d.late, d.done_how) for d in s.exec(select(Duty)))
    return state


def message_references(db_url: str) -> list[str]:
    from rxapp.messaging.models import Message
    from rxapp.plumbing.db import session_scope

    with session_scope(db_url, readonly=True) as s:
        return [m.reference for m in s.exec(select(Message).where(Message.status.in_(("sent", "delivered"))))]


def difference(left: dict, right: dict) -> str:
    """The first few differences between two final states, for an assertion's message."""
    lines = []
    for key in sorted(set(left) | set(right)):
        a, b = left.get(key), right.get(key)
        if a != b:
            if isinstance(a, list) and isinstance(b, list):
                only_a = [x for x in a if x not in b][:3]
                only_b = [x for x in b if x not in a][:3]
                lines.append(f"{key}: {len(a)} vs {len(b)}; only undisturbed {only_a}; only disturbed {only_b}")
            else:
                lines.append(f"{key}: {a!r} vs {b!r}")
    return "\n".join(lines)
