"""Signing in to the victim portal on the real database: codes (sent at once, 10 minutes, 5 tries, a fresh one
replaces the old, wiped from the outbox once sent), sessions (idle expiry, sign-out, staff revocation, the end of
access after the case is finalised), rate limits per link and per address, and the same answers whether a link
exists or not. Then the HTTP routes with Starlette's test client: redirects, the cookie, cross-site and
oversized posts."""
from __future__ import annotations

import json
import logging
import re
import statistics
import time
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from integrations.govuk_notify.client import NotifyClient
from integrations.govuk_notify.simulator import (
    DEFAULT_EMAIL_TEMPLATE_ID,
    DEFAULT_SMS_TEMPLATE_ID,
    DEMO_API_KEY,
    NotifyServer,
)
from rxapp.audit.models import AuditEvent
from rxapp.investigation.models import CaseVictim, Occurrence
from rxapp.messaging.models import Message, MessageEvent
from rxapp.messaging.providers import notify_providers
from rxapp.messaging.sender import OutboxSender
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.links import derive_portal_token, token_hash
from rxapp.portal import access
from rxapp.portal.identity import PortalRefusal
from rxapp.portal.invitations import invite_case, live_invite
from rxapp.portal.models import PortalCode, PortalInvite, PortalSession
from rxapp.staff.accounts import StaffIdentity
from rxapp.staff.models import SignInThrottle
from rxapp.victims.contact import contact_state
from rxapp.victims.models import Victim

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

T0 = datetime(2026, 12, 1, 22, 30, tzinfo=timezone.utc)  # late at night: a code goes all the same
OIC = StaffIdentity(1, "sam.jones", "PC 4127 Sam Jones", "officer", collar_number="PC 4127", team="Middlesbrough CID")
STRANGER = StaffIdentity(2, "other.one", "PC 9999 Other", "officer", collar_number="PC 9999", team="Elsewhere CID")
UNKNOWN = "A" * 43  # a link's shape, but no invitation's
ADDRESS = "203.0.113.7"


def make_case(db_url, number="26CL0099001", phone="+447700900150", flags="") -> tuple[int, str]:
    """A burglary with one consenting victim, invited: (case victim id, portal link token)."""
    with session_scope(db_url) as s:
        victim = Victim(phone=phone, sms_consent=True, consent_updates=True, language="en")
        occ = Occurrence(occurrence_number=number, crime_reference="CL/26/" + number[-6:], classification_code="28/1",
                         classification_text="Burglary - residential - home", reported_at=T0 - timedelta(days=1),
                         recorded_at=T0 - timedelta(hours=3), oic_collar="PC 4127", oic_team="Middlesbrough CID",
                         flags=flags)
        s.add_all([victim, occ])
        s.flush()
        cv = CaseVictim(occurrence_id=occ.id, victim_id=victim.id)
        s.add(cv)
        s.flush()
        invite_case(s, occ, T0 - timedelta(hours=2))
        return cv.id, derive_portal_token(live_invite(s, cv.id).link_nonce)


@pytest.fixture
def case(db_url):
    return make_case(db_url)


def ask(token, now=T0, address=ADDRESS) -> str:
    with session_scope() as s:
        return access.request_code(s, token, address, now)


def last_code(token) -> tuple[str, int]:
    """The code the victim was sent (read from the outbox before the sender wipes it), and its message id."""
    with session_scope() as s:
        invite = s.exec(select(PortalInvite).where(PortalInvite.token_hash == token_hash(token))).one()
        row = s.exec(select(PortalCode).where(PortalCode.invite_id == invite.id).order_by(PortalCode.id.desc())).first()
        message = s.get(Message, row.message_id)
        return json.loads(message.personalisation)["code"], message.id


def sign_in(token, code, now=T0, address=ADDRESS):
    with session_scope() as s:
        return access.sign_in(s, token, code, address, now)


def who(session_token, now=T0):
    return access.identity_from_cookie_header(f"vj_form=x; {access.PORTAL_COOKIE}={session_token}", now)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1000000:06d}"


# ---- codes ----------------------------------------------------------------------------------------------------

