"""Same-site proof for the staff forms (sign-in and sign-out), which the browser posts natively.

A request is taken as coming from our own page only when both hold:
- its `Origin` is one of ours (`PUBLIC_BASE_URL`, `EXTRA_ORIGIN`), or, with no `Origin` (or `null`, which
  browsers send under our no-referrer policy), its `Sec-Fetch-Site` is `same-origin` or `none`; and
- its `csrf` field matches the browser's form cookie: the edge gives every browser a random, HttpOnly,
  SameSite=Strict cookie on its first page, and the page's form carries an HMAC of that cookie under the
  server secret (double submit, signed). Another site can neither read the cookie nor compute the HMAC.

Also the sign-in form's memory of the username after a mistake: a short-lived HttpOnly cookie, not the URL,
so the name (personal data) never lands in browser history, proxy logs or access logs. Only a name in the
account name alphabet is kept; anything else is forgotten.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Mapping, Optional

from rxapp.plumbing.config import settings

FORM_COOKIE = "vj_form"
FORM_FIELD = "csrf"
NAME_COOKIE = "vj_signin_name"
NAME_SECONDS = 600
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")  # as accounts.USERNAME_RE


def cookie_value(cookie_header: Optional[str], name: str) -> Optional[str]:
    """One cookie's value from a Cookie header (the first of that name), without trusting the rest."""
    for part in (cookie_header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


def new_form_cookie() -> str:
    return secrets.token_urlsafe(32)


def has_form_cookie(cookie_header: Optional[str]) -> bool:
    return bool(_COOKIE_VALUE.match(cookie_value(cookie_header, FORM_COOKIE) or ""))


def form_token(cookie_header: Optional[str]) -> str:
    """The value the form's hidden field must carry for this browser; "" when it has no form cookie yet."""
    value = cookie_value(cookie_header, FORM_COOKIE) or ""
    if not _COOKIE_VALUE.match(value):
        return ""
    return hmac.new(settings().secret_key.encode(), f"staff-form:{value}".encode(), hashlib.sha256).hexdigest()


def token_matches(cookie_header: Optional[str], submitted: Optional[str]) -> bool:
    expected = form_token(cookie_header)
    return bool(expected) and hmac.compare_digest(expected.encode(), str(submitted or "").encode())


def from_our_page(headers: Mapping[str, str]) -> bool:
    """Origin, or Sec-Fetch-Site without one, says the request was sent by a page of ours. Our pages'
    `Referrer-Policy: no-referrer` makes browsers send `Origin: null` with a form, so "null" counts as no Origin
    (a cross-site page that hides its origin the same way is still `Sec-Fetch-Site: cross-site`)."""
    site = (headers.get("sec-fetch-site") or "").lower()
    if site in ("cross-site", "same-site"):
        return False
    origin = headers.get("origin")
    if origin is not None and origin != "null":
        return origin.rstrip("/") in settings().allowed_origins
    return site in ("same-origin", "none")


def safe_username(username: Optional[str]) -> str:
    name = (username or "").strip().lower()
    return name if _SAFE_NAME.match(name) else ""


def remembered_username(cookie_header: Optional[str]) -> str:
    return safe_username(cookie_value(cookie_header, NAME_COOKIE))
