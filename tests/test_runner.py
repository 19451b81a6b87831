"""One runner per deployment: whichever process holds the lock (a file lock beside a SQLite database, a
PostgreSQL advisory lock) runs every package's jobs, and says so in the `runner_status` table; when it dies,
a waiting process takes over within seconds. Every worker reads the same status from the database."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from rxapp.feeds.models import RunnerStatus
from rxapp.plumbing import config, db, runner
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.jobs import Job, Loop, StatusReport, runner_status, write_status

from .conftest import ROOT

# A runner process as the app's lifespan starts one; it tries the lock every second instead of every two (RETRY_SECONDS)
# and beats every half second, so the test need not wait long.
RUNNER_PROCESS = """
import asyncio
from rxapp.plumbing import jobs, runner
jobs.HEARTBEAT_SECONDS = 0.5
runner.RETRY_SECONDS = 1.0
asyncio.run(runner.run_background())
"""
EVERY_PACKAGES_JOBS = {"refresh-windows", "board-clock", "unassigned-sweep", "deadline-sweep", "audit-retention",
                       "portal-sessions"}


def _rows(url: str) -> list[RunnerStatus]:
    with session_scope(url, readonly=True) as session:
        return list(session.exec(select(RunnerStatus)).all())


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _start_runner(url: str, data_dir) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items()
           if k not in ("STORM_FEED_URL", "NICHE_FEED_URL", "NOTIFY_API_KEY", "SMTP_URL", "ROUTING_URL")}
    env.update(DATABASE_URL=url, VJ_DATA_DIR=str(data_dir), DEADLINE_SWEEP_SECONDS="1",
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", RUNNER_PROCESS], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _leader_pid(url: str, pids: set[int]):
    for row in _rows(url):
        if row.component == "leader" and row.state == "leading" and row.pid in pids:
            return row.pid
    return None


def _one_runner_then_takeover(url: str, data_dir) -> None:
    procs = {p.pid: p for p in (_start_runner(url, data_dir), _start_runner(url, data_dir))}
    try:
        leader = _wait_for(lambda: _leader_pid(url, set(procs)), 30, "one of the two processes to lead")
        (follower,) = set(procs) - {leader}

        # For a few seconds: every row (the leader's heartbeat, each job's runs) is written by the leader
        # alone, the jobs do run, and the other process is alive, waiting.
        writers, sweeps = set(), set()
        watch_until = time.monotonic() + 5
        while time.monotonic() < watch_until:
            for row in _rows(url):
                writers.add(row.pid)
                if row.component == "deadline-sweep" and row.outcome == "ok":
                    sweeps.add(row.finished_at)
            time.sleep(0.1)
        assert writers == {leader}
        assert len(sweeps) >= 3, "the leader's deadline sweep should have run several times"
        assert {row.component for row in _rows(url) if row.kind == "job"} == EVERY_PACKAGES_JOBS
        assert procs[follower].poll() is None, procs[follower].stderr.read() if procs[follower].poll() else ""

        killed_at = utcnow()
        os.kill(leader, signal.SIGKILL)
        procs[leader].wait(timeout=5)
        t0 = time.monotonic()
        _wait_for(lambda: _leader_pid(url, {follower}), 10, "the other process to take over")
        _wait_for(lambda: any(r.component == "deadline-sweep" and r.pid == follower and r.finished_at
                              and r.finished_at > killed_at for r in _rows(url)), 10,
                  "the new leader to run the jobs")
        assert time.monotonic() - t0 < 10
        assert {row.pid for row in _rows(url)} == {follower}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)
            proc.stderr.close()


def test_one_runner_on_a_sqlite_file_and_a_takeover_when_it_dies(tmp_path):
    url = f"sqlite:///{tmp_path / 'runner.db'}"
    db.migrate(url)
    try:
        _one_runner_then_takeover(url, tmp_path)
    finally:
        db.dispose_all()


def test_one_runner_on_postgresql_and_a_takeover_when_it_dies(db_url, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("TEST_DATABASE_URL is not PostgreSQL")
    _one_runner_then_takeover(db_url, tmp_path)


def test_the_runner_registers_every_packages_jobs_and_reports_them_to_every_worker(db_url, monkeypatch):
    monkeypatch.setenv("DEADLINE_SWEEP_SECONDS", "1")
    config.reset_settings()

    async def scenario():
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run_background(stop))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status = await asyncio.to_thread(runner_status)
            if (status["jobs"].get("deadline-sweep") or {}).get("outcome") == "ok":
                break
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        return status

    status = asyncio.run(scenario())
    assert set(status["jobs"]) == EVERY_PACKAGES_JOBS  # no provider configured: no outbox sender
    assert status["jobs"]["deadline-sweep"]["every_seconds"] == 1
    assert status["leader"]["this_process"] and status["leader"]["pid"] == os.getpid()
    assert status["running"] and not status["leader"]["stale"]
    assert "feed" not in status and "records" not in status  # neither feed is configured
    after = runner_status()
    assert after["leader"]["state"] == "stepped down" and not after["running"]


class _Link:
    def __init__(self):
        self.status = {"connected": False, "last_error": None}

    async def run(self):
        pass

    async def stop(self):
        pass


def test_a_failing_job_and_a_dropped_link_are_stored_at_once_not_at_the_next_heartbeat(db_url):
    link = _Link()

    async def broken():
        raise ValueError("something inside the job")

    job = Job("broken", broken, 30)
    report = StatusReport([job], [Loop("storm", link, lambda s: "connected" if s["connected"] else "down")])
    now = utcnow()
    write_status(report.rows_due(now), replace=True)
    report.written(now)
    assert report.rows_due(now + timedelta(seconds=1)) == []  # nothing new, heartbeat not yet due

    asyncio.run(runner._run_job(job, report))
    write_status(report.rows_due(now + timedelta(seconds=1)))
    stored = runner_status()["jobs"]["broken"]
    assert stored["outcome"] == "failed: ValueError"  # the error's type, never its message
    assert stored["last_started_at"] <= stored["last_finished_at"]
    report.written(now + timedelta(seconds=1))

    link.status = {"connected": True, "last_error": None}
    write_status(report.rows_due(now + timedelta(seconds=2)))
    assert runner_status()["feed"]["connected"] is True


def test_a_leader_that_stops_beating_is_shown_stale(db_url):
    beat = utcnow()
    write_status(StatusReport([], []).rows_due(beat), replace=True)
    assert not runner_status(now=beat + timedelta(seconds=10))["leader"]["stale"]
    later = runner_status(now=beat + timedelta(seconds=31))
    assert later["leader"]["stale"] and not later["running"]


def test_a_new_leader_drops_what_the_old_one_ran(db_url):
    write_status(StatusReport([Job("retired-job", runner_status, 5)], [Loop("niche", _Link(), str)])
                 .rows_due(utcnow()), replace=True)
    write_status(StatusReport([Job("deadline-sweep", runner_status, 5)], []).rows_due(utcnow()), replace=True)
    status = runner_status()
    assert set(status["jobs"]) == {"deadline-sweep"} and "records" not in status
