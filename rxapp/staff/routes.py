"""Staff sign-in and sign-out over plain HTTP: the session token lives only in an HttpOnly cookie.

Both refuse a request that did not come from our own page (rxapp/staff/forms.py: Origin or Sec-Fetch-Site,
and the form token). Passwords are checked in the sign-in's own small executor (rxapp/staff/throttle.py).
Every redirect is a path on this site, never built from the request's Host.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Optional

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.staff import forms
from rxapp.staff.accounts import (
    SESSION_COOKIE,
    AuthError,
    check_password,
    complete_sign_in,
    password_hash_for,
    sign_out,
    throttled,
    token_from_cookie_header,
)
from rxapp.staff.models import StaffUser
from rxapp.staff.throttle import BUSY_MINUTES, PasswordWorkBusy, password_work

log = logging.getLogger(__name__)
# Where a successful sign-in may go: a fixed list, so the form cannot be used to redirect elsewhere.
NEXT_PAGES = {"board": "/board", "admin": "/admin/feed", "cases": "/cases", "inbox": "/inbox",
              "compliance": "/compliance", "team": "/team"}
# Where each role starts when the sign-in did not come from a page they were sent away from.
# Officers start on today's work (rxapp/inbox); supervisors on their team (rxapp/supervision); the Commissioner's
# office on the figures (rxapp/compliance).
HOME_PAGES = {"officer": "/inbox", "supervisor": "/team", "pcc": "/compliance", "admin": "/admin/feed"}
MAX_FIELD = 200
MAX_FORM_BYTES = 4096  # the sign-in form is a few hundred bytes; the edge refuses larger bodies too
REFUSED_CROSS_SITE = "Refused: staff sign-in and sign-out only accept forms sent from this site's own pages.\n"


def client_address(request: Request) -> Optional[str]:
    """The browser's address: the peer's, or, when the peer is one of TRUSTED_PROXIES, the nearest address in
    X-Forwarded-For that is not one of them (the proxy appends the address it saw, so the last one is its)."""
    peer = request.client.host if request.client else None
    trusted = settings().trusted_proxies
    if peer not in trusted:
        return peer
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop[:64]
    return peer


def _sign_in(username: str, password: str, address: Optional[str]) -> tuple[str | None, AuthError | None, str]:
    """(session token, refusal, the role's home page). Runs in the password executor; argon2 runs between two
    short transactions, never inside one."""
    with session_scope(readonly=True) as session:
        password_hash = password_hash_for(session, username)
    check = check_password(password_hash, password)
    with session_scope() as session:
        try:
            token = complete_sign_in(session, username, check, address=address)
        except AuthError as exc:
            return None, exc, ""
        user = session.exec(select(StaffUser).where(StaffUser.username == username.strip().lower())).first()
        return token, None, HOME_PAGES.get(user.role if user else "", "/board")


def _refused_cross_site(request: Request) -> Optional[Response]:
    if forms.from_our_page(request.headers):
        return None
    log.info("staff form refused: not sent from our own page")
    return PlainTextResponse(REFUSED_CROSS_SITE, status_code=403)


def _too_large(request: Request) -> bool:
    try:
        return int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES
    except ValueError:
        return True


def _to_login(error: str, minutes: Optional[int] = None, username: str = "") -> RedirectResponse:
    query = f"?error={error}" + (f"&minutes={minutes}" if minutes else "")
    response = RedirectResponse(f"/login{query}", status_code=303)
    name = forms.safe_username(username)
    if name:
        # Kept for the form's next showing only, in a cookie rather than the URL (see rxapp/staff/forms.py).
        response.set_cookie(forms.NAME_COOKIE, name, max_age=forms.NAME_SECONDS, httponly=True,
                            secure=settings().cookie_secure, samesite="strict", path="/")
    return response


async def _staff_form(request: Request):
    """The posted form of a staff route, or the refusal: (form, None), (None, response), or (None, None) when the
    body cannot be read as a form. Cross-site and oversized posts are refused before the body is read."""
    refused = _refused_cross_site(request)
    if refused is not None:
        return None, refused
    if _too_large(request):
        return None, PlainTextResponse("Request too large.\n", status_code=413)
    try:
        return await request.form(max_files=0, max_fields=10), None
    except Exception:
        return None, None


async def login(request: Request):
    form, refused = await _staff_form(request)
    if refused is not None:
        return refused
    if form is None:
        return _to_login("missing")
    if not forms.token_matches(request.headers.get("cookie"), form.get(forms.FORM_FIELD)):
        log.info("staff sign-in refused: the form token is missing or wrong")
        return _to_login("form")
    username = str(form.get("username") or "")[:MAX_FIELD]
    password = str(form.get("password") or "")[:MAX_FIELD]
    if not username or not password:
        return _to_login("missing", username=username)
    try:
        token, refusal, home = await password_work.run(_sign_in, username, password, client_address(request))
    except PasswordWorkBusy:
        log.warning("staff sign-in refused: every password check is busy")
        token, refusal, home = None, throttled(BUSY_MINUTES), ""
    if token is None:
        log.info("staff sign-in refused (%s)", "wait" if refusal.minutes else "invalid")  # no username in logs
        if refusal.minutes:
            return _to_login("locked", refusal.minutes, username)
        return _to_login("invalid", username=username)
    target = NEXT_PAGES.get(str(form.get("next") or ""), home)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(settings().session_hours * 3600), httponly=True,
                        secure=settings().cookie_secure, samesite="strict", path="/")
    response.delete_cookie(forms.NAME_COOKIE, path="/")
    return response


async def logout(request: Request):
    form, refused = await _staff_form(request)
    if refused is not None:
        return refused
    form = form if form is not None else {}
    if not forms.token_matches(request.headers.get("cookie"), form.get(forms.FORM_FIELD)):
        log.info("staff sign-out refused: the form token is missing or wrong")
        return PlainTextResponse(REFUSED_CROSS_SITE, status_code=403)
    token = token_from_cookie_header(request.headers.get("cookie"))

    def _revoke():
        with session_scope() as session:
            sign_out(session, token)

    await asyncio.to_thread(_revoke)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


ROUTES = [
    Route("/staff/login", login, methods=["POST"]),
    Route("/staff/logout", logout, methods=["POST"]),
]
