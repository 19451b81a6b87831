"""Single sign-on settings (OIDC_*), read by `rxapp/plumbing/config.py` (the only reader of the environment)
into `Settings.oidc`; `rxapp/staff/oidc.py` uses them. Standard library only, like the config module.

Sign-in through the force's OpenID Connect provider (Microsoft Entra ID, say) is on when OIDC_ISSUER is set:
- OIDC_ISSUER: the provider's issuer (https; plain http only for a provider on this machine, as in the tests);
  the rest is discovered from `<issuer>/.well-known/openid-configuration`.
- OIDC_CLIENT_ID, OIDC_CLIENT_SECRET: this application's registration at the provider.
- OIDC_ROLE_CLAIM: the ID token claim holding the person's roles (Entra ID's app roles: "roles").
- OIDC_ROLE_MAP: which claim values give which of our roles, "value=role" separated by commas, e.g.
  "VJ.Officer=officer,VJ.Supervisor=supervisor,VJ.Admin=admin,VJ.ControlRoom=fcr". A person whose values
  match none is refused; one whose values match several gets the first that matches in this list.
- OIDC_TEAM_CLAIM, OIDC_COLLAR_CLAIM: the claims holding the person's team and collar number (access to cases
  is decided from these); empty: none is taken, and an officer sees only cases of an empty team (none).
- OIDC_DISPLAY_NAME: the sign-in page's button reads "Sign in with <this> account".
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from rxapp.plumbing.settings_reader import SettingsReader

OUR_ROLES = ("fcr", "officer", "supervisor", "admin", "pcc")
DEFAULT_ROLE_MAP = (("VJ.Officer", "officer"), ("VJ.Supervisor", "supervisor"), ("VJ.Admin", "admin"),
                    ("VJ.ControlRoom", "fcr"))
_CLAIM = re.compile(r"^[A-Za-z0-9_:/.\-]{1,120}$")
_VALUE = re.compile(r"^[^=,\s][^=,]{0,119}$")


def _on_this_machine(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class OidcSettings:
    issuer: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    role_claim: str = "roles"
    role_map: tuple[tuple[str, str], ...] = DEFAULT_ROLE_MAP
    team_claim: str = ""
    collar_claim: str = ""
    display_name: str = "your force"

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.client_id and self.client_secret)


def parse_role_map(raw: str) -> tuple[tuple[str, str], ...]:
    """OIDC_ROLE_MAP: "claim value=our role" pairs separated by commas."""
    pairs = []
    for part in raw.split(","):
        if not part.strip():
            continue
        value, sep, role = part.partition("=")
        value, role = value.strip(), role.strip().lower()
        if not sep or not _VALUE.match(value) or role not in OUR_ROLES:
            raise ValueError("OIDC_ROLE_MAP must be claim value=role pairs separated by commas, each role one of "
                             f"{', '.join(OUR_ROLES)}, e.g. VJ.Officer=officer,VJ.Supervisor=supervisor")
        pairs.append((value, role))
    if not pairs:
        raise ValueError("OIDC_ROLE_MAP names no claim value: e.g. VJ.Officer=officer,VJ.Supervisor=supervisor")
    return tuple(pairs)


def _claim(r: SettingsReader, name: str, default: str) -> str:
    value = r.text(name, default) or ""
    if value and not _CLAIM.match(value):
        r.problem(f"{name} must be the name of a claim (letters, digits, _ : / . -), e.g. roles")
        return default
    return value


def read_oidc_settings(r: SettingsReader) -> OidcSettings:
    issuer = r.url("OIDC_ISSUER", ("https", "http"), "https://login.microsoftonline.com/<tenant id>/v2.0") or ""
    if issuer and urlsplit(issuer).scheme == "http" and not _on_this_machine(urlsplit(issuer).hostname or ""):
        r.problem("OIDC_ISSUER must be an https:// address (plain http only for a provider on this machine)")
        issuer = ""
    client_id, secret = r.text("OIDC_CLIENT_ID", "") or "", r.text("OIDC_CLIENT_SECRET", "") or ""
    if issuer and not (client_id and secret):
        r.problem("OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must both be set when OIDC_ISSUER is: the application's "
                  "registration at the provider")
    display = " ".join((r.text("OIDC_DISPLAY_NAME", "") or "").split())
    if len(display) > 60:
        r.problem("OIDC_DISPLAY_NAME must be at most 60 characters, e.g. Cleveland Police")
        display = ""
    return OidcSettings(
        issuer=issuer.rstrip("/"), client_id=client_id, client_secret=secret,
        role_claim=_claim(r, "OIDC_ROLE_CLAIM", "roles"),
        role_map=r.parsed("OIDC_ROLE_MAP", parse_role_map) or DEFAULT_ROLE_MAP,
        team_claim=_claim(r, "OIDC_TEAM_CLAIM", ""), collar_claim=_claim(r, "OIDC_COLLAR_CLAIM", ""),
        display_name=display or "your force",
    )
