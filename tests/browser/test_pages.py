"""What a victim and a controller see in Chromium, against the running product and a live simulated feed."""
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

from .conftest import ARTIFACTS, shifted_events, submit_sign_in

pytestmark = pytest.mark.browser


def scenario(name: str, start: datetime | None = None, now_at: int | None = None) -> list[dict]:
    """A sample scenario shifted in time, with a fresh URN and event ids so tests never collide.
    `now_at`: the index of the event that should be happening now (tests send a burst of events at once)."""
    if start is None:
        now = datetime.now(timezone.utc)
        events = shifted_events(name, now)
        if now_at is not None:
            at = datetime.fromisoformat(events[now_at]["occurred_at"].replace("Z", "+00:00"))
            start = now - (at - now) - timedelta(seconds=5)
        else:
            start = datetime.now(timezone.utc) - timedelta(minutes=2)
    events = shifted_events(name, start)
    tag = uuid.uuid4().hex[:6].upper()
    text = json.dumps(events)
    for urn in set(re.findall(r"CLE-\d{8}-\d{4}", text)):  # a fresh reference of the contract's shape
        text = text.replace(urn, f"CLE-{datetime.now(timezone.utc):%Y%m%d}-{random.randint(100000, 999999)}")
    events = json.loads(text)
    for e in events:
        e["event_id"] = f"{e['event_id']}-{tag}"
    return events


def urn_of(events) -> str:
    return events[0]["incident"]["urn"]


def wait_token(app, urn: str, timeout: float = 15) -> str:
    from rxapp.attendance.models import Incident
    from rxapp.plumbing.db import session_scope
    from rxapp.plumbing.links import derive_token

    deadline = time.time() + timeout
    while time.time() < deadline:
        with session_scope(app["db_url"]) as s:
            inc = s.exec(select(Incident).where(Incident.urn == urn)).first()
            if inc is not None:
                return derive_token(inc.link_nonce)
        time.sleep(0.1)
    raise AssertionError(f"{urn} never reached the database")


def send_all(app, events):
    for e in events:
        app["feed"].send(e)


def sign_in(page, base):
    page.goto(f"{base}/login")
    submit_sign_in(page, "control.one")
    page.wait_for_url(re.compile(r"/board/?$"))


