"""Faults in the feed's path, each ending with the final state of an undisturbed run (incidents, assignments,
steps, fixes, the resume point, dead letters, messages, duties) and every message at Notify exactly once:
- the process running the feed killed (SIGKILL) in the middle of a batch: the other worker's runner takes the
  lock and resumes from the stored point;
- the STORM gateway killed and started again mid-feed;
- the database (a private PostgreSQL) restarted while the feed and the sender work, with two runners.
The runners, the gateway and Notify each run in their own process (tests/faults/harness.py)."""
from __future__ import annotations

import sqlite3
import time

import pytest
import sqlalchemy as sa

from . import harness

pytestmark = pytest.mark.faults
PACE = 1500  # frames a second from the gateway: the 4,650 frames take about 3 s, so faults land mid-feed


def _runners_and_servers(frames, db_url, workdir, count=2, pace=PACE):
    feed = harness.FeedServer(frames, workdir, pace=pace).start()
    notify = harness.NotifyServer()
    runners = [harness.Runner(db_url, workdir, STORM_FEED_URL=feed.url, **notify.env()) for _ in range(count)]
    return feed, notify, runners


def _stop(feed, notify, runners):
    for runner in runners:
        runner.stop()
    feed.stop()
    notify.stop()


def _leader(db_url, runners) -> int | None:
    from rxapp.plumbing.jobs import runner_status

    try:
        leader = runner_status(db_url=db_url)["leader"]
    except Exception:
        return None
    pids = {r.pid for r in runners if r.alive()}
    return leader["pid"] if leader and leader["state"] == "leading" and leader["pid"] in pids else None


def _writing(db_url: str) -> bool:
    """Whether some other connection holds a write transaction open just now (the runner mid-batch)."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.split("///", 1)[1], timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
            return False
        except sqlite3.OperationalError:  # the write lock is held: a transaction is writing
            return True
        finally:
            conn.close()
    from rxapp.plumbing.db import engine

    with engine(db_url).connect() as conn:
        return bool(conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL "
            "AND (query ILIKE '%resourcefix%' OR query ILIKE '%incident%' OR query ILIKE '%processedevent%')")).scalar())


def _settle_and_compare(db_url, feed, notify, undisturbed, timeout=120):
    harness.wait_for(lambda: harness.stored_seq(db_url) == feed.count, timeout, "the whole feed to be applied")
    # A text the killed runner had handed to Notify without storing the answer stays "sending" for the sender's
    # `stale_after` (60 s), then is looked up at Notify before anything is sent again.
    harness.wait_for(lambda: harness.outbox_settled(db_url), 120, "the outbox to be sent")
    time.sleep(1.5)  # a pass still sending would show as a duplicate below
    sends = notify.sends_by_reference()
    doubled = {ref: n for ref, n in sends.items() if n > 1}
    assert not doubled, f"sent more than once: {doubled}"
    assert sorted(sends) == sorted(harness.message_references(db_url)), "Notify and the outbox disagree"
    state = harness.final_state(db_url)
    assert state == undisturbed, harness.difference(undisturbed, state)


def test_the_feed_process_killed_mid_batch_another_resumes_nothing_lost_or_doubled(frames, undisturbed, db_url,
                                                                                  tmp_path):
    feed, notify, runners = _runners_and_servers(frames, db_url, tmp_path)
    try:
        first = harness.wait_for(lambda: _leader(db_url, runners), 30, "one runner to lead")

        def mid_batch():
            seq = harness.stored_seq(db_url)
            return 800 < seq < feed.count - 500 and _writing(db_url) and seq

        killed_at_seq = harness.wait_for(mid_batch, 30, "the leader to be inside a feed batch", every=0.005)
        killed = next(r for r in runners if r.pid == first)
        killed.kill()
        t0 = time.monotonic()
        second = harness.wait_for(lambda: _leader(db_url, runners), 15, "the other runner to take over")
        took_over = time.monotonic() - t0
        assert second != first
        harness.wait_for(lambda: harness.stored_seq(db_url) > killed_at_seq, 15, "the feed to move on")
        _settle_and_compare(db_url, feed, notify, undisturbed)
        print(f"killed at seq {killed_at_seq} of {feed.count}; the other runner led {took_over:.1f} s later")
        assert took_over < 2 * 2.0 + 3, "the takeover should come within a couple of lock tries"
    finally:
        _stop(feed, notify, runners)


def test_the_gateway_restarted_mid_feed_the_client_resumes(frames, undisturbed, db_url, tmp_path):
    feed, notify, runners = _runners_and_servers(frames, db_url, tmp_path, count=1)
    try:
        harness.wait_for(lambda: 500 < harness.stored_seq(db_url) < feed.count - 1500, 30, "the feed to be flowing",
                         every=0.01)
        feed.kill()
        stopped_at = harness.stored_seq(db_url)
        time.sleep(2.0)  # the client finds the gateway gone and backs off
        assert harness.stored_seq(db_url) < feed.count
        feed.start()
        harness.wait_for(lambda: harness.stored_seq(db_url) > stopped_at, 30, "the client to reconnect and resume")
        _settle_and_compare(db_url, feed, notify, undisturbed)
    finally:
        _stop(feed, notify, runners)


def test_the_database_restarted_under_load_one_runner_leads_after_and_nothing_is_lost(frames, undisturbed,
                                                                                   tmp_path):
    if not harness.PG_BIN.joinpath("initdb").exists():
        pytest.skip("PostgreSQL's initdb is not installed")
    pg = harness.PrivatePostgres()
    try:
        db_url = pg.create("faults")
        feed, notify, runners = _runners_and_servers(frames, db_url, tmp_path)
        try:
            first = harness.wait_for(lambda: _leader(db_url, runners), 30, "one runner to lead")
            harness.wait_for(lambda: 300 < harness.stored_seq(db_url) < feed.count - 1500, 30,
                             "the feed to be flowing", every=0.01)
            pg.stop("fast")  # every session ends, the runner's lock with it
            time.sleep(2.0)
            pg.start()
            harness.wait_for(lambda: harness.stored_seq(db_url) == feed.count, 120, "the whole feed to be applied")
            # One leader afterwards, whichever: over a few seconds every status row comes from one process.
            writers = set()
            until = time.monotonic() + 4
            while time.monotonic() < until:
                from rxapp.plumbing.jobs import runner_status

                status = runner_status(db_url=db_url)
                writers.add((status["leader"] or {}).get("pid"))
                time.sleep(0.1)
            assert len(writers) == 1 and writers <= {r.pid for r in runners}, writers
            _settle_and_compare(db_url, feed, notify, undisturbed)
            assert all(r.alive() for r in runners), [r.errors()[-2000:] for r in runners]
            print(f"first leader {first}, after the restart {writers}")
        finally:
            _stop(feed, notify, runners)
    finally:
        from rxapp.plumbing import db

        db.dispose_all()
        pg.destroy()
