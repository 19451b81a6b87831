"""Every page a person uses, checked by axe-core against WCAG 2.2 AA (tags wcag2a, wcag2aa, wcag21a, wcag21aa,
wcag22aa) in the running product: the victim's page (on the way and after the visit, phone and desktop width),
sign-in, the board, a message history, the cases list, a case, the dispatch feed's administration and the audit
log. Each page is checked once what it shows has arrived (its state from the socket)."""
from __future__ import annotations

import itertools
import json
import random
import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible, assert_reflows, axe_violations
from tests.browser.conftest import STAFF_PASSWORD, submit_sign_in
from tests.browser.test_cases_page import records_now
from tests.browser.test_pages import scenario, send_all, urn_of, wait_token

pytestmark = pytest.mark.browser

SUPERVISOR, ADMIN = "axe.supervisor", "axe.admin"
PHONE, DESKTOP = {"width": 360, "height": 780}, {"width": 1280, "height": 900}
_SERIALS = itertools.count(random.randrange(100_000, 900_000))


def attendance(now_at: int, name: str = "burglary-priority") -> list[dict]:
    """A sample scenario happening now (tests/browser/test_pages.py), under a fresh reference of the contract's
    shape (force-date-serial)."""
    events = scenario(name, now_at=now_at)
    text = json.dumps(events)
    today = datetime.now(timezone.utc)
    for urn in set(re.findall(r'"(CLE-[0-9]{8}-[0-9]{4}[^"]*)"', text)):
        text = text.replace(f'"{urn}"', f'"CLE-{today:%Y%m%d}-{next(_SERIALS)}"')
    return json.loads(text)


@pytest.fixture(scope="module")
def people_and_cases(live_app):
    """A supervisor of both teams in the records sample (the board, cases, feeds, audit) and an administrator,
    with the sample's cases applied at their own times; returns the cases' occurrence numbers."""
    from integrations.niche.protocol import parse_change
    from rxapp.investigation.service import JourneyService
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    with session_scope(live_app["db_url"]) as s:
        supervisor = create_user(s, SUPERVISOR, STAFF_PASSWORD, "supervisor", "Sergeant Axe")
        supervisor.collar_number, supervisor.team = "PS 3001", "Middlesbrough CID; Hartlepool Safeguarding"
        create_user(s, ADMIN, STAFF_PASSWORD, "admin", "Admin Axe")
    changes, numbers = records_now()
    for raw in changes:
        change = parse_change(raw, decoded=True)
        clock = change.occurred_at + timedelta(minutes=1)
        assert JourneyService(live_app["db_url"], now=lambda: clock).apply_page([change], None).dead_letters == 0
    return numbers


def sign_in(page, base: str, username: str) -> None:
    """Sign in through the form once it is ready, to the role's home page; each test then opens the page it checks."""
    page.goto(f"{base}/login")
    with page.expect_navigation():
        submit_sign_in(page, username)


def settled(page, text: str | re.Pattern) -> None:
    """The page shows `text` in its main landmark (its state has arrived) and nothing is still loading."""
    expect(page.locator("#main")).to_contain_text(text, timeout=15000)
    page.wait_for_load_state("networkidle")


def open_victim_page(live_app, browser, events):
    send_all(live_app, events)
    token = wait_token(live_app, urn_of(events))
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{live_app['base']}/track/{token}")
    return context, page


