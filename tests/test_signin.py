"""Sign-in that holds up, below the browser: throttles per account, per address and overall with one answer
("too many attempts: try again in N minutes") for known, unknown and locked accounts alike and in the same
time; argon2 in its own bounded executor that refuses politely when full; a password change or a disabled
account ends every session; the sign-in and sign-out routes refuse cross-site and token-less posts and keep
the username after a mistake without putting it in the URL or the log; the edge guard's hosts, headers,
body bounds and log bounds; /healthz's details only for staff."""
from __future__ import annotations

import asyncio
import gzip
import logging
import re
import threading
import time
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from rxapp.plumbing import config
from rxapp.plumbing.db import session_scope
from rxapp.staff.accounts import AuthError, create_user, identity_for_token, set_password, sign_in

with warnings.catch_warnings():  # Starlette's test client would rather have httpx2; httpx is what is pinned
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
ORIGIN = "http://localhost:3000"  # PUBLIC_BASE_URL's default
FORM_COOKIE = "vj_form=" + "f" * 43


@pytest.fixture
def staff(db_url, monkeypatch):
    monkeypatch.setenv("STAFF_LOCKOUT_ATTEMPTS", "3")
    monkeypatch.setenv("STAFF_LOCKOUT_MINUTES", "15")
    config.reset_settings()
    with session_scope() as s:
        create_user(s, "control.one", PASSWORD, "fcr", "Control One")
        create_user(s, "admin.one", PASSWORD, "admin", "Admin One")
    return "control.one"


def attempt(username: str, password: str, now: datetime = T0, address: str | None = None) -> str:
    with session_scope() as s:
        return sign_in(s, username, password, now, **({"address": address} if address else {}))


def refusal(username: str, password: str, now: datetime = T0, address: str | None = None) -> str:
    with pytest.raises(AuthError) as refused:
        attempt(username, password, now, address)
    return str(refused.value)


def identity(token: str, now: datetime = T0):
    with session_scope(readonly=True) as s:
        return identity_for_token(s, token, now)


# ---- throttles --------------------------------------------------------------------------------------------------

def test_a_locked_account_answers_exactly_like_an_unknown_one(staff):
    known = [refusal(staff, "wrong password", T0 + timedelta(seconds=i)) for i in range(3)]
    unknown = [refusal("nobody.here", "wrong password", T0 + timedelta(seconds=i)) for i in range(3)]
    assert known == unknown
    assert known[0] == "The username or password is not right."
    assert known[2].startswith("Too many attempts: try again in 15 minutes.")
    # The right password while locked gets the same words as any password for a name nobody has.
    assert refusal(staff, PASSWORD, T0 + timedelta(minutes=5)) == \
        refusal("nobody.here", PASSWORD, T0 + timedelta(minutes=5))
    assert "try again in 11 minutes" in refusal(staff, PASSWORD, T0 + timedelta(minutes=4, seconds=30))
    assert identity(attempt(staff, PASSWORD, T0 + timedelta(minutes=16))).username == staff


def test_refusals_take_the_same_time_for_known_unknown_and_locked_accounts(staff, monkeypatch):
    monkeypatch.setenv("STAFF_LOCKOUT_ATTEMPTS", "5")
    config.reset_settings()
    for _ in range(5):
        refusal("admin.one", "wrong password")  # now locked

    # The three kinds in turn, four rounds (a fifth wrong password would lock the account), each kind's fastest: the work a refusal does (a password hash each,
    # whatever the account) sets the fastest time, while another process on the machine can only add to a try.
    kinds = {"wrong": (staff, "wrong password"), "unknown": ("nobody.here", "wrong password"),
             "locked": ("admin.one", PASSWORD)}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(4):
        for kind, (username, password) in kinds.items():
            started = time.perf_counter()
            refusal(username, password)
            times[kind].append(time.perf_counter() - started)
    wrong, unknown, locked = (min(times[kind]) for kind in kinds)
    for other in (unknown, locked):
        assert 0.5 < other / wrong < 2.0, (wrong, unknown, locked)


