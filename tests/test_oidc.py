"""Single sign-on against a real OpenID provider (npm `oidc-provider`, started here from tests/oidc/provider.mjs),
walked with httpx as a browser would: each role signs in and gets the same server-side session a local sign-in
makes; a bad or missing state, a replayed code, another client's token, a token signed by another key, a wrong
nonce, an expired token and an unmapped role are refused with no session; local accounts keep working."""
from __future__ import annotations

import base64
import hashlib
import secrets
import time
import warnings
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlmodel import func, select

from rxapp.audit.models import AuditEvent
from rxapp.plumbing import config
from rxapp.plumbing.config import load_settings
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.http import api
from rxapp.plumbing.oidc_settings import parse_role_map
from rxapp.staff import oidc
from rxapp.staff.accounts import SESSION_COOKIE, create_user, identity_for_token, set_active, sign_in
from rxapp.staff.models import StaffSession, StaffUser
from rxapp.staff.routes import HOME_PAGES
from tests.oidc.provider import OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, Provider, sign_in_at_provider

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

BASE = "http://localhost:3000"  # PUBLIC_BASE_URL's default
CALLBACK = BASE + oidc.CALLBACK_PATH


@pytest.fixture(scope="module")
def provider():
    p = Provider([CALLBACK])
    yield p
    p.stop()


@pytest.fixture
def sso(db_url, monkeypatch, provider):
    for name, value in provider.env().items():
        monkeypatch.setenv(name, value)
    config.reset_settings()
    oidc._cache.clear()
    yield provider
    config.reset_settings()


def app() -> TestClient:
    return TestClient(api, base_url=BASE)


def start(client: TestClient, next_page: str = "") -> str:
    response = client.get("/staff/oidc/start" + (f"?next={next_page}" if next_page else ""), follow_redirects=False)
    assert response.status_code == 303
    client.flow = response.cookies.get(oidc.FLOW_COOKIE)
    assert client.flow
    return response.headers["location"]


def sign_in_through_provider(login: str, next_page: str = "") -> tuple[TestClient, httpx.Response, str]:
    """(our client with its cookies, our callback's answer, the callback address the provider sent back)."""
    client = app()
    back = sign_in_at_provider(start(client, next_page), login, CALLBACK)
    return client, client.get(back.removeprefix(BASE), follow_redirects=False), back


def sessions() -> int:
    with session_scope(readonly=True) as s:
        return s.exec(select(func.count()).select_from(StaffSession)).one()


def home(role: str) -> str:
    """Where a local sign-in of the role lands (rxapp/staff/routes.py): SSO lands in the same place."""
    return HOME_PAGES.get(role, "/board")


@pytest.mark.parametrize("login, role, team, collar", [
    ("officer.sso", "officer", "Stockton CID", "PC 4127"),
    ("supervisor.sso", "supervisor", "Stockton CID", "DS 1001"),
    ("admin.sso", "admin", "", ""),
    ("fcr.sso", "fcr", "Force Control Room", ""),
])
def test_each_role_signs_in_through_the_provider_to_the_same_session_a_local_sign_in_makes(
        sso, login, role, team, collar):
    client, response, _ = sign_in_through_provider(login)
    assert response.status_code == 303 and response.headers["location"] == home(role)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    token = cookie.split(";", 1)[0].split("=", 1)[1]
    with session_scope(readonly=True) as s:
        me = identity_for_token(s, token)
    assert (me.role, me.team, me.collar_number) == (role, team, collar)
    assert me.username.startswith("sso.") and login not in me.username
    assert any(c.startswith(oidc.FLOW_COOKIE + '=""') for c in response.headers.get_list("set-cookie"))


def test_the_page_asked_for_is_kept_and_only_our_own_paths_are_redirected_to(sso):
    _, response, _ = sign_in_through_provider("supervisor.sso", "board")
    assert response.headers["location"] == "/board"
    _, response, _ = sign_in_through_provider("supervisor.sso", "https://evil.example.org/")
    assert response.headers["location"] == home("supervisor")


def test_a_second_sign_in_is_the_same_account_brought_up_to_date(sso):
    sign_in_through_provider("officer.sso")
    sign_in_through_provider("officer.sso")
    with session_scope(readonly=True) as s:
        users = s.exec(select(StaffUser).where(StaffUser.username.startswith("sso."))).all()
    assert len(users) == 1 and users[0].display_name == "PC Sam Officer" and sessions() == 2
    assert users[0].password_hash == oidc.NOT_SSO_PASSWORD


def test_a_person_with_no_role_here_is_refused_audited_and_given_no_session(sso):
    _, response, _ = sign_in_through_provider("payroll.sso")
    assert response.headers["location"] == "/login?error=sso_role"
    assert not any(c.startswith(SESSION_COOKIE + "=") for c in response.headers.get_list("set-cookie"))
    assert sessions() == 0
    with session_scope(readonly=True) as s:
        entry = s.exec(select(AuditEvent).where(AuditEvent.action == oidc.AUDIT_ACTION)).one()
    assert entry.outcome == "refused" and entry.actor.startswith("sso.") and "payroll" not in entry.detail


