"""Plain HTTP routes beside the Reflex app: staff sign-in/out (HttpOnly cookie) and a health check."""
from __future__ import annotations

import asyncio
import hmac
import json
import logging

from sqlmodel import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from rxapp.staff.accounts import SESSION_COOKIE, AuthError, sign_in, sign_out, token_from_cookie_header
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.messaging.outbox import BadCallback, record_inbound, record_receipt
from rxapp.feeds.models import DeadLetter, FeedCursor

log = logging.getLogger(__name__)
# Where a successful sign-in may go: a fixed list, so the form cannot be used to redirect elsewhere.
NEXT_PAGES = {"board": "/board", "admin": "/admin/feed", "cases": "/cases"}
# Where each role starts when the sign-in did not come from a page they were sent away from.
HOME_PAGES = {"officer": "/cases", "supervisor": "/cases"}
MAX_FIELD = 200


def _sign_in(username: str, password: str) -> tuple[str | None, str | None, str]:
    """(session token, error, the role's home page)."""
    from sqlmodel import select

    from rxapp.staff.models import StaffUser

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


def _callback_allowed(request: Request) -> bool:
    expected = settings().notify_callback_token
    header = request.headers.get("authorization", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer "):].encode(), expected.encode())


async def _callback(request: Request, handler) -> JSONResponse:
    """Notify's callbacks: bearer token checked, body validated, stored in one transaction."""
    if not _callback_allowed(request):
        return JSONResponse({"error": "not authorised"}, status_code=401)
    try:
        payload = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return JSONResponse({"error": "body is not JSON"}, status_code=400)

    def _store():
        with session_scope() as session:
            handler(session, payload)

    try:
        await asyncio.to_thread(_store)
    except BadCallback as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    except LookupError as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    return JSONResponse({"result": "ok"})


async def delivery_receipt(request: Request):
    return await _callback(request, record_receipt)


async def received_text(request: Request):
    return await _callback(request, record_inbound)


async def health(_request: Request):
    def _read():
        with session_scope(readonly=True) as session:
            cursor = session.get(FeedCursor, "storm")
            dead = session.exec(select(func.count()).select_from(DeadLetter)).one()
            return {"database": "ok", "storm_last_seq": cursor.last_seq if cursor else 0, "dead_letters": dead}

    try:
        body = await asyncio.to_thread(_read)
    except Exception:
        log.exception("health check failed")
        return JSONResponse({"database": "error"}, status_code=503)
    from rxapp.plumbing.runner import runner_status

    body["runner"] = runner_status()
    return JSONResponse(body)


api = Starlette(routes=[
    Route("/staff/login", login, methods=["POST"]),
    Route("/staff/logout", logout, methods=["POST"]),
    Route("/healthz", health, methods=["GET"]),
    Route("/notify/delivery-receipts", delivery_receipt, methods=["POST"]),
    Route("/notify/received-texts", received_text, methods=["POST"]),
])
