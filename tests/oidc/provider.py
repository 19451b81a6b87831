"""Starts the real OpenID provider of tests/oidc/provider.mjs (npm `oidc-provider`, run with Node from PATH or
bun from .tools) and walks its sign-in pages with httpx, as a browser would."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import httpx

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("provider.mjs")
CLIENT_ID, CLIENT_SECRET = "vj-staff", "vj-staff-test-secret-0123456789"
OTHER_CLIENT_ID, OTHER_CLIENT_SECRET = "other-app", "other-app-test-secret-0123456789"
# What the provider's accounts send, mapped as a force would (README: "Single sign-on").
ENV = {"OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_ROLE_CLAIM": "roles",
       "OIDC_ROLE_MAP": "VJ.Officer=officer,VJ.Supervisor=supervisor,VJ.Admin=admin,VJ.ControlRoom=fcr",
       "OIDC_TEAM_CLAIM": "team", "OIDC_COLLAR_CLAIM": "collar", "OIDC_DISPLAY_NAME": "Cleveland Police"}


# Another loopback address than the app's: the app's edge guard makes a redirect to one of its own host names
# (127.0.0.1 and localhost among them) a path on its own site, whatever the port (rxapp/plumbing/edges.py).
HOST = "127.0.0.2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _runtime() -> list[str]:
    node = shutil.which("node")
    if node:
        return [node]
    bun = ROOT / ".tools" / "node_modules" / ".bin" / "bun"
    if bun.exists():
        return [str(bun), "run"]
    raise RuntimeError("neither node nor .tools' bun is installed: run scripts/setup.sh")


class Provider:
    def __init__(self, redirect_uris: list[str]):
        if not (ROOT / ".tools" / "node_modules" / "oidc-provider").exists():
            raise RuntimeError("the npm oidc-provider package is not in .tools: run scripts/setup.sh")
        self.port = _free_port()
        self.issuer = f"http://{HOST}:{self.port}"
        self.process = subprocess.Popen(
            [*_runtime(), str(SCRIPT), HOST, str(self.port), ",".join(redirect_uris)], stdout=subprocess.PIPE,
            stderr=None if os.environ.get("OIDC_PROVIDER_LOG") else subprocess.DEVNULL, text=True, env={**os.environ, "VJ_TOOLS": str(ROOT / ".tools")})
        line = self.process.stdout.readline()
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError("the OpenID provider did not start")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.issuer + "/.well-known/openid-configuration").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the OpenID provider does not answer")

    def env(self) -> dict[str, str]:
        return {"OIDC_ISSUER": self.issuer, **ENV}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


_FORM = re.compile(r'<form[^>]*action="([^"]+)"', re.I)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', re.I)


def sign_in_at_provider(authorize_url: str, login: str, stop_at: str, client: httpx.Client | None = None) -> str:
    """Follow the provider's pages from its authorize address, sign in as `login` (any password), and return
    the address it sends the browser back to (starting with `stop_at`), without fetching it."""
    http = client or httpx.Client(timeout=10)
    url, method, data = authorize_url, "GET", None
    for _ in range(12):
        response = http.request(method, url, data=data, follow_redirects=False)
        if response.is_redirect:
            url, method, data = urljoin(url, response.headers["location"]), "GET", None
            if url.startswith(stop_at):
                return url
            continue
        if response.status_code != 200:
            raise AssertionError(f"the provider answered {response.status_code}: {response.text[:300]}")
        action = _FORM.search(response.text)
        if not action:
            raise AssertionError(f"no form on the provider's page: {response.text[:300]}")
        url = urljoin(url, unescape(action.group(1)))
        method = "POST"
        data = dict(_HIDDEN.findall(response.text))  # the page's own hidden fields ("prompt": login or consent)
        if 'name="login"' in response.text:
            data.update(login=login, password="any password at all")
    raise AssertionError("the provider's pages did not send the browser back")