def test_one_address_is_refused_after_its_limit_whichever_names_it_tries(staff, monkeypatch):
    monkeypatch.setenv("SIGNIN_ADDRESS_ATTEMPTS", "4")
    config.reset_settings()
    answers = [refusal(f"guess.{i}", "wrong password", address="198.51.100.7") for i in range(4)]
    assert answers[:3] == ["The username or password is not right."] * 3
    assert answers[3].startswith("Too many attempts: try again in 15 minutes.")
    assert refusal(staff, PASSWORD, T0 + timedelta(minutes=1), address="198.51.100.7").startswith("Too many")
    assert attempt(staff, PASSWORD, T0 + timedelta(minutes=1), address="203.0.113.9")


def test_every_sign_in_waits_a_minute_after_the_overall_limit(staff, monkeypatch):
    monkeypatch.setenv("SIGNIN_TOTAL_ATTEMPTS", "5")
    config.reset_settings()
    for i in range(5):
        refusal(f"guess.{i}", "wrong password", address=f"198.51.100.{i}")
    assert refusal(staff, PASSWORD, T0 + timedelta(seconds=10), address="203.0.113.9") == \
        "Too many attempts: try again in 1 minute. Sign-in is locked after too many failed attempts."
    assert attempt(staff, PASSWORD, T0 + timedelta(seconds=61), address="203.0.113.9")


def test_the_throttle_keeps_no_name_or_address_in_clear(staff):
    from sqlmodel import select

    from rxapp.staff.models import SignInThrottle

    refusal("nobody.here", "wrong password", address="198.51.100.7")
    with session_scope(readonly=True) as s:
        keys = [row.key for row in s.exec(select(SignInThrottle))]
    assert len(keys) == 3 and "all" in keys
    assert not any("nobody" in key or "198.51" in key for key in keys)


# ---- the password executor ---------------------------------------------------------------------------------------

def test_a_full_password_executor_refuses_at_once_and_leaves_the_shared_pool_alone():
    from rxapp.staff.throttle import PasswordWork, PasswordWorkBusy

    work, release = PasswordWork(workers=1, queue=1), threading.Event()

    async def scenario():
        held = [asyncio.ensure_future(work.run(release.wait, 10)) for _ in range(2)]  # one running, one queued
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        with pytest.raises(PasswordWorkBusy):
            await work.run(lambda: "never")
        refused_in = time.perf_counter() - started
        # Everything else's threads (asyncio.to_thread) are not the password checks' threads.
        shared = await asyncio.wait_for(asyncio.to_thread(lambda: "pages still served"), 1)
        release.set()
        await asyncio.gather(*held)
        return refused_in, shared, await work.run(lambda: "free again")

    refused_in, shared, after = asyncio.run(scenario())
    assert refused_in < 0.05 and shared == "pages still served" and after == "free again"
    work.shutdown()


def test_a_busy_sign_in_gets_the_same_try_again_answer(staff, monkeypatch):
    from rxapp.staff import routes
    from rxapp.staff.throttle import PasswordWorkBusy

    class Saturated:
        async def run(self, *_args):
            raise PasswordWorkBusy()

    monkeypatch.setattr(routes, "password_work", Saturated())
    answer = post_form("/staff/login", username=staff, password=PASSWORD)
    assert (answer.status_code, answer.headers["location"]) == (303, "/login?error=locked&minutes=1")
    assert "vj_staff" not in answer.headers.get("set-cookie", "")


# ---- sessions end ---------------------------------------------------------------------------------------------------

def test_a_password_change_ends_every_session_of_that_account_only(staff):
    desk, phone, other = attempt(staff, PASSWORD), attempt(staff, PASSWORD), attempt("admin.one", PASSWORD)
    with session_scope() as s:
        set_password(s, staff, "a brand new password")
    assert identity(desk) is None and identity(phone) is None
    assert identity(other).username == "admin.one"
    assert identity(attempt(staff, "a brand new password")).username == staff


