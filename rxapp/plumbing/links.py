"""Victims' tracking links: 256-bit tokens derived from a random per-incident nonce and the server secret.

Only a SHA-256 hash of the token is stored, so a copy of the database alone cannot open anyone's page;
the server can re-derive a token (for the text it sends) from the nonce and its secret.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from rxapp.plumbing.config import settings

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_nonce() -> str:
    return secrets.token_hex(16)  # 128 random bits, never reused


def derive_token(nonce: str, secret: str | None = None) -> str:
    key = (secret or settings().secret_key).encode()
    digest = hmac.new(key, b"track-link|" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    return bool(token) and bool(TOKEN_RE.match(token))


def track_url(token: str) -> str:
    return f"{settings().public_base_url}/track/{token}"
