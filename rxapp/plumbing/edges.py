"""What crosses the product's edges: one ASGI middleware in front of everything the server answers (Reflex's
pages, its websocket, and our HTTP routes; installed in rxapp/rxapp.py as the last `api_transformer`), and a
bound on the text that goes to the log.

- Host: only PUBLIC_BASE_URL's and EXTRA_ORIGIN's host names (any port), and the loopback names for checks
  on the machine itself. Any other Host gets 400 and is never echoed. An absolute redirect to the request's
  own host becomes a path, so no Location is built from what the client sent.
- Bodies: at most a few KB for the staff forms and Notify's callbacks, 64 KB elsewhere (413 beyond).
  Reflex's websocket frames are bounded by Reflex itself.
- Headers on every HTTP answer: Content-Security-Policy with `frame-ancestors 'none'`, Referrer-Policy
  no-referrer, X-Content-Type-Options nosniff, X-Frame-Options DENY, Cross-Origin-Opener-Policy, and
  Strict-Transport-Security when COOKIE_SECURE is true. A page's policy allows scripts from this site and the
  page's own inline scripts by their SHA-256 (computed on the page as sent); inline styles (Reflex's CSS in
  JS) and connections back to the same host name (the websocket) are allowed.
- The staff forms' cookie (rxapp/staff/forms.py) is handed to every browser that has none on its first page.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import logging
import re
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import urlsplit

from rxapp.plumbing.config import settings
from rxapp.staff import forms

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
BODY_LIMITS = (("/staff/", 4 * 1024), ("/portal/", 4 * 1024), ("/notify/", 16 * 1024))
DEFAULT_BODY_LIMIT = 64 * 1024
UNBOUNDED_PREFIXES = ("/_event",)  # socket.io bounds its own messages
DIRECT_FILE_PREFIXES = ("/assets/",)  # scripts and styles: the server may send these files straight from disk
HSTS = "max-age=31536000"
NON_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\ssrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)
MAX_LOG_ARG = 1000
MAX_LOG_MESSAGE = 16000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _hostname(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0].rstrip(".") if host.count(":") == 1 else host.rstrip(".")


def trusted_hosts() -> frozenset[str]:
    names = {urlsplit(origin).hostname or "" for origin in settings().allowed_origins}
    return frozenset(name.lower() for name in names if name) | frozenset(LOOPBACK_HOSTS)


def host_allowed(host_header: Optional[str]) -> bool:
    return bool(host_header) and _hostname(host_header) in trusted_hosts()


# A body over its limit but under this is read and dropped before the 413, so the client sees the answer.
DRAIN_LIMIT = 1024 * 1024


def body_limit(path: str) -> Optional[int]:
    if path.startswith(UNBOUNDED_PREFIXES):
        return None
    return next((limit for prefix, limit in BODY_LIMITS if path.startswith(prefix)), DEFAULT_BODY_LIMIT)


def _script_hashes(body: bytes) -> list[str]:
    return sorted({"'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
                   for m in _INLINE_SCRIPT.finditer(body)})


def page_policy(hostname: str, scripts: Optional[list[str]]) -> str:
    """The policy for an HTML page. `scripts`: the hashes of its inline scripts; None when the body could not
    be read (an encoding we cannot undo), and then inline scripts are allowed rather than the page broken."""
    host = f"[{hostname}]" if ":" in hostname else hostname
    inline = " ".join(scripts) if scripts is not None else "'unsafe-inline'"
    # Over plain http Reflex's websocket keeps the backend's port, so the socket's port may differ from the
    # page's: allow the page's host name on any port, and no other host.
    connect = " ".join(f"{scheme}://{host}:*" for scheme in ("ws", "wss", "http", "https"))
    return ("default-src 'self'; "
            f"script-src 'self' {inline}".rstrip() + "; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
            f"connect-src 'self' {connect}; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


def _security_headers() -> list[tuple[bytes, bytes]]:
    headers = [(b"referrer-policy", b"no-referrer"), (b"x-content-type-options", b"nosniff"),
               (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin")]
    if settings().cookie_secure:
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


def _plain(status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> tuple[dict, dict]:
    body = text.encode()
    start = {"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"), (b"content-security-policy", NON_PAGE_POLICY.encode()),
        *_security_headers(), *(extra or [])]}
    return start, {"type": "http.response.body", "body": body}


def _header(scope_headers, name: bytes) -> Optional[str]:
    for key, value in scope_headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _gzip_at_most(headers) -> list:
    """The request's headers with Accept-Encoding limited to gzip (or nothing), which `_Answer` can read."""
    out = []
    for key, value in headers:
        if key.lower() == b"accept-encoding":
            accepted = [part for part in value.split(b",") if part.split(b";")[0].strip().lower() == b"gzip"]
            if not accepted:
                continue
            value = b",".join(accepted).strip()
        out.append((key, value))
    return out


