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


def apply_sample(db_url: str, ago: timedelta = timedelta(hours=1)) -> dict[str, str]:
    """The records sample applied change by change at their own times (`records_now`); its new numbers."""
    from integrations.niche.protocol import parse_change
    from rxapp.investigation.service import JourneyService

    changes, numbers = records_now(ago=ago)
    for raw in changes:
        change = parse_change(raw, decoded=True)
        clock = change.occurred_at + timedelta(minutes=1)
        result = JourneyService(db_url, now=lambda: clock).apply_page([change], None)
        assert result.dead_letters == 0, raw["change_id"]
    return numbers


@pytest.fixture(scope="module")
def cases(live_app):
    """The sample cases in the running app's database, applied change by change at their own times, and an
    officer to sign in as: DC 2210, in charge of the domestic abuse case, in the team that holds the burglary."""
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    with session_scope(live_app["db_url"]) as s:
        officer = create_user(s, OFFICER, OFFICER_PASSWORD, "officer", "Officer Cases")
        officer.collar_number, officer.team = "DC 2210", "Middlesbrough CID"
    return apply_sample(live_app["db_url"])


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


def first_task_top(page) -> float:
    """Where the first task's heading starts, from the top of the page, in CSS pixels."""
    return page.evaluate("document.querySelector('#todo li.task .task-title').getBoundingClientRect().top + scrollY")


def below_button(page, form, result) -> float:
    """How far below the bottom of `form`'s submit button `result` starts (negative: above it)."""
    button = form.locator("button[type=submit]").bounding_box()
    box = result.bounding_box()
    return box["y"] - (button["y"] + button["height"])


