"""What the runner runs, and what it says about it.

Each capability's `scheduled.py` describes its background work with two small types, and the runner
(`rxapp/plumbing/runner.py`) runs them in the one elected process:
- `Job`: short work run every `every` seconds, never two runs at once (a run that falls due while the last
  is still going is skipped, not queued);
- `Loop`: long-running work, a feed link, with `run()`, `stop()` and a `status` snapshot.

The leader keeps a `StatusReport` of itself and its work and writes it to the `runner_status` table: at once
when something an administrator would act on changes (a feed link drops, the poller stops, a job fails or
runs for the first time), otherwise with a heartbeat every `HEARTBEAT_SECONDS`. `runner_status()` reads it
back, on any worker: a heartbeat older than `STALE_AFTER` means no process is running the background work.
"""
from __future__ import annotations

import json
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import delete, select

from rxapp.feeds.models import RunnerStatus
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.db import session_scope

HEARTBEAT_SECONDS = 5.0
STALE_AFTER = timedelta(seconds=30)
LEADING, STEPPED_DOWN = "leading", "stepped down"
RUNNING, IDLE = "running", "idle"
LEADER = "leader"


@dataclass(frozen=True)
class Job:
    """`run()` makes a fresh coroutine for each run; `id` names the job in the scheduler and in the status."""

    id: str
    run: Callable[[], Awaitable[Any]]
    every: float


class Worker(Protocol):
    """What a long-running loop offers the runner (the STORM client and the NICHE poller do)."""

    async def run(self) -> None: ...

    async def stop(self) -> None: ...

    @property
    def status(self) -> dict: ...


@dataclass(frozen=True)
class Loop:
    """`state` turns the worker's status snapshot into one word (a change of word is reported at once)."""

    id: str
    worker: Worker
    state: Callable[[dict], str]


def this_process() -> tuple[str, int]:
    return socket.gethostname(), os.getpid()


def _json(snapshot: dict) -> str:
    return json.dumps(snapshot, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v),
                      sort_keys=True)


class StatusReport:
    """The leader's account of itself, its loops and its jobs, kept in memory and written by `write()`."""

    def __init__(self, jobs: list[Job], loops: list[Loop], *, now: datetime | None = None):
        self.host, self.pid = this_process()
        self.since = now or utcnow()
        self.loops = list(loops)
        self._jobs: dict[str, dict] = {job.id: {"every_seconds": job.every, "state": IDLE, "started_at": None,
                                                "finished_at": None, "outcome": None} for job in jobs}
        self._loop_states: dict[str, str] = {}
        self._urgent = True  # the first write says who leads
        self._written_at: datetime | None = None
        self.state = LEADING

    def job_started(self, job_id: str, at: datetime) -> None:
        self._jobs[job_id].update(state=RUNNING, started_at=at)

    def job_finished(self, job_id: str, at: datetime, outcome: str) -> None:
        job = self._jobs[job_id]
        if job["outcome"] != outcome:
            self._urgent = True  # the first run, a failure, or a recovery
        job.update(state=IDLE, finished_at=at, outcome=outcome)

    def step_down(self) -> None:
        self.state = STEPPED_DOWN
        self._urgent = True

    def rows_due(self, now: datetime) -> list[RunnerStatus]:
        """Every row, when something changed that matters or the heartbeat is due; otherwise none."""
        snapshots = {loop.id: loop.worker.status for loop in self.loops}
        states = {loop.id: loop.state(snapshots[loop.id]) for loop in self.loops}
        if states != self._loop_states:
            self._urgent = True
        heartbeat_due = (self._written_at is None
                         or (now - self._written_at).total_seconds() >= HEARTBEAT_SECONDS)
        if not (self._urgent or heartbeat_due):
            return []
        self._loop_states = states
        who = {"host": self.host, "pid": self.pid, "updated_at": now}
        rows = [RunnerStatus(component=LEADER, kind="leader", state=self.state, started_at=self.since, **who)]
        rows += [RunnerStatus(component=loop.id, kind="loop", state=states[loop.id],
                              detail=_json(snapshots[loop.id]), **who) for loop in self.loops]
        rows += [RunnerStatus(component=job_id, kind="job", **job, **who) for job_id, job in self._jobs.items()]
        return rows

    def written(self, now: datetime) -> None:
        self._urgent = False
        self._written_at = now


def write_status(rows: list[RunnerStatus], *, replace: bool = False, db_url: str | None = None) -> None:
    """Store the leader's rows in one transaction. `replace` (on taking over) also drops the rows of loops
    and jobs this leader does not run, so nothing a previous leader ran is shown as if it still were."""
    with session_scope(db_url) as session:
        if replace:
            session.exec(delete(RunnerStatus).where(RunnerStatus.component.not_in([r.component for r in rows])))
        for row in rows:
            session.merge(row)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def runner_status(now: datetime | None = None, db_url: str | None = None) -> dict:
    """What the runner last reported, read from the database (so the same on every worker):
    `leader` (None when no process has ever led), `feed` and `records` (the STORM link's and the NICHE
    poller's status as last reported, when they run), and `jobs` by id."""
    now = now or utcnow()
    with session_scope(db_url, readonly=True) as session:
        rows = session.exec(select(RunnerStatus).order_by(RunnerStatus.component)).all()
    status: dict[str, Any] = {"leader": None, "jobs": {}}
    host, pid = this_process()
    for row in rows:
        if row.kind == "leader":
            age = max(0.0, (now - row.updated_at).total_seconds())
            status["leader"] = {
                "host": row.host, "pid": row.pid, "state": row.state, "since": _iso(row.started_at),
                "heartbeat_at": _iso(row.updated_at), "heartbeat_age_seconds": round(age, 1),
                "stale": row.state == LEADING and age > STALE_AFTER.total_seconds(),
                "this_process": (row.host, row.pid) == (host, pid),
            }
        elif row.kind == "loop":
            key = {"storm": "feed", "niche": "records"}.get(row.component, row.component)
            status[key] = {**json.loads(row.detail or "{}"), "reported_at": _iso(row.updated_at)}
        else:
            status["jobs"][row.component] = {
                "every_seconds": row.every_seconds, "state": row.state, "last_started_at": _iso(row.started_at),
                "last_finished_at": _iso(row.finished_at), "outcome": row.outcome,
            }
    leader = status["leader"]
    status["running"] = bool(leader and leader["state"] == LEADING and not leader["stale"])
    return status
