"""The victim portal's sign-in attacked through real HTTP against the running product (issue 11, point 1 and
the attack acceptance): the invitation's code read from the local Notify server; a used code and an expired
code replayed; codes guessed past the limit; another victim's link with my code; a revoked link; cross-site,
token-less and oversized posts. Every refusal is the same redirect whether the link exists or not, and nothing
in an answer or a log names a link's owner."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from datetime import timedelta

import httpx
import pytest
from sqlmodel import delete, select

from tests.browser.conftest import SECRET
from tests.browser.test_cases_page import records_now

pytestmark = pytest.mark.browser
EVIL = "https://evil.example"
CODE = re.compile(r"online is (\d{6})\.")
UNKNOWN = "Q" * 43


def form_cookie() -> str:
    return secrets.token_urlsafe(32)


def csrf_for(cookie: str) -> str:
    """What our pages put in the hidden field for this browser (worked out here, not by the product's code)."""
    return hmac.new(SECRET.encode(), f"staff-form:{cookie}".encode(), hashlib.sha256).hexdigest()


def post(base: str, path: str, *, origin: str | None = "ours", cookie: str | None = None, csrf: str | None = "ours",
         extra_cookies: str = "", headers: dict | None = None, **fields) -> httpx.Response:
    cookie = cookie or form_cookie()
    data = dict(fields)
    if csrf is not None:
        data["csrf"] = csrf_for(cookie) if csrf == "ours" else csrf
    sent = {"origin": base if origin == "ours" else origin, **(headers or {}),
            "cookie": f"vj_form={cookie}" + (f"; {extra_cookies}" if extra_cookies else "")}
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        return client.post(f"{base}{path}", data=data, headers={k: v for k, v in sent.items() if v})


def where(answer: httpx.Response, link: str) -> str:
    """The redirect with the link taken out, so answers for different links can be compared."""
    return (answer.headers.get("location") or "").replace(link, "<link>")


def victim_cookie(answer: httpx.Response) -> str | None:
    match = re.search(r"vj_victim=([^;]*)", answer.headers.get("set-cookie", ""))
    return match.group(1) if match and match.group(1).strip('"') else None


@pytest.fixture(scope="module")
def victims(live_app):
    """The records sample in the running product: (burglary victim's link, her phone), and the same for a second
    burglary victim (the sample again under fresh numbers)."""
    from integrations.niche.protocol import parse_change
    from rxapp.investigation.models import CaseVictim, Occurrence
    from rxapp.investigation.service import JourneyService
    from rxapp.plumbing.db import session_scope
    from rxapp.plumbing.links import derive_portal_token
    from rxapp.portal.invitations import live_invite

    found = []
    for _ in range(2):
        changes, numbers = records_now()
        for raw in changes:
            change = parse_change(raw, decoded=True)
            clock = change.occurred_at + timedelta(minutes=1)
            JourneyService(live_app["db_url"], now=lambda: clock).apply_page([change], None)
        with session_scope(live_app["db_url"]) as s:
            occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == numbers["26CL0041877"])).one()
            (cv,) = s.exec(select(CaseVictim).where(CaseVictim.occurrence_id == occ.id)).all()
            invite = live_invite(s, cv.id)
            assert invite is not None, "the sample's burglary victim is invited"
            found.append((derive_portal_token(invite.link_nonce), invite.destination, cv.id))
    return found


@pytest.fixture(autouse=True)
def no_limits_left_behind(live_app):
    """Every request here comes from one address: the portal's counts are cleared after each test so that a
    test's guessing does not hold up the next one (or other modules' portal tests)."""
    yield
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.models import SignInThrottle

    with session_scope(live_app["db_url"]) as s:
        s.exec(delete(SignInThrottle).where(SignInThrottle.key.like("portal-%")))


def new_code(live_app, link: str, phone: str, timeout: float = 30) -> str:
    """Ask for a code as the page does, and read it from the text the local Notify server received."""
    notify = live_app["notify"]
    number = "0" + phone[3:]
    before = {n.id for n in notify.sent}
    answer = post(live_app["base"], "/portal/code", link=link)
    assert (answer.status_code, where(answer, link)) == (303, "/portal/start/<link>?sent=1")
    deadline = time.time() + timeout
    while time.time() < deadline:
        for n in notify.sent:
            if n.id not in before and n.to.replace(" ", "") in (phone, number) and CODE.search(n.body):
                return CODE.search(n.body).group(1)
        time.sleep(0.2)
    raise AssertionError("no code arrived at the local Notify server")


def sign_in(base: str, link: str, code: str, **kw) -> httpx.Response:
    return post(base, "/portal/sign-in", link=link, code=code, **kw)


def alive(app, session_token: str) -> bool:
    from rxapp.portal.access import identity_from_cookie_header

    return identity_from_cookie_header(f"vj_victim={session_token}", db_url=app["db_url"]) is not None


def test_the_code_from_the_text_signs_in_once_and_the_outbox_forgets_it(live_app, victims):
    from rxapp.messaging.models import Message
    from rxapp.plumbing.db import session_scope

    base, (link, phone, _) = live_app["base"], victims[0]
    code = new_code(live_app, link, phone)
    answer = sign_in(base, link, code)
    assert (answer.status_code, answer.headers["location"]) == (303, "/portal/case")
    session_token = victim_cookie(answer)
    assert session_token and alive(live_app, session_token)
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    # Replayed: refused, as a wrong code is.
    replay = sign_in(base, link, code)
    assert where(replay, link) == "/portal/start/<link>?error=code" and victim_cookie(replay) is None
    with session_scope(live_app["db_url"]) as s:
        rows = s.exec(select(Message).where(Message.template == "portal_code")).all()
        assert rows and all(code not in m.personalisation + m.body for m in rows if m.status in ("sent", "delivered"))
    log = live_app["log"].read_text(errors="replace")
    assert link not in log and code not in log and session_token not in log
    out = post(base, "/portal/sign-out", extra_cookies=f"vj_victim={session_token}")
    assert (out.status_code, out.headers["location"]) == (303, "/portal/signed-out")
    assert not alive(live_app, session_token)


