"""Background work that must run once per deployment, not once per worker. One process wins a lock (a
PostgreSQL advisory lock, or a file lock beside a SQLite database) and runs it; the others wait and take
over when the leader dies. The work itself lives beside the capability it serves, in each package's
`scheduled.py` (jobs and long-running loops, see `rxapp/plumbing/jobs.py`); the runner only registers it,
and reports on it in the `runner_status` table so that every worker can tell who leads and how the work goes.
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
RETRY_SECONDS = 10.0  # how often a waiting process tries the lock
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
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        conn.commit()
        if got:
            self._conn = conn  # the lock lives as long as this connection
            return True
        conn.close()
        return False

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
    """Lifespan task: wait for the runner lock, then run every package's loops and jobs until stopped."""
    cfg = settings()
    stop = stop or asyncio.Event()
    leadership = Leadership(cfg.database_url)
    while not stop.is_set():
        if await asyncio.to_thread(leadership.try_acquire):
            break
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=RETRY_SECONDS)
    if stop.is_set():
        return
    log.info("this process runs the background jobs (pid %s)", os.getpid())
    try:
        await _lead(cfg, stop)
    finally:
        await asyncio.to_thread(leadership.release)


async def _lead(cfg: Settings, stop: asyncio.Event) -> None:
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
    try:
        await stop.wait()
    finally:
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
        report.step_down()
        await _write_report(report)
