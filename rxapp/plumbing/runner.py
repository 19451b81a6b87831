"""Background work that must run once per deployment, not once per worker. One process wins a lock (a
PostgreSQL advisory lock, or a file lock beside a SQLite database) and runs it; the others wait and take
over when the leader dies. The work itself lives beside the capability it serves, in each package's
`scheduled.py` (jobs and long-running loops, see `rxapp/plumbing/jobs.py`); the runner only registers it,
and reports on it in the `runner_status` table so that every worker can tell who leads and how the work goes.

Failing over: a waiting process tries the lock every `RETRY_SECONDS` (2 s: one `pg_try_advisory_lock` or one
`flock` per waiting worker, nothing worth saving), so when the leader dies another leads about 2 s later. The
leader checks the same often that it still holds the lock: a PostgreSQL restart drops every session and so the
lock, and a leader that went on working then would run beside the process that took the lock after it. It
steps down at once and waits for the lock again. The lock's session asks the server for TCP keepalives, so a
leader whose machine vanished without closing its connection loses the lock in about half a minute, not after
the operating system's two hours. A database that cannot be reached while waiting is waited out, never fatal.
"""
from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from contextlib import suppress
from pathlib import Path

import sqlalchemy as sa
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from rxapp.attendance import scheduled as attendance_scheduled
from rxapp.audit import scheduled as audit_scheduled
from rxapp.investigation import scheduled as investigation_scheduled
from rxapp.messaging import scheduled as messaging_scheduled
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import Settings, settings
from rxapp.plumbing.db import engine
from rxapp.plumbing.jobs import Job, Loop, StatusReport, write_status
from rxapp.portal import scheduled as portal_scheduled

log = logging.getLogger(__name__)
ADVISORY_KEY = 7_411_002  # arbitrary, fixed: "victim journey runner"
RETRY_SECONDS = 2.0  # how often a waiting process tries the lock, and the leader checks it still holds it
# The lock's session: the server probes a silent client after 10 s, every 5 s, and drops it after 3 misses.
LOCK_SESSION_KEEPALIVES = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}
REPORT_TICK_SECONDS = 1.0  # how often the leader looks for something worth writing to runner_status
PACKAGES = (attendance_scheduled, messaging_scheduled, investigation_scheduled, audit_scheduled, portal_scheduled)


