"""Staff sign-in through the force's OpenID Connect provider (Microsoft Entra ID, say), beside local accounts.

The authorization-code flow with PKCE (S256), `state` and `nonce`: `begin` makes the provider's sign-in address
and a short-lived flow cookie (HMAC-signed with the server secret, HttpOnly) holding the state, nonce and code
verifier; `finish` checks the returned state against it, exchanges the code (client secret and verifier), and
verifies the ID token: its signature by the provider's published keys (from the issuer's discovery document),
issuer, audience (and `azp` when there are several), expiry and nonce. The person's role comes from
OIDC_ROLE_CLAIM through OIDC_ROLE_MAP; no mapped role: refused, audited, no session. Otherwise the account
for that subject (`sso.<hash of issuer and subject>`, no usable password) is created or brought up to date
with the claims' role, team, collar number and name, and the same server-side session a local sign-in opens
(`rxapp.staff.accounts.StaffSession`) is opened, so every permission and page works unchanged.
Nothing personal is logged: refusals log a reason word only.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlmodel import Session, select

from rxapp.audit.service import AuditAction, AuditOutcome, record
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.links import token_hash
from rxapp.plumbing.oidc_settings import OidcSettings
from rxapp.staff.accounts import revoke_sessions
from rxapp.staff.models import StaffSession, StaffUser

log = logging.getLogger(__name__)
FLOW_COOKIE = "vj_oidc"
FLOW_SECONDS = 600  # the time a person has at the provider's sign-in page
CALLBACK_PATH = "/staff/oidc/callback"
NOT_SSO_PASSWORD = "!sso: signs in through the force's provider only"  # never an argon2 hash: no password matches
AUDIT_ACTION = AuditAction.SSO_SIGN_IN
HTTP_TIMEOUT = 10.0
DISCOVERY_SECONDS = 3600
LEEWAY_SECONDS = 120  # clock difference allowed between the provider and us
_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
_cache: dict[str, tuple[float, dict, Optional[KeySet]]] = {}
_cache_lock = threading.Lock()


class SsoRefused(Exception):
    """A sign-in through the provider that failed. `reason`: a word for the log and the page (never personal);
    `no_role`: the person signed in at the provider but holds no role here."""

    def __init__(self, reason: str, no_role: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.no_role = no_role


@dataclass(frozen=True)
class SsoPerson:
    subject: str
    role: str
    team: str
    collar_number: str
    display_name: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(payload: bytes) -> str:
    mac = hmac.new(settings().secret_key.encode(), b"oidc-flow|" + payload, hashlib.sha256).digest()
    return _b64(payload) + "." + _b64(mac)


def _unsign(value: str) -> Optional[dict]:
    try:
        body, mac = (value or "").split(".", 1)
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(_sign(payload).split(".", 1)[1], mac):
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("until", 0) > time.time() else None


def redirect_uri() -> str:
    return settings().public_base_url.rstrip("/") + CALLBACK_PATH


def _get_json(client: httpx.Client, url: str) -> dict:
    response = client.get(url)
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def provider_metadata(conf: OidcSettings, client: httpx.Client, *, fresh_keys: bool = False) -> tuple[dict, KeySet]:
    """The issuer's discovery document and signing keys, kept for an hour (keys fetched again on an unknown key
    id, as a provider rotates them). The document must name our issuer exactly."""
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(conf.issuer)
    if cached and now - cached[0] < DISCOVERY_SECONDS and cached[2] is not None and not fresh_keys:
        return cached[1], cached[2]
    try:
        meta = cached[1] if cached and now - cached[0] < DISCOVERY_SECONDS else _get_json(
            client, conf.issuer + "/.well-known/openid-configuration")
        if meta.get("issuer", "").rstrip("/") != conf.issuer:
            raise SsoRefused("discovery")
        keys = KeySet.import_key_set(_get_json(client, meta["jwks_uri"]))
    except (httpx.HTTPError, ValueError, KeyError, JoseError) as exc:
        log.warning("sso: the provider's discovery document or keys could not be read (%s)", type(exc).__name__)
        raise SsoRefused("provider") from exc
    with _cache_lock:
        _cache[conf.issuer] = (now, meta, keys)
    return meta, keys


def begin(conf: OidcSettings, next_page: str = "", client: Optional[httpx.Client] = None) -> tuple[str, str]:
    """(the provider's sign-in address to send the browser to, the flow cookie's value)."""
    with client or httpx.Client(timeout=HTTP_TIMEOUT) as http:
        meta, _keys = provider_metadata(conf, http)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    challenge = _b64(hashlib.sha256(verifier.encode()).digest())
    query = urlencode({"response_type": "code", "client_id": conf.client_id, "redirect_uri": redirect_uri(),
                       "scope": "openid profile", "state": state, "nonce": nonce, "code_challenge": challenge,
                       "code_challenge_method": "S256"})
    cookie = _sign(json.dumps({"state": state, "nonce": nonce, "verifier": verifier, "next": next_page,
                               "until": time.time() + FLOW_SECONDS}).encode())
    return f"{meta['authorization_endpoint']}?{query}", cookie


def verify_id_token(conf: OidcSettings, id_token: str, nonce: str, keys: KeySet,
                    now: Optional[int] = None) -> dict[str, Any]:
    """The ID token's claims, once its signature, issuer, audience, expiry and nonce check out."""
    try:
        token = jwt.decode(id_token, keys, algorithms=list(_ALGORITHMS))
        jwt.JWTClaimsRegistry(
            now=now, leeway=LEEWAY_SECONDS, iss={"essential": True, "value": conf.issuer},
            aud={"essential": True, "value": conf.client_id}, exp={"essential": True},
            sub={"essential": True}, nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise SsoRefused(f"id_token:{type(exc).__name__}") from exc
    claims = token.claims
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != conf.client_id:
        raise SsoRefused("id_token:azp")
    return claims


def _text(value: Any, limit: int) -> str:
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value if isinstance(v, (str, int)))
    return " ".join(str(value).split())[:limit] if isinstance(value, (str, int)) else ""