def test_an_expired_code_is_refused_exactly_as_an_unknown_link_is(live_app, victims):
    from rxapp.plumbing.db import session_scope
    from rxapp.plumbing.links import token_hash
    from rxapp.portal.models import PortalCode, PortalInvite

    base, (link, phone, _) = live_app["base"], victims[0]
    code = new_code(live_app, link, phone)
    with session_scope(live_app["db_url"]) as s:  # ten minutes pass
        invite = s.exec(select(PortalInvite).where(PortalInvite.token_hash == token_hash(link))).one()
        row = s.exec(select(PortalCode).where(PortalCode.invite_id == invite.id)
                     .order_by(PortalCode.id.desc())).first()
        row.expires_at = row.created_at
    expired, unknown = sign_in(base, link, code), sign_in(base, UNKNOWN, code)
    assert where(expired, link) == where(unknown, UNKNOWN) == "/portal/start/<link>?error=code"
    assert expired.status_code == unknown.status_code == 303 and expired.content == unknown.content
    assert victim_cookie(expired) is None and victim_cookie(unknown) is None
    asked = [post(base, "/portal/code", link=x) for x in (UNKNOWN, "../../etc/passwd")]
    assert [where(a, UNKNOWN) for a in asked] == ["/portal/start/<link>?sent=1", "/portal/start/invalid?sent=1"]


def test_guessing_past_the_limit_is_refused_even_with_the_right_code(live_app, victims):
    base, (link, phone, _) = live_app["base"], victims[0]
    code = new_code(live_app, link, phone)
    wrong = [f"{(int(code) + i) % 1000000:06d}" for i in range(1, 6)]
    answers = [where(sign_in(base, link, guess), link) for guess in wrong]
    assert answers == ["/portal/start/<link>?error=code"] * 5
    right = sign_in(base, link, code)
    assert where(right, link) == "/portal/start/<link>?error=code" and victim_cookie(right) is None
    # Keep guessing from this address: held, whatever the link.
    later = [where(sign_in(base, UNKNOWN, f"{i:06d}"), UNKNOWN) for i in range(10)]
    assert later[-1] == "/portal/start/<link>?error=wait" and "/portal/start/<link>?error=code" in later
    # Asking for codes over and over is held too.
    asked = [where(post(base, "/portal/code", link=UNKNOWN), UNKNOWN) for _ in range(4)]
    assert asked[:3] == ["/portal/start/<link>?sent=1"] * 3 and asked[3] == "/portal/start/<link>?error=wait"


def test_my_code_on_another_victim_s_link_opens_nothing(live_app, victims):
    base, (mine, phone, _), (theirs, _, _) = live_app["base"], victims[0], victims[1]
    code = new_code(live_app, mine, phone)
    other = sign_in(base, theirs, code)
    assert where(other, theirs) == "/portal/start/<link>?error=code" and victim_cookie(other) is None
    assert victim_cookie(sign_in(base, mine, code))


def test_a_revoked_link_and_its_session_stop_working_with_the_same_answers(live_app, victims):
    from rxapp.plumbing.columns import utcnow
    from rxapp.plumbing.db import session_scope
    from rxapp.portal.access import revoke_access
    from rxapp.staff.accounts import StaffIdentity

    base, (link, phone, cv_id) = live_app["base"], victims[1]
    session_token = victim_cookie(sign_in(base, link, new_code(live_app, link, phone)))
    assert session_token and alive(live_app, session_token)
    officer = StaffIdentity(9, "sam.jones", "PC 4127 Sam Jones", "officer", collar_number="PC 4127",
                            team="Middlesbrough CID")
    with session_scope(live_app["db_url"]) as s:
        assert revoke_access(s, officer, cv_id, utcnow()) >= 1
    assert not alive(live_app, session_token)
    before = len(live_app["notify"].sent)
    asked = post(base, "/portal/code", link=link)
    assert where(asked, link) == "/portal/start/<link>?sent=1"  # the same answer as a good link...
    time.sleep(3)
    assert not any(CODE.search(n.body) for n in live_app["notify"].sent[before:])  # ...but no code
    assert where(sign_in(base, link, "123456"), link) == "/portal/start/<link>?error=code"


def test_cross_site_token_less_and_oversized_posts_are_refused(live_app, victims):
    base, (link, _, _) = live_app["base"], victims[0]
    for path in ("/portal/code", "/portal/sign-in", "/portal/sign-out"):
        for origin, headers in ((EVIL, None), (None, {"sec-fetch-site": "cross-site"}), (None, None),
                                (base, {"sec-fetch-site": "same-site"})):
            answer = post(base, path, origin=origin, headers=headers, link=link, code="123456")
            assert answer.status_code == 403 and victim_cookie(answer) is None, (path, origin, headers)
    assert where(post(base, "/portal/code", csrf=None, link=link), link) == "/portal/start/<link>?error=code"
    assert where(post(base, "/portal/sign-in", csrf="0" * 64, link=link, code="1"), link).endswith("error=code")
    assert post(base, "/portal/sign-out", csrf=None).status_code == 403
    big = post(base, "/portal/sign-in", link=link, code="1" * 10_000)
    assert big.status_code == 413 and victim_cookie(big) is None
    try:  # a megabyte: refused before it is read (the server may close the connection while it is still sent)
        huge = post(base, "/portal/code", link=link, padding="x" * (1024 * 1024))
        assert huge.status_code == 413
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
        pass
