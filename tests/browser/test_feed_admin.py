"""/admin/feed in a browser after a frame a thousand ahead of the stream and a malformed incident: the later
events still reach the attendance, and the page says the feed is degraded and lists the sequence alert."""
from __future__ import annotations

import json
import random
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from .axe import assert_accessible
from .conftest import shifted_events, submit_sign_in

pytestmark = pytest.mark.browser


def _fresh_burglary() -> list[dict]:
    """The burglary scenario, ended a minute ago, under a fresh contract-shaped URN, call sign and event ids."""
    now = datetime.now(timezone.utc)
    events = shifted_events("burglary-priority", now)
    span = datetime.fromisoformat(events[-1]["occurred_at"].replace("Z", "+00:00")) - now
    events = shifted_events("burglary-priority", now - span - timedelta(minutes=1))
    urn = f"CLE-{now:%Y%m%d}-{random.randint(100000, 999999)}"
    callsign = f"CF{random.randint(1000, 9999)}"
    tag = uuid.uuid4().hex[:8]
    text = json.dumps(events).replace("CLE-20261120-0142", urn).replace('"CE21"', f'"{callsign}"')
    events = json.loads(text)
    for event in events:
        event["event_id"] = f"{event['event_id']}-{tag}"
    return events


def _wait_closed(db_url: str, urn: str, timeout: float = 30) -> None:
    from rxapp.attendance.models import Incident
    from rxapp.plumbing.db import session_scope

    deadline = time.time() + timeout
    while time.time() < deadline:
        with session_scope(db_url, readonly=True) as s:
            inc = s.exec(select(Incident).where(Incident.urn == urn)).first()
            if inc is not None and not inc.is_open and inc.arrived_at is not None:
                return
        time.sleep(0.2)
    raise AssertionError(f"{urn} was not closed after its arrival")


def test_feed_admin_shows_degraded_and_the_sequence_alert(live_app, browser, artifacts):
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    with session_scope(live_app["db_url"]) as s:
        create_user(s, "admin.feed", "admin-feed-password-long", "admin", "Feed Admin")
    feed = live_app["feed"]
    events = _fresh_burglary()
    urn = events[0]["incident"]["urn"]
    last = 0
    for event in events[:5]:
        last = feed.send(event)
    stray_seq = last + 1000
    stray = next(e for e in events if e["type"] == "resource.position")
    feed.raw(json.dumps({**stray, "seq": stray_seq, "event_id": f"stray-{uuid.uuid4().hex[:8]}"}))
    for event in events[5:]:
        feed.send(event)
    _wait_closed(live_app["db_url"], urn)  # the arrival and the closure after the stray frame still applied

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{live_app['base']}/admin/feed")
    page.wait_for_url(re.compile(r"/login\?next=admin"), timeout=15000)
    submit_sign_in(page, "admin.feed", "admin-feed-password-long")
    page.wait_for_url(re.compile(r"/admin/feed/?$"), timeout=15000)
    expect(page.locator("#feed-state")).to_contain_text("DEGRADED", timeout=15000)
    alerts = page.locator("#sequence-alerts")
    expect(alerts).to_contain_text(str(stray_seq))
    assert_accessible(page, "/admin/feed with a sequence alert")
    page.screenshot(path=str(artifacts / "admin-feed-degraded-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(artifacts / "admin-feed-degraded-360.png"), full_page=True)
    page.close()