def person_from_claims(conf: OidcSettings, claims: dict[str, Any]) -> SsoPerson:
    """Our role, team and collar number from the token's claims; SsoRefused(no_role) when no value maps."""
    held = claims.get(conf.role_claim)
    held = {held} if isinstance(held, str) else {v for v in held if isinstance(v, str)} if isinstance(
        held, list) else set()
    role = next((ours for value, ours in conf.role_map if value in held), None)
    if role is None:
        raise SsoRefused("no_role", no_role=True)
    name = _text(claims.get("name") or claims.get("preferred_username") or "", 120)
    return SsoPerson(subject=str(claims["sub"]), role=role,
                     team=_text(claims.get(conf.team_claim), 200) if conf.team_claim else "",
                     collar_number=_text(claims.get(conf.collar_claim), 40) if conf.collar_claim else "",
                     display_name=name or "Staff member")


def sso_username(conf: OidcSettings, subject: str) -> str:
    return "sso." + hashlib.sha256(f"{conf.issuer}|{subject}".encode()).hexdigest()[:24]


def exchange_code(conf: OidcSettings, code: str, verifier: str, nonce: str,
                  client: Optional[httpx.Client] = None) -> dict[str, Any]:
    """Trade the code for tokens at the provider, and return the verified ID token's claims."""
    with client or httpx.Client(timeout=HTTP_TIMEOUT) as http:
        meta, keys = provider_metadata(conf, http)
        try:
            response = http.post(meta["token_endpoint"], auth=(conf.client_id, conf.client_secret), data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri(),
                "code_verifier": verifier})
        except httpx.HTTPError as exc:
            raise SsoRefused("provider") from exc
        if response.status_code != 200:
            raise SsoRefused("code")  # a used, expired or foreign code; the provider says which, we need not
        try:
            body = response.json()
        except ValueError:
            body = None
        id_token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(id_token, str):
            raise SsoRefused("id_token:missing")
        try:
            return verify_id_token(conf, id_token, nonce, keys)
        except SsoRefused:
            # The provider may have rotated its keys since we fetched them: once more with fresh ones.
            _meta, keys = provider_metadata(conf, http, fresh_keys=True)
            return verify_id_token(conf, id_token, nonce, keys)


def read_flow(cookie_value: Optional[str], returned_state: str) -> dict:
    """The flow this browser began, when the provider's answer carries its state; else SsoRefused."""
    flow = _unsign(cookie_value or "")
    if flow is None:
        raise SsoRefused("flow")  # no flow begun here, expired, or tampered with
    if not returned_state or not hmac.compare_digest(str(flow.get("state", "")).encode(), returned_state.encode()):
        raise SsoRefused("state")
    return flow


def open_session(session: Session, conf: OidcSettings, person: SsoPerson, now: Optional[datetime] = None) -> str:
    """Create or bring up to date the person's account from the claims, and open a session; returns the raw
    session token for the cookie. A disabled account stays out."""
    now = now or utcnow()
    username = sso_username(conf, person.subject)
    user = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None:
        user = StaffUser(username=username, password_hash=NOT_SSO_PASSWORD, role=person.role)
        session.add(user)
    elif not user.active or user.password_hash != NOT_SSO_PASSWORD:
        raise SsoRefused("disabled")
    if user.role != person.role or (user.team or "") != person.team or (
            user.collar_number or "") != person.collar_number:
        if user.id is not None:
            revoke_sessions(session, user.id)  # access changed at the provider: older sessions end
    user.role, user.display_name = person.role, person.display_name
    user.team, user.collar_number = person.team or None, person.collar_number or None
    session.flush()
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=token_hash(token), user_id=user.id, created_at=now,
                             expires_at=now + timedelta(hours=settings().session_hours)))
    return token


@dataclass(frozen=True)
class _Unmapped:
    """The audit entry's actor: the account name the person would have, and no role."""

    username: str
    role: str = ""
    collar_number: str = ""
    team: str = ""


def refuse_no_role(session: Session, conf: OidcSettings, subject: str) -> None:
    """Audit a person the provider knows but who holds no role here, and end any session their account had."""
    username = sso_username(conf, subject)
    user = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
    if user is not None and user.password_hash == NOT_SSO_PASSWORD:
        revoke_sessions(session, user.id)
    record(session, _Unmapped(username), AUDIT_ACTION, AuditOutcome.REFUSED, detail="no role mapped from claims")
