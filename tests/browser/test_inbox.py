"""The officer inbox in Chromium against the running app: an officer signs in and lands on /inbox, sees the
victim's message waiting with its unread count and reply deadline beside the victim's name, channel, language
and safety, opens the conversation, inserts the force's wording, edits it and replies; the victim's open portal
page receives the reply. Screenshots at 1280 and 360 px; axe-core finds no WCAG 2.2 AA violation."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from tests.browser.conftest import STAFF_PASSWORD, submit_sign_in
from tests.browser.portal_helpers import burglary_for, case_victim_id, invitation_link, scroll_width, sign_in

pytestmark = pytest.mark.browser

USERNAME = "pc.inbox"
QUESTION = "When will someone call me about the burglary?"


@pytest.fixture(scope="module")
def inbox_officer(live_app):
    """The sample burglary's officer in charge (PC 4127, Middlesbrough CID), with an account of their own."""
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    with session_scope(live_app["db_url"]) as s:
        user = create_user(s, USERNAME, STAFF_PASSWORD, "officer", "PC 4127 Inbox Officer")
        user.collar_number, user.team = "PC 4127", "Middlesbrough CID"
    return USERNAME


def test_an_officer_lands_on_the_inbox_and_replies_with_wording(live_app, browser, artifacts, inbox_officer):
    from sqlmodel import select

    from rxapp.plumbing.db import session_scope
    from rxapp.portal.models import PortalMessage

    base, notify, db = live_app["base"], live_app["notify"], live_app["db_url"]
    victim = burglary_for(db)
    cv = case_victim_id(db, victim)
    token = invitation_link(notify, victim)

    # The victim writes to the officer from the portal, and keeps the page open.
    victim_context = browser.new_context(viewport={"width": 1280, "height": 900})
    victim_page = victim_context.new_page()
    sign_in(victim_page, base, notify, victim, token)
    victim_page.fill("#message-text", QUESTION)
    victim_page.click("#message-send")
    expect(victim_page.locator('.portal-message[data-author="victim"]').last).to_contain_text(QUESTION,
                                                                                           timeout=15000)

    # The officer signs in and lands on today's work.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login")
    with page.expect_navigation():
        submit_sign_in(page, inbox_officer)
    page.wait_for_url(re.compile(r"/inbox/?$"), timeout=15000)
    card = page.locator(f'.inbox-conversation[data-case-victim="{cv}"]')
    expect(card).to_contain_text("1 unread", timeout=20000)
    expect(card).to_contain_text("Due ")
    expect(card.locator(".inbox-victim")).to_contain_text("Text message")
    expect(card.locator(".inbox-victim")).to_contain_text("English")
    expect(card.locator(".inbox-safety")).to_contain_text("Safe contact")
    expect(page.locator("#inbox-tasks")).to_contain_text("Reply to the victim's message")
    page.screenshot(path=str(artifacts / "inbox-1280.png"), full_page=True)
    assert_accessible(page, "inbox, 1280 px")

    # Open the conversation: the message shows, and it is now read.
    card.locator(".inbox-open").click()
    panel = page.locator("#inbox-conversation-panel")
    expect(panel.locator('.inbox-message[data-author="victim"]').last).to_have_text(re.compile(re.escape(QUESTION)),
                                                                                   timeout=15000)
    expect(page.locator("#inbox-reply-by")).to_contain_text("Due ")
    expect(card).to_contain_text("Read, reply still owed", timeout=10000)
    with session_scope(db, readonly=True) as s:
        unread = s.exec(select(PortalMessage).where(PortalMessage.case_victim_id == cv, PortalMessage.author ==
                                                    "victim", PortalMessage.read_by_officer_at.is_(None))).all()
        assert unread == []

    # Insert the force's wording, edit it, send.
    page.select_option("#inbox-wording", "thanks_looking")
    page.click("#inbox-insert")
    box = page.locator("#inbox-reply-text")
    expect(box).to_have_value(re.compile(r"^Hello \w+, thank you for your message about CL/26/"), timeout=10000)
    inserted = box.input_value()
    assert "{" not in inserted and "PC 4127" in inserted
    page.screenshot(path=str(artifacts / "inbox-conversation-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    assert scroll_width(page) <= 360
    page.screenshot(path=str(artifacts / "inbox-conversation-360.png"), full_page=True)
    assert_accessible(page, "inbox with a conversation open, 360 px")
    page.set_viewport_size({"width": 1280, "height": 900})
    reply = inserted + " I will phone you on Thursday."
    box.fill(reply)
    page.click("#inbox-send")
    expect(page.locator("#inbox-notice")).to_contain_text("Reply sent", timeout=15000)
    expect(page.locator(f'.inbox-conversation[data-case-victim="{cv}"]')).to_have_count(0)

    # The victim's open page receives it, signed with rank and collar number.
    officer_message = victim_page.locator('.portal-message[data-author="officer"]').last
    expect(officer_message).to_contain_text("I will phone you on Thursday.", timeout=15000)
    expect(officer_message).to_contain_text("PC 4127")
    victim_context.close()

    # On a phone: no sideways scrolling, and still accessible.
    page.set_viewport_size({"width": 360, "height": 800})
    page.reload()
    expect(page.locator("#inbox-tasks-heading")).to_be_visible(timeout=20000)
    assert scroll_width(page) <= 360
    page.screenshot(path=str(artifacts / "inbox-replied-360.png"), full_page=True)
    assert_accessible(page, "inbox, 360 px")
    assert errors == []
    context.close()


def test_signed_out_the_inbox_sends_to_sign_in(live_app, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_app['base']}/inbox")
    page.wait_for_url(re.compile(r"/login\?next=inbox"), timeout=15000)
    context.close()