def test_an_officer_records_telling_a_victim_and_the_duty_is_done(live_app, browser, artifacts, cases):
    base, domestic, burglary = live_app["base"], cases["26CL0041915"], cases["26CL0041877"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in_officer(page, base)
    # /cases opens on the officer's own cases, by the collar number on the account: not their team's burglary.
    page.goto(f"{base}/cases")
    row = page.locator(f"tr[data-occ='{domestic}']")
    expect(row).to_be_visible(timeout=15000)
    expect(page.get_by_role("link", name="My cases")).to_have_attribute("aria-current", "page")
    expect(page.locator(f"tr[data-occ='{burglary}']")).to_have_count(0)
    expect(row).to_contain_text("CL/26/041915")
    expect(row).to_contain_text("domestic abuse")
    # The columns say what to do next and by when, not counts.
    expect(row.locator("td[data-label='Next action']")).to_contain_text("Tell the victim")
    expect(row.locator("td[data-label='Due']")).to_contain_text(re.compile(r"^(Late: was due by|By) \w{3} \d"))
    page.screenshot(path=str(artifacts / "cases-1280.png"), full_page=True)

    # My team's cases: the burglary too.
    page.get_by_role("link", name="My team's cases").click()
    page.wait_for_url(re.compile(r"show=team"))
    expect(page.locator(f"tr[data-occ='{burglary}']")).to_contain_text("Burglary", timeout=15000)
    expect(page.get_by_role("link", name="My team's cases")).to_have_attribute("aria-current", "page")
    page.screenshot(path=str(artifacts / "cases-team-1280.png"), full_page=True)

    page.locator(f"tr[data-occ='{domestic}']").get_by_role("link").click()
    page.wait_for_url(re.compile(r"/case\?occ="))
    expect(page.locator("#case-title")).to_have_text("CL/26/041915", timeout=15000)
    expect(page.locator("#case-facts")).to_contain_text("Not confirmed")
    duty = page.locator("li.duty-row[data-key='written_confirmation']")
    expect(duty).to_contain_text("With a person")
    task = page.locator("li.task[data-status='open']", has_text="Written confirmation")
    expect(task).to_have_count(1)
    # Beside the task: whom to ring, the number in full as a link, when it is safe to call.
    victim = task.locator(".task-victim")
    expect(victim).to_contain_text("Safe contact: Not confirmed")
    expect(victim).to_contain_text("Call only between 10:00 and 12:00; do not leave voicemail")
    expect(victim.locator("a.victim-phone")).to_have_attribute("href", "tel:+447700900789")
    expect(victim.locator("a.victim-phone")).to_have_text("07700 900789")
    page.screenshot(path=str(artifacts / "case-before-1280.png"), full_page=True)

    # Without saying how: a clear error by the button pressed, nothing recorded.
    form = task.locator("form")
    result = task.locator(".form-feedback")
    form.get_by_role("button", name="Mark as done").click()
    expect(result).to_contain_text("Choose how the victim was told", timeout=5000)
    expect(result).to_have_attribute("data-tone", "error")
    expect(result).to_have_attribute("aria-live", "polite")
    assert 0 <= below_button(page, form, result) < 40
    assert page.locator(".form-feedback:not(:empty)").count() == 1  # no other form says anything
    expect(duty).to_contain_text("With a person")

    task_id = task.get_attribute("data-task")
    task.get_by_label("How was the victim told?").select_option(label="by phone")
    task.get_by_label("Note (optional)").fill("Called at 10:30 as she asked")
    task.get_by_role("button", name="Mark as done").click()
    done = page.locator(f"#todo li.task[data-task='{task_id}']")
    expect(done).to_have_attribute("data-status", "done", timeout=10000)
    expect(done).to_contain_text("Told by phone")
    # The answer stays where the button was, in the same card, still at the top of the page.
    expect(done.locator(".form-feedback")).to_contain_text("the victim was told by phone")
    expect(done.locator(".form-feedback")).to_have_attribute("data-tone", "done")
    expect(done.locator("form")).to_have_count(0)
    expect(page.locator("#todo-heading")).to_be_focused()  # the button went with the form: not lost to the page
    expect(duty).to_contain_text("Done")
    expect(duty).to_contain_text("by phone, by Officer Cases")
    expect(duty).not_to_contain_text("With a person")
    # The victim agreed to hear every fortnight: a bad number is refused, then the agreement is recorded, and
    # each answer shows by the Save button, not by the tasks.
    # (The browser refuses a number out of range itself, with its own message, and sends nothing.)
    frequency = page.locator("#frequency-form")
    page.fill("#every-days", "400")
    frequency.get_by_role("button", name="Save").click()
    assert page.eval_on_selector("#every-days", "e => e.validity.rangeOverflow")
    expect(page.locator("#case-facts")).to_contain_text("The Code's default")
    page.fill("#every-days", "14")
    frequency.get_by_role("button", name="Save").click()
    said = page.locator("#frequency-feedback")
    expect(said).to_contain_text("every 14 days", timeout=10000)
    assert 0 <= below_button(page, frequency, said) < 40
    expect(done.locator(".form-feedback")).to_be_empty()  # said once, by the form used
    expect(page.locator("#case-facts")).to_contain_text("Every 14 days, as agreed with the victim")
    # The portal's reply form answers by its own button too.
    reply = page.locator("#portal-reply-form")
    reply.get_by_role("button", name="Send reply").click()
    expect(reply.locator("#portal-error")).to_contain_text("Write your reply", timeout=10000)
    assert 0 <= below_button(page, reply, page.locator("#portal-error")) < 40
    expect(said).to_be_empty()
    page.screenshot(path=str(artifacts / "case-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(artifacts / "case-360.png"), full_page=True)

    # The burglary case: its written confirmation went by text. The officer (in its team) may ring the victim:
    # the number in full by the victim; the message history masks where each message went.
    page.goto(f"{base}/case?occ={burglary}")
    expect(page.locator("#case-title")).to_have_text("CL/26/041877", timeout=15000)
    expect(page.locator("#case-facts a.victim-phone")).to_have_attribute("href", "tel:+447700900123")
    page.locator("#history-messages summary").click()
    expect(page.get_by_text("Crime recorded: written confirmation").first).to_be_visible()
    expect(page.locator("#history-messages")).to_contain_text("…0123")
    body = page.inner_text("body")
    assert "crime_recorded" not in body and "update_" not in body
    page.screenshot(path=str(artifacts / "case-burglary-360.png"), full_page=True)

    page.goto(f"{base}/cases")
    expect(page.locator(f"tr[data-occ='{domestic}']")).to_be_visible(timeout=15000)
    page.screenshot(path=str(artifacts / "cases-360.png"), full_page=True)
    context.close()


def test_on_a_phone_the_case_leads_with_what_to_do(live_app, browser, artifacts, cases):
    """At 360 px the first task's heading is within the first 700 px and the history is folded away, on cases
    two months on, with their whole history (the sample's every change) behind them."""
    base = live_app["base"]
    later = apply_sample(live_app["db_url"], ago=timedelta(days=60))
    context = browser.new_context(viewport={"width": 360, "height": 780})
    page = context.new_page()
    sign_in_officer(page, base)
    measured = []
    for name, number, reference in (("domestic", "26CL0041915", "CL/26/041915"),
                                    ("burglary", "26CL0041877", "CL/26/041877")):
        page.goto(f"{base}/case?occ={later[number]}")
        expect(page.locator("#case-title")).to_have_text(reference, timeout=15000)
        if name == "domestic":  # with people: a task for each thing to tell her, none sent automatically
            expect(page.locator("#todo li.task").first).to_be_visible()
            top = first_task_top(page)
        else:  # told by text: nothing for a person to do, and the page says so first
            expect(page.locator("#no-tasks")).to_be_visible()
            top = page.evaluate("document.querySelector('#todo').getBoundingClientRect().top + scrollY")
        height = page.evaluate("document.documentElement.scrollHeight")
        measured.append(f"{name}: what to do at {top:.0f} px; page {height} px tall")
        assert top < 700, (name, top)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        for part in ("#history-timeline", "#history-messages", "#history-tasks"):
            assert page.eval_on_selector(part, "e => e.tagName === 'DETAILS' && !e.open"), part
        # The order of the page: what to do, the victim, what is owed, then history.
        order = page.evaluate("""['#todo', '#case-facts', '#duties', '#history-timeline'].map(
            s => document.querySelector(s).getBoundingClientRect().top)""")
        assert order == sorted(order), order
        page.screenshot(path=str(artifacts / f"case-{name}-first-screen-360.png"))
        page.screenshot(path=str(artifacts / f"case-{name}-whole-360.png"), full_page=True)
    (artifacts / "case-360-layout.txt").write_text("\n".join(measured) + "\n")
    context.close()
