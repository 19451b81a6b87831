"""What administrators see of the feeds: a records feed that refused our credentials is an alert."""
from __future__ import annotations

from rxapp.feeds.views import load_feed_health
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.jobs import Loop, StatusReport, write_status


class _StoppedPoller:
    status = {"state": "stopped", "stopped_reason": "the records feed refused our credentials (HTTP 401)",
              "last_error": None}

    async def run(self):
        pass

    async def stop(self):
        pass


def _runner_reports(*loops: Loop) -> None:
    """As the elected runner does, in whatever process it is: its loops' status, stored for every worker."""
    write_status(StatusReport([], list(loops)).rows_due(utcnow()), replace=True)


def test_a_stopped_records_poller_is_shown_as_an_alert(db_url):
    _runner_reports(Loop("niche", _StoppedPoller(), lambda status: status["state"]))
    health = load_feed_health()
    assert health["records_state"].startswith("STOPPED: ")
    assert "refused our credentials" in health["records_state"]
    assert health["records_cursor_at"] == "never"


def test_no_records_poller_here(db_url):
    _runner_reports()
    assert "not polled here" in load_feed_health()["records_state"]


def test_each_feeds_dead_letters_are_counted_under_that_feed(db_url):
    from rxapp.feeds.models import DeadLetter as Letter
    from rxapp.plumbing.db import session_scope as scope

    with scope(db_url) as s:
        s.add(Letter(feed="storm", seq=7, reason="not JSON", raw="{"))
        for n in range(3):
            s.add(Letter(feed="niche", event_id=f"c-{n}", reason="change id repeated with different content",
                         raw=f'{{"change_id": "c-{n}"}}'))
    health = load_feed_health()
    assert (health["storm_dead_letters"], health["records_dead_letters"]) == ("1", "3")
