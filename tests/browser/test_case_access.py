"""Per-case access in Chromium (issue 9): an officer of another team opens a domestic abuse case by its
occurrence number and sees exactly the page a case that does not exist gets, nothing of the case; the
attempt is in the audit log. The officer in charge, signed in the same way, sees the case."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from tests.browser.conftest import submit_sign_in
from tests.browser.test_cases_page import records_now

pytestmark = pytest.mark.browser

PASSWORD = "access-test-password-long"
NOT_FOUND = "No case with that occurrence number."


@pytest.fixture(scope="module")
def access_cases(live_app):
    """The records sample in the running app's database (fresh numbers), the officer in charge of its domestic
    abuse case, and an officer of another team."""
    from integrations.niche.protocol import parse_change
    from rxapp.investigation.service import JourneyService
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    with session_scope(live_app["db_url"]) as s:
        owner = create_user(s, "dc.shah", PASSWORD, "officer", "DC 2210 Priya Shah")
        owner.collar_number, owner.team = "DC 2210", "Hartlepool Safeguarding"
        stranger = create_user(s, "pc.redcar", PASSWORD, "officer", "PC Redcar")
        stranger.collar_number, stranger.team = "PC 9100", "Redcar CID"
    changes, numbers = records_now()
    for raw in changes:
        change = parse_change(raw, decoded=True)
        clock = change.occurred_at + timedelta(minutes=1)
        assert JourneyService(live_app["db_url"], now=lambda: clock).apply_page([change], None).dead_letters == 0
    return numbers


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    with page.expect_navigation():
        submit_sign_in(page, username, PASSWORD)


def main_text(page) -> str:
    return page.inner_text("main") if page.locator("main").count() else page.inner_text("body")


def test_an_officer_of_another_team_sees_the_page_of_a_case_that_does_not_exist(live_app, browser, artifacts,
                                                                                access_cases):
    from rxapp.audit.models import AuditEvent
    from rxapp.investigation.models import Occurrence
    from rxapp.plumbing.db import session_scope

    base, domestic = live_app["base"], access_cases["26CL0041915"]
    missing = f"26CL9999999-{domestic[-6:]}"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, base, "pc.redcar")

    page.goto(f"{base}/case?occ={missing}")
    expect(page.get_by_text(NOT_FOUND)).to_be_visible(timeout=15000)
    absent = main_text(page)
    page.goto(f"{base}/case?occ={domestic}")
    expect(page.get_by_text(NOT_FOUND)).to_be_visible(timeout=15000)
    expect(page.locator("#case-title")).to_have_count(0)
    refused = main_text(page)
    page.screenshot(path=str(artifacts / "case-refused-1280.png"), full_page=True)
    assert refused == absent
    for word in ("CL/26/041915", "Priya Shah", "domestic abuse", "voicemail", "Tell the victim"):
        assert word not in page.content(), word

    # And not in the list either: neither as theirs (the list opens on those) nor as their team's.
    page.goto(f"{base}/cases")
    expect(page.get_by_text("No open cases where you are the officer in charge.")).to_be_visible(timeout=15000)
    page.goto(f"{base}/cases?show=team")
    expect(page.get_by_text("No open cases match.")).to_be_visible(timeout=15000)
    expect(page.locator(f"tr[data-occ='{domestic}']")).to_have_count(0)
    context.close()

    with session_scope(live_app["db_url"], readonly=True) as s:
        occ_id = s.exec(select(Occurrence.id).where(Occurrence.occurrence_number == domestic)).one()
        attempts = s.exec(select(AuditEvent).where(AuditEvent.actor == "pc.redcar")
                          .order_by(AuditEvent.id)).all()
    assert [(e.action, e.outcome, e.occurrence_id, e.team) for e in attempts] == [
        ("view_case", "refused", None, None),
        ("view_case", "refused", occ_id, "Hartlepool Safeguarding")]
    assert attempts[1].actor_role == "officer"

    # The officer in charge, signed in the same way, sees the case; the look is recorded too.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, base, "dc.shah")
    page.goto(f"{base}/case?occ={domestic}")
    expect(page.locator("#case-title")).to_have_text("CL/26/041915", timeout=15000)
    assert re.search(r"Hartlepool Safeguarding", main_text(page))
    context.close()
    with session_scope(live_app["db_url"], readonly=True) as s:
        looks = s.exec(select(AuditEvent).where(AuditEvent.actor == "dc.shah")).all()
    assert [(e.action, e.outcome, e.occurrence_id) for e in looks] == [("view_case", "allowed", occ_id)]