def test_disabling_ends_every_session_and_enabling_does_not_bring_them_back(staff):
    from rxapp.staff.accounts import set_active

    token = attempt(staff, PASSWORD)
    with session_scope() as s:
        set_active(s, staff, False)
    assert identity(token) is None
    assert refusal(staff, PASSWORD, T0 + timedelta(seconds=1)) == "The username or password is not right."
    with session_scope() as s:
        set_active(s, staff, True)
    assert identity(token) is None
    assert identity(attempt(staff, PASSWORD, T0 + timedelta(seconds=2))).username == staff


# ---- the routes -----------------------------------------------------------------------------------------------------

def form_token(cookie: str = FORM_COOKIE) -> str:
    from rxapp.staff.forms import form_token as token

    return token(cookie)


def post_form(path: str, headers: dict | None = None, cookie: str = FORM_COOKIE, token: str | None = "", **fields):
    from rxapp.plumbing.http import api

    data = dict(fields)
    if token is not None:
        data["csrf"] = token or form_token(cookie)
    sent = {"origin": ORIGIN, "cookie": cookie, **(headers or {})}
    with TestClient(api, base_url="http://localhost:3000") as client:
        return client.post(path, data=data, headers={k: v for k, v in sent.items() if v is not None},
                           follow_redirects=False)


def session_cookie(answer) -> str | None:
    match = re.search(r"vj_staff=([^;]+)", answer.headers.get("set-cookie", ""))
    return match.group(1) if match and match.group(1) not in ('""', "") else None


def test_sign_in_and_sign_out_refuse_cross_site_posts(staff):
    for headers in ({"origin": "https://evil.example"}, {"origin": "null"},
                    {"origin": None, "sec-fetch-site": "cross-site"}, {"origin": None},
                    {"origin": ORIGIN, "sec-fetch-site": "same-site"}):
        answer = post_form("/staff/login", headers, username=staff, password=PASSWORD)
        assert answer.status_code == 403 and session_cookie(answer) is None, headers
    good = post_form("/staff/login", {"origin": None, "sec-fetch-site": "same-origin"}, username=staff,
                     password=PASSWORD)
    assert good.status_code == 303 and session_cookie(good)
    # What Chromium sends from our own form under our Referrer-Policy: no-referrer.
    ours = post_form("/staff/login", {"origin": "null", "sec-fetch-site": "same-origin"}, username=staff,
                     password=PASSWORD)
    assert ours.status_code == 303 and session_cookie(ours)
    token = session_cookie(good)
    out = post_form("/staff/logout", {"origin": "https://evil.example"}, cookie=f"{FORM_COOKIE}; vj_staff={token}")
    assert out.status_code == 403 and identity(token, datetime.now(timezone.utc)) is not None


def test_sign_in_and_sign_out_refuse_a_missing_or_wrong_form_token(staff):
    for cookie, token in ((FORM_COOKIE, None), (FORM_COOKIE, "0" * 64), ("", form_token()),
                          ("vj_form=" + "g" * 43, form_token())):
        answer = post_form("/staff/login", cookie=cookie, token=token, username=staff, password=PASSWORD)
        assert (answer.status_code, answer.headers.get("location")) == (303, "/login?error=form")
        assert session_cookie(answer) is None
    signed_in = post_form("/staff/login", username=staff, password=PASSWORD)
    assert signed_in.headers["location"] == "/board"
    token = session_cookie(signed_in)
    refused = post_form("/staff/logout", token=None, cookie=f"{FORM_COOKIE}; vj_staff={token}")
    assert refused.status_code == 403 and identity(token, datetime.now(timezone.utc)) is not None
    out = post_form("/staff/logout", cookie=f"{FORM_COOKIE}; vj_staff={token}")
    assert out.status_code == 303 and identity(token, datetime.now(timezone.utc)) is None