def test_victim_page_follows_the_feed_live(live_app, browser, artifacts):
    events = scenario("burglary-priority", now_at=7)
    send_all(live_app, events[:2])  # opened, assigned
    token = wait_token(live_app, urn_of(events))
    page = browser.new_page(viewport={"width": 360, "height": 780})
    page.goto(f"{live_app['base']}/track/{token}")
    expect(page.locator("#status-label")).to_have_text("Officer assigned", timeout=15000)
    expect(page.locator("#track-live").get_by_text("If you are in danger")).to_be_visible()

    # En route with positions: the status and an arrival window must reach the open page within 2 s.
    sent = time.monotonic()
    send_all(live_app, events[2:8])
    expect(page.locator("#status-label")).to_have_text("Officer on the way", timeout=2000)
    expect(page.locator("#eta-text")).to_have_text(re.compile(r"(\d+ to \d+ minutes|less than \d+ minutes)"),
                                                   timeout=2000)
    latency = time.monotonic() - sent
    assert latency < 2.0, latency
    page.screenshot(path=str(artifacts / "track-en-route-360.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(artifacts / "track-en-route-1280.png"), full_page=True)

    # The rest of the visit, then the crime reference.
    send_all(live_app, events[8:])
    expect(page.locator("#crime-reference")).to_have_text("CL/26/041877", timeout=5000)
    expect(page.locator("#status-label")).to_have_text("Visit complete")
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(artifacts / "track-closed-360.png"), full_page=True)
    body = page.inner_text("body")
    assert "CE21" not in body and "54.5" not in body
    page.close()


def test_victim_page_catches_up_after_a_dropped_connection(live_app, browser):
    events = scenario("diverted")
    send_all(live_app, events[:3])
    token = wait_token(live_app, urn_of(events))
    context = browser.new_context(viewport={"width": 360, "height": 780})
    page = context.new_page()
    page.goto(f"{live_app['base']}/track/{token}")
    expect(page.locator("#status-label")).to_have_text("Officer on the way", timeout=15000)
    assert live_app["cut"]() > 0  # every connection through the proxy is reset, as a lost signal would
    diverted_at = next(i for i, e in enumerate(events) if e["type"] == "resource.unassigned")
    send_all(live_app, events[3:diverted_at + 1])
    expect(page.get_by_text("sent to an emergency")).to_be_visible(timeout=20000)
    expect(page.locator("#status-label")).to_have_text("Delayed: another officer will be sent")
    context.close()


def test_invalid_and_expired_links_are_refused(live_app, browser):
    page = browser.new_page(viewport={"width": 360, "height": 780})
    page.goto(f"{live_app['base']}/track/not-a-real-link")
    expect(page.get_by_role("heading", name="This link has expired or is not valid")).to_be_visible(timeout=15000)
    page.goto(f"{live_app['base']}/track/" + "A" * 43)
    expect(page.get_by_role("heading", name="This link has expired or is not valid")).to_be_visible(timeout=15000)
    # An attendance that ended more than 24 hours ago.
    events = scenario("scheduled-appointment", start=datetime.now(timezone.utc) - timedelta(hours=30))
    send_all(live_app, events)
    token = wait_token(live_app, urn_of(events))
    from rxapp.attendance.models import Incident
    from rxapp.plumbing.db import session_scope

    deadline = time.time() + 10
    while time.time() < deadline:
        with session_scope(live_app["db_url"]) as s:
            if not s.exec(select(Incident).where(Incident.urn == urn_of(events))).one().is_open:
                break
        time.sleep(0.1)
    page.goto(f"{live_app['base']}/track/{token}")
    expect(page.get_by_role("heading", name="This link has expired or is not valid")).to_be_visible(timeout=15000)
    assert "Kowalski" not in page.content()
    page.close()


def test_victim_browser_receives_only_its_own_attendance(live_app, browser):
    mine = scenario("burglary-priority")
    other = scenario("domestic-emergency")
    send_all(live_app, mine[:5])
    send_all(live_app, other[:6])
    token = wait_token(live_app, urn_of(mine))
    wait_token(live_app, urn_of(other))
    frames: list[str] = []
    page = browser.new_page(viewport={"width": 360, "height": 780})
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    page.goto(f"{live_app['base']}/track/{token}")
    expect(page.locator("#status-label")).to_have_text("Officer on the way", timeout=15000)
    send_all(live_app, mine[5:12])
    send_all(live_app, other[6:])
    time.sleep(2)
    received = "\n".join(frames)
    assert "Officer on the way" in received  # we did read the state stream
    forbidden = ["CE21", "CH05", urn_of(mine), urn_of(other), "Amina", "Hussain", "07700", "+447700", "example.org",
                 "Hartlepool", "DOMESTIC", "Acklam", "easting", "northing", "callsign", "speed_mps", "eta_callsign"]
    for word in forbidden:
        assert word not in received, word
    for e in mine + other:
        if e["type"] == "resource.position":
            assert str(e["resource"]["lat"]) not in received and str(e["resource"]["lon"]) not in received
    page.close()


def test_board_refuses_a_signed_out_visit(live_app, browser):
    frames: list[str] = []
    page = browser.new_page()
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    page.goto(f"{live_app['base']}/board")
    page.wait_for_url(re.compile(r"/login"), timeout=15000)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert "CLE-" not in "\n".join(frames)
    page.close()


def test_board_shows_attendances_live_with_filters(live_app, browser, artifacts):
    events = scenario("diverted")
    send_all(live_app, events[:1])
    urn = urn_of(events)
    wait_token(live_app, urn)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_app["base"])
    row = page.locator(f"tr[data-urn='{urn}']")
    expect(row).to_be_visible(timeout=15000)
    expect(row).to_contain_text("Waiting")  # the control room's own words for the status
    expect(row).to_contain_text("None")  # no resource
    send_all(live_app, events[1:6])
    expect(row).to_contain_text("En route", timeout=2000)
    expect(row).to_contain_text("CS14")
    page.screenshot(path=str(artifacts / "board-1280.png"), full_page=True)
    page.select_option("#grade-filter", "EMERGENCY")
    expect(row).to_have_count(0)
    page.select_option("#grade-filter", "PRIORITY")
    expect(row).to_be_visible()
    page.select_option("#grade-filter", "ALL")
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(artifacts / "board-360.png"), full_page=True)
    # Sign out ends the session: the board refuses again.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("text=Sign out")
    page.wait_for_url(re.compile(r"/login"))
    page.goto(f"{live_app['base']}/board")
    page.wait_for_url(re.compile(r"/login"), timeout=15000)
    context.close()


