"""The compliance view in Chromium against the running app: a supervisor sees their team's figures, opens the
cases behind one and downloads a table as CSV; the Commissioner's office lands on the page and sees figures but
no case; an officer is sent away. Screenshots at 1280 and 360 px; axe-core finds no WCAG 2.2 AA violation."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from tests.browser.conftest import STAFF_PASSWORD, submit_sign_in
from tests.browser.portal_helpers import burglary_for, scroll_width

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def compliance_accounts(live_app):
    """A supervisor of the sample burglary's team, the Commissioner's office, an officer; two burglaries."""
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    with session_scope(live_app["db_url"]) as s:
        create_user(s, "sup.compliance", STAFF_PASSWORD, "supervisor", "Sgt Compliance").team = "Middlesbrough CID"
        create_user(s, "pcc.office", STAFF_PASSWORD, "pcc", "PCC Office")
        officer = create_user(s, "pc.compliance", STAFF_PASSWORD, "officer", "PC Compliance")
        officer.collar_number, officer.team = "PC 4127", "Middlesbrough CID"
    return [burglary_for(live_app["db_url"]).occurrence_number for _ in range(2)]


def signed_in(browser, base, username, width=1280):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/login")
    with page.expect_navigation():
        submit_sign_in(page, username)
    return context, page


def test_a_supervisor_sees_their_figures_and_the_cases_behind_them(live_app, browser, artifacts,
                                                                   compliance_accounts):
    base = live_app["base"]
    context, page = signed_in(browser, base, "sup.compliance")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/compliance")
    table = page.locator("#table-measure + a + div table")
    expect(page.locator("h1")).to_have_text("Victims' Code compliance and demand", timeout=20000)
    expect(page.locator("main")).to_contain_text("cases held by Middlesbrough CID")
    row = table.locator("tbody tr", has_text="Written acknowledgement")
    expect(row).to_have_count(1, timeout=15000)
    expect(page.locator(".recharts-surface").first).to_be_visible()
    page.screenshot(path=str(artifacts / "compliance-supervisor-1280.png"), full_page=True)
    assert_accessible(page, "compliance, supervisor, 1280 px")

    # The owed count opens the cases behind it: both burglaries, each a link to its case page.
    row.locator("button").first.click()
    cases = page.locator("#cases-behind")
    expect(cases).to_contain_text("Cases behind: Written acknowledgement", timeout=10000)
    for number in compliance_accounts:
        expect(cases.locator(f'a[href="/case?occ={number}"]')).to_have_count(1)
    assert_accessible(page, "compliance, cases behind a figure")

    # A table as CSV, with the same session.
    answer = context.request.get(f"{base}/compliance/export.csv?table=measure")
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "Written acknowledgement of the crime" in answer.text()

    # A chosen period that makes no sense is said so, by the form.
    page.fill("#compliance-start", "2026-12-31")
    page.fill("#compliance-end", "2026-01-01")
    page.click("text=Show these figures")
    expect(page.locator('[role="alert"]')).to_have_text("The period ends before it starts.", timeout=15000)
    assert errors == []
    context.close()

    context, phone = signed_in(browser, base, "sup.compliance", width=360)
    phone.goto(f"{base}/compliance")
    expect(phone.locator("#table-measure")).to_be_visible(timeout=20000)
    expect(phone.locator("#table-measure + a + div table tbody tr").first).to_be_visible(timeout=15000)
    assert scroll_width(phone) <= 360, "the page itself scrolls sideways on a phone (tables scroll in their box)"
    phone.screenshot(path=str(artifacts / "compliance-supervisor-360.png"), full_page=True)
    assert_accessible(phone, "compliance, supervisor, 360 px")
    context.close()


def test_the_commissioners_office_sees_figures_not_cases_and_an_officer_nothing(live_app, browser, artifacts,
                                                                              compliance_accounts):
    base = live_app["base"]
    context, page = signed_in(browser, base, "pcc.office")
    page.wait_for_url(re.compile(r"/compliance/?$"), timeout=15000)
    expect(page.locator("main")).to_contain_text("the whole force", timeout=20000)
    row = page.locator("#table-measure + a + div table tbody tr", has_text="Written acknowledgement")
    expect(row).to_have_count(1, timeout=15000)
    row.locator("button").first.click()
    expect(page.locator("#cases-behind")).to_contain_text("Your account sees the figures, not the cases",
                                                          timeout=10000)
    expect(page.locator('#cases-behind a[href^="/case"]')).to_have_count(0)
    expect(page.locator("#calls-method")).to_contain_text("10%")
    page.screenshot(path=str(artifacts / "compliance-pcc-1280.png"), full_page=True)
    # The case page itself refuses the office, as it would any case it may not read.
    page.goto(f"{base}/case?occ={compliance_accounts[0]}")
    expect(page.locator("main")).not_to_contain_text("Written acknowledgement", timeout=5000)
    context.close()

    context, page = signed_in(browser, base, "pc.compliance")
    page.goto(f"{base}/compliance")
    page.wait_for_url(re.compile(r"/login\?error=role"), timeout=15000)
    assert context.request.get(f"{base}/compliance/export.csv?table=measure").status == 403
    context.close()