def test_a_person_with_several_roles_gets_the_first_the_map_names(sso):
    _, response, _ = sign_in_through_provider("both.sso")
    with session_scope(readonly=True) as s:
        user = s.exec(select(StaffUser).where(StaffUser.username.startswith("sso."))).one()
    assert user.role == "officer" and response.headers["location"] == home("officer")


def test_a_bad_or_missing_state_is_refused(sso):
    client = app()
    back = sign_in_at_provider(start(client), "officer.sso", CALLBACK)
    query = parse_qs(urlsplit(back).query)
    forged = oidc.CALLBACK_PATH + "?" + urlencode({"code": query["code"][0], "state": "not-the-state"})
    assert client.get(forged, follow_redirects=False).headers["location"] == "/login?error=sso"
    stranger = app()  # the right answer, in a browser that never began this flow
    assert stranger.get(back.removeprefix(BASE), follow_redirects=False).headers["location"] == "/login?error=sso"
    assert sessions() == 0


def test_a_code_is_used_once(sso):
    client, first, back = sign_in_through_provider("officer.sso")
    assert first.headers["location"] == home("officer") and sessions() == 1
    replay = app()
    replay.cookies.set(oidc.FLOW_COOKIE, client.flow)  # the same browser state, sent again with the same answer
    assert replay.get(back.removeprefix(BASE), follow_redirects=False).headers["location"] == "/login?error=sso"
    assert sessions() == 1


def test_an_answer_naming_another_issuer_is_refused(sso):
    client = app()
    back = sign_in_at_provider(start(client), "officer.sso", CALLBACK)
    tampered = back.replace("iss=http", "iss=https")
    assert client.get(tampered.removeprefix(BASE), follow_redirects=False).headers["location"] == "/login?error=sso"
    assert sessions() == 0


# ---- the ID token itself: real tokens from the provider, checked by verify_id_token -----------------------------

