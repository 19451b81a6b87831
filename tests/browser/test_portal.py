"""The victim portal in Chromium, the whole path as a victim walks it (issue 11): a burglary recorded through the
records feed, the invitation read from the local Notify server, the link opened, a code asked for and read
from the next text, typed in; the case and its timeline read; a message sent (markup in it shown as text), the
officer's reply arriving without a reload; "ask for an update"; a preference changed and honoured by the next
update (the arrest, by email, in the chosen language); the survey at the end of the case; sign-out. In
English, Polish and Urdu (right to left), with screenshots at 360 and 1280 px in test-artifacts/, at 320 px
without sideways scrolling, and by keyboard alone."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from rxapp import languages
from tests.browser.conftest import STAFF_PASSWORD, submit_sign_in
from tests.browser.portal_helpers import (
    burglary_for,
    invitation_link,
    officer_reply,
    records_event,
    scroll_width,
    sent_to,
    sign_in,
    wait_for_message,
)

pytestmark = pytest.mark.browser

MARKUP = ('Hello <b id="bold">officer</b> <img src=x onerror="window.pwned=1"><script>window.pwned=2</script> '
          '& "quotes"')
OFFICER = "pc.4127.portal"
ARREST = {"en": "Someone has been arrested", "pl": "został zatrzymany", "ur": "گرفتار"}


def finalise(db_url: str, victim) -> None:
    """The case is closed in the records system."""
    from datetime import datetime, timedelta, timezone

    from tests.browser.portal_helpers import _apply, _stamp

    at = datetime.now(timezone.utc) - timedelta(minutes=1)
    _apply(db_url, {"change_id": f"fin-{victim.person_id}", "type": "occurrence.finalised",
                    "occurred_at": _stamp(at), "occurrence_number": victim.occurrence_number, "result": "Charged"}, at)


@pytest.fixture(scope="module")
def officer_account(live_app):
    """The sample burglary's officer in charge, with an account to sign in to the staff case page."""
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    with session_scope(live_app["db_url"]) as s:
        user = create_user(s, OFFICER, STAFF_PASSWORD, "officer", "PC 4127 Sam Jones")
        user.collar_number, user.team = "PC 4127", "Middlesbrough CID"
    return OFFICER


