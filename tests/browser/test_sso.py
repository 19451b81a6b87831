"""Single sign-on in Chromium against the real OpenID provider the browser app runs with (tests/oidc/provider.mjs):
an officer, a supervisor, an administrator and a control-room user each press "Sign in with Cleveland Police
account", sign in at the provider's own pages, land on their page, open the pages their role allows and are
turned away from the others, as a local account of the role would be. Someone the provider knows but who has
no role here is refused with a page that says so, and gets no session."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible, assert_reflows

pytestmark = pytest.mark.browser

REFUSED = re.compile(r"/login/?\?error=role")
HEADINGS = {"/inbox": "Today's work", "/cases": "Open investigations", "/board": "Open attendances",
            "/admin/feed": "Dispatch feed", "/admin/audit": "Audit log", "/team": "Your team"}
# What each role may open and what it is turned away from (rxapp/staff/permissions.py, README "Who may see what").
ROLES = {
    "officer.sso": ("/inbox", ["/inbox", "/cases"], ["/board", "/admin/feed", "/admin/audit", "/team"]),
    "supervisor.sso": ("/team", ["/team", "/cases", "/board", "/admin/feed", "/admin/audit"], []),
    "fcr.sso": ("/board", ["/board"], ["/admin/feed", "/admin/audit", "/inbox", "/team"]),
    "admin.sso": ("/admin/feed", ["/admin/feed", "/admin/audit"], ["/cases", "/board", "/inbox", "/team"]),
}


def sign_in_at_provider(page, login: str) -> None:
    """The provider's own pages: its sign-in form, then (the first time) its consent page."""
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.2:\d+/interaction/"), timeout=15000)
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password at all")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if "/interaction/" in page.url and page.locator("input[name=prompt][value=consent]").count():
        page.click("button[type=submit]")


def press_sso(page, base: str, start: str = "/login") -> None:
    page.goto(base + start)
    page.wait_for_url(re.compile(r"/login"), timeout=15000)
    button = page.locator("#sso-sign-in")
    expect(button).to_have_text("Sign in with Cleveland Police account")
    if "next=" in page.url:  # the page asked for is carried to the provider and back
        expect(button).to_have_attribute("href", re.compile(r"next="), timeout=15000)
    button.click()


@pytest.mark.parametrize("login", list(ROLES))
def test_each_role_signs_in_through_the_provider_and_sees_only_what_it_may(live_app, browser, artifacts, login):
    base = live_app["base"]
    home, allowed, refused = ROLES[login]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    # An administrator's sign-in starts from the page they were sent to, as test_pages' local one does.
    press_sso(page, base, "/admin/feed" if login == "admin.sso" else "/login")
    sign_in_at_provider(page, login)
    page.wait_for_url(re.compile(re.escape(base + home) + r"/?$"), timeout=20000)
    expect(page.locator("h1", has_text=HEADINGS[home])).to_be_visible(timeout=15000)
    cookie = next(c for c in context.cookies() if c["name"] == "vj_staff")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    role = login.split(".")[0]
    page.screenshot(path=str(artifacts / f"sso-{role}-home-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(artifacts / f"sso-{role}-home-360.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    for path in allowed:
        page.goto(base + path)
        expect(page.locator("h1", has_text=HEADINGS[path])).to_be_visible(timeout=15000)
        assert not REFUSED.search(page.url), (login, path)
    for path in refused:
        page.goto(base + path)
        page.wait_for_url(REFUSED, timeout=15000)
        expect(page.locator("#login-error")).to_have_text("Your account does not have access to that page.",
                                                          timeout=15000)
    context.close()


def test_someone_with_no_role_here_is_refused_with_a_clear_page_and_no_session(live_app, browser, artifacts):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    press_sso(page, live_app["base"])
    sign_in_at_provider(page, "payroll.sso")
    page.wait_for_url(re.compile(r"/login/?\?error=sso_role$"), timeout=20000)
    expect(page.locator("#login-error")).to_contain_text("Your force account is not set up for Victim Journey",
                                                         timeout=15000)
    assert "vj_staff" not in {c["name"] for c in context.cookies()}
    assert_accessible(page, "sign-in page, refused single sign-on, 1280 px")
    page.screenshot(path=str(artifacts / "sso-refused-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    assert_accessible(page, "sign-in page, refused single sign-on, 360 px")
    assert_reflows(page, "sign-in page, refused single sign-on, 360 px")
    page.screenshot(path=str(artifacts / "sso-refused-360.png"), full_page=True)
    page.goto(live_app["base"] + "/cases")
    page.wait_for_url(re.compile(r"/login/?\?next=cases"), timeout=15000)
    context.close()


def test_an_officer_signed_in_through_the_provider_cannot_open_another_team_s_case(live_app, browser):
    """Through the socket (the case page's own event, with the occurrence number asked for), refused exactly as
    a case that does not exist is, and the attempt is in the audit log under the account single sign-on made."""
    from datetime import timedelta

    from sqlmodel import select

    from integrations.niche.protocol import parse_change
    from rxapp.audit.models import AuditEvent
    from rxapp.investigation.models import Occurrence
    from rxapp.investigation.service import JourneyService
    from rxapp.plumbing.db import session_scope
    from tests.browser.test_cases_page import records_now

    changes, numbers = records_now()
    for raw in changes:
        change = parse_change(raw, decoded=True)
        clock = change.occurred_at + timedelta(minutes=1)
        assert JourneyService(live_app["db_url"], now=lambda: clock).apply_page([change], None).dead_letters == 0
    domestic = numbers["26CL0041915"]  # Hartlepool Safeguarding's; the provider's officer is Stockton CID's
    base = live_app["base"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    press_sso(page, base)
    sign_in_at_provider(page, "officer.sso")
    page.wait_for_url(re.compile(re.escape(base) + r"/inbox/?$"), timeout=20000)
    page.goto(f"{base}/case?occ={domestic}")
    expect(page.get_by_text("No case with that occurrence number.")).to_be_visible(timeout=15000)
    expect(page.locator("#case-title")).to_have_count(0)
    assert "CL/26/041915" not in page.content()
    context.close()
    with session_scope(live_app["db_url"], readonly=True) as s:
        occ_id = s.exec(select(Occurrence.id).where(Occurrence.occurrence_number == domestic)).one()
        refused = s.exec(select(AuditEvent).where(AuditEvent.occurrence_id == occ_id,
                                                  AuditEvent.outcome == "refused")).all()
    assert [(e.action, e.actor_role, e.actor[:4]) for e in refused] == [("view_case", "officer", "sso.")]
