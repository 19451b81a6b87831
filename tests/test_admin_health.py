"""What administrators see of the feeds: a records feed that refused our credentials is an alert."""
from __future__ import annotations

from rxapp.plumbing import runner
from rxapp.feeds.admin_state import load_feed_health


class _StoppedPoller:
    status = {"state": "stopped", "stopped_reason": "the records feed refused our credentials (HTTP 401)",
              "last_error": None}


def test_a_stopped_records_poller_is_shown_as_an_alert(db_url, monkeypatch):
    monkeypatch.setitem(runner._status, "records", _StoppedPoller())
    health = load_feed_health()
    assert health["records_state"].startswith("STOPPED: ")
    assert "refused our credentials" in health["records_state"]
    assert health["records_cursor_at"] == "never"


def test_no_records_poller_here(db_url, monkeypatch):
    monkeypatch.delitem(runner._status, "records", raising=False)
    assert "not polled here" in load_feed_health()["records_state"]