def reply_from_the_case_page(browser, base: str, victim, text: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/login")
    with page.expect_navigation():
        submit_sign_in(page, OFFICER)
    page.goto(f"{base}/case?occ={victim.occurrence_number}")
    expect(page.locator("#portal-reply-text")).to_be_visible(timeout=20000)
    page.fill("#portal-reply-text", text)
    page.click("#portal-reply-send")
    expect(page.locator(".staff-portal-message[data-author=officer]").last).to_contain_text(text, timeout=10000)
    context.close()


def words(lang: str) -> dict[str, str]:
    return languages.labels(lang, "portal")


def shoot(page, artifacts, name: str) -> None:
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(artifacts / f"portal-{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "pl", "ur"])
def test_the_whole_path(live_app, browser, artifacts, officer_account, lang):
    base, notify, db = live_app["base"], live_app["notify"], live_app["db_url"]
    victim = burglary_for(db, lang)
    token = invitation_link(notify, victim)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # The sign-in page: the same for every link; a code is sent, typed, and the case opens.
    page.goto(f"{base}/portal/start/{token}")
    expect(page.locator("h1")).to_have_text(words("en")["signin.title"], timeout=15000)
    code = page.locator("#code")
    assert code.get_attribute("inputmode") == "numeric" and code.get_attribute("autocomplete") == "one-time-code"
    if lang == "en":
        shoot(page, artifacts, "sign-in")
    sign_in(page, base, notify, victim, token)
    w = words(lang)
    root = page.locator(".vj-portal")
    expect(root).to_have_attribute("lang", lang)
    expect(root).to_have_attribute("dir", languages.direction(lang))
    expect(page.locator(".skip-link")).to_have_text(w["page.skip"])
    expect(page).to_have_title(w["page.title"], timeout=10000)

    # The case: its reference, status and timeline, in the victim's language.
    case = page.locator("#portal-case")
    expect(page.locator("#vj-portal-snapshot")).to_have_count(0)  # gone from the document once the live page is in
    expect(page.locator("#case-reference")).to_contain_text(victim.occurrence_number.split("-")[-1])
    assert page.locator("#timeline li").count() >= 2
    for ident in ("#case-status", "#case-oic", "#case-reported", "#next-steps", "#rights", "#support",
                  "#compensation", "#complaints"):
        expect(page.locator(ident)).to_be_visible()
    expect(page.locator("#right-to-review")).to_have_count(0)  # nobody was released with no further action
    expect(case.locator('a[href="tel:999"]').first).to_be_visible()
    expect(case.locator('a[href="tel:101"]').first).to_be_visible()
    shoot(page, artifacts, f"case-{lang}")
    page.set_viewport_size({"width": 320, "height": 800})
    assert scroll_width(page) <= 320
    page.set_viewport_size({"width": 1280, "height": 900})

    # Too long a message: the counter says so, sending is refused in words, and nothing typed is lost.
    page.fill("#message-text", "z" * 2001)
    expect(page.locator("#message-counter.vj-over")).to_contain_text("2001", timeout=5000)
    page.click("#message-send")
    expect(page.locator("#message-notice")).to_have_text(languages.text(lang, "portal.refused.too_long"),
                                                         timeout=15000)
    expect(page.locator("#message-text")).to_have_value("z" * 2001)
    assert page.locator("#message-text").get_attribute("maxlength") == "4000"  # a pasted document stops there

    # A message with markup in it: stored and shown as written, as text.
    page.fill("#message-text", MARKUP)
    expect(page.locator("#message-counter")).to_contain_text(str(len(MARKUP)), timeout=5000)
    page.click("#message-send")
    mine = page.locator('.portal-message[data-author="victim"]')
    expect(mine.last).to_contain_text(MARKUP, timeout=15000)
    expect(page.locator('.portal-message[data-author="auto"]')).to_have_count(1)
    expect(page.locator("#message-notice")).to_have_text(w["messages.sent"])
    assert page.locator("#messages #bold, #messages img, #messages script").count() == 0
    assert page.evaluate("window.pwned === undefined")
    expect(page.locator("#message-text")).to_have_value("")

    # The officer replies: the reply appears without a reload. In English from the staff case page in the app
    # (the wait wakes at once); otherwise through the service from this process, as another worker would (the
    # page's re-check every PORTAL_LIVE_RECHECK seconds brings it).
    reply = "Thank you. I will call you tomorrow morning."
    if lang == "en":
        reply_from_the_case_page(browser, base, victim, reply)
    else:
        officer_reply(db, victim, reply)
    expect(page.locator('.portal-message[data-author="officer"]')).to_contain_text(
        reply, timeout=5000 if lang == "en" else 40000)
    page.click("#ask-update")
    expect(page.locator("#message-notice")).to_have_text(w["messages.asked"], timeout=15000)
    page.click("#ask-update")
    expect(page.locator("#message-notice")).to_have_text(languages.text(lang, "portal.refused.already_asked"),
                                                         timeout=15000)

    # Preferences: by email, every 14 days (and for the English victim, in Polish): honoured by the next update.
    page.select_option("#pref-channel", "email")
    page.select_option("#pref-frequency", "14")
    wanted = "pl" if lang == "en" else lang
    if wanted != lang:
        page.select_option("#pref-language", wanted)
    page.click("#pref-save")
    w = words(wanted)
    expect(page.locator("#pref-notice")).to_have_text(w["prefs.saved"], timeout=15000)
    expect(root).to_have_attribute("lang", wanted)
    expect(page.locator("#pref-channel")).to_have_value("email")
    records_event(db, victim, "c-0004")
    email = wait_for_message(notify, victim.email, re.escape(ARREST[wanted]), timeout=90)
    assert email.type == "email"
    assert not [n for n in sent_to(notify, victim.phone) if ARREST[lang] in n.body or ARREST[wanted] in n.body]

    # The case is closed: the survey is offered once; answered, it is thanked and not offered again.
    finalise(db, victim)
    page.reload()
    expect(page.locator("#survey")).to_be_visible(timeout=20000)
    expect(page.locator("#survey fieldset legend")).to_have_count(2)
    if lang == "pl":  # the Polish victim says no thanks; the others answer
        page.click("#survey-decline")
        expect(page.locator("#survey-thanks")).to_have_text(w["survey.declined"], timeout=15000)
    else:
        page.check("#informed-4")
        page.click("#survey-send")  # one score missing: refused in words, nothing lost
        expect(page.locator("#survey [role=alert]")).to_have_text(
            languages.text(wanted, "portal.refused.bad_choice"), timeout=15000)
        expect(page.locator("#informed-4")).to_be_checked()
        page.check("#overall-5")
        page.fill("#survey-comment", "<i>Kept me informed</i>")
        page.click("#survey-send")
        expect(page.locator("#survey-thanks")).to_have_text(w["survey.thanks"], timeout=15000)
    page.reload()
    expect(page.locator("#portal-case")).to_be_visible(timeout=20000)
    expect(page.locator("#survey")).to_have_count(0)

    # Sign out: the signed-out page; the case page then shows only that the session has ended.
    with page.expect_navigation():
        page.click("#sign-out")
    assert page.url.rstrip("/").endswith("/portal/signed-out")
    expect(page.locator("#portal-signed-out")).to_be_visible(timeout=15000)
    expect(page.locator('a[href="tel:999"]')).to_be_visible()
    page.goto(f"{base}/portal/case")
    expect(page.locator("#portal-signed-out-notice")).to_be_visible(timeout=20000)
    expect(page.locator("#portal-case")).to_have_count(0)
    assert victim.occurrence_number.split("-")[-1] not in page.inner_text("main")
    assert errors == []
    context.close()


def test_by_keyboard_alone_at_320_px(live_app, browser, artifacts):
    base, notify, db = live_app["base"], live_app["notify"], live_app["db_url"]
    victim = burglary_for(db, "en")
    token = invitation_link(notify, victim)
    context = browser.new_context(viewport={"width": 320, "height": 700})
    page = context.new_page()
    sign_in(page, base, notify, victim, token)
    assert scroll_width(page) <= 320
    for _ in range(120):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "message-text":
            break
    else:
        pytest.fail("Tab never reached the message box")
    page.keyboard.type("Typed with the keyboard only.")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "message-send"
    page.keyboard.press("Enter")
    expect(page.locator('.portal-message[data-author="victim"]').last).to_contain_text("keyboard only",
                                                                                      timeout=15000)
    assert page.evaluate("document.activeElement.id") == "message-send"
    page.keyboard.press("Space")  # Space sends too; the box is empty now, so it is refused in words
    expect(page.locator("#message-notice")).to_have_text(languages.text("en", "portal.refused.empty"),
                                                         timeout=15000)
    page.screenshot(path=str(artifacts / "portal-keyboard-320.png"), full_page=True)
    context.close()


def test_the_sign_in_page_is_the_same_for_every_link_and_says_what_happened(live_app, browser):
    base = live_app["base"]
    page = browser.new_page()
    bodies = []
    for link in ("A" * 43, "not-a-link", "B" * 43):
        page.goto(f"{base}/portal/start/{link}")
        expect(page.locator("#send-code")).to_be_enabled(timeout=15000)
        bodies.append(page.inner_text("main"))
    assert bodies[0] == bodies[1] == bodies[2]
    en = words("en")
    for query, key in (("sent=1", "signin.sent"), ("error=code", "signin.error_code"),
                       ("error=wait", "signin.error_wait")):
        page.goto(f"{base}/portal/start/{'C' * 43}?{query}")
        expect(page.locator("#portal-notice")).to_have_text(en[key], timeout=15000)
    page.goto(f"{base}/portal/start/{'C' * 43}?lang=ur")
    expect(page.locator(".vj-portal")).to_have_attribute("dir", "rtl", timeout=15000)
    expect(page.locator("h1")).to_have_text(words("ur")["signin.title"])
    page.close()


def test_an_open_page_ends_by_itself_when_staff_end_access(live_app, browser):
    """The page's live wait checks the session again each time it wakes: once staff end the victim's access,
    the open page shows only that the session has ended, nothing of the case, without a click."""
    from rxapp.plumbing.columns import utcnow
    from rxapp.plumbing.db import session_scope
    from rxapp.portal.access import revoke_access
    from tests.browser.portal_helpers import Officer, case_victim_id

    base, notify, db = live_app["base"], live_app["notify"], live_app["db_url"]
    victim = burglary_for(db, "en")
    token = invitation_link(notify, victim)
    page = browser.new_page()
    sign_in(page, base, notify, victim, token)
    with session_scope(db) as s:
        assert revoke_access(s, Officer(), case_victim_id(db, victim), utcnow()) == 1
    expect(page.locator("#portal-signed-out-notice")).to_be_visible(timeout=40000)
    expect(page.locator("#portal-case")).to_have_count(0)
    assert victim.occurrence_number.split("-")[-1] not in page.inner_text("#main")  # the live page's main
    page.close()


def test_a_records_change_reaches_the_open_case_page_without_a_reload(live_app, browser):
    """The arrest is recorded while the victim has her case open: the page shows it in the timeline and the
    status by itself. (Applied from the test process, so it arrives with the page's re-check, not at once.)"""
    base, notify, db = live_app["base"], live_app["notify"], live_app["db_url"]
    victim = burglary_for(db, "en")
    token = invitation_link(notify, victim)
    page = browser.new_page()
    sign_in(page, base, notify, victim, token)
    steps = page.locator("#timeline li")
    before = steps.count()
    arrested = languages.text("en", "case.event.suspect_arrested_title")
    expect(page.locator("#timeline")).not_to_contain_text(arrested)
    records_event(db, victim)
    expect(steps).to_have_count(before + 1, timeout=40000)
    expect(page.locator("#timeline")).to_contain_text(arrested)
    expect(page.locator("#case-status")).to_contain_text(languages.text("en", "case.status.arrested"))
    page.close()
