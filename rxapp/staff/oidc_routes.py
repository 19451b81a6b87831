"""Single sign-on over plain HTTP: `/staff/oidc/start` sends the browser to the force's provider, and
`/staff/oidc/callback` takes its answer, opens the staff session (the same HttpOnly cookie a local sign-in sets)
and redirects to the role's home page. Refusals go to `/login?error=sso` (or `sso_role`: signed in at the
provider, but no role here). Every redirect is a fixed path of this site (the `next` choice is one of
rxapp.staff.routes.NEXT_PAGES); the provider's address comes from its discovery document, never the request.
"""
from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import Route

from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.staff import oidc
from rxapp.staff.accounts import SESSION_COOKIE
from rxapp.staff.routes import HOME_PAGES, NEXT_PAGES

log = logging.getLogger(__name__)


def _to_login(code: str) -> RedirectResponse:
    response = RedirectResponse(f"/login?error={code}", status_code=303)
    response.delete_cookie(oidc.FLOW_COOKIE, path="/staff/oidc")
    return response


async def start(request: Request):
    conf = settings().oidc
    if not conf.enabled:
        return PlainTextResponse("Single sign-on is not set up here.\n", status_code=404)
    next_page = str(request.query_params.get("next", ""))
    next_page = next_page if next_page in NEXT_PAGES else ""
    try:
        target, cookie = await asyncio.to_thread(oidc.begin, conf, next_page)
    except oidc.SsoRefused as exc:
        log.warning("sso start failed (%s)", exc.reason)
        return _to_login("sso_down")
    response = RedirectResponse(target, status_code=303)
    # Lax, not Strict: the provider's answer arrives as a top-level navigation from its site.
    response.set_cookie(oidc.FLOW_COOKIE, cookie, max_age=oidc.FLOW_SECONDS, httponly=True,
                        secure=settings().cookie_secure, samesite="lax", path="/staff/oidc")
    return response


def _finish(conf, flow: dict, code: str) -> tuple[str, str]:
    """(session token, home page); SsoRefused when anything does not check out."""
    claims = oidc.exchange_code(conf, code, flow["verifier"], flow["nonce"])
    try:
        person = oidc.person_from_claims(conf, claims)
    except oidc.SsoRefused:
        with session_scope() as session:
            oidc.refuse_no_role(session, conf, str(claims["sub"]))
        raise
    with session_scope() as session:
        token = oidc.open_session(session, conf, person)
    return token, NEXT_PAGES.get(flow.get("next") or "", HOME_PAGES.get(person.role, "/board"))


async def callback(request: Request):
    conf = settings().oidc
    if not conf.enabled:
        return PlainTextResponse("Single sign-on is not set up here.\n", status_code=404)
    params = request.query_params
    try:
        flow = oidc.read_flow(request.cookies.get(oidc.FLOW_COOKIE), str(params.get("state", ""))[:200])
        if params.get("error"):
            raise oidc.SsoRefused("provider_error")  # the person cancelled, or the provider refused them
        if params.get("iss") and params.get("iss") != conf.issuer:
            raise oidc.SsoRefused("issuer")  # RFC 9207: an answer from another provider than the one we asked
        code = str(params.get("code", ""))
        if not code or len(code) > 2000:
            raise oidc.SsoRefused("code")
        token, home = await asyncio.to_thread(_finish, conf, flow, code)
    except oidc.SsoRefused as exc:
        log.info("sso sign-in refused (%s)", exc.reason)
        return _to_login("sso_role" if exc.no_role else "sso")
    response = RedirectResponse(home, status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(settings().session_hours * 3600), httponly=True,
                        secure=settings().cookie_secure, samesite="strict", path="/")
    response.delete_cookie(oidc.FLOW_COOKIE, path="/staff/oidc")
    return response


ROUTES = [
    Route("/staff/oidc/start", start, methods=["GET"]),
    Route(oidc.CALLBACK_PATH, callback, methods=["GET"]),
]
