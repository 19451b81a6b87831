"""The runner's lock under faults, quickly (the whole restart is in test_feed_faults.py): a leader whose
PostgreSQL session ends (as a restart ends every session) knows it no longer holds the lock and steps down, and
leads again once it can; a waiting process whose try meets an unreachable database keeps waiting."""
from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from rxapp.plumbing import runner
from rxapp.plumbing.db import engine
from rxapp.plumbing.jobs import runner_status


def _end_lock_session(db_url: str) -> int:
    """Terminate every other session holding the runner's advisory lock on this database; returns how many."""
    with engine(db_url).connect() as conn:
        ended = conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' "
            "AND objid = :k AND pid <> pg_backend_pid() "
            # Advisory locks belong to one database: another test process's runner, on its own database, is
            # not this one's (the PostgreSQL lane runs test files in two processes at once).
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"k": runner.ADVISORY_KEY}).scalar()
        conn.commit()
    return ended


def test_a_postgresql_leader_whose_session_ended_no_longer_holds_the_lock(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("TEST_DATABASE_URL is not PostgreSQL")
    leader = runner.Leadership(db_url)
    assert leader.try_acquire() and leader.still_held()
    assert not runner.Leadership(db_url).try_acquire()
    assert _end_lock_session(db_url) == 1
    assert not leader.still_held()
    leader.release()
    other = runner.Leadership(db_url)
    assert other.try_acquire()
    other.release()


def test_a_leader_that_loses_the_lock_stops_and_leads_again(db_url, monkeypatch):
    if not db_url.startswith("postgresql"):
        pytest.skip("TEST_DATABASE_URL is not PostgreSQL")
    monkeypatch.setattr(runner, "RETRY_SECONDS", 0.3)

    async def scenario():
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run_background(stop))
        try:
            await _until(lambda: (runner_status()["leader"] or {}).get("state") == "leading", "to lead")
            first = runner_status()["leader"]["since"]
            assert await asyncio.to_thread(_end_lock_session, db_url) == 1
            # It notices within a tick, stops its work, takes the lock again and says it leads since now.
            await _until(lambda: (runner_status()["leader"] or {}).get("since") not in (None, first), "to lead again")
            assert runner_status()["leader"]["state"] == "leading"
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)

    asyncio.run(scenario())


def test_waiting_for_the_lock_outlasts_an_unreachable_database(monkeypatch):
    monkeypatch.setattr(runner, "RETRY_SECONDS", 0.05)
    tries = []

    class Flaky:
        def try_acquire(self):
            tries.append(time.monotonic())
            if len(tries) < 4:
                raise ConnectionError("the database is restarting")
            return True

    assert asyncio.run(runner._wait_for_lock(Flaky(), asyncio.Event())) is True
    assert len(tries) == 4


async def _until(predicate, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting {what}")
