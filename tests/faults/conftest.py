"""Fixtures for the fault tests (`pytest -m faults tests/faults`): one feed stream for the whole module, and
the state an undisturbed run of it leaves, to compare every disturbed run with."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from rxapp.plumbing import db

from . import harness


@pytest.fixture(scope="session")
def frames():
    return harness.feed_frames()


def run_undisturbed(frames, db_url: str, workdir: Path) -> dict:
    """One runner, a gateway and Notify that never fail: the state every fault test must end in."""
    feed = harness.FeedServer(frames, workdir).start()
    notify = harness.NotifyServer()
    runner = harness.Runner(db_url, workdir, STORM_FEED_URL=feed.url, **notify.env())
    try:
        harness.wait_for(lambda: harness.stored_seq(db_url) == feed.count, 120, "the feed to be applied")
        harness.wait_for(lambda: harness.outbox_settled(db_url), 60, "the outbox to be sent")
        sends = notify.sends_by_reference()
        assert sorted(sends) == sorted(harness.message_references(db_url))
        assert set(sends.values()) == {1}
    finally:
        runner.stop()
        feed.stop()
        notify.stop()
    return harness.final_state(db_url)


@pytest.fixture(scope="session")
def undisturbed(frames):
    """Always on a SQLite file: the final state does not depend on the engine."""
    workdir = Path(tempfile.mkdtemp(prefix="vj-faults-undisturbed-"))
    url = f"sqlite:///{workdir / 'undisturbed.db'}"
    db.migrate(url)
    try:
        return run_undisturbed(frames, url, workdir)
    finally:
        db.dispose_all()


def pg_admin_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None
