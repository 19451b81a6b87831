"""The victim portal's sign-in over plain HTTP: asking for a code, signing in with it, signing out. The session
token lives only in an HttpOnly cookie (`vj_victim`), set and cleared here.

Every form is refused unless it came from our own page, exactly as the staff forms are (rxapp/staff/forms.py:
Origin or Sec-Fetch-Site, and the signed `csrf` field). Every answer is a redirect to a fixed path on this site;
the link goes back into the URL only when it has the shape of a link (it is the one personal thing a URL may
carry: a random token). No answer says whether a link, a person or a case exists.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Optional

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from rxapp import languages
from rxapp.plumbing import links
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.portal import access
from rxapp.staff import forms
from rxapp.staff.routes import client_address

log = logging.getLogger(__name__)
MAX_FORM_BYTES = 4096  # the forms are a few hundred bytes; the edge refuses larger bodies too
MAX_FIELD = 200
REFUSED = "Refused: the victim portal only accepts forms sent from this site's own pages.\n"
SIGNED_IN_PAGE, SIGNED_OUT_PAGE = "/portal/case", "/portal/signed-out"


def start_page(link: str, query: str, lang: str = "") -> str:
    """The sign-in page for `link` with `query`, in the language the page was showing (`lang`, one of ours, else
    English); a value that is not a link's shape never goes in a URL."""
    if lang in languages.LANGUAGES and lang != languages.DEFAULT_LANGUAGE:
        query += f"&lang={lang}"
    return f"/portal/start/{link if links.well_formed(link) else 'invalid'}?{query}"


async def _form(request: Request):
    """(form, None), (None, refusal), or (None, None) when the body cannot be read as a form. Cross-site and
    oversized posts are refused before the body is read."""
    if not forms.from_our_page(request.headers):
        log.info("portal form refused: not sent from our own page")
        return None, PlainTextResponse(REFUSED, status_code=403)
    try:
        too_large = int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES
    except ValueError:
        too_large = True
    if too_large:
        return None, PlainTextResponse("Request too large.\n", status_code=413)
    try:
        return await request.form(max_files=0, max_fields=10), None
    except Exception:
        return None, None


def _field(form, name: str) -> str:
    return str((form.get(name) if form is not None else None) or "")[:MAX_FIELD].strip()


def _token_ok(request: Request, form) -> bool:
    return form is not None and forms.token_matches(request.headers.get("cookie"), form.get(forms.FORM_FIELD))


async def ask_for_code(request: Request) -> Response:
    form, refused = await _form(request)
    if refused is not None:
        return refused
    link = _field(form, "link")
    if not _token_ok(request, form):
        log.info("portal code request refused: the form token is missing or wrong")
        return RedirectResponse(start_page(link, "error=code", _field(form, "lang")), status_code=303)
    address = client_address(request)

    def _ask() -> str:
        with session_scope() as session:
            return access.request_code(session, link, address, utcnow())

    answer = await asyncio.to_thread(_ask)
    return RedirectResponse(start_page(link, "error=wait" if answer == access.WAIT else "sent=1", _field(form, "lang")),
                            status_code=303)


async def sign_in(request: Request) -> Response:
    form, refused = await _form(request)
    if refused is not None:
        return refused
    link = _field(form, "link")
    if not _token_ok(request, form):
        log.info("portal sign-in refused: the form token is missing or wrong")
        return RedirectResponse(start_page(link, "error=code", _field(form, "lang")), status_code=303)
    code, address = _field(form, "code"), client_address(request)

    def _sign_in() -> tuple[Optional[str], str]:
        with session_scope() as session:
            return access.sign_in(session, link, code, address, utcnow())

    token, answer = await asyncio.to_thread(_sign_in)
    if token is None:
        log.info("portal sign-in refused (%s)", answer)  # never the link or the code
        return RedirectResponse(start_page(link, f"error={answer}", _field(form, "lang")), status_code=303)
    response = RedirectResponse(SIGNED_IN_PAGE, status_code=303)
    response.set_cookie(access.PORTAL_COOKIE, token, httponly=True, secure=settings().cookie_secure,
                        samesite="strict", path="/")
    return response


async def sign_out(request: Request) -> Response:
    form, refused = await _form(request)
    if refused is not None:
        return refused
    if not _token_ok(request, form):
        log.info("portal sign-out refused: the form token is missing or wrong")
        return PlainTextResponse(REFUSED, status_code=403)
    token = access.token_from_cookie_header(request.headers.get("cookie"))

    def _out() -> None:
        with session_scope() as session:
            access.sign_out(session, token, utcnow())

    await asyncio.to_thread(_out)
    response = RedirectResponse(SIGNED_OUT_PAGE, status_code=303)
    response.delete_cookie(access.PORTAL_COOKIE, path="/", httponly=True, secure=settings().cookie_secure,
                           samesite="strict")
    return response


ROUTES = [
    Route("/portal/code", ask_for_code, methods=["POST"]),
    Route("/portal/sign-in", sign_in, methods=["POST"]),
    Route("/portal/sign-out", sign_out, methods=["POST"]),
]