class Leadership:
    """Holds the runner lock for as long as the process lives."""

    def __init__(self, db_url: str):
        self.db_url = db_url
        self._file = None
        self._conn = None

    def try_acquire(self) -> bool:
        if self.db_url.startswith("sqlite"):
            path = (Path(self.db_url.split("///", 1)[-1] + ".runner.lock") if "///" in self.db_url
                    else settings().data_dir / "runner.lock")
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a+")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            self._file = handle
            return True
        conn = engine(self.db_url).connect()
        try:
            for name, value in LOCK_SESSION_KEEPALIVES.items():
                conn.execute(sa.text(f"SET {name} = {int(value)}"))
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            conn.commit()
        except Exception:
            conn.invalidate()
            conn.close()
            raise
        if got:
            self._conn = conn  # the lock lives as long as this connection
            return True
        conn.close()
        return False

    def still_held(self) -> bool:
        """Whether this process still holds the lock: always, for a file lock; on PostgreSQL, whether the
        lock's session is alive and holds it (a database restart ends the session and the lock with it)."""
        if self._file is not None:
            return True
        if self._conn is None:
            return False
        try:
            held = self._conn.execute(sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND classid = 0 AND objid = :k AND objsubid = 1 AND granted"), {"k": ADVISORY_KEY}).scalar()
            self._conn.commit()
        except Exception:  # the session is gone, and the lock with it
            with suppress(Exception):
                self._conn.invalidate()
            return False
        return bool(held)

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._conn is not None:
            with suppress(Exception):
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.close()
            self._conn = None


def scheduled_work(cfg: Settings) -> tuple[list[Job], list[Loop]]:
    """Every package's jobs and loops for this configuration."""
    jobs = [job for package in PACKAGES for job in package.jobs(cfg)]
    loops = [loop for package in PACKAGES for loop in package.loops(cfg)]
    return jobs, loops


async def _run_job(job: Job, report: StatusReport) -> None:
    report.job_started(job.id, utcnow())
    try:
        await job.run()
    except Exception as exc:  # recorded and logged; the next run goes ahead as scheduled
        log.exception("scheduled job %s failed", job.id)
        report.job_finished(job.id, utcnow(), f"failed: {type(exc).__name__}")
    else:
        report.job_finished(job.id, utcnow(), "ok")


async def _write_report(report: StatusReport, *, replace: bool = False) -> None:
    now = utcnow()
    rows = report.rows_due(now)
    if not rows:
        return
    try:
        await asyncio.to_thread(write_status, rows, replace=replace)
    except Exception:  # a status that cannot be stored must never stop the work it describes
        log.warning("could not store the runner's status", exc_info=True)
    else:
        report.written(now)


async def _keep_reporting(report: StatusReport, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await _write_report(report)
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=REPORT_TICK_SECONDS)


async def run_background(stop: asyncio.Event | None = None) -> None:
    """Lifespan task: wait for the runner lock, then run every package's loops and jobs until stopped; a
    leader that loses the lock stops its work and waits for the lock again."""
    cfg = settings()
    stop = stop or asyncio.Event()
    leadership = Leadership(cfg.database_url)
    while await _wait_for_lock(leadership, stop):
        log.info("this process runs the background jobs (pid %s)", os.getpid())
        lost = asyncio.Event()
        watch = asyncio.create_task(_watch_lock(leadership, lost, stop), name="runner-lock-watch")
        try:
            await _lead(cfg, stop, lost)
        finally:
            watch.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await watch
            await asyncio.to_thread(leadership.release)
        if lost.is_set() and not stop.is_set():
            log.error("this process lost the runner lock (pid %s): its background work stopped; "
                      "waiting to lead again", os.getpid())


async def _wait_for_lock(leadership: Leadership, stop: asyncio.Event) -> bool:
    """True once this process holds the lock; False when stopped first."""
    while not stop.is_set():
        try:
            if await asyncio.to_thread(leadership.try_acquire):
                return True
        except Exception as exc:  # the database is away (restarting, say): try again, never give up
            log.warning("could not try the runner lock (%s); trying again in %.0f s", type(exc).__name__,
                        RETRY_SECONDS)
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=RETRY_SECONDS)
    return False


async def _watch_lock(leadership: Leadership, lost: asyncio.Event, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=RETRY_SECONDS)
        if stop.is_set():
            return
        if not await asyncio.to_thread(leadership.still_held):
            lost.set()
            return


async def _lead(cfg: Settings, stop: asyncio.Event, lost: asyncio.Event | None = None) -> None:
    jobs, loops = scheduled_work(cfg)
    report = StatusReport(jobs, loops)
    await _write_report(report, replace=True)
    scheduler = AsyncIOScheduler(timezone="UTC")
    for job in jobs:
        scheduler.add_job(_run_job, "interval", seconds=job.every, args=[job, report], id=job.id,
                          max_instances=1, coalesce=True)
    scheduler.start()
    tasks = [asyncio.create_task(loop.worker.run(), name=loop.id) for loop in loops]
    reporting = asyncio.create_task(_keep_reporting(report, stop), name="runner-status")
    ending = [asyncio.ensure_future(stop.wait())] + ([asyncio.ensure_future(lost.wait())] if lost else [])
    try:
        await asyncio.wait(ending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in ending:
            waiter.cancel()
        scheduler.shutdown(wait=False)
        for loop, task in zip(loops, tasks):
            with suppress(Exception):
                await loop.worker.stop()
            task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task
        reporting.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await reporting
        if lost is None or not lost.is_set():  # a lost lock's rows now belong to whoever took it
            report.step_down()
            await _write_report(report)