def test_the_victims_page_on_the_way(live_app, browser, artifacts):
    context, page = open_victim_page(live_app, browser, attendance(now_at=7)[:8])
    expect(page.locator("#status-label")).to_have_text(re.compile("on the way", re.I), timeout=15000)
    page.wait_for_load_state("networkidle")
    assert_accessible(page, "victim's page, officer on the way, 360 px")
    assert_reflows(page, "victim's page, officer on the way, 360 px")
    page.set_viewport_size({"width": 320, "height": 640})  # WCAG 1.4.10's width
    assert_reflows(page, "victim's page, officer on the way, 320 px")
    page.screenshot(path=str(artifacts / "axe-track-en-route-360.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    assert_accessible(page, "victim's page, officer on the way, 1280 px")
    page.screenshot(path=str(artifacts / "axe-track-en-route-1280.png"), full_page=True)
    context.close()


def test_a_visit_that_began_yesterday_reflows_at_320_px(live_app, browser, artifacts):
    """Steps on another day say the day ("Tuesday 1 December 23:39"): the words go under it, not past the edge
    (CI found the page 349 px wide at 320 px when it ran just after midnight)."""
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")
    midnight = datetime.now(london).replace(hour=0, minute=0, second=0, microsecond=0)
    events = scenario("burglary-priority", start=(midnight - timedelta(minutes=30)).astimezone(timezone.utc))[:8]
    context, page = open_victim_page(live_app, browser, events)
    expect(page.locator("#status-label")).to_have_text(re.compile("on the way", re.I), timeout=15000)
    page.set_viewport_size({"width": 320, "height": 640})
    expect(page.locator("li", has_text=re.compile(r"(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day \d+ \w+"))).not_to_have_count(0)
    assert_reflows(page, "victim's page, a visit that began yesterday, 320 px")
    page.screenshot(path=str(artifacts / "track-yesterday-320.png"), full_page=True)
    context.close()


def test_the_victims_page_after_the_visit(live_app, browser, artifacts):
    events = attendance(now_at=27)  # the whole visit, closed just now
    context, page = open_victim_page(live_app, browser, events)
    expect(page.locator("#crime-reference")).to_be_visible(timeout=15000)
    page.wait_for_load_state("networkidle")
    assert_accessible(page, "victim's page, visit complete, 360 px")
    assert_reflows(page, "victim's page, visit complete, 360 px")
    page.screenshot(path=str(artifacts / "axe-track-closed-360.png"), full_page=True)
    context.close()


def test_a_link_that_does_not_work(live_app, browser):
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{live_app['base']}/track/not-a-real-link-0123456789")
    settled(page, re.compile(r"\w"))
    assert_accessible(page, "victim's page, a link that does not work")
    page.close()


def test_sign_in(live_app, browser, artifacts):
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{live_app['base']}/login")
    expect(page.locator("form[action='/staff/login'] button[type=submit]")).to_be_enabled(timeout=15000)
    assert_accessible(page, "sign-in")
    assert_reflows(page, "sign-in")
    page.screenshot(path=str(artifacts / "axe-login-360.png"), full_page=True)
    page.close()


def test_the_board_and_a_message_history(live_app, browser, artifacts):
    events = attendance(now_at=7)[:8]
    send_all(live_app, events)
    wait_token(live_app, urn_of(events))
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, live_app["base"], "control.one")
    page.goto(f"{live_app['base']}/board")
    settled(page, urn_of(events))
    assert_accessible(page, "board, 1280 px")
    page.screenshot(path=str(artifacts / "axe-board-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert_accessible(page, "board, 360 px")
    assert_reflows(page, "board, 360 px")
    page.screenshot(path=str(artifacts / "axe-board-360.png"), full_page=True)

    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_app['base']}/messages?urn={urn_of(events)}")
    settled(page, urn_of(events))
    assert_accessible(page, "message history")
    page.screenshot(path=str(artifacts / "axe-messages-1280.png"), full_page=True)
    context.close()


def test_cases_and_a_case(live_app, browser, artifacts, people_and_cases):
    domestic = people_and_cases["26CL0041915"]
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, live_app["base"], SUPERVISOR)
    page.goto(f"{live_app['base']}/cases")  # a supervisor's opens on their teams' cases
    expect(page.locator(f"tr[data-occ='{domestic}']")).to_be_visible(timeout=15000)
    page.wait_for_load_state("networkidle")
    assert_accessible(page, "open investigations")
    page.screenshot(path=str(artifacts / "axe-cases-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert_accessible(page, "open investigations, 360 px")
    assert_reflows(page, "open investigations, 360 px")
    page.screenshot(path=str(artifacts / "axe-cases-360.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_app['base']}/case?occ={domestic}")
    expect(page.locator("#case-title")).to_have_text("CL/26/041915", timeout=15000)
    page.wait_for_load_state("networkidle")
    assert_accessible(page, "a case, 1280 px")
    page.screenshot(path=str(artifacts / "axe-case-1280.png"), full_page=True)
    # A form's answer by its button, and the history unfolded: still no violation.
    task = page.locator("#todo li.task[data-status='open']").first
    task.get_by_role("button", name="Mark as done").click()
    expect(task.locator(".form-feedback")).to_contain_text("Choose how the victim was told", timeout=5000)
    for part in page.locator("details").all():
        part.locator("summary").click()
    expect(page.locator("#history-timeline")).to_have_attribute("open", "")
    assert_accessible(page, "a case with a form's answer and its history unfolded, 1280 px")
    # No template file name or code of the product's reaches a person.
    text = page.inner_text("main")
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), re.findall(r"\b[a-z]+_[a-z_]+\b", text)
    page.screenshot(path=str(artifacts / "axe-case-unfolded-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert_accessible(page, "a case, 360 px")
    assert_reflows(page, "a case, 360 px")
    page.screenshot(path=str(artifacts / "axe-case-360.png"), full_page=True)
    context.close()


def test_the_feeds_and_the_audit_log(live_app, browser, artifacts, people_and_cases):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, live_app["base"], ADMIN)
    page.goto(f"{live_app['base']}/admin/feed")
    settled(page, "Dispatch feed")
    assert_accessible(page, "dispatch feed administration")
    page.screenshot(path=str(artifacts / "axe-admin-feed-1280.png"), full_page=True)
    page.goto(f"{live_app['base']}/admin/audit")
    settled(page, "Audit log")
    assert_accessible(page, "audit log")
    page.screenshot(path=str(artifacts / "axe-audit-1280.png"), full_page=True)
    context.close()


def test_the_check_finds_what_it_should(live_app, browser):
    """The same check on a page given two faults a person would meet: an image with no text alternative and
    pale text on white."""
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{live_app['base']}/login")
    expect(page.locator("form[action='/staff/login'] button[type=submit]")).to_be_enabled(timeout=15000)
    page.evaluate("""() => {
        const main = document.getElementById('main');
        main.insertAdjacentHTML('beforeend', '<img src="/branding/crest.svg" id="no-alt">');
        main.insertAdjacentHTML('beforeend', '<p id="pale" style="color:#bbbbbb">Hard to read</p>');
    }""")
    found = {v["id"]: [n["target"] for n in v["nodes"]] for v in axe_violations(page)}
    assert found == {"image-alt": ["#no-alt"], "color-contrast": ["#pale"]}, found
    page.close()