def test_a_code_goes_at_once_at_any_hour_to_the_invitation_s_contact_and_signs_in_once(case):
    cv_id, token = case
    assert ask(token) == access.SENT
    code, message_id = last_code(token)
    assert re.fullmatch(r"\d{6}", code)
    with session_scope() as s:
        message = s.get(Message, message_id)
        assert (message.template, message.kind, message.channel) == ("portal_code", "service", "sms")
        assert message.destination == "+447700900150" and message.due_at == T0
        assert code not in message.body and "[one-time code]" in message.body  # the history never shows it
    session_token, answer = sign_in(token, code)
    assert answer == access.OK and session_token
    identity = who(session_token)
    assert identity.case_victim_id == cv_id and identity.session_hash == token_hash(session_token)
    assert sign_in(token, code) == (None, access.REFUSED)  # used once
    with session_scope() as s:
        stored = s.get(PortalSession, token_hash(session_token))
        assert stored is not None and session_token not in json.dumps(stored.model_dump(), default=str)
        assert code not in json.dumps([r.code_hash for r in s.exec(select(PortalCode))])


def test_a_code_expires_after_ten_minutes(case):
    _, token = case
    ask(token)
    code, _ = last_code(token)
    assert sign_in(token, code, T0 + timedelta(minutes=10)) == (None, access.REFUSED)
    ask(token, T0 + timedelta(minutes=11))
    fresh, _ = last_code(token)
    assert sign_in(token, fresh, T0 + timedelta(minutes=20))[1] == access.OK  # 9 minutes after it was sent


def test_five_wrong_tries_kill_the_code_even_for_the_right_one(case):
    _, token = case
    ask(token)
    code, _ = last_code(token)
    for _ in range(5):
        assert sign_in(token, wrong(code)) == (None, access.REFUSED)
    assert sign_in(token, code) == (None, access.REFUSED)
    ask(token, T0 + timedelta(minutes=1))
    fresh, _ = last_code(token)
    assert sign_in(token, fresh, T0 + timedelta(minutes=1))[1] == access.OK


def test_a_fresh_code_replaces_the_old_one_and_cancels_its_message_if_unsent(case):
    _, token = case
    ask(token)
    old, old_message = last_code(token)
    ask(token, T0 + timedelta(seconds=30))
    new, _ = last_code(token)
    assert sign_in(token, old, T0 + timedelta(minutes=1)) == (None, access.REFUSED) or old == new
    with session_scope() as s:
        assert s.get(Message, old_message).status == "cancelled"
    assert sign_in(token, new, T0 + timedelta(minutes=1))[1] == access.OK


@pytest.mark.asyncio
async def test_once_sent_the_code_is_gone_from_the_outbox_but_reached_the_phone(case, db_url):
    _, token = case
    server = NotifyServer(receipt_delay=0.01).start()
    try:
        ask(token)
        code, message_id = last_code(token)
        client = NotifyClient(DEMO_API_KEY, server.url, timeout=5)
        sender = OutboxSender(db_url, providers=notify_providers(client, sms_template_id=DEFAULT_SMS_TEMPLATE_ID,
                              email_template_id=DEFAULT_EMAIL_TEMPLATE_ID), now=lambda: T0 + timedelta(seconds=5))
        await sender.drain()
        sent = [n.body for n in server.sent if n.to.replace(" ", "") in ("+447700900150", "07700900150")]
        assert any(code in body and "10 minutes" in body for body in sent)  # at 22:30: no quiet hours for it
        assert not any("Sign in:" in body for body in sent)  # the invitation (20:30) waits for 08:00
    finally:
        server.stop()
    with session_scope() as s:
        message = s.get(Message, message_id)
        assert message.status in ("sent", "delivered")
        assert code not in message.personalisation and code not in message.body
        history = s.exec(select(MessageEvent).where(MessageEvent.message_id == message_id)).all()
        assert all(code not in e.detail for e in history)
    assert sign_in(token, code, T0 + timedelta(minutes=1))[1] == access.OK  # the hash still checks it