def provider_id_token(provider: Provider, client_id: str, secret: str, login: str, nonce: str) -> str:
    """An ID token the provider issues to `client_id` for `login`, by the code flow with PKCE."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK,
                       "scope": "openid profile", "state": "s", "nonce": nonce, "code_challenge": challenge,
                       "code_challenge_method": "S256"})
    back = sign_in_at_provider(f"{provider.issuer}/auth?{query}", login, CALLBACK)
    code = parse_qs(urlsplit(back).query)["code"][0]
    response = httpx.post(f"{provider.issuer}/token", auth=(client_id, secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier})
    assert response.status_code == 200, response.text
    return response.json()["id_token"]


def keys_and_conf():
    conf = config.settings().oidc
    with httpx.Client() as http:
        _meta, keys = oidc.provider_metadata(conf, http)
    return conf, keys


def test_a_real_token_for_us_checks_out(sso):
    conf, keys = keys_and_conf()
    claims = oidc.verify_id_token(conf, provider_id_token(sso, conf.client_id, conf.client_secret, "officer.sso",
                                                         "n-1"), "n-1", keys)
    assert claims["sub"] == "officer.sso" and claims["aud"] == conf.client_id


def test_a_token_issued_to_another_application_is_refused(sso):
    conf, keys = keys_and_conf()
    token = provider_id_token(sso, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, "officer.sso", "n-2")
    with pytest.raises(oidc.SsoRefused, match="id_token"):
        oidc.verify_id_token(conf, token, "n-2", keys)


def test_a_wrong_nonce_and_an_expired_token_are_refused(sso):
    conf, keys = keys_and_conf()
    token = provider_id_token(sso, conf.client_id, conf.client_secret, "officer.sso", "n-3")
    with pytest.raises(oidc.SsoRefused):
        oidc.verify_id_token(conf, token, "another-nonce", keys)
    expiry = oidc.verify_id_token(conf, token, "n-3", keys)["exp"]
    with pytest.raises(oidc.SsoRefused):
        oidc.verify_id_token(conf, token, "n-3", keys, now=expiry + oidc.LEEWAY_SECONDS + 1)


def test_a_token_signed_by_another_key_is_refused_even_under_the_provider_s_key_id(sso):
    conf, keys = keys_and_conf()
    provider_kid = keys.keys[0].kid
    impostor = RSAKey.generate_key(2048, parameters={"kid": provider_kid})
    now = int(time.time())
    forged = jwt.encode({"alg": "RS256", "kid": provider_kid}, {
        "iss": conf.issuer, "aud": conf.client_id, "sub": "officer.sso", "nonce": "n-4", "iat": now,
        "exp": now + 600, "roles": ["VJ.Supervisor"]}, impostor)
    with pytest.raises(oidc.SsoRefused, match="id_token"):
        oidc.verify_id_token(conf, forged, "n-4", keys)
    # and the same token is good under the key that signed it: the refusal was the key, not the claims
    assert oidc.verify_id_token(conf, forged, "n-4", KeySet([impostor]))["sub"] == "officer.sso"


def test_unsigned_tokens_are_refused(sso):
    conf, keys = keys_and_conf()
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    now = int(time.time())
    body = base64.urlsafe_b64encode(
        f'{{"iss":"{conf.issuer}","aud":"{conf.client_id}","sub":"x","nonce":"n","exp":{now + 600}}}'.encode()
    ).rstrip(b"=").decode()
    with pytest.raises(oidc.SsoRefused):
        oidc.verify_id_token(conf, f"{header}.{body}.", "n", keys)


def test_a_discovery_document_naming_another_issuer_is_refused(sso, monkeypatch, caplog):
    # The same server under another spelling of its address: the document's issuer must match exactly.
    monkeypatch.setenv("OIDC_ISSUER", sso.issuer.replace("http://", "HTTP://"))
    config.reset_settings()
    client = app()
    response = client.get("/staff/oidc/start", follow_redirects=False)
    assert response.headers["location"] == "/login?error=sso_down"
    assert "sso start failed (discovery)" in caplog.text


# ---- local accounts beside it, and an account disabled here --------------------------------------------------

def test_local_accounts_keep_working_beside_single_sign_on(sso):
    with session_scope() as s:
        create_user(s, "local.officer", "correct horse battery", "officer", "Local Officer")
    with session_scope() as s:
        assert sign_in(s, "local.officer", "correct horse battery")
    sign_in_through_provider("officer.sso")
    assert sessions() == 2


def test_an_sso_account_has_no_password_that_works(sso):
    sign_in_through_provider("officer.sso")
    with session_scope(readonly=True) as s:
        name = s.exec(select(StaffUser.username).where(StaffUser.username.startswith("sso."))).one()
    from rxapp.staff.accounts import AuthError
    for guess in ("", oidc.NOT_SSO_PASSWORD, "any password at all"):
        with pytest.raises(AuthError), session_scope() as s:
            sign_in(s, name, guess)


def test_an_account_disabled_here_stays_out_though_the_provider_signs_it_in(sso):
    sign_in_through_provider("officer.sso")
    with session_scope() as s:
        name = s.exec(select(StaffUser.username).where(StaffUser.username.startswith("sso."))).one()
        set_active(s, name, False)
    _, response, _ = sign_in_through_provider("officer.sso")
    assert response.headers["location"] == "/login?error=sso" and sessions() == 1


def test_a_local_account_cannot_be_taken_over_by_a_provider_subject_of_the_same_name(sso):
    name = oidc.sso_username(config.settings().oidc, "officer.sso")
    with session_scope() as s:
        create_user(s, name, "correct horse battery", "admin", "Local")
    _, response, _ = sign_in_through_provider("officer.sso")
    assert response.headers["location"] == "/login?error=sso" and sessions() == 0


def test_without_an_issuer_the_routes_say_sso_is_not_set_up(db_url):
    config.reset_settings()
    assert app().get("/staff/oidc/start", follow_redirects=False).status_code == 404


# ---- the settings ---------------------------------------------------------------------------------------------

def test_the_role_map_is_read_in_order_and_checked():
    assert parse_role_map("A=officer, B = supervisor") == (("A", "officer"), ("B", "supervisor"))
    for bad in ("A=superuser", "A", "=officer", ","):
        with pytest.raises(ValueError, match="OIDC_ROLE_MAP"):
            parse_role_map(bad)


@pytest.mark.parametrize("env, expected", [
    ({"OIDC_ISSUER": "http://login.example.org/x"}, "OIDC_ISSUER must be an https"),
    ({"OIDC_ISSUER": "https://login.example.org/x"}, "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must both be set"),
    ({"OIDC_ROLE_MAP": "Staff=root"}, "OIDC_ROLE_MAP must be"),
    ({"OIDC_ROLE_CLAIM": "roles claim"}, "OIDC_ROLE_CLAIM must be the name of a claim"),
])
def test_malformed_settings_are_named(env, expected):
    with pytest.raises(config.ConfigError, match=expected):
        load_settings(env)


def test_settings_turn_it_on_only_with_an_issuer_and_a_registration():
    assert not load_settings({}).oidc.enabled
    s = load_settings({"OIDC_ISSUER": "https://login.microsoftonline.com/t/v2.0", "OIDC_CLIENT_ID": "c",
                       "OIDC_CLIENT_SECRET": "s", "OIDC_DISPLAY_NAME": " Cleveland   Police "}).oidc
    assert s.enabled and s.display_name == "Cleveland Police" and "client_secret" not in repr(s)
