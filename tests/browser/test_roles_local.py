"""The same roles as tests/browser/test_sso.py, signed in through a local account (username and password) instead
of the OpenID provider: an officer, a supervisor, an administrator and a control-room user each land on their
role's home page, open the pages their role allows and are turned away from the others, exactly as the single
sign-on account of that role is (the table of pages is test_sso's ROLES, so the two cannot drift apart). The
Commissioner's office, which single sign-on does not map here, is checked too."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import STAFF_PASSWORD, submit_sign_in
from tests.browser.test_sso import HEADINGS, REFUSED, ROLES

pytestmark = pytest.mark.browser

# Local accounts like the provider's people (tests/oidc/provider.mjs): same role, collar number and team.
ACCOUNTS = {
    "officer.sso": ("officer.local", "officer", "PC Local Officer", "PC 4131", "Stockton CID"),
    "supervisor.sso": ("supervisor.local", "supervisor", "DS Local Supervisor", "DS 1002", "Stockton CID"),
    "admin.sso": ("admin.local", "admin", "Local Admin", None, None),
    "fcr.sso": ("fcr.local", "fcr", "Local Controller", None, "Force Control Room"),
}
PCC = ("/compliance", ["/compliance"], ["/cases", "/board", "/inbox", "/admin/feed", "/admin/audit", "/team"])


@pytest.fixture(scope="module")
def local_accounts(live_app):
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    with session_scope(live_app["db_url"]) as s:
        for username, role, name, collar, team in [*ACCOUNTS.values(),
                                                   ("pcc.local", "pcc", "Commissioner's Office", None, None)]:
            person = create_user(s, username, STAFF_PASSWORD, role, name)
            person.collar_number, person.team = collar, team
    return {sso: values[0] for sso, values in ACCOUNTS.items()}


def check_pages(page, base: str, username: str, home: str, allowed: list[str], refused: list[str]) -> None:
    page.goto(base + "/login")
    submit_sign_in(page, username)
    page.wait_for_url(re.compile(re.escape(base + home) + r"/?$"), timeout=20000)
    heading = HEADINGS.get(home, "Victims' Code compliance" if home == "/compliance" else home)
    expect(page.locator("h1", has_text=heading)).to_be_visible(timeout=15000)
    cookie = next(c for c in page.context.cookies() if c["name"] == "vj_staff")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    for path in allowed:
        page.goto(base + path)
        wanted = HEADINGS.get(path, "Victims' Code compliance" if path == "/compliance" else path)
        expect(page.locator("h1", has_text=wanted)).to_be_visible(timeout=15000)
        assert not REFUSED.search(page.url), (username, path)
    for path in refused:
        page.goto(base + path)
        page.wait_for_url(REFUSED, timeout=15000)
        expect(page.locator("#login-error")).to_have_text("Your account does not have access to that page.",
                                                          timeout=15000)


@pytest.mark.parametrize("sso_login", list(ACCOUNTS))
def test_each_role_signs_in_with_a_local_account_and_sees_only_what_it_may(live_app, browser, local_accounts,
                                                                          sso_login):
    home, allowed, refused = ROLES[sso_login]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    check_pages(context.new_page(), live_app["base"], local_accounts[sso_login], home, allowed, refused)
    context.close()


def test_the_commissioners_office_sees_the_figures_and_nothing_else(live_app, browser, local_accounts):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    check_pages(context.new_page(), live_app["base"], "pcc.local", *PCC)
    context.close()
