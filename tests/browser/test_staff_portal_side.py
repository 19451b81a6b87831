"""The victim portal from the staff case page, in Chromium against the running app: the officer in charge sees the
victim's message (markup shown as text, never run) and the task it opened, replies from the case page (the reply
appears signed with rank and collar number, the task closes, the victim is told by text that a reply is
waiting, without its content), sees the preference the victim changed, and ends the victim's portal access."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from tests.browser.conftest import submit_sign_in

pytestmark = pytest.mark.browser

PASSWORD = "portal-side-password-long"
NUMBER = "26CL0097001"
MESSAGE = "Is there any <b>news</b>? <script>window.pwned = 1</script>\nSecond line"


@pytest.fixture(scope="module")
def portal_case(live_app):
    """A theft recorded today with its victim signed in to the portal, who wrote to the officer and chose to
    hear by email; the officer in charge has an account."""
    from rxapp.plumbing.columns import utcnow
    from rxapp.plumbing.db import session_scope
    from rxapp.portal.conversation import send_from_victim
    from rxapp.portal.preferences import change_preferences
    from rxapp.staff.accounts import create_user
    from tests.portal_cases import record_case, sign_in

    db_url = live_app["db_url"]
    with session_scope(db_url) as s:
        officer = create_user(s, "pc.portal", PASSWORD, "officer", "PC 1234 Test Officer")
        officer.collar_number, officer.team = "PC 1234", "Test Team"
    now = utcnow()
    record_case(db_url, at=now, number=NUMBER, person="P-SP1", mobile="07700900571", prefix="sp")
    who = sign_in(db_url, number=NUMBER, at=now)
    with session_scope(db_url) as s:
        send_from_victim(s, who, MESSAGE, now)
        change_preferences(s, who, {"routine_every_days": 14}, now)
    return who


def test_the_officer_replies_from_the_case_page(live_app, browser, artifacts, portal_case):
    from rxapp.messaging.models import Message
    from rxapp.plumbing.db import session_scope
    from rxapp.portal.models import PortalMessage, PortalSession
    from rxapp.tasks.models import Task

    base, who = live_app["base"], portal_case
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/login")
    with page.expect_navigation():
        submit_sign_in(page, "pc.portal", PASSWORD)
    page.goto(f"{base}/case?occ={NUMBER}")
    expect(page.locator("#portal-side")).to_be_visible(timeout=20000)

    victim_message = page.locator(".staff-portal-message[data-author=victim]")
    expect(victim_message).to_have_count(1)
    body = victim_message.locator(".staff-portal-message-body")
    expect(body).to_have_text(MESSAGE)  # markup shown as the victim wrote it, as text
    assert body.locator("b, script").count() == 0 and page.evaluate("window.pwned") is None
    expect(victim_message).to_contain_text("Not answered yet")
    expect(page.locator(".staff-portal-message[data-author=auto]")).to_have_count(1)
    expect(page.locator("li.task", has_text="Reply to the victim's message")).to_have_attribute("data-status", "open")
    expect(page.locator("#preference-changes")).to_contain_text("Routine updates (days)")
    expect(page.locator("#preference-changes")).to_contain_text("the victim, in the portal")
    page.screenshot(path=str(artifacts / "staff-portal-side-before-1280.png"), full_page=True)

    # An empty reply is refused and loses nothing; then the reply goes.
    page.click("#portal-reply-send")
    expect(page.locator("#portal-error")).to_contain_text("Write your reply", timeout=10000)
    reply = "Thank you. We have arrested someone & will update you <soon>."
    page.fill("#portal-reply-text", reply)
    page.click("#portal-reply-send")
    expect(page.locator("#portal-notice")).to_contain_text("Reply sent", timeout=10000)
    officer_message = page.locator(".staff-portal-message[data-author=officer]")
    expect(officer_message).to_have_count(1)
    expect(officer_message).to_contain_text("PC 1234")
    expect(officer_message.locator(".staff-portal-message-body")).to_have_text(reply)
    assert "Test Officer" not in officer_message.inner_text()
    expect(page.locator("#portal-reply-text")).to_have_value("")
    expect(page.locator("li.task", has_text="Reply to the victim's message")).to_have_attribute("data-status", "done")
    page.screenshot(path=str(artifacts / "staff-portal-side-replied-1280.png"), full_page=True)

    with session_scope(live_app["db_url"]) as s:
        stored = s.exec(select(PortalMessage).where(PortalMessage.case_victim_id == who.case_victim_id,
                                                    PortalMessage.author == "officer")).one()
        assert stored.body == reply and stored.author_label == "PC 1234"
        task = s.exec(select(Task).where(Task.victim_id == who.victim_id, Task.kind == "portal_message")).one()
        assert task.status == "done" and task.how_told == "portal"
        (announce,) = s.exec(select(Message).where(Message.victim_id == who.victim_id,
                                                   Message.template == "portal_reply_waiting")).all()
        assert "arrested" not in announce.body and "arrested" not in json.dumps(announce.personalisation)

    # Ending the victim's access signs them out.
    page.locator(".portal-revoke").first.click()
    expect(page.locator("#portal-notice")).to_contain_text("Portal access ended (1 session", timeout=10000)
    expect(page.locator(".portal-access").first).to_contain_text("Not invited, or access ended")
    with session_scope(live_app["db_url"]) as s:
        assert s.get(PortalSession, who.session_hash).ended_at is not None
    context.close()


def test_the_reply_text_is_kept_when_it_is_refused(live_app, browser, portal_case):
    """A reply over 2,000 characters cannot be typed (the box stops at 2,000); sent by a client around the box,
    the service refuses it (tests/test_portal_conversation.py): here the officer's typed text stays put after
    an empty-text refusal, so nothing written is lost."""
    base = live_app["base"]
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{base}/login")
    with page.expect_navigation():
        submit_sign_in(page, "pc.portal", PASSWORD)
    page.goto(f"{base}/case?occ={NUMBER}")
    expect(page.locator("#portal-side")).to_be_visible(timeout=20000)
    page.fill("#portal-reply-text", "x" * 2100)
    expect(page.locator("#portal-reply-text")).to_have_value("x" * 2000)
    page.fill("#portal-reply-text", "   ")
    page.click("#portal-reply-send")
    expect(page.locator("#portal-error")).to_contain_text("Write your reply", timeout=10000)
    expect(page.locator("#portal-reply-text")).to_have_value("   ")
    context.close()