def test_a_mistake_keeps_a_safe_username_in_a_cookie_not_in_the_url_or_the_log(staff, caplog):
    caplog.set_level(logging.INFO)
    answer = post_form("/staff/login", username="Control.One", password="wrong password")
    assert answer.headers["location"] == "/login?error=invalid"
    assert re.search(r"vj_signin_name=control\.one;.*HttpOnly", answer.headers["set-cookie"], re.I)
    assert "samesite=strict" in answer.headers["set-cookie"].lower()
    assert "control.one" not in caplog.text.lower()
    odd = post_form("/staff/login", username="<script>x</script>", password="wrong password")
    assert "vj_signin_name" not in odd.headers.get("set-cookie", "")

    from rxapp.staff.forms import remembered_username

    assert remembered_username("a=b; vj_signin_name=control.one") == "control.one"
    assert remembered_username('vj_signin_name="<img src=x>"') == ""


def test_the_login_page_shows_the_wait_in_minutes_from_the_query():
    from rxapp.staff.pages import _minutes

    assert (_minutes("7"), _minutes("0"), _minutes("99999"), _minutes("x")) == (7, 15, 15, 15)


# ---- /healthz -------------------------------------------------------------------------------------------------------

def test_healthz_tells_the_public_only_up_and_staff_the_details(staff, monkeypatch):
    from rxapp.plumbing.http import api

    monkeypatch.setenv("HEALTHZ_TOKEN", "h" * 40)
    config.reset_settings()
    fcr, admin = attempt(staff, PASSWORD, datetime.now(timezone.utc)), \
        attempt("admin.one", PASSWORD, datetime.now(timezone.utc))
    with TestClient(api) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/healthz", headers={"cookie": f"vj_staff={fcr}"}).json() == {"status": "ok"}
        assert client.get("/healthz", headers={"authorization": "Bearer wrong"}).json() == {"status": "ok"}
        for headers in ({"cookie": f"vj_staff={admin}"}, {"authorization": "Bearer " + "h" * 40}):
            body = client.get("/healthz", headers=headers).json()
            assert body["status"] == "ok" and "runner" in body and "storm_last_seq" in body


# ---- the edge guard -------------------------------------------------------------------------------------------------

INLINE = b"window.started = 1;"
PAGE = b"<html><head><script>" + INLINE + b"</script><script src='/a.js'></script></head><body>hi</body></html>"


def guarded_client(monkeypatch, **env) -> TestClient:
    from rxapp.plumbing.edges import guard_edges

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config.reset_settings()

    async def page(request):
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(gzip.compress(PAGE), media_type="text/html", headers={"content-encoding": "gzip"})
        return HTMLResponse(PAGE)

    async def away(request):
        return RedirectResponse(str(request.url.replace(path="/login/")))

    async def echo(request):
        return Response(str(len(await request.body())))

    async def provider(request):  # another service on this machine: an OpenID provider on its own port
        return RedirectResponse("http://127.0.0.1:9/auth?client_id=vj", status_code=303)

    inner = Starlette(routes=[Route("/page", page), Route("/away", away), Route("/provider", provider),
                              Route("/staff/login", echo, methods=["POST"]),
                              Route("/notify/received-texts", echo, methods=["POST"])])
    return TestClient(guard_edges(inner), base_url="http://localhost:3000")


