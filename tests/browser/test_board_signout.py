"""Signing out in one tab stops the control-room board in another tab of the same browser within 5 seconds:
the other tab says the sign-in has ended, its rows are gone, and a later change on the feed never reaches it."""
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

from .conftest import STAFF_PASSWORD, shifted_events, submit_sign_in

pytestmark = pytest.mark.browser

STOPS_WITHIN_MS = 5000


def _attendance(live_app) -> str:
    """Open one attendance on the feed (a fresh URN) and wait until the product has it; returns its URN."""
    from rxapp.attendance.models import Incident
    from rxapp.plumbing.db import session_scope

    events = shifted_events("burglary-priority", datetime.now(timezone.utc) - timedelta(minutes=2))
    tag = uuid.uuid4().hex[:6].upper()
    text = json.dumps(events[:2])
    for urn in set(re.findall(r"CLE-\d{8}-\d{4}", text)):  # a fresh reference of the contract's shape
        text = text.replace(urn, f"CLE-{datetime.now(timezone.utc):%Y%m%d}-{random.randint(100000, 999999)}")
    opened = json.loads(text)
    for event in opened:
        event["event_id"] = f"{event['event_id']}-{tag}"
        live_app["feed"].send(event)
    urn = opened[0]["incident"]["urn"]
    deadline = time.time() + 20
    while time.time() < deadline:
        with session_scope(live_app["db_url"], readonly=True) as s:
            if s.exec(select(Incident).where(Incident.urn == urn)).first() is not None:
                return urn
        time.sleep(0.1)
    raise AssertionError(f"{urn} never reached the product")


def test_signing_out_in_one_tab_stops_the_board_in_another(live_app, browser, artifacts):
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    username = f"signout.{uuid.uuid4().hex[:6]}"
    with session_scope(live_app["db_url"]) as s:
        create_user(s, username, STAFF_PASSWORD, "fcr", display_name="Board Watcher")
    first = _attendance(live_app)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    signing_out = context.new_page()
    signing_out.goto(f"{live_app['base']}/login")
    submit_sign_in(signing_out, username)
    signing_out.wait_for_url(re.compile(r"/board/?$"))

    watching = context.new_page()  # the same browser, so the same session cookie
    frames: list[str] = []
    watching.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    watching.goto(f"{live_app['base']}/board")
    expect(watching.locator(f"tr[data-urn='{first}']")).to_be_visible(timeout=15000)

    signing_out.get_by_role("button", name="Sign out").click()
    signed_out_at = time.monotonic()
    signing_out.wait_for_url(re.compile(r"/login"))

    expect(watching.get_by_text("Your sign-in has ended")).to_be_visible(timeout=STOPS_WITHIN_MS)
    stopped_after = time.monotonic() - signed_out_at
    expect(watching.locator("tr[data-urn]")).to_have_count(0)
    watching.screenshot(path=str(artifacts / "board-signed-out-1280.png"), full_page=True)

    heard = len(frames)
    later = _attendance(live_app)
    time.sleep(2.5)  # the publisher pushes within 0.1 s of a change
    assert later not in "\n".join(frames[heard:]), "a board push reached the tab after sign-out"
    expect(watching.locator(f"tr[data-urn='{later}']")).to_have_count(0)
    print(f"board stopped {stopped_after:.2f} s after sign-out")
    context.close()
