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