def test_do_not_contact_blocks_the_code_as_it_would_any_message(db_url):
    cv_id, token = make_case(db_url)
    with session_scope() as s:
        occ = s.get(Occurrence, s.get(CaseVictim, cv_id).occurrence_id)
        occ.flags = "DO_NOT_CONTACT"
    from rxapp.domain import safety
    from rxapp.messaging.checks import safety_context

    ask(token)
    _, message_id = last_code(token)
    with session_scope() as s:
        decision = safety.decide(safety_context(s, s.get(Message, message_id), T0))
        assert decision.action == "block" and decision.rule == "do_not_contact"


# ---- sessions -------------------------------------------------------------------------------------------------

def signed_in(token, now=T0) -> str:
    ask(token, now)
    code, _ = last_code(token)
    session_token, answer = sign_in(token, code, now)
    assert answer == access.OK
    return session_token


def test_a_session_ends_after_thirty_idle_minutes_and_use_keeps_it_alive(case):
    _, token = case
    session_token = signed_in(token)
    assert who(session_token, T0 + timedelta(minutes=29)) is not None
    assert who(session_token, T0 + timedelta(minutes=58)) is not None  # touched at 29
    assert who(session_token, T0 + timedelta(minutes=88)) is None
    assert who(session_token, T0 + timedelta(minutes=89)) is None  # ended stays ended
    with session_scope() as s:
        assert s.get(PortalSession, token_hash(session_token)).ended_how == "idle"


def test_last_seen_is_written_at_most_once_a_minute(case):
    _, token = case
    session_token = signed_in(token)
    who(session_token, T0 + timedelta(seconds=30))
    with session_scope() as s:
        assert s.get(PortalSession, token_hash(session_token)).last_seen_at == T0
    who(session_token, T0 + timedelta(seconds=61))
    with session_scope() as s:
        assert s.get(PortalSession, token_hash(session_token)).last_seen_at == T0 + timedelta(seconds=61)


def test_sign_out_ends_the_session(case):
    _, token = case
    session_token = signed_in(token)
    with session_scope() as s:
        access.sign_out(s, session_token, T0)
    assert who(session_token) is None


def test_staff_revocation_ends_every_session_and_the_link_and_strangers_are_refused(case):
    cv_id, token = case
    first, second = signed_in(token), signed_in(token, T0 + timedelta(minutes=1))
    with session_scope() as s:
        with pytest.raises(PortalRefusal) as refused:
            access.revoke_access(s, STRANGER, cv_id, T0)
        assert refused.value.key == "not_allowed"
    assert who(first) is not None
    with session_scope() as s:
        assert access.revoke_access(s, OIC, cv_id, T0 + timedelta(minutes=2)) == 2
        assert not access.portal_link_for(s, cv_id)
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "portal_revoke")).all()
        assert sorted(a.outcome for a in audit) == ["allowed", "refused"]
    assert who(first, T0 + timedelta(minutes=3)) is None and who(second, T0 + timedelta(minutes=3)) is None
    assert ask(token, T0 + timedelta(minutes=3)) == access.SENT  # the same answer...
    with session_scope() as s:  # ...but no code
        invite = s.exec(select(PortalInvite).where(PortalInvite.token_hash == token_hash(token))).one()
        assert s.exec(select(PortalCode).where(PortalCode.invite_id == invite.id,
                                               PortalCode.created_at > T0 + timedelta(minutes=2))).all() == []
        assert {r.ended_how for r in s.exec(select(PortalSession))} == {"revoked"}


def test_access_ends_a_configured_time_after_the_case_is_finalised(case):
    cv_id, token = case
    session_token = signed_in(token)
    with session_scope() as s:
        occ = s.get(Occurrence, s.get(CaseVictim, cv_id).occurrence_id)
        occ.finalised_at = T0 - timedelta(days=28) + timedelta(minutes=20)
    assert who(session_token, T0 + timedelta(minutes=10)) is not None
    assert who(session_token, T0 + timedelta(minutes=21)) is None
    with session_scope() as s:
        assert s.get(PortalSession, token_hash(session_token)).ended_how == "access_ended"
    ask(token, T0 + timedelta(minutes=22))
    with session_scope() as s:  # no code for a case whose access has ended, and the same answer
        assert len(s.exec(select(PortalCode)).all()) == 1


