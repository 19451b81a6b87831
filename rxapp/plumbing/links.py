"""Victims' tracking links, and the names of live channels.

A victim's link is a 256-bit token derived from a random per-incident nonce and the server secret. Only a
SHA-256 hash of the token is stored, so a copy of the database alone cannot open anyone's page; the server can
re-derive a token (for the text it sends) from the nonce and its secret.

A live channel (a Reflex shared-state token) is named by an HMAC of the server secret over what it carries, so
nobody without the secret can name one. Any client may open a socket under a client token of its choosing, so
a client token must have the shape Reflex's frontend issues (a random UUID), which a channel name never has.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from rxapp.plumbing.config import settings

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
# What Reflex issues to a tab: its server a uuid4, its frontend (generateUUID in .web/utils/state.js) the same
# shape with 8 to f where a uuid4 has 8 to b.
CLIENT_TOKEN_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89a-f][0-9a-f]{3}-[0-9a-f]{12}$")


def new_nonce() -> str:
    return secrets.token_hex(16)  # 128 random bits, never reused


def derive_token(nonce: str, secret: str | None = None) -> str:
    key = (secret or settings().secret_key).encode()
    digest = hmac.new(key, b"track-link|" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def derive_portal_token(nonce: str, secret: str | None = None) -> str:
    """A victim's portal link token: from the invitation's nonce under its own purpose, so no tracking link's
    token can ever open the portal, nor the other way round."""
    key = (secret or settings().secret_key).encode()
    digest = hmac.new(key, b"portal-link|" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def portal_url(token: str) -> str:
    return f"{settings().public_base_url}/portal/start/{token}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    return bool(token) and bool(TOKEN_RE.match(token))


def track_url(token: str) -> str:
    return f"{settings().public_base_url}/track/{token}"


def channel_token(kind: str, key: object, secret: str | None = None) -> str:
    """The name of the live channel of `kind` carrying `key` (an incident id, a session's hash): hex, as Reflex
    forbids "_" in a shared-state token, 64 characters, so never the shape of a client token."""
    mac = hmac.new((secret or settings().secret_key).encode(), f"live-channel|{kind}|{key}".encode(), hashlib.sha256)
    return mac.hexdigest()


def is_client_token(token: str | None) -> bool:
    return bool(token) and bool(CLIENT_TOKEN_RE.match(token))
