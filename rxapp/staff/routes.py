"""Staff sign-in and sign-out over plain HTTP: the session token lives only in an HttpOnly cookie."""
from __future__ import annotations

import asyncio
import logging

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.staff.accounts import (
    SESSION_COOKIE,
    AuthError,
    sign_in,
    sign_out,
    token_from_cookie_header,
)
from rxapp.staff.models import StaffUser

log = logging.getLogger(__name__)
# Where a successful sign-in may go: a fixed list, so the form cannot be used to redirect elsewhere.
NEXT_PAGES = {"board": "/board", "admin": "/admin/feed", "cases": "/cases"}
# Where each role starts when the sign-in did not come from a page they were sent away from.
HOME_PAGES = {"officer": "/cases", "supervisor": "/cases"}
MAX_FIELD = 200


def _sign_in(username: str, password: str) -> tuple[str | None, str | None, str]:
    """(session token, error, the role's home page)."""
    with session_scope() as session:
        try:
            token = sign_in(session, username, password)
        except AuthError as exc:
            return None, "locked" if "locked" in str(exc) else "invalid", ""
        user = session.exec(select(StaffUser).where(StaffUser.username == username.strip().lower())).first()
        return token, None, HOME_PAGES.get(user.role if user else "", "/board")


async def login(request: Request):
    try:
        form = await request.form()
    except Exception:
        return RedirectResponse("/login?error=missing", status_code=303)
    username = str(form.get("username") or "")[:MAX_FIELD]
    password = str(form.get("password") or "")[:MAX_FIELD]
    if not username or not password:
        return RedirectResponse("/login?error=missing", status_code=303)
    token, error, home = await asyncio.to_thread(_sign_in, username, password)
    if token is None:
        log.info("staff sign-in refused (%s)", error)  # no username in logs
        return RedirectResponse(f"/login?error={error}", status_code=303)
    target = NEXT_PAGES.get(str(form.get("next") or ""), home)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(settings().session_hours * 3600), httponly=True,
                        secure=settings().cookie_secure, samesite="strict", path="/")
    return response


async def logout(request: Request):
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