def test_the_scheduled_sweep_marks_idle_sessions_ended(case):
    _, token = case
    session_token = signed_in(token)
    assert access.end_stale_sessions(T0 + timedelta(minutes=10)) == 0
    assert access.end_stale_sessions(T0 + timedelta(minutes=31)) == 1
    with session_scope() as s:
        assert s.get(PortalSession, token_hash(session_token)).ended_how == "idle"


def test_another_victim_s_link_with_my_code_gets_nothing(db_url):
    _, mine = make_case(db_url)
    _, theirs = make_case(db_url, number="26CL0099002", phone="+447700900151")
    ask(mine)
    code, _ = last_code(mine)
    assert sign_in(theirs, code) == (None, access.REFUSED)
    assert sign_in(mine, code)[1] == access.OK


# ---- rate limits and sameness ---------------------------------------------------------------------------------

def test_three_codes_per_link_in_fifteen_minutes_then_wait(case):
    _, token = case
    assert [ask(token, T0 + timedelta(minutes=i), f"198.51.100.{i}") for i in range(4)] == ["sent"] * 3 + ["wait"]
    assert ask(token, T0 + timedelta(minutes=20), "198.51.100.9") == "sent"


def test_one_address_walking_through_links_is_stopped(case):
    answers = [ask("B" * 42 + chr(ord("A") + i), T0 + timedelta(seconds=i)) for i in range(11)]
    assert answers == ["sent"] * 10 + ["wait"]
    _, token = case
    assert ask(token, T0 + timedelta(minutes=1)) == "wait"  # the address is held, whichever link
    assert ask(token, T0 + timedelta(minutes=1), "198.51.100.1") == "sent"


def test_failed_sign_ins_per_address_then_wait_even_with_the_right_code(case):
    _, token = case
    ask(token)
    code, _ = last_code(token)
    answers = [sign_in(UNKNOWN[:-1] + chr(ord("a") + i), "123456")[1] for i in range(10)]
    assert answers == ["code"] * 10
    assert sign_in(token, code) == (None, access.WAIT)
    assert sign_in(token, code, address="198.51.100.2")[1] == access.OK


def test_unknown_revoked_and_good_links_get_the_same_answers(case):
    _, token = case
    assert ask(UNKNOWN) == ask(token, address="198.51.100.3") == ask("not a link", address="198.51.100.4") == "sent"
    assert sign_in(UNKNOWN, "123456") == sign_in("x", "123456") == (None, "code")
    with session_scope() as s:  # throttle keys hold no link and no address in clear
        keys = [row.key for row in s.exec(select(SignInThrottle))]
        assert keys and not any(token in k or UNKNOWN in k or ADDRESS in k for k in keys)


def test_asking_on_a_good_link_and_an_unknown_one_takes_the_same_order_of_time(case):
    _, token = case

    def median_seconds(link: str) -> float:
        times = []
        for i in range(15):  # an hour apart and from different addresses: no limit is reached
            started = time.perf_counter()
            ask(link, T0 + timedelta(hours=i), f"198.51.100.{i}")
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    known, unknown = median_seconds(token), median_seconds(UNKNOWN)
    assert max(known, unknown) < 5 * min(known, unknown), (known, unknown)  # measured: about 2 to 1


# ---- the routes -----------------------------------------------------------------------------------------------

ORIGIN = "http://localhost:3000"
FORM_COOKIE = "vj_form=" + "f" * 43


def post(path, headers=None, cookie=FORM_COOKIE, csrf="", **fields):
    from rxapp.plumbing.http import api
    from rxapp.staff.forms import form_token

    data = dict(fields)
    if csrf is not None:
        data["csrf"] = csrf or form_token(cookie)
    sent = {"origin": ORIGIN, "cookie": cookie, **(headers or {})}
    with TestClient(api, base_url=ORIGIN) as client:
        return client.post(path, data=data, headers={k: v for k, v in sent.items() if v is not None},
                           follow_redirects=False)