def test_every_answer_has_the_security_headers_and_a_page_its_script_hashes(monkeypatch, tmp_path):
    import base64
    import hashlib

    client = guarded_client(monkeypatch, VJ_DATA_DIR=str(tmp_path))
    digest = "'sha256-" + base64.b64encode(hashlib.sha256(INLINE).digest()).decode() + "'"
    for encoding in ("gzip", "identity"):
        client.cookies.clear()
        answer = client.get("/page", headers={"accept-encoding": encoding})
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and digest in policy and "'unsafe-inline'" not in \
            policy.split("script-src", 1)[1].split(";", 1)[0]
        assert "connect-src 'self' ws://localhost:*" in policy
        assert (answer.headers["referrer-policy"], answer.headers["x-content-type-options"]) == ("no-referrer",
                                                                                                  "nosniff")
        assert "strict-transport-security" not in answer.headers
        assert re.match(r"vj_form=[\w-]{32,}; Path=/; HttpOnly; SameSite=Strict$", answer.headers["set-cookie"])
    other = client.get("/away", follow_redirects=False)
    assert "frame-ancestors 'none'" in other.headers["content-security-policy"]
    secure = guarded_client(monkeypatch, VJ_DATA_DIR=str(tmp_path), COOKIE_SECURE="true")
    assert secure.get("/page").headers["strict-transport-security"] == "max-age=31536000"


def test_a_foreign_host_gets_400_and_is_never_echoed_and_redirects_are_paths(monkeypatch, tmp_path):
    client = guarded_client(monkeypatch, VJ_DATA_DIR=str(tmp_path), PUBLIC_BASE_URL="https://victims.force.example")
    for host in ("evil.example", "victims.force.example.evil.example", "", "evil.example:443"):
        answer = client.get("/away", headers={"host": host}, follow_redirects=False)
        assert answer.status_code == 400, host
        assert "evil" not in answer.text and "evil" not in str(answer.headers)
    for host in ("victims.force.example", "victims.force.example:8443", "127.0.0.1:3000", "localhost"):
        answer = client.get("/away", headers={"host": host}, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (307, "/login/"), host
    # Only this site itself becomes a path: the same host name on another port is another service.
    answer = client.get("/provider", headers={"host": "127.0.0.1:3000"}, follow_redirects=False)
    assert answer.headers["location"] == "http://127.0.0.1:9/auth?client_id=vj"


def test_request_bodies_are_bounded(monkeypatch, tmp_path):
    client = guarded_client(monkeypatch, VJ_DATA_DIR=str(tmp_path))
    assert client.post("/staff/login", content=b"x" * 1000).text == "1000"
    assert client.post("/staff/login", content=b"x" * 5000).status_code == 413
    assert client.post("/notify/received-texts", content=b"x" * 8000).text == "8000"
    assert client.post("/notify/received-texts", content=b"x" * 20000).status_code == 413
    chunks = (b"x" * 1000 for _ in range(10))  # no Content-Length: counted as it arrives
    assert client.post("/staff/login", content=chunks).status_code == 413


def test_logged_text_is_bounded_and_cannot_forge_lines(caplog):
    from rxapp.plumbing.edges import bound_log_records

    previous = logging.getLogRecordFactory()
    bound_log_records()
    try:
        caplog.set_level(logging.INFO)
        logging.getLogger("test").info("unknown event %s", "x" * 100_000)
        logging.getLogger("test").info("unknown event %s", "ping\r\n12:00 INFO rxapp: admin.one signed in")
        logging.getLogger("test").info("y" * 100_000 + " the last words")
    finally:
        logging.setLogRecordFactory(previous)
    long_arg, forged, long_line = (record.getMessage() for record in caplog.records[-3:])
    assert len(long_arg) < 1100
    assert forged == "unknown event ping\\x0d\\x0a12:00 INFO rxapp: admin.one signed in"
    assert len(long_line) < 16100 and long_line.endswith("the last words")


def test_an_administrator_signing_in_lands_on_a_page_they_may_open(staff):
    """Not on the control room's board, which turns them away."""
    signed_in = post_form("/staff/login", username="admin.one", password=PASSWORD)
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/admin/feed")


def test_the_sign_in_page_offers_to_go_back_to_every_page_the_route_knows():
    from rxapp.staff.pages import NEXT_PAGE_NAMES
    from rxapp.staff.routes import NEXT_PAGES

    assert set(NEXT_PAGE_NAMES) == set(NEXT_PAGES)
