"""Sign-in, headers and edges, attacked through real HTTP against the running product (issue 9, points 5
and 6): cross-site and token-less sign-in and sign-out refused; a locked account and an unknown one answered
alike; security headers on pages, routes and the health check; a foreign Host refused and never reflected,
on pages and on the websocket; /healthz without details for the public; oversized bodies refused; the
sign-in page's form token, and the username kept after a mistake without it in any URL."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import statistics
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.conftest import SECRET, STAFF_PASSWORD

pytestmark = pytest.mark.browser
EVIL = "https://evil.example"


def form_cookie(base: str) -> str:
    """The form cookie a browser gets with its first page (made up when the product hands out none)."""
    answer = httpx.get(f"{base}/login")
    return answer.cookies.get("vj_form") or secrets.token_urlsafe(32)


def token_for(cookie: str) -> str:
    """What our sign-in page puts in its hidden field for this browser: the HMAC of its form cookie under the
    server secret (worked out here, not by the product's code)."""
    return hmac.new(SECRET.encode(), f"staff-form:{cookie}".encode(), hashlib.sha256).hexdigest() if cookie else ""


def post(base: str, path: str, *, origin: str | None = "ours", cookies: dict | None = None, csrf: str | None = "ours",
         headers: dict | None = None, **fields) -> httpx.Response:
    """A form post as our sign-in page sends it, unless told otherwise (`origin`/`csrf` None: left out)."""
    cookies = dict(cookies or {})
    cookies.setdefault("vj_form", form_cookie(base))
    data = dict(fields)
    if csrf is not None:
        data["csrf"] = token_for(cookies["vj_form"]) if csrf == "ours" else csrf
    sent = {"origin": base if origin == "ours" else origin, **(headers or {})}
    sent["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        return client.post(f"{base}{path}", data=data, headers={k: v for k, v in sent.items() if v})


def session_from(answer: httpx.Response) -> str | None:
    match = re.search(r"vj_staff=([^;]*)", answer.headers.get("set-cookie", ""))
    return match.group(1) if match and match.group(1).strip('"') else None


def session_alive(app, token: str) -> bool:
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import identity_for_token

    with session_scope(app["db_url"], readonly=True) as s:
        return identity_for_token(s, token) is not None


def sign_in(app, issued, username: str = "control.one") -> str:
    answer = post(app["base"], "/staff/login", username=username, password=STAFF_PASSWORD)
    token = session_from(answer)
    assert token, (answer.status_code, answer.headers.get("location"))
    issued.append(token)
    return token


# ---- cross-site requests --------------------------------------------------------------------------------------

def test_a_cross_site_sign_in_is_refused_even_with_the_right_password(live_app):
    base = live_app["base"]
    for origin, headers in ((EVIL, None), ("null", None), (None, {"sec-fetch-site": "cross-site"}), (None, None)):
        answer = post(base, "/staff/login", origin=origin, headers=headers, username="control.one",
                      password=STAFF_PASSWORD)
        assert answer.status_code == 403, (origin, headers, answer.status_code, answer.headers.get("location"))
        assert session_from(answer) is None


def test_a_cross_site_sign_out_is_refused(live_app, issued_secrets):
    token = sign_in(live_app, issued_secrets)
    answer = post(live_app["base"], "/staff/logout", origin=EVIL, cookies={"vj_staff": token})
    assert answer.status_code == 403
    assert session_alive(live_app, token)


def test_sign_in_and_sign_out_without_the_form_token_are_refused(live_app, issued_secrets):
    base = live_app["base"]
    answer = post(base, "/staff/login", csrf=None, username="control.one", password=STAFF_PASSWORD)
    assert session_from(answer) is None and answer.headers.get("location") == "/login?error=form"
    forged = post(base, "/staff/login", csrf=hashlib.sha256(b"a guess").hexdigest(), username="control.one",
                  password=STAFF_PASSWORD)
    assert session_from(forged) is None
    token = sign_in(live_app, issued_secrets)
    refused = post(base, "/staff/logout", csrf=None, cookies={"vj_staff": token})
    assert refused.status_code == 403 and session_alive(live_app, token)
    done = post(base, "/staff/logout", cookies={"vj_staff": token})
    assert done.status_code == 303 and not session_alive(live_app, token)


# ---- throttling as an attacker meets it ----------------------------------------------------------------------

def test_a_locked_account_and_an_unknown_one_get_the_same_answer_in_the_same_time(live_app):
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user

    base, known = live_app["base"], f"sec.locked.{secrets.token_hex(3)}"
    unknown = f"sec.nobody.{secrets.token_hex(3)}"
    with session_scope(live_app["db_url"]) as s:
        create_user(s, known, STAFF_PASSWORD, "fcr")
    for name in (known, unknown):
        for _ in range(5):  # STAFF_LOCKOUT_ATTEMPTS
            post(base, "/staff/login", username=name, password="not the password")

    # The two are asked in turn, so that a slow moment of a shared machine falls on both alike.
    locations: dict[str, set] = {known: set(), unknown: set()}
    times: dict[str, list] = {known: [], unknown: []}
    for _ in range(4):
        for name in (known, unknown):
            started = time.perf_counter()
            answer = post(base, "/staff/login", username=name, password=STAFF_PASSWORD)
            times[name].append(time.perf_counter() - started)
            locations[name].add(answer.headers.get("location"))
    known_answer, known_time = locations[known], statistics.median(times[known])
    unknown_answer, unknown_time = locations[unknown], statistics.median(times[unknown])
    assert known_answer == unknown_answer
    assert re.fullmatch(r"/login\?error=locked&minutes=1[45]", known_answer.pop())
    assert 0.5 < known_time / unknown_time < 2.0, (known_time, unknown_time)


# ---- headers -------------------------------------------------------------------------------------------------------

def inline_script_hashes(html: str) -> set[str]:
    scripts = re.findall(r"<script(?![^>]*\ssrc\s*=)[^>]*>(.*?)</script>", html, re.S | re.I)
    return {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in scripts}


def test_security_headers_on_pages_routes_and_the_health_check(live_app):
    base = live_app["base"]
    with httpx.Client(timeout=30, follow_redirects=True) as client:
        page = client.get(f"{base}/login")
        asset = re.search(r'src="(/assets/[^"]+\.js)"|href="(/assets/[^"]+\.js)"', page.text)
        answers = {
            "login page": page, "home page": client.get(f"{base}/"),
            "victim page": client.get(f"{base}/track/{secrets.token_urlsafe(16)}"),
            "board": client.get(f"{base}/board"), "missing page": client.get(f"{base}/no/such/page"),
            "health": client.get(f"{base}/healthz"),
            "script": client.get(base + (asset.group(1) or asset.group(2))),
            "sign-in refused": client.post(f"{base}/staff/login", data={"username": "x"},
                                           headers={"origin": EVIL}),
            "notify callback": client.post(f"{base}/notify/received-texts", json={}),
        }
    for name, answer in answers.items():
        policy = answer.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy, name
        assert answer.headers.get("referrer-policy") == "no-referrer", name
        assert answer.headers.get("x-content-type-options") == "nosniff", name
        assert answer.headers.get("x-frame-options") == "DENY", name
        assert "strict-transport-security" not in answer.headers, name  # COOKIE_SECURE is off in this run
    for name in ("login page", "home page", "victim page", "board"):
        policy = answers[name].headers["content-security-policy"]
        script_src = policy.split("script-src", 1)[1].split(";", 1)[0]
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, name
        assert inline_script_hashes(answers[name].text) <= set(script_src.split()), name


# ---- hosts and redirects --------------------------------------------------------------------------------------

def test_a_foreign_host_is_refused_and_never_reflected(live_app):
    base = live_app["base"]
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        for path in ("/admin", "/login", "/healthz", "/track/x"):
            answer = client.get(f"{base}{path}", headers={"host": "evil.example"})
            assert answer.status_code == 400, path
            assert "evil" not in answer.text and "evil" not in str(answer.headers).lower(), path
        # Our own host: a redirect (here the page server's /login to /login/) is a path on this site.
        own = client.get(f"{base}/login")
        assert own.is_redirect and own.headers["location"] == "/login/", own.headers.get("location")


def test_a_websocket_with_a_foreign_host_is_refused(live_app):
    port = urlsplit(live_app["base"]).port

    async def upgrade(host: str) -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write((f"GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      f"Sec-WebSocket-Version: 13\r\nOrigin: {live_app['base']}\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        writer.close()
        return head.decode("latin-1")

    refused = asyncio.run(upgrade("evil.example"))
    assert " 101 " not in refused.split("\r\n", 1)[0] and "evil" not in refused
    assert " 101 " in asyncio.run(upgrade(urlsplit(live_app["base"]).netloc)).split("\r\n", 1)[0]


# ---- health ----------------------------------------------------------------------------------------------------------

def test_healthz_tells_the_public_only_that_it_is_up(live_app, staff):
    base = live_app["base"]
    control, admin = staff("fcr"), staff("admin")
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base}/healthz", headers={"cookie": f"vj_staff={control.token}"}).json() == {"status": "ok"}
    details = httpx.get(f"{base}/healthz", headers={"cookie": f"vj_staff={admin.token}"}).json()
    assert details["status"] == "ok" and "runner" in details and "dead_letters" in details


# ---- sizes -------------------------------------------------------------------------------------------------------------

def test_oversized_bodies_are_refused(live_app):
    base = live_app["base"]
    big_form = post(base, "/staff/login", username="control.one", password=STAFF_PASSWORD, padding="x" * 10_000)
    assert big_form.status_code == 413 and session_from(big_form) is None
    callback = httpx.post(f"{base}/notify/received-texts", content=b"{" + b" " * 100_000 + b"}",
                          headers={"authorization": "Bearer browser-callback-token-0123456789",
                                   "content-type": "application/json"})
    assert callback.status_code == 413


# ---- the sign-in page, as its socket delivers it ---------------------------------------------------------------

STAFF_FORM = "pages____staff_form"


@pytest.mark.asyncio
async def test_the_sign_in_page_carries_the_form_token_and_keeps_the_username_out_of_the_url(live_app, raw_socket):
    """What the login page's socket delivers after a mistake: this browser's form token, and the username it
    typed (from a short-lived cookie; neither the redirect nor the page's address carries it)."""
    base = live_app["base"]
    cookie = form_cookie(base)
    mistake = post(base, "/staff/login", cookies={"vj_form": cookie}, username="control.one", password="wrong")
    assert mistake.headers.get("location") == "/login?error=invalid"
    remembered = re.search(r"vj_signin_name=([^;]*)", mistake.headers.get("set-cookie", ""))
    assert remembered and remembered.group(1) == "control.one"
    # raw_socket sends `vj_staff=<cookie>`: the rest of the header rides along after it, as a browser's would.
    page = await raw_socket(path="/login?error=invalid",
                            cookie=f"none; vj_form={cookie}; vj_signin_name={remembered.group(1)}")
    assert page.outcome == "connected"
    assert await page.wait_for(lambda: page.values(STAFF_FORM).get("csrf_token"), 10)
    values = page.values(STAFF_FORM)
    assert values["csrf_token"] == token_for(cookie)
    assert values["remembered_username"] == "control.one"
    stranger = await raw_socket(path="/login", cookie="none; vj_signin_name=%3Cscript%3E")
    assert await stranger.wait_for(lambda: stranger.values("reflex___state____state").get("is_hydrated"), 10)
    # Hydrated: the form's vars are sent only when not the page's own empty defaults, so absent means "".
    form = stranger.values(STAFF_FORM)
    assert (form.get("csrf_token", ""), form.get("remembered_username", "")) == ("", "")
