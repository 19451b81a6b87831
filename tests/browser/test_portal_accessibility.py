"""axe-core (WCAG 2.2 AA) on every page of the victim portal, as a victim sees them: the sign-in page (with a
notice, and in Urdu), the case page in English and in Urdu (right to left) with a conversation, a notice, the
preferences and the survey showing, at 360 and 1280 px, the page a tab shows once the session has ended, and
the signed-out page."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from tests.browser.portal_helpers import burglary_for, invitation_link, sign_in
from tests.browser.test_portal import finalise

pytestmark = pytest.mark.browser


def both_widths(page, label: str) -> None:
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900})
        assert_accessible(page, f"{label}, {width} px")


def test_the_sign_in_page(live_app, browser):
    page = browser.new_page()
    page.goto(f"{live_app['base']}/portal/start/{'A' * 43}?sent=1")
    expect(page.locator("#portal-notice")).to_be_visible(timeout=15000)
    expect(page.locator("#send-code")).to_be_enabled(timeout=15000)
    both_widths(page, "portal sign-in, code sent")
    page.goto(f"{live_app['base']}/portal/start/{'A' * 43}?error=code&lang=ur")
    expect(page.locator(".vj-portal")).to_have_attribute("dir", "rtl", timeout=15000)
    both_widths(page, "portal sign-in in Urdu, wrong code")
    page.close()


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_the_case_page_then_signed_out(live_app, browser, lang):
    base, notify, db = live_app["base"], live_app["notify"], live_app["db_url"]
    victim = burglary_for(db, lang)
    token = invitation_link(notify, victim)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, base, notify, victim, token)
    page.fill("#message-text", "When will I hear about the arrest?")
    page.click("#message-send")
    expect(page.locator('.portal-message[data-author="auto"]')).to_have_count(1, timeout=15000)
    page.click("#pref-save")
    expect(page.locator("#pref-notice p")).to_be_visible(timeout=15000)
    finalise(db, victim)
    page.reload()
    expect(page.locator("#survey")).to_be_visible(timeout=20000)
    both_widths(page, f"portal case page ({lang})")

    with page.expect_navigation():
        page.click("#sign-out")
    expect(page.locator("#portal-signed-out")).to_be_visible(timeout=15000)
    both_widths(page, "portal signed out")
    page.goto(f"{base}/portal/case")
    expect(page.locator("#portal-signed-out-notice")).to_be_visible(timeout=20000)
    both_widths(page, "portal case page, session ended")
    context.close()