def test_repeated_wrong_passwords_lock_the_account(live_app, browser):
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    with session_scope(live_app["db_url"]) as s:
        create_user(s, "locked.out", "a-long-enough-password", "fcr")
    page = browser.new_page()
    for _ in range(5):
        page.goto(f"{live_app['base']}/login")
        submit_sign_in(page, "locked.out", "wrong-password-here")
        page.wait_for_url(re.compile(r"error="))
    page.goto(f"{live_app['base']}/login")
    submit_sign_in(page, "locked.out", "a-long-enough-password")
    expect(page.locator("#login-error")).to_contain_text("locked", timeout=10000)
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(ARTIFACTS / "login-locked-360.png"), full_page=True)
    page.close()


def test_administrators_see_dead_letters(live_app, browser, artifacts):
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    with session_scope(live_app["db_url"]) as s:
        create_user(s, "admin.one", "admin-password-long", "admin", "Admin One")
    live_app["feed"].raw('{"seq": 1, "type": "incident.teleported"')  # cut short: not JSON
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{live_app['base']}/admin/feed")
    page.wait_for_url(re.compile(r"/login\?next=admin"), timeout=15000)
    submit_sign_in(page, "admin.one", "admin-password-long")
    page.wait_for_url(re.compile(r"/admin/feed/?$"), timeout=15000)
    expect(page.get_by_text("not JSON", exact=True).first).to_be_visible(timeout=15000)
    assert int(page.inner_text("#dead-letter-count")) >= 1
    page.screenshot(path=str(artifacts / "admin-feed-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(artifacts / "admin-feed-360.png"), full_page=True)
    page.close()


def test_domestic_abuse_sends_no_text_and_the_board_and_history_say_why(live_app, browser, artifacts):
    events = scenario("domestic-emergency", now_at=5)
    send_all(live_app, events[:6])
    urn = urn_of(events)
    wait_token(live_app, urn)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_app["base"])
    row = page.locator(f"tr[data-urn='{urn}']")
    expect(row.locator(".texts-note")).to_contain_text("No texts: no safe contact confirmed", timeout=10000)
    expect(row).to_contain_text("domestic abuse")
    page.screenshot(path=str(artifacts / "board-held-back-1280.png"), full_page=True)
    assert not [n for n in live_app["notify"].sent if n.to.endswith("900789")]
    row.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/messages\?urn="))
    expect(page.get_by_role("heading", name=urn)).to_be_visible(timeout=10000)
    expect(page.locator("td[data-status='blocked']").first).to_contain_text("Held back by safety rules")
    page.screenshot(path=str(artifacts / "history-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(artifacts / "history-360.png"), full_page=True)
    context.close()


def test_the_victim_gets_the_assignment_text_with_their_link(live_app, browser):
    events = scenario("burglary-priority", now_at=2)
    send_all(live_app, events[:2])
    urn = urn_of(events)
    token = wait_token(live_app, urn)
    deadline = time.time() + 15
    texts = []
    while time.time() < deadline and not texts:
        texts = [n.body for n in live_app["notify"].sent if token in n.body]
        time.sleep(0.2)
    assert texts and "officer has been given your call" in texts[0]
    link = re.search(r"https?://\S+/track/\S+", texts[0]).group(0)
    page = browser.new_page(viewport={"width": 360, "height": 780})
    page.goto(link.replace(link.split("/track/")[0], live_app["base"]))
    expect(page.locator("#status-label")).to_have_text("Officer assigned", timeout=15000)
    page.close()