class EdgeGuard:
    """The ASGI middleware described above."""

    def __init__(self, app: Callable):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            if not host_allowed(_header(scope["headers"], b"host")):
                await receive()  # the websocket.connect
                await send({"type": "websocket.close", "code": 1008})
                return
            return await self.app(scope, receive, send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = _header(scope["headers"], b"host")
        if not host_allowed(host):
            start, body = _plain(400, "Bad request: this service does not answer for that host name.\n")
            await send(start)
            await send(body)
            return
        receive = await self._bounded(scope, receive, send)
        if receive is None:
            return
        if not scope["path"].startswith(DIRECT_FILE_PREFIXES):
            # A page must pass through here as body messages, to be hashed: no sending a file by its path, and
            # no encoding the guard cannot undo (Reflex's brotli copies are for scripts and styles).
            extensions = {k: v for k, v in (scope.get("extensions") or {}).items() if k != "http.response.pathsend"}
            scope = {**scope, "extensions": extensions, "headers": _gzip_at_most(scope["headers"])}
        await self.app(scope, receive, _Answer(scope, send, _hostname(host)).send)

    async def _bounded(self, scope, receive, send):
        """`receive` for the app, or None when the body was too large (413 already sent)."""
        limit = body_limit(scope["path"])
        if limit is None:
            return receive
        length = _header(scope["headers"], b"content-length")
        chunked = _header(scope["headers"], b"transfer-encoding") is not None
        try:
            declared = int(length) if length is not None else None
        except ValueError:
            declared = limit + 1
        if declared is not None and declared > limit:
            return await self._too_large(send, scope, receive if declared <= DRAIN_LIMIT else None)
        if declared is None and not chunked:
            return receive  # no body
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see that
                return _replay([message], receive)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await self._too_large(send, scope, receive if message.get("more_body") else None)
            if not message.get("more_body"):
                break
        return _replay([{"type": "http.request", "body": b"".join(chunks), "more_body": False}], receive)

    async def _too_large(self, send, scope, unread=None):
        """Answer 413. `unread`: the rest of the body is still coming; it is read and dropped first (at most
        DRAIN_LIMIT bytes), so that the client, still sending, gets the answer instead of a closed connection."""
        log.info("request body over the limit refused (%s)", scope["path"][:100])
        drained = 0
        while unread is not None and drained <= DRAIN_LIMIT:
            message = await unread()
            if message["type"] != "http.request":
                break
            drained += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        start, body = _plain(413, "Request too large.\n")
        await send(start)
        await send(body)
        return None


def _replay(messages: list[dict], receive):
    pending = list(messages)

    async def replayed():
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class _Answer:
    """Adds the headers to one HTTP answer; holds an HTML page back until its inline scripts are hashed."""

    def __init__(self, scope, send, hostname: str):
        self.scope, self._send, self.hostname = scope, send, hostname
        self.start: Optional[dict] = None
        self.held: list[bytes] = []

    async def send(self, message):
        if message["type"] == "http.response.start":
            self.start = dict(message)
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"]
            self.start["headers"] = self._rewrite(headers)
            if self._is_page():
                return  # sent with the body, once its scripts are known
            if self.start["status"] != 304:  # a 304 keeps the policy its page was stored with
                self.start["headers"].append((b"content-security-policy", NON_PAGE_POLICY.encode()))
            return await self._send(self.start)
        if message["type"] == "http.response.pathsend" and self._is_page():
            message = {"type": "http.response.body", "body": Path(message["path"]).read_bytes()}
        if message["type"] == "http.response.body" and self._is_page():
            self.held.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(self.held)
            self.start["headers"].append((b"content-security-policy",
                                          page_policy(self.hostname, self._hashes(body)).encode()))
            await self._send(self.start)
            return await self._send({"type": "http.response.body", "body": body, "more_body": False})
        return await self._send(message)

    def _is_page(self) -> bool:
        if self.start is None or self.start["status"] == 304 or self.scope["method"] == "HEAD":
            return False
        kind = _header(self.start["headers"], b"content-type") or ""
        return kind.lower().startswith("text/html")

    def _hashes(self, body: bytes) -> Optional[list[str]]:
        encoding = (_header(self.start["headers"], b"content-encoding") or "identity").lower()
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding != "identity":
                return None
        except (OSError, EOFError):
            return None
        return _script_hashes(body)

    def _rewrite(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        out = []
        for key, value in headers:
            if key.lower() == b"location":
                value = _relative_location(value.decode("latin-1"),
                                           _header(self.scope["headers"], b"host")).encode("latin-1")
            out.append((key, value))
        out += _security_headers()
        request_cookies = _header(self.scope["headers"], b"cookie")
        if self.scope["method"] == "GET" and not forms.has_form_cookie(request_cookies) \
                and not self.scope["path"].startswith(("/_event", "/healthz", "/notify/")):
            secure = "; Secure" if settings().cookie_secure else ""
            cookie = f"{forms.FORM_COOKIE}={forms.new_form_cookie()}; Path=/; HttpOnly; SameSite=Strict{secure}"
            out.append((b"set-cookie", cookie.encode()))
        return out


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _site(scheme: str, netloc: str) -> Optional[tuple[str, int]]:
    """(host name, port) of an address, the scheme's default port filled in; None when it cannot be read."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        return (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        return None


def _relative_location(location: str, request_host: Optional[str] = None) -> str:
    """An absolute redirect to this site itself (the host and port the request came to, or a public origin)
    becomes a path on this site. Another service on one of our host names (an OpenID provider on the same
    machine, say, on its own port) is left alone."""
    parts = urlsplit(location)
    if not (parts.scheme and parts.netloc) or (parts.hostname or "").lower() not in trusted_hosts():
        return location
    ours = {_site(urlsplit(origin).scheme, urlsplit(origin).netloc) for origin in settings().allowed_origins}
    if request_host:
        ours.add(_site(parts.scheme, request_host))
    if _site(parts.scheme, parts.netloc) in ours - {None}:
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "") + (
            f"#{parts.fragment}" if parts.fragment else "")
    return location


def guard_edges(app: Callable) -> EdgeGuard:
    """The `api_transformer` that puts the guard in front of the whole application."""
    return EdgeGuard(app)


class _BoundedRecord(logging.LogRecord):
    """Arguments shortened and control characters escaped (no forged log lines), the whole message bounded."""

    def getMessage(self) -> str:  # noqa: N802 - logging's name
        if isinstance(self.args, tuple) and self.args:
            self.args = tuple(_bounded_arg(a) for a in self.args)
        message = super().getMessage()
        if len(message) <= MAX_LOG_MESSAGE:
            return message
        half = MAX_LOG_MESSAGE // 2  # the head and the tail: an error's last line says what went wrong
        return message[:half] + f" …[{len(message) - 2 * half} characters cut]… " + message[-half:]


def _bounded_arg(value):
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value[:MAX_LOG_ARG]).decode("utf-8", "replace")
    if isinstance(value, str):
        cut = "…" if len(value) > MAX_LOG_ARG else ""
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value[:MAX_LOG_ARG]) + cut
    return value


def bound_log_records() -> None:
    """Every log record made from here on in this process is a bounded one."""
    logging.setLogRecordFactory(_BoundedRecord)