def test_the_routes_ask_sign_in_and_out_with_one_cookie(case, caplog):
    caplog.set_level(logging.INFO)
    _, token = case
    answer = post("/portal/code", link=token)
    assert (answer.status_code, answer.headers["location"]) == (303, f"/portal/start/{token}?sent=1")
    code, _ = last_code(token)
    bad = post("/portal/sign-in", link=token, code=wrong(code))
    assert (bad.status_code, bad.headers["location"]) == (303, f"/portal/start/{token}?error=code")
    assert "set-cookie" not in bad.headers
    good = post("/portal/sign-in", link=token, code=code[:3] + " " + code[3:])
    assert (good.status_code, good.headers["location"]) == (303, "/portal/case")
    cookie = good.headers["set-cookie"]
    assert cookie.startswith("vj_victim=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/" in cookie
    session_token = re.match(r"vj_victim=([^;]+)", cookie).group(1)
    assert access.identity_from_cookie_header(f"vj_victim={session_token}") is not None
    out = post("/portal/sign-out", cookie=f"{FORM_COOKIE}; vj_victim={session_token}")
    assert (out.status_code, out.headers["location"]) == (303, "/portal/signed-out")
    assert 'vj_victim=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    assert access.identity_from_cookie_header(f"vj_victim={session_token}") is None
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert token not in logged and code not in logged and session_token not in logged


def test_the_routes_answer_unknown_and_malformed_links_as_they_answer_good_ones(case):
    _, token = case
    assert post("/portal/code", link=UNKNOWN).headers["location"] == f"/portal/start/{UNKNOWN}?sent=1"
    for junk in ("../../admin", "<script>", "x" * 300, ""):
        answer = post("/portal/code", link=junk)
        assert (answer.status_code, answer.headers["location"]) == (303, "/portal/start/invalid?sent=1")
    assert post("/portal/sign-in", link=UNKNOWN, code="123456").headers["location"] == \
        f"/portal/start/{UNKNOWN}?error=code"
    assert post("/portal/sign-in", link="<b>", code="1").headers["location"] == "/portal/start/invalid?error=code"


def test_the_routes_refuse_cross_site_tokenless_and_oversized_posts(case):
    _, token = case
    for headers in ({"origin": "https://evil.example"}, {"origin": None, "sec-fetch-site": "cross-site"},
                    {"origin": ORIGIN, "sec-fetch-site": "same-site"}, {"origin": None}):
        for path in ("/portal/code", "/portal/sign-in", "/portal/sign-out"):
            assert post(path, headers, link=token, code="123456").status_code == 403, (path, headers)
    assert post("/portal/code", csrf=None, link=token).headers["location"] == f"/portal/start/{token}?error=code"
    assert post("/portal/sign-in", csrf="0" * 64, link=token, code="1").headers["location"].endswith("error=code")
    assert post("/portal/sign-out", csrf=None).status_code == 403
    with session_scope() as s:
        assert s.exec(select(PortalCode)).all() == []  # none of these sent a code
    big = post("/portal/sign-in", link=token, code="1" * 5000)
    assert big.status_code == 413


def test_a_wait_is_said_as_a_wait(case):
    _, token = case
    for i in range(3):
        post("/portal/code", link=token)
    assert post("/portal/code", link=token).headers["location"] == f"/portal/start/{token}?error=wait"


def test_the_code_goes_nowhere_the_invitation_did_not(case):
    cv_id, token = case
    with session_scope() as s:
        s.get(Victim, s.get(CaseVictim, cv_id).victim_id).phone = "+447700900199"
        contact_state(s, s.get(CaseVictim, cv_id).victim_id)
    assert ask(token) == "sent"
    with session_scope() as s:
        assert s.exec(select(PortalCode)).all() == []
        assert s.exec(select(Message).where(Message.template == "portal_code")).all() == []


def test_the_sign_in_page_keeps_its_language_across_the_redirects_and_nothing_else_gets_in(case):
    _, token = case
    assert post("/portal/code", link=token, lang="pl").headers["location"] == f"/portal/start/{token}?sent=1&lang=pl"
    assert post("/portal/sign-in", link=token, code="000000", lang="ur").headers["location"] == \
        f"/portal/start/{token}?error=code&lang=ur"
    for junk in ("en", "xx", "pl&next=//evil.example", "<b>"):
        where = post("/portal/sign-in", link=UNKNOWN, code="000000", lang=junk).headers["location"]
        assert where == f"/portal/start/{UNKNOWN}?error=code", junk
