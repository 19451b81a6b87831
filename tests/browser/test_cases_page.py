"""The investigation cases in Chromium: an officer opens the list, opens a domestic abuse case, records that
the victim was told by phone, and sees the Victims' Code duty become done. The records sample is applied to
the running app's database through the journey service, moved in time so that its cases are happening now."""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import submit_sign_in

pytestmark = pytest.mark.browser

RECORDS = Path(__file__).resolve().parents[2] / "integrations" / "niche" / "scenarios" / "records-changes.json"
OFFICER, OFFICER_PASSWORD = "officer.cases", "officer-password-long"
TIME_KEYS = ("occurred_at", "reported_at", "recorded_at")


def _moved(value, delta):
    if isinstance(value, dict):
        return {k: ((datetime.fromisoformat(v.replace("Z", "+00:00")) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")
                    if k in TIME_KEYS and isinstance(v, str) else _moved(v, delta)) for k, v in value.items()}
    if isinstance(value, list):
        return [_moved(v, delta) for v in value]
    return value


def records_now(anchor: str = "c-0101", ago: timedelta = timedelta(hours=1)) -> tuple[list[dict], dict[str, str]]:
    """The sample changes that have happened by now, moved so that `anchor` happened `ago`; occurrence numbers,
    people and change ids get a fresh tag so tests never collide. Returns the changes and the new numbers."""
    changes = json.loads(RECORDS.read_text())["changes"]
    tag = uuid.uuid4().hex[:6].upper()
    text = json.dumps(changes)
    numbers = {n: f"{n}-{tag}" for n in set(re.findall(r"26CL\d{7}", text))}
    for old, new in [*numbers.items(), *[(p, f"{p}-{tag}") for p in set(re.findall(r"P-\d{5}", text))]]:
        text = text.replace(f'"{old}"', f'"{new}"')
    changes = json.loads(text)
    at = next(c for c in changes if c["change_id"] == anchor)["occurred_at"]
    now = datetime.now(timezone.utc)
    delta = now - ago - datetime.fromisoformat(at.replace("Z", "+00:00"))
    out = []
    for c in changes:
        c = _moved(c, delta)
        c["change_id"] = f"{c['change_id']}-{tag}"
        if c.get("occurrence"):
            c["occurrence"]["incident_urn"] = None  # no attendance in this database to continue
        if datetime.fromisoformat(c["occurred_at"].replace("Z", "+00:00")) <= now - timedelta(minutes=1):
            out.append(c)
    return out, numbers


@pytest.fixture(scope="module")
def cases(live_app):
    """The sample cases in the running app's database, applied change by change at their own times, and an
    officer to sign in as: DC 2210, in charge of the domestic abuse case, in the team that holds the burglary."""
    from integrations.niche.protocol import parse_change
    from rxapp.investigation.service import JourneyService
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    with session_scope(live_app["db_url"]) as s:
        officer = create_user(s, OFFICER, OFFICER_PASSWORD, "officer", "Officer Cases")
        officer.collar_number, officer.team = "DC 2210", "Middlesbrough CID"
    changes, numbers = records_now()
    for raw in changes:
        change = parse_change(raw, decoded=True)
        clock = change.occurred_at + timedelta(minutes=1)
        result = JourneyService(live_app["db_url"], now=lambda: clock).apply_page([change], None)
        assert result.dead_letters == 0, raw["change_id"]
    return numbers


def sign_in_officer(page, base):
    page.goto(f"{base}/login")
    with page.expect_navigation():
        submit_sign_in(page, OFFICER, OFFICER_PASSWORD)  # to the board, which is not an officer's: the session is set


def test_cases_refuse_a_signed_out_visit(live_app, browser):
    page = browser.new_page()
    page.goto(f"{live_app['base']}/cases")
    page.wait_for_url(re.compile(r"/login"), timeout=15000)
    page.goto(f"{live_app['base']}/case?occ=26CL0041915")
    page.wait_for_url(re.compile(r"/login"), timeout=15000)
    page.close()


def test_an_officer_records_telling_a_victim_and_the_duty_is_done(live_app, browser, artifacts, cases):
    base, domestic, burglary = live_app["base"], cases["26CL0041915"], cases["26CL0041877"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in_officer(page, base)
    page.goto(f"{base}/cases")
    row = page.locator(f"tr[data-occ='{domestic}']")
    expect(row).to_be_visible(timeout=15000)
    expect(row).to_contain_text("CL/26/041915")
    expect(row).to_contain_text("domestic abuse")
    expect(page.locator(f"tr[data-occ='{burglary}']")).to_contain_text("Burglary")
    page.screenshot(path=str(artifacts / "cases-1280.png"), full_page=True)

    # Only my cases: by the collar number on the account.
    page.select_option("#case-filter", "mine")
    page.click("text=Apply")
    expect(page.locator(f"tr[data-occ='{burglary}']")).to_have_count(0, timeout=5000)
    expect(row).to_be_visible()

    row.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/case\?occ="))
    expect(page.locator("#case-title")).to_have_text("CL/26/041915", timeout=15000)
    expect(page.locator("#case-facts")).to_contain_text("Not confirmed")
    duty = page.locator("tr[data-key='written_confirmation']")
    expect(duty).to_contain_text("With a person")
    task = page.locator("li.task[data-status='open']", has_text="Written confirmation")
    expect(task).to_have_count(1)
    page.screenshot(path=str(artifacts / "case-before-1280.png"), full_page=True)

    # Without saying how: a clear error, nothing recorded.
    task.get_by_role("button", name="Mark as done").click()
    expect(page.locator("#task-error")).to_contain_text("Choose how the victim was told", timeout=5000)
    expect(duty).to_contain_text("With a person")

    task.get_by_label("How was the victim told?").select_option(label="by phone")
    task.get_by_label("Note (optional)").fill("Called at 10:30 as she asked")
    task.get_by_role("button", name="Mark as done").click()
    expect(page.locator("#task-notice")).to_contain_text("told by phone", timeout=10000)
    expect(page.locator("#task-error")).to_have_count(0)
    expect(duty).to_contain_text("Done")
    expect(duty).to_contain_text("by phone, by Officer Cases")
    expect(duty).not_to_contain_text("With a person")
    done = page.locator("li.task[data-status='done']", has_text="Written confirmation")
    expect(done).to_contain_text("Told by phone")
    expect(done.locator("form")).to_have_count(0)
    # The victim agreed to hear every fortnight: a bad number is refused, then the agreement is recorded.
    # (The browser refuses a number out of range itself, with its own message, and sends nothing.)
    page.fill("#every-days", "400")
    page.locator("#frequency-form").get_by_role("button", name="Save").click()
    assert page.eval_on_selector("#every-days", "e => e.validity.rangeOverflow")
    expect(page.locator("#case-facts")).to_contain_text("The Code's default")
    page.fill("#every-days", "14")
    page.locator("#frequency-form").get_by_role("button", name="Save").click()
    expect(page.locator("#task-notice")).to_contain_text("every 14 days", timeout=10000)
    expect(page.locator("#case-facts")).to_contain_text("Every 14 days, as agreed with the victim")
    page.screenshot(path=str(artifacts / "case-1280.png"), full_page=True)
    body = page.inner_text("body")
    assert "07700900789" not in body and "7700900789" not in body
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(artifacts / "case-360.png"), full_page=True)

    # The burglary case: its written confirmation went by text; the number is masked.
    page.goto(f"{base}/case?occ={burglary}")
    expect(page.locator("#case-title")).to_have_text("CL/26/041877", timeout=15000)
    expect(page.get_by_text("Crime recorded: written confirmation").first).to_be_visible()
    body = page.inner_text("body")
    assert "…0123" in body and "07700900123" not in body and "amina@example.org" not in body
    page.screenshot(path=str(artifacts / "case-burglary-360.png"), full_page=True)

    page.goto(f"{base}/cases")
    expect(page.locator(f"tr[data-occ='{domestic}']")).to_be_visible(timeout=15000)
    page.screenshot(path=str(artifacts / "cases-360.png"), full_page=True)
    context.close()
