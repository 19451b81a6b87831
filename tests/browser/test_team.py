"""The supervisor view in Chromium against the running app. A supervisor signed in with a local account lands on
/team: the escalation sent to them, the team's queue with the escalated task first (case, victim's name, officer,
deadline), narrowed to one officer; gives a task to another officer of the team (the result beside the button),
is refused in words when the officer named is of another team, gives a case to another officer (told to make
the change in NICHE too), and sees who is over their load. Another team's work never shows. A supervisor
signed in through the OpenID provider lands on the same page and sees the same team. A new escalation shows as a
count beside "Team" on the other staff pages (the compliance page here). Screenshots at 1280 and 360 px; axe-core finds no WCAG 2.2 AA
violation, and the page reflows at 360 px."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible, assert_reflows
from tests.browser.conftest import STAFF_PASSWORD, submit_sign_in
from tests.browser.test_sso import press_sso, sign_in_at_provider

pytestmark = pytest.mark.browser

TEAM = "Stockton CID"  # the provider's supervisor.sso is a supervisor of it (tests/oidc/provider.mjs)
LOCAL = "sup.team"
BUSY, SPARE, ELSEWHERE = "PC 7101", "PC 7102", "PC 7201"  # two officers of the team, one of Redcar CID


def _case(db_url: str, number: str, collar: str, team: str, victim: str, mobile: str, at: datetime) -> None:
    from integrations.niche.protocol import parse_change
    from rxapp.investigation.service import JourneyService

    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    changes = [parse_change(c, decoded=True) for c in (
        {"change_id": f"{number}-1", "type": "occurrence.recorded", "occurred_at": stamp,
         "occurrence_number": number,
         "occurrence": {"occurrence_number": number, "crime_reference": "CL/26/" + number[-6:],
                        "classification": {"code": "49/1", "text": "Theft"}, "reported_at": stamp,
                        "recorded_at": stamp, "incident_urn": None,
                        "oic": {"collar_number": collar, "name": "Team Officer", "email": None, "team": team},
                        "flags": []}},
        {"change_id": f"{number}-2", "type": "person.linked", "occurred_at": stamp, "occurrence_number": number,
         "person": {"person_id": f"P-{number}", "role": "VICTIM", "name": {"given": victim, "family": "Example"},
                    "date_of_birth": "1985-01-01",
                    "contact": {"mobile": mobile, "email": None, "postal_address": None, "preferred_channel": "SMS",
                                "language": "en", "safe_to_contact": True, "contact_notes": None},
                    "needs": {"vulnerable": [], "intimidated": False, "persistently_targeted": False,
                              "interpreter": False, "accessibility": None},
                    "consent": {"updates": True, "support_referral": False}}})]
    JourneyService(db_url, now=lambda: at + timedelta(minutes=1)).apply_page(changes, None)


def _task(db_url: str, number: str, title: str, due: datetime, collar: str, escalate: bool = False) -> int:
    from sqlmodel import select

    from rxapp.investigation.models import CaseVictim, Occurrence
    from rxapp.plumbing.db import session_scope
    from rxapp.supervision.notices import notify_escalation
    from rxapp.tasks.models import Task

    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == number)).one()
        cv = s.exec(select(CaseVictim).where(CaseVictim.occurrence_id == occ.id)).first()
        task = Task(kind="contact_victim", title=title, occurrence_id=occ.id, victim_id=cv.victim_id, due_at=due,
                    assignee=collar, escalated_at=datetime.now(timezone.utc) if escalate else None)
        s.add(task)
        s.flush()
        if escalate:
            notify_escalation(s, task, occ, task.escalated_at)
        return task.id


@pytest.fixture(scope="module")
def team_data(live_app):
    """Two cases of the team with tasks (one escalated, one overdue), another team's case with a task, 21 more
    open cases for the busy officer (over the default limit of 20), and the accounts."""
    from rxapp.investigation.models import Occurrence
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    db = live_app["db_url"]
    tag = uuid.uuid4().hex[:4].upper()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with session_scope(db) as s:
        sup = create_user(s, LOCAL, STAFF_PASSWORD, "supervisor", "DS 1003 Team Supervisor")
        sup.collar_number, sup.team = "DS 1003", TEAM
        for username, collar, team in (("pc.busy", BUSY, TEAM), ("pc.spare", SPARE, TEAM),
                                       ("pc.elsewhere", ELSEWHERE, "Redcar CID")):
            user = create_user(s, username, STAFF_PASSWORD, "officer", f"{collar} {username.split('.')[1].title()}")
            user.collar_number, user.team = collar, team
    ours, second, theirs = f"26TM{tag}0001", f"26TM{tag}0002", f"26TM{tag}0003"
    _case(db, ours, BUSY, TEAM, "Tessa", "07700900601", now - timedelta(hours=3))
    _case(db, second, BUSY, TEAM, "Uma", "07700900602", now - timedelta(hours=3))
    _case(db, theirs, ELSEWHERE, "Redcar CID", "Rhona", "07700900603", now - timedelta(hours=3))
    escalated = _task(db, ours, "Ring Tessa about the arrest", now - timedelta(hours=1), BUSY, escalate=True)
    overdue = _task(db, second, "Write to Uma with the crime reference", now - timedelta(minutes=30), BUSY)
    later = _task(db, ours, "Tell Tessa about the interview", now + timedelta(days=2), SPARE)
    _task(db, theirs, "Ring Rhona back", now - timedelta(hours=5), ELSEWHERE)
    with session_scope(db) as s:  # the busy officer's other open cases
        for i in range(21):
            s.add(Occurrence(occurrence_number=f"26TM{tag}1{i:03d}", crime_reference=f"CL/26/L{tag}{i:02d}",
                             classification_text="Theft", reported_at=now, recorded_at=now, oic_collar=BUSY,
                             oic_name="Team Officer", oic_team=TEAM))
    return {"ours": ours, "second": second, "theirs": theirs, "escalated": escalated, "overdue": overdue,
            "later": later}


def _check_team_page(page, data) -> None:
    queue = page.locator("#team-queue")
    first = queue.locator(".team-task").first
    expect(first).to_contain_text("Ring Tessa about the arrest", timeout=20000)
    expect(first).to_have_attribute("data-escalated", "yes")
    expect(first).to_contain_text("Escalated ")
    expect(first).to_contain_text("Victim: Tessa Example")
    expect(first.locator(".team-task-officer")).to_contain_text("PC 7101")
    expect(first).to_contain_text("Overdue: was due ")
    expect(queue.locator(".team-task").nth(1)).to_contain_text("Write to Uma with the crime reference")
    expect(queue).not_to_contain_text("Ring Rhona back")  # another team's
    busy = page.locator('.team-load-row[data-over="yes"]').first
    expect(busy).to_contain_text("PC 7101")
    expect(busy).to_contain_text("Over their load: 23 cases, limit 20")
    expect(page.locator("#team-load")).not_to_contain_text("PC 7201")


def test_a_supervisor_manages_the_team_from_a_local_account(live_app, browser, artifacts, team_data):
    base = live_app["base"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login")
    with page.expect_navigation():
        submit_sign_in(page, LOCAL)
    page.wait_for_url(re.compile(r"/team/?$"), timeout=20000)
    expect(page.locator("h1")).to_have_text("Your team", timeout=20000)
    notice = page.locator(".team-notice").first
    expect(notice).to_contain_text("Escalated to you: 'Ring Tessa about the arrest' was not done by its deadline")
    expect(notice).to_have_attribute("data-new", "New")
    _check_team_page(page, team_data)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(artifacts / "team-1280.png"), full_page=True)
    assert_accessible(page, "team page, 1280 px")

    # One officer's tasks only.
    page.select_option("#team-officer-filter", "PC7102")
    page.locator("#team-filter-form button[type=submit]").click()
    expect(page.locator("#team-queue .team-task")).to_have_count(1, timeout=15000)
    expect(page.locator("#team-queue")).to_contain_text("Tell Tessa about the interview")
    page.select_option("#team-officer-filter", "")
    page.locator("#team-filter-form button[type=submit]").click()
    expect(page.locator("#team-queue .team-task").first).to_contain_text("Ring Tessa about the arrest",
                                                                         timeout=15000)

    # Give the overdue task to the spare officer: the result shows beside that task's button.
    card = page.locator(".team-task", has_text="Write to Uma with the crime reference")
    card.locator("summary").click()
    card.locator("select[name=officer]").select_option("PC7102")
    card.locator("button[type=submit]").click()
    moved = page.locator(".team-task", has_text="Write to Uma with the crime reference")
    expect(moved.locator("[role=status]")).to_have_text(
        "'Write to Uma with the crime reference' is now with PC 7102 Spare.", timeout=15000)
    expect(moved.locator(".team-task-officer")).to_contain_text("PC 7102")

    # An officer of another team, slipped into the list, is refused in words beside the button.
    card = page.locator(".team-task", has_text="Ring Tessa about the arrest")
    card.locator("summary").click()
    select = card.locator("select[name=officer]")
    select.evaluate("(s) => { const o = document.createElement('option'); o.value = 'PC7201'; o.text = 'PC 7201';"
                    " s.appendChild(o); s.value = 'PC7201'; }")
    card.locator("button[type=submit]").click()
    expect(card.locator("[role=status]")).to_contain_text(
        "PC7201 is not an officer of Stockton CID, the team that holds this case", timeout=15000)
    expect(card.locator(".team-task-officer")).to_contain_text("PC 7101")

    # Give a case to the spare officer: told to change NICHE too, listed as not yet changed there.
    page.select_option("#team-case", team_data["second"])
    page.select_option("#team-case-officer", "PC7102")
    page.click("#team-give-case")
    result = page.locator("#team-case-form + [role=status]")
    expect(result).to_contain_text("is now with PC 7102 Spare, with its open tasks and conversations", timeout=15000)
    expect(result).to_contain_text("Make the same change in NICHE")
    expect(page.locator("#team-niche-note")).to_contain_text("NICHE is the master of the officer in charge")
    expect(page.locator("#team-reassigned")).to_contain_text("Not yet changed in NICHE")

    # At 360 px: no sideways scroll, still accessible.
    page.set_viewport_size({"width": 360, "height": 780})
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "team-360.png"), full_page=True)
    assert_accessible(page, "team page, 360 px")
    assert_reflows(page, "team page, 360 px")
    page.set_viewport_size({"width": 1280, "height": 900})

    # A new escalation shows beside "Team" on the other staff pages.
    _task(live_app["db_url"], team_data["ours"], "Call Tessa back today", datetime.now(timezone.utc), SPARE,
          escalate=True)
    page.goto(f"{base}/compliance")
    expect(page.locator("#nav-team")).to_contain_text("Team", timeout=20000)
    expect(page.locator("#team-unread")).to_have_text(" (1 new)", timeout=20000)
    page.screenshot(path=str(artifacts / "team-nav-compliance-1280.png"), full_page=False)
    page.click("#nav-team")
    page.wait_for_url(re.compile(r"/team/?$"), timeout=15000)
    expect(page.locator(".team-notice").first).to_contain_text("Call Tessa back today", timeout=15000)
    expect(page.locator("#team-unread")).to_have_count(0, timeout=15000)
    assert errors == []
    context.close()


def test_a_supervisor_signed_in_through_the_provider_sees_the_same_team(live_app, browser, artifacts, team_data):
    base = live_app["base"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    press_sso(page, base, "/login")
    sign_in_at_provider(page, "supervisor.sso")
    page.wait_for_url(re.compile(re.escape(base + "/team") + r"/?$"), timeout=20000)
    expect(page.locator("h1")).to_have_text("Your team", timeout=20000)
    expect(page.locator("main")).to_contain_text("Cases held by Stockton CID")
    queue = page.locator("#team-queue")
    expect(queue).to_contain_text("Ring Tessa about the arrest", timeout=20000)
    expect(queue).not_to_contain_text("Ring Rhona back")
    page.screenshot(path=str(artifacts / "team-sso-1280.png"), full_page=True)
    assert_accessible(page, "team page, single sign-on, 1280 px")
    # The other team's case cannot be given away from here, whatever the page is made to send.
    page.evaluate("(n) => { const s = document.querySelector('#team-case'); const o = document.createElement('option');"
                  " o.value = n; o.text = n; s.appendChild(o); s.value = n; }", team_data["theirs"])
    page.select_option("#team-case-officer", "PC7101")
    page.click("#team-give-case")
    expect(page.locator("main [role=status]").first).to_contain_text(
        "That could not be changed from your account", timeout=15000)
    from sqlmodel import select

    from rxapp.investigation.models import Occurrence
    from rxapp.plumbing.db import session_scope

    with session_scope(live_app["db_url"], readonly=True) as s:
        theirs = s.exec(select(Occurrence).where(Occurrence.occurrence_number == team_data["theirs"])).one()
    assert theirs.oic_collar == ELSEWHERE
    context.close()
