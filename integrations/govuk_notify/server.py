"""A local GOV.UK Notify: a real HTTP server speaking Notify's v2 API, so the demo and the tests run the
product's real `NotifyClient` (and the real callback endpoints) against something that behaves like
Notify, without sending anything to anybody.

What it does as Notify does (see /contracts/govuk-notify.md):

- checks each request's JWT: HS256, signed with the secret of an API key of the service named in `iss`,
  `iat` within 30 s of now; otherwise 401/403 `AuthError`;
- validates sends: a UK mobile number, a valid email address, `template_id` a UUID of a known template of
  the right type, every placeholder of the template provided, `reference` at most 1000 characters; every
  problem found answers 400 `ValidationError` or `BadRequestError`, in Notify's error shape;
- answers 201 in Notify's shape with the personalised body, and keeps every notification in memory for
  `GET /v2/notifications?reference=...` and `GET /v2/notifications/{id}`;
- moves each notification on to its final status after `receipt_delay` seconds (`temporary-failure` for
  07700900003 and temp-fail@simulator.notify, `permanent-failure` for 07700900002 and
  perm-fail@simulator.notify, `delivered` otherwise) and, with a callback URL configured, POSTs the
  delivery receipt there with the bearer token, retrying a few times like Notify does (faster);
- holds received texts for `GET /v2/received-text-messages`, and POSTs each to the received-text callback;
- refuses more than `rate_limit_per_minute` sends a minute per API key with 429 `RateLimitError`.

Tests make it misbehave through the fault methods (`fail_next`, `fail_rate`, `delay_next`,
`accept_then_fail_next`, `reset`), or from another process through `POST /_control/faults`. The
`/_control/...` endpoints need no token: this is a test double and must only listen on a trusted host.

Start it from Python with `server = NotifyServer(...).start()` (a background thread; `server.url`,
`server.stop()`), or serve `server.app` with any ASGI server. On its own:
`python -m integrations.govuk_notify.server --port 8766 [--api-key K] [--callback-url U --callback-token T]
[--received-text-callback-url U] [--templates FILE]`.

Like the client, it never logs a phone number, an email address or a message body: logs carry ids,
references, types and statuses only.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import json
import logging
import os
import random
import re
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterable, Optional
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
import phonenumbers
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .client import parse_api_key

log = logging.getLogger(__name__)

# A key for the demo and for tests that do not care which key they use. It is published here, so it must
# never be configured on a real Notify service.
DEMO_SERVICE_ID = "d6aa2c68-a2d9-4437-ab19-3ae8eb202553"
DEMO_API_KEY = f"local-demo-{DEMO_SERVICE_ID}-2f4ae2c1-5f4b-4b7c-9d35-0a7a1e5f3c11"

# The two templates the product uses on a real service (see the README): its own wording travels whole in
# the personalisation. Registered on every server unless `templates` replaces them.
DEFAULT_SMS_TEMPLATE_ID = "5f0c3d44-2a8e-4a8e-9c1d-7b4b6f2e9a01"
DEFAULT_EMAIL_TEMPLATE_ID = "8b1e6a2d-4c3f-4d7e-8a9b-0c2d4e6f8a02"

TEMP_FAIL_NUMBER = "+447700900003"
PERM_FAIL_NUMBER = "+447700900002"
TEMP_FAIL_EMAIL = "temp-fail@simulator.notify"
PERM_FAIL_EMAIL = "perm-fail@simulator.notify"

JWT_MAX_SKEW = 30  # seconds, either way, as Notify allows
MAX_REFERENCE = 1000
MAX_SMS_CHARACTERS = 918  # Notify's limit: 6 fragments of 153 characters
MAX_PAGE = 250  # Notify's page size for notifications and received texts

_PLACEHOLDER = re.compile(r"\(\(([^()\n]+)\)\)")
_EMAIL_LOCAL = re.compile(r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~\-]+@([^.@][^@\s]+)$")
_HOSTNAME_PART = re.compile(r"^(xn|[a-z0-9]+)(-?-[a-z0-9]+)*$", re.IGNORECASE)
_TLD = re.compile(r"^([a-z]{2,63}|xn--([a-z0-9]+-)*[a-z0-9]+)$", re.IGNORECASE)
_PHONE_ALLOWED = re.compile(r"^[0-9+()\-.\s]+$")

_SMS_FIELDS = frozenset({"phone_number", "template_id", "personalisation", "reference", "sms_sender_id",
                         "scheduled_for"})
_EMAIL_FIELDS = frozenset({"email_address", "template_id", "personalisation", "reference",
                           "email_reply_to_id", "one_click_unsubscribe_url", "scheduled_for"})


# ---- records -------------------------------------------------------------------------------------------


@dataclass
class Template:
    """A Notify template: `type` is "sms" or "email"; `body` (and an email's `subject`) hold
    `((placeholders))`."""

    id: str
    type: str
    body: str
    subject: Optional[str] = None
    version: int = 1

    def __post_init__(self) -> None:
        if self.type not in ("sms", "email"):
            raise ValueError(f"template {self.id}: type must be 'sms' or 'email'")
        if not _is_uuid(self.id):
            raise ValueError("a template id must be a UUID")
        self.id = str(uuid.UUID(self.id))
        if self.type == "email" and self.subject is None:
            raise ValueError(f"email template {self.id} needs a subject")


@dataclass
class StoredNotification:
    """A notification as the server holds it. `to` is the recipient exactly as sent."""

    id: str
    reference: Optional[str]
    to: str
    type: str  # "sms" | "email"
    template_id: str
    template_version: int
    body: str
    subject: Optional[str]
    status: str
    created_at: datetime
    service_id: str
    final_status: str
    sent_at: Optional[datetime] = None
    completed_at: Optional[datetime] = None


@dataclass
class ReceivedText:
    id: str
    source_number: str
    destination_number: str
    message: str
    date_received: datetime
    service_id: str


@dataclass
class CallbackAttempt:
    """One POST to a callback URL: `outcome` is the HTTP status, or the exception's class name."""

    kind: str  # "delivery-receipt" | "received-text"
    subject_id: str  # the notification's or received text's id
    attempt: int
    outcome: int | str
    at: datetime


@dataclass
class _Faults:
    failures: collections.deque = field(default_factory=collections.deque)  # (status, scope)
    delays: collections.deque = field(default_factory=collections.deque)  # (seconds, scope)
    accept_then_fail: int = 0
    fail_probability: float = 0.0
    fail_probability_status: int = 500
    fail_probability_scope: str = "send"


class _Refused(Exception):
    """Raised inside a handler to answer with Notify's error shape."""

    def __init__(self, status: int, error: str, messages: str | list[str]) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.messages = [messages] if isinstance(messages, str) else messages

    def response(self) -> JSONResponse:
        return _error_response(self.status, self.error, self.messages)


# ---- the server ----------------------------------------------------------------------------------------


class NotifyServer:
    """A Notify-compatible server for one or more services (one per API key's service id)."""

    def __init__(
        self,
        api_key: str = DEMO_API_KEY,
        *,
        api_keys: Iterable[str] = (),
        templates: Optional[Iterable[Template | dict]] | dict = None,
        callback_url: Optional[str] = None,
        callback_token: Optional[str] = None,
        received_text_callback_url: Optional[str] = None,
        received_text_callback_token: Optional[str] = None,
        receipt_delay: float = 0.2,
        callback_attempts: int = 4,
        callback_retry_interval: float = 0.25,
        callback_timeout: float = 5.0,
        rate_limit_per_minute: int = 3000,
        rate_limit_window: float = 60.0,
        from_number: str = "GOVUK",
        from_email: str = "victim.updates@notifications.service.gov.uk",
        inbound_number: str = "07700900000",
        clock: Callable[[], float] = time.time,
        seed: Optional[int] = None,
    ) -> None:
        """`templates` replaces the two default ones (`DEFAULT_SMS_TEMPLATE_ID`, `DEFAULT_EMAIL_TEMPLATE_ID`);
        give `Template`s, dicts with the same fields, or a dict of id -> fields. `clock` (epoch seconds) is
        what JWTs' `iat` is checked against. `seed` makes `fail_rate` reproducible."""
        self._lock = threading.RLock()
        self._keys: dict[str, list[tuple[str, str]]] = {}  # service id -> [(key name, secret)]
        self._primary_key = api_key
        for key in (api_key, *api_keys):
            self.add_api_key(key)
        self.primary_service_id = parse_api_key(api_key)[1]

        self._templates: dict[str, Template] = {}
        if templates is None:
            self.add_template(DEFAULT_SMS_TEMPLATE_ID, "sms", "((body))")
            self.add_template(DEFAULT_EMAIL_TEMPLATE_ID, "email", "((body))", subject="((subject))")
        else:
            for template in _templates_from(templates):
                self._templates[template.id] = template

        self.callback_url = callback_url
        self.callback_token = callback_token
        self.received_text_callback_url = received_text_callback_url
        self._received_text_callback_token = received_text_callback_token
        self.receipt_delay = receipt_delay
        self.callback_attempts = max(1, callback_attempts)
        self.callback_retry_interval = callback_retry_interval
        self.callback_timeout = callback_timeout
        self.rate_limit_per_minute = rate_limit_per_minute
        self.rate_limit_window = rate_limit_window
        self.from_number = from_number
        self.from_email = from_email
        self.inbound_number = inbound_number
        self._clock = clock
        self._random = random.Random(seed)

        self._notifications: dict[str, StoredNotification] = {}  # in creation order
        self._received: list[ReceivedText] = []
        self._callback_log: list[CallbackAttempt] = []
        self._faults = _Faults()
        self._sends: dict[tuple[str, str], collections.deque] = {}  # key -> monotonic times of sends

        self._app = self._build_app()
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._uvicorn: Optional[uvicorn.Server] = None
        self._tasks: set[asyncio.Task] = set()
        self._stopping = False
        self._host = "127.0.0.1"
        self._port = 0

    # ---- configuration ---------------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        """The primary API key, for building a client in tests and the demo."""
        return self._primary_key

    def add_api_key(self, api_key: str) -> None:
        key_name, service_id, secret = parse_api_key(api_key)
        with self._lock:
            keys = self._keys.setdefault(service_id, [])
            if (key_name, secret) not in keys:
                keys.append((key_name, secret))

    def add_template(self, template_id: str, type: str, body: str, subject: Optional[str] = None,
                     version: int = 1) -> Template:
        template = Template(id=template_id, type=type, body=body, subject=subject, version=version)
        with self._lock:
            self._templates[template.id] = template
        return template

    def load_templates(self, path: str | Path) -> list[Template]:
        """Add the templates in a JSON file: a list of `{id, type, body, subject?, version?}`, or an object
        of id -> `{type, body, subject?, version?}`."""
        loaded = _templates_from(json.loads(Path(path).read_text(encoding="utf-8")))
        with self._lock:
            for template in loaded:
                self._templates[template.id] = template
        return loaded

    @property
    def templates(self) -> list[Template]:
        with self._lock:
            return [dataclasses.replace(t) for t in self._templates.values()]

    def set_callbacks(self, *, delivery_url: Optional[str] = None, received_text_url: Optional[str] = None,
                      token: Optional[str] = None) -> None:
        """Point the callbacks somewhere (None leaves a setting as it was)."""
        with self._lock:
            if delivery_url is not None:
                self.callback_url = delivery_url or None
            if received_text_url is not None:
                self.received_text_callback_url = received_text_url or None
            if token is not None:
                self.callback_token = token or None

    @property
    def received_text_callback_token(self) -> Optional[str]:
        return self._received_text_callback_token or self.callback_token

    # ---- faults ----------------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, *, scope: str = "send") -> None:
        """Answer the next `n` requests with `status` (500, 502, 503, 429, 400, 403...), in Notify's error
        shape, without storing anything. `scope` is "send" (the two send endpoints) or "all" (any /v2
        request). Queued behind failures already pending."""
        _check_scope(scope)
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        with self._lock:
            self._faults.failures.extend([(status, scope)] * max(0, n))

    def fail_rate(self, p: float, status: int = 500, *, scope: str = "send") -> None:
        """From now on, answer each request with `status` with probability `p` (0 turns it off)."""
        _check_scope(scope)
        if not 0.0 <= p <= 1.0:
            raise ValueError("p must be between 0 and 1")
        with self._lock:
            self._faults.fail_probability = p
            self._faults.fail_probability_status = status
            self._faults.fail_probability_scope = scope

    def delay_next(self, n: int, seconds: float, *, scope: str = "send") -> None:
        """Hold the next `n` requests for `seconds` before handling them, to make clients time out. A
        request whose client has gone by then is dropped unhandled and nothing is stored, as if it had been
        stuck in front of Notify. (For a send that happened but whose answer was lost, use
        `accept_then_fail_next`.)"""
        _check_scope(scope)
        with self._lock:
            self._faults.delays.extend([(float(seconds), scope)] * max(0, n))

    def accept_then_fail_next(self, n: int = 1) -> None:
        """For the next `n` valid sends, store the notification (it goes on to be delivered as usual) and
        then answer 500: the "sent, but the answer was lost" case."""
        with self._lock:
            self._faults.accept_then_fail += max(0, n)

    def set_rate_limit(self, per_minute: int, window: float = 60.0) -> None:
        """Allow `per_minute` sends per API key in any `window` seconds (Notify: 3,000 in 60)."""
        with self._lock:
            self.rate_limit_per_minute = per_minute
            self.rate_limit_window = window
            self._sends.clear()

    def reset(self) -> None:
        """Clear every fault and the rate-limit counters. Stored notifications stay (see `clear`)."""
        with self._lock:
            self._faults = _Faults()
            self._sends.clear()

    def clear(self) -> None:
        """Forget every notification, received text and callback attempt."""
        with self._lock:
            self._notifications.clear()
            self._received.clear()
            self._callback_log.clear()

    def faults(self) -> dict:
        """The faults still pending, for `GET /_control/faults` and for tests."""
        with self._lock:
            f = self._faults
            return {
                "fail_next": [{"status": s, "scope": scope} for s, scope in f.failures],
                "delay_next": [{"seconds": s, "scope": scope} for s, scope in f.delays],
                "accept_then_fail_next": f.accept_then_fail,
                "fail_rate": {"p": f.fail_probability, "status": f.fail_probability_status,
                              "scope": f.fail_probability_scope},
                "rate_limit": {"per_minute": self.rate_limit_per_minute, "window": self.rate_limit_window},
            }

    def apply_fault(self, spec: dict) -> None:
        """One fault instruction as `POST /_control/faults` takes it: `{"action": "fail_next", "n": 2,
        "status": 500}`, `{"action": "fail_rate", "p": 0.3, "status": 503}`, `{"action": "delay_next", "n": 1,
        "seconds": 5}`, `{"action": "accept_then_fail_next", "n": 1}`, `{"action": "rate_limit",
        "per_minute": 10, "window": 60}`, `{"action": "reset"}` or `{"action": "clear"}`."""
        if not isinstance(spec, dict):
            raise ValueError("a fault must be a JSON object with an 'action'")
        action = spec.get("action")
        scope = spec.get("scope", "send")
        if action == "fail_next":
            self.fail_next(int(spec.get("n", 1)), int(spec.get("status", 500)), scope=scope)
        elif action == "fail_rate":
            self.fail_rate(float(spec.get("p", 0.0)), int(spec.get("status", 500)), scope=scope)
        elif action == "delay_next":
            self.delay_next(int(spec.get("n", 1)), float(spec["seconds"]), scope=scope)
        elif action == "accept_then_fail_next":
            self.accept_then_fail_next(int(spec.get("n", 1)))
        elif action == "rate_limit":
            self.set_rate_limit(int(spec["per_minute"]), float(spec.get("window", 60.0)))
        elif action == "reset":
            self.reset()
        elif action == "clear":
            self.clear()
        else:
            raise ValueError("unknown action: expected fail_next, fail_rate, delay_next, "
                             "accept_then_fail_next, rate_limit, reset or clear")

    # ---- what was sent ---------------------------------------------------------------------------

    @property
    def sent(self) -> list[StoredNotification]:
        """Every notification stored, oldest first (copies: they do not change under the caller)."""
        with self._lock:
            return [dataclasses.replace(n) for n in self._notifications.values()]

    def notification(self, notification_id: str) -> Optional[StoredNotification]:
        with self._lock:
            found = self._notifications.get(notification_id)
            return dataclasses.replace(found) if found else None

    def find(self, reference: str) -> list[StoredNotification]:
        with self._lock:
            return [dataclasses.replace(n) for n in self._notifications.values() if n.reference == reference]

    @property
    def received(self) -> list[ReceivedText]:
        with self._lock:
            return [dataclasses.replace(t) for t in self._received]

    @property
    def callback_attempts_made(self) -> list[CallbackAttempt]:
        """Every POST made to a callback URL, in order, with its outcome."""
        with self._lock:
            return list(self._callback_log)

    def inject_received_text(self, source_number: str, message: str, destination_number: Optional[str] = None,
                             *, service_id: Optional[str] = None) -> dict:
        """A text from a phone to the service's number (a reply such as STOP): stored for
        `GET /v2/received-text-messages` and POSTed to the received-text callback if one is configured.
        Returns the callback's JSON (`id, source_number, destination_number, message, date_received`)."""
        text = ReceivedText(
            id=str(uuid.uuid4()),
            source_number=_international_digits(source_number),
            destination_number=destination_number or self.inbound_number,
            message=message,
            date_received=self._now(),
            service_id=service_id or self.primary_service_id,
        )
        with self._lock:
            self._received.append(text)
            url, token = self.received_text_callback_url, self.received_text_callback_token
        log.info("local Notify: received text %s stored", text.id)
        payload = _received_callback_json(text)
        if url:
            self._spawn(self._post_callback("received-text", text.id, url, token, payload))
        return payload

    # ---- running ---------------------------------------------------------------------------------

    @property
    def app(self) -> Starlette:
        """The ASGI application, to serve with any ASGI server."""
        return self._app

    @property
    def url(self) -> str:
        if self._uvicorn is None:
            raise RuntimeError("the server has not been started")
        return f"http://{self._host}:{self._port}"

    def start(self, host: str = "127.0.0.1", port: int = 0, *, timeout: float = 10.0) -> "NotifyServer":
        """Serve on `host:port` (0 picks a free port) from a background thread with its own event loop.
        Returns once the server accepts connections; works from synchronous and asynchronous code alike."""
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        # The socket is bound here, not in the thread, so a busy port fails in the caller. IPPROTO_TCP by
        # name, because asyncio sets TCP_NODELAY only on connections from such a socket; without it every
        # keep-alive request waits some 40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM,
                             socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        self._host = host
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(self._app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1)
        self._uvicorn = uvicorn.Server(config)
        self._stopping = False
        loop_ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            loop_ready.set()
            try:
                loop.run_until_complete(self._uvicorn.serve(sockets=[sock]))
                loop.run_until_complete(self._cancel_tasks())
            finally:
                loop.close()
                sock.close()

        self._thread = threading.Thread(target=run, name=f"notify-server-{self._port}", daemon=True)
        self._thread.start()
        loop_ready.wait(timeout)
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the local Notify server did not start")
            time.sleep(0.01)
        log.info("local Notify server listening on %s", self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and drop pending receipts and callbacks. Safe to call twice."""
        thread, server, loop = self._thread, self._uvicorn, self._loop
        if thread is None:
            return
        self._stopping = True
        if loop is not None and loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._cancel_tasks(), loop).result(timeout)
            except Exception:  # noqa: BLE001 - the loop may be closing already; the join below decides
                pass
        if server is not None:
            server.should_exit = True
        thread.join(timeout)
        self._thread = None
        self._loop = None
        self._uvicorn = None

    async def astart(self, host: str = "127.0.0.1", port: int = 0) -> "NotifyServer":
        """`start` without blocking the caller's event loop."""
        return await asyncio.to_thread(self.start, host, port)

    async def astop(self) -> None:
        """`stop` without blocking the caller's event loop (which may be serving a callback)."""
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> "NotifyServer":
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # ---- background work -------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine) -> None:
        """Run `coro` in the background: on the server's own loop when it runs one, else on the caller's
        running loop (the app hosted elsewhere), else on a short-lived thread."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._stopping:
            coro.close()
            return
        if running is not None and (self._loop is None or running is self._loop):
            self._track(running.create_task(coro))
        elif self._loop is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._tracked(coro), self._loop)
        else:
            threading.Thread(target=asyncio.run, args=(coro,), daemon=True).start()

    async def _tracked(self, coro: Coroutine) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._track(task)
        await coro

    def _track(self, task: asyncio.Task) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _cancel_tasks(self) -> None:
        current = asyncio.current_task()
        pending = [t for t in list(self._tasks) if t is not current and not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _deliver(self, notification_id: str) -> None:
        """Move a notification through `sending` to its final status, then send its delivery receipt."""
        with self._lock:
            notification = self._notifications.get(notification_id)
            if notification is None:
                return
            notification.status = "sending"
            notification.sent_at = self._now()
        await asyncio.sleep(self.receipt_delay)
        with self._lock:
            notification = self._notifications.get(notification_id)
            if notification is None:
                return
            notification.status = notification.final_status
            notification.completed_at = self._now()
            payload = _receipt_json(notification)
            url, token = self.callback_url, self.callback_token
        log.info("local Notify: notification %s (reference %s) is %s", notification_id,
                 payload["reference"], payload["status"])
        if url:
            await self._post_callback("delivery-receipt", notification_id, url, token, payload)

    async def _post_callback(self, kind: str, subject_id: str, url: str, token: Optional[str],
                             payload: dict) -> None:
        """POST a callback, retrying on connection failures, timeouts, 429 and 5xx, as Notify does (it
        waits five minutes between tries; this waits `callback_retry_interval`, doubling). Any other 4xx is
        final: the receiver has refused it and would refuse it again."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in range(1, self.callback_attempts + 1):
            outcome: int | str
            try:
                async with httpx.AsyncClient(timeout=self.callback_timeout) as client:
                    response = await client.post(url, content=json.dumps(payload), headers=headers)
                outcome = response.status_code
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            with self._lock:
                self._callback_log.append(CallbackAttempt(kind, subject_id, attempt, outcome, self._now()))
            if isinstance(outcome, int) and 200 <= outcome < 300:
                return
            final = isinstance(outcome, int) and 400 <= outcome < 500 and outcome != 429
            log.warning("local Notify: %s callback for %s failed (attempt %d: %s)%s", kind, subject_id, attempt,
                        outcome, "" if final or attempt == self.callback_attempts else "; will retry")
            if final:
                return
            if attempt < self.callback_attempts:
                await asyncio.sleep(self.callback_retry_interval * 2 ** (attempt - 1))

    # ---- HTTP ------------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        routes = [
            Route("/v2/notifications/sms", self._post_sms, methods=["POST"]),
            Route("/v2/notifications/email", self._post_email, methods=["POST"]),
            Route("/v2/notifications", self._get_notifications, methods=["GET"]),
            Route("/v2/notifications/{notification_id}", self._get_notification, methods=["GET"]),
            Route("/v2/received-text-messages", self._get_received_texts, methods=["GET"]),
            Route("/_control/faults", self._control_faults, methods=["GET", "POST"]),
            Route("/_control/received-text", self._control_received_text, methods=["POST"]),
            Route("/_control/callbacks", self._control_callbacks, methods=["POST"]),
            Route("/_control/notifications", self._control_notifications, methods=["GET"]),
            Route("/_status", self._status, methods=["GET"]),
        ]
        return Starlette(routes=routes)

    async def _post_sms(self, request: Request) -> Response:
        return await self._handle(request, "send",
                                  lambda service, body: self._create(request, service, body, "sms"))

    async def _post_email(self, request: Request) -> Response:
        return await self._handle(request, "send",
                                  lambda service, body: self._create(request, service, body, "email"))

    async def _get_notifications(self, request: Request) -> Response:
        return await self._handle(request, "read", lambda service, _: self._list(request, service))

    async def _get_notification(self, request: Request) -> Response:
        return await self._handle(request, "read", lambda service, _: self._one(request, service))

    async def _get_received_texts(self, request: Request) -> Response:
        return await self._handle(request, "read", lambda service, _: self._received_list(request, service))

    async def _handle(self, request: Request, kind: str,
                      action: Callable[[tuple[str, str], bytes], Response]) -> Response:
        """What every /v2 request goes through, in Notify's order: (an injected delay,) authentication,
        (an injected failure,) the rate limit for sends, then the endpoint itself."""
        # Read the body first: checking for a disconnected client afterwards must not swallow it.
        raw = await request.body()
        delay = self._take_delay(kind)
        if delay:
            await self._sleep(delay)
            if await request.is_disconnected():
                log.info("local Notify: dropped a delayed %s request; its client had gone", request.url.path)
                return Response(status_code=499)
        try:
            service = self._authenticate(request)
            self._injected_failure(kind)
            if kind == "send":
                self._check_rate_limit(service)
            return action(service, raw)
        except _Refused as refused:
            return refused.response()

    async def _sleep(self, seconds: float) -> None:
        # In small steps, so that stopping the server is not held up by a long injected delay.
        deadline = time.monotonic() + seconds
        while not self._stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.05))

    def _authenticate(self, request: Request) -> tuple[str, str]:
        """The (service id, key name) a request's JWT belongs to, or a `_Refused` saying why not."""
        header = request.headers.get("authorization")
        if not header:
            raise _Refused(401, "AuthError", "Unauthorized: authentication token must be provided")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Refused(401, "AuthError", "Unauthorized: authentication bearer scheme must be used")
        token = token.strip()
        try:
            unverified_header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise _Refused(403, "AuthError", "Invalid token: signature, api token is not valid")
        if unverified_header.get("alg") != "HS256":
            raise _Refused(403, "AuthError", "Invalid token: algorithm used is not HS256")
        issuer = unverified.get("iss")
        if not issuer:
            raise _Refused(403, "AuthError", "Invalid token: iss field not provided")
        if not _is_uuid(issuer):
            raise _Refused(403, "AuthError", "Invalid token: service id is not the right data type")
        service_id = str(uuid.UUID(issuer))
        with self._lock:
            keys = list(self._keys.get(service_id, ()))
        if not keys:
            raise _Refused(403, "AuthError", "Invalid token: service not found")
        claims, key_name = None, None
        for name, secret in keys:
            try:
                claims = jwt.decode(token, secret, algorithms=["HS256"],
                                    options={"verify_iat": False, "verify_exp": False, "verify_nbf": False,
                                             "verify_aud": False, "verify_iss": False})
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError:
                raise _Refused(403, "AuthError", "Invalid token: signature, api token is not valid")
            key_name = name
            break
        if claims is None or key_name is None:
            raise _Refused(403, "AuthError", "Invalid token: API key not found")
        issued_at = claims.get("iat")
        if not isinstance(issued_at, (int, float)) or isinstance(issued_at, bool):
            raise _Refused(403, "AuthError", "Invalid token: iat field not provided")
        if abs(self._clock() - issued_at) > JWT_MAX_SKEW:
            raise _Refused(403, "AuthError", "Error: Your system clock must be accurate to within 30 seconds")
        return service_id, key_name

    def _take_delay(self, kind: str) -> float:
        with self._lock:
            return _take(self._faults.delays, kind) or 0.0

    def _injected_failure(self, kind: str) -> None:
        with self._lock:
            status = _take(self._faults.failures, kind)
            f = self._faults
            if status is None and f.fail_probability > 0 and _in_scope(f.fail_probability_scope, kind):
                if self._random.random() < f.fail_probability:
                    status = f.fail_probability_status
        if status is not None:
            log.info("local Notify: injected %d", status)
            raise _injected(status, self.rate_limit_per_minute, self.rate_limit_window)

    def _check_rate_limit(self, service: tuple[str, str]) -> None:
        now = time.monotonic()
        with self._lock:
            window = self._sends.setdefault(service, collections.deque())
            while window and window[0] <= now - self.rate_limit_window:
                window.popleft()
            if len(window) >= self.rate_limit_per_minute:
                raise _Refused(429, "RateLimitError", _rate_limit_message(self.rate_limit_per_minute,
                                                                          self.rate_limit_window))
            window.append(now)

    def _create(self, request: Request, service: tuple[str, str], raw: bytes, notification_type: str) -> Response:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise _Refused(400, "ValidationError", "Invalid JSON supplied in POST data")
        if not isinstance(body, dict):
            raise _Refused(400, "ValidationError", "Invalid JSON supplied in POST data")
        problems = _validate_send(body, notification_type)
        if problems:
            raise _Refused(400, "ValidationError", problems)

        with self._lock:
            template = self._templates.get(str(uuid.UUID(body["template_id"])))
        if template is None:
            raise _Refused(400, "BadRequestError", "Template not found")
        if template.type != notification_type:
            raise _Refused(400, "BadRequestError",
                           f"{template.type} template is not suitable for {notification_type} notification")
        personalisation = body.get("personalisation") or {}
        missing = _missing_placeholders(template, personalisation)
        if missing:
            raise _Refused(400, "BadRequestError", f"Missing personalisation: {', '.join(missing)}")
        rendered_body = _render(template.body, personalisation, notification_type)
        subject = _render(template.subject, personalisation, "sms") if template.subject is not None else None
        if not rendered_body.strip():
            raise _Refused(400, "BadRequestError", "Message is empty or just whitespace")
        if notification_type == "sms" and len(rendered_body) > MAX_SMS_CHARACTERS:
            raise _Refused(400, "BadRequestError",
                           f"Your message is too long. Text messages cannot be longer than {MAX_SMS_CHARACTERS} "
                           f"characters. Your message is {len(rendered_body)} characters long.")

        to = body["phone_number"] if notification_type == "sms" else body["email_address"]
        notification = StoredNotification(
            id=str(uuid.uuid4()),
            reference=body.get("reference"),
            to=to,
            type=notification_type,
            template_id=template.id,
            template_version=template.version,
            body=rendered_body,
            subject=subject,
            status="created",
            created_at=self._now(),
            service_id=service[0],
            final_status=_final_status(notification_type, to),
        )
        with self._lock:
            self._notifications[notification.id] = notification
            lose_answer = self._faults.accept_then_fail > 0
            if lose_answer:
                self._faults.accept_then_fail -= 1
        log.info("local Notify: %s notification %s created (reference %s)", notification_type, notification.id,
                 notification.reference)
        self._spawn(self._deliver(notification.id))
        if lose_answer:
            log.info("local Notify: injected 500 after storing notification %s", notification.id)
            raise _injected(500, self.rate_limit_per_minute, self.rate_limit_window)

        base = _base(request)
        if notification_type == "sms":
            content = {"body": rendered_body, "from_number": self.from_number}
        else:
            content = {"body": rendered_body, "subject": subject, "from_email": self.from_email,
                       "one_click_unsubscribe_url": body.get("one_click_unsubscribe_url")}
        return JSONResponse({
            "id": notification.id,
            "reference": notification.reference,
            "content": content,
            "uri": f"{base}/v2/notifications/{notification.id}",
            "template": _template_json(template, service[0], base),
            "scheduled_for": None,
        }, status_code=201)

    def _list(self, request: Request, service: tuple[str, str]) -> Response:
        params = request.query_params
        reference = params.get("reference")
        template_type = params.get("template_type")
        statuses = set(params.getlist("status"))
        older_than = params.get("older_than")
        problems = []
        if template_type is not None and template_type not in ("sms", "email", "letter"):
            problems.append(f"template_type {template_type} is not one of [sms, email, letter]")
        if older_than is not None and not _is_uuid(older_than):
            problems.append("older_than is not a valid UUID")
        if problems:
            raise _Refused(400, "ValidationError", problems)
        with self._lock:
            newest_first = [n for n in reversed(self._notifications.values()) if n.service_id == service[0]]
            if older_than is not None:
                ids = [n.id for n in newest_first]
                newest_first = newest_first[ids.index(older_than) + 1:] if older_than in ids else []
            chosen = [n for n in newest_first
                      if (reference is None or n.reference == reference)
                      and (template_type is None or n.type == template_type)
                      and (not statuses or n.status in statuses)][:MAX_PAGE]
            base = _base(request)
            items = [_notification_json(n, base) for n in chosen]
        links = {"current": str(request.url)}
        if len(chosen) == MAX_PAGE:
            query = {k: v for k, v in params.items() if k != "older_than"}
            query["older_than"] = chosen[-1].id
            links["next"] = f"{base}/v2/notifications?{urlencode(query)}"
        return JSONResponse({"notifications": items, "links": links})

    def _one(self, request: Request, service: tuple[str, str]) -> Response:
        notification_id = request.path_params["notification_id"]
        if not _is_uuid(notification_id):
            raise _Refused(400, "ValidationError", "notification_id is not a valid UUID")
        with self._lock:
            notification = self._notifications.get(str(uuid.UUID(notification_id)))
            if notification is None or notification.service_id != service[0]:
                raise _Refused(404, "NoResultFound", "No result found")
            return JSONResponse(_notification_json(notification, _base(request)))

    def _received_list(self, request: Request, service: tuple[str, str]) -> Response:
        older_than = request.query_params.get("older_than")
        if older_than is not None and not _is_uuid(older_than):
            raise _Refused(400, "ValidationError", "older_than is not a valid UUID")
        with self._lock:
            newest_first = [t for t in reversed(self._received) if t.service_id == service[0]]
        if older_than is not None:
            ids = [t.id for t in newest_first]
            newest_first = newest_first[ids.index(older_than) + 1:] if older_than in ids else []
        page = newest_first[:MAX_PAGE]
        base = _base(request)
        links = {"current": str(request.url)}
        if len(page) == MAX_PAGE:
            links["next"] = f"{base}/v2/received-text-messages?{urlencode({'older_than': page[-1].id})}"
        return JSONResponse({
            "received_text_messages": [{
                "id": t.id,
                "user_number": t.source_number,
                "notify_number": t.destination_number,
                "created_at": _timestamp(t.date_received),
                "service_id": t.service_id,
                "content": t.message,
            } for t in page],
            "links": links,
        })

    # ---- control endpoints (tests and the demo, from another process) ----------------------------

    async def _control_faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                spec = json.loads(await request.body() or b"{}")
                for item in spec if isinstance(spec, list) else [spec]:
                    self.apply_fault(item)
            except (ValueError, KeyError, TypeError) as exc:
                return JSONResponse({"error": str(exc) or type(exc).__name__}, status_code=400)
        return JSONResponse(self.faults())

    async def _control_received_text(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            source, message = body["source_number"], body["message"]
            if not isinstance(source, str) or not isinstance(message, str):
                raise TypeError("source_number and message must be strings")
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": f"expected {{source_number, message}}: {type(exc).__name__}"},
                                status_code=400)
        payload = self.inject_received_text(source, message, body.get("destination_number"))
        return JSONResponse(payload, status_code=201)

    async def _control_callbacks(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            self.set_callbacks(delivery_url=body.get("delivery_url"), received_text_url=body.get("received_text_url"),
                               token=body.get("token"))
        except (ValueError, AttributeError) as exc:
            return JSONResponse({"error": type(exc).__name__}, status_code=400)
        return JSONResponse({"delivery_url": self.callback_url, "received_text_url": self.received_text_callback_url,
                             "token_set": bool(self.callback_token)})

    async def _control_notifications(self, request: Request) -> Response:
        reference = request.query_params.get("reference")
        items = [n for n in self.sent if reference is None or n.reference == reference]
        return JSONResponse({"notifications": [{
            "id": n.id, "reference": n.reference, "to": n.to, "type": n.type, "body": n.body, "subject": n.subject,
            "status": n.status, "created_at": _timestamp(n.created_at), "template_id": n.template_id,
        } for n in items]})

    async def _status(self, request: Request) -> Response:
        with self._lock:
            return JSONResponse({"status": "ok", "notifications": len(self._notifications),
                                 "received_texts": len(self._received)})

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), timezone.utc)


# ---- validation and rendering --------------------------------------------------------------------------


def _validate_send(body: dict, notification_type: str) -> list[str]:
    """Every schema problem with a send request, in Notify's words. Messages name fields, never values."""
    problems: list[str] = []
    allowed = _SMS_FIELDS if notification_type == "sms" else _EMAIL_FIELDS
    unexpected = sorted(key for key in body if key not in allowed)
    if unexpected:
        problems.append(f"Additional properties are not allowed ({', '.join(unexpected)} "
                        f"{'was' if len(unexpected) == 1 else 'were'} unexpected)")
    recipient_field = "phone_number" if notification_type == "sms" else "email_address"
    for required in (recipient_field, "template_id"):
        if body.get(required) is None:
            problems.append(f"{required} is a required property")
    recipient = body.get(recipient_field)
    if recipient is not None:
        if not isinstance(recipient, str):
            problems.append(f"{recipient_field} is not of type string")
        elif notification_type == "sms":
            problem = uk_mobile_problem(recipient)
            if problem:
                problems.append(f"phone_number {problem}")
        elif not is_valid_email(recipient):
            problems.append("email_address Not a valid email address")
    template_id = body.get("template_id")
    if template_id is not None and not _is_uuid(template_id):
        problems.append("template_id is not a valid UUID")
    personalisation = body.get("personalisation")
    if personalisation is not None and not isinstance(personalisation, dict):
        problems.append("personalisation is not of type object")
    reference = body.get("reference")
    if reference is not None:
        if not isinstance(reference, str):
            problems.append("reference is not of type string")
        elif len(reference) > MAX_REFERENCE:
            problems.append(f"reference is too long (longer than {MAX_REFERENCE} characters)")
    for sender_field in ("sms_sender_id", "email_reply_to_id"):
        value = body.get(sender_field)
        if sender_field in allowed and value is not None and not _is_uuid(value):
            problems.append(f"{sender_field} is not a valid UUID")
    return problems


def uk_mobile_problem(phone_number: str) -> Optional[str]:
    """None if `phone_number` is a UK mobile number as Notify accepts one, else Notify's reason.

    Notify's rule is that the number, without +44/0044/0, is ten digits starting with 7. That includes
    Ofcom's drama range 07700 900000-900999, which `phonenumbers` calls invalid, so `phonenumbers` is used
    only to turn away 07 numbers it knows are not mobiles (personal numbers, pagers)."""
    if not _PHONE_ALLOWED.match(phone_number):
        return "Must not contain letters or symbols"
    national = _uk_national(phone_number)
    if not national.startswith("7"):
        return "Not a UK mobile number"
    if len(national) > 10:
        return "Too many digits"
    if len(national) < 10:
        return "Not enough digits"
    parsed = phonenumbers.parse("+44" + national, None)
    if phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) not in (
            phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return "Not a UK mobile number"
    return None


def _uk_national(phone_number: str) -> str:
    """The digits of a UK number after the country code and trunk zero: 07700 900123, +44 7700 900123 and
    +44 (0)7700 900123 all give 7700900123."""
    digits = re.sub(r"\D", "", phone_number)
    if digits.startswith("0044"):
        digits = digits[4:]
    elif digits.startswith("44"):
        digits = digits[2:]
    return digits.lstrip("0")


def is_valid_email(address: str) -> bool:
    """Notify's own email address check, near enough: a plain local part, a dotted host name of valid labels
    and an alphabetic (or punycode) top-level domain."""
    address = address.strip()
    if len(address) > 320 or ".." in address:
        return False
    match = _EMAIL_LOCAL.match(address)
    if not match:
        return False
    hostname = match.group(1)
    try:
        hostname = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    parts = hostname.split(".")
    if len(hostname) > 253 or len(parts) < 2:
        return False
    if any(not part or len(part) > 63 or not _HOSTNAME_PART.match(part) for part in parts):
        return False
    return bool(_TLD.match(parts[-1]))


def _placeholder_key(name: str) -> str:
    # Notify matches placeholders to personalisation keys ignoring case, spaces, underscores and dashes.
    return re.sub(r"[\s_\-]", "", name).lower()


def _placeholders(text: Optional[str]) -> list[str]:
    if not text:
        return []
    names = []
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1).split("??", 1)[0].strip()
        if name and name not in names:
            names.append(name)
    return names


def _missing_placeholders(template: Template, personalisation: dict) -> list[str]:
    supplied = {_placeholder_key(str(k)) for k, v in personalisation.items() if v is not None}
    names = _placeholders(template.subject) + _placeholders(template.body)
    missing = []
    for name in names:
        if _placeholder_key(name) not in supplied and name not in missing:
            missing.append(name)
    return missing


def _render(text: str, personalisation: dict, notification_type: str) -> str:
    values = {_placeholder_key(str(k)): v for k, v in personalisation.items() if v is not None}

    def substitute(match: re.Match) -> str:
        name, conditional, shown = match.group(1).partition("??")
        value = values.get(_placeholder_key(name.strip()))
        if conditional:
            return shown if str(value).strip().lower() in ("yes", "true", "1") else ""
        if isinstance(value, list):
            items = [str(item) for item in value]
            return "\n".join(f"* {item}" for item in items) if notification_type == "email" else ", ".join(items)
        return str(value)

    return _PLACEHOLDER.sub(substitute, text)


def _final_status(notification_type: str, to: str) -> str:
    if notification_type == "sms":
        number = _e164(to)
        if number == TEMP_FAIL_NUMBER:
            return "temporary-failure"
        if number == PERM_FAIL_NUMBER:
            return "permanent-failure"
        return "delivered"
    address = to.strip().lower()
    if address == TEMP_FAIL_EMAIL:
        return "temporary-failure"
    if address == PERM_FAIL_EMAIL:
        return "permanent-failure"
    return "delivered"


def _e164(phone_number: str) -> str:
    return "+44" + _uk_national(phone_number)


def _international_digits(phone_number: str) -> str:
    """A number as Notify writes received texts' numbers: 447700900123 for any spelling of a UK number;
    others keep their digits without the international prefix."""
    stripped = phone_number.strip()
    digits = re.sub(r"\D", "", stripped)
    if stripped.startswith("+") and not digits.startswith("44"):
        return digits
    if digits.startswith("00") and not digits.startswith("0044"):
        return digits[2:]
    return "44" + _uk_national(stripped)


# ---- JSON shapes ---------------------------------------------------------------------------------------


def _timestamp(moment: Optional[datetime]) -> Optional[str]:
    # Notify's format: microseconds and a Z, always UTC.
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _template_json(template: Template, service_id: str, base: str) -> dict:
    return {"id": template.id, "version": template.version,
            "uri": f"{base}/services/{service_id}/templates/{template.id}"}


def _notification_json(n: StoredNotification, base: str) -> dict:
    """A notification as Notify's GET endpoints show it (letter fields always empty here)."""
    template_info = {"id": n.template_id, "version": n.template_version,
                     "uri": f"{base}/services/{n.service_id}/templates/{n.template_id}"}
    return {
        "id": n.id,
        "reference": n.reference,
        "email_address": n.to if n.type == "email" else None,
        "phone_number": n.to if n.type == "sms" else None,
        "line_1": None, "line_2": None, "line_3": None, "line_4": None, "line_5": None, "line_6": None,
        "postcode": None,
        "postage": None,
        "type": n.type,
        "status": n.status,
        "template": template_info,
        "body": n.body,
        "subject": n.subject,
        "created_at": _timestamp(n.created_at),
        "created_by_name": None,
        "sent_at": _timestamp(n.sent_at),
        "completed_at": _timestamp(n.completed_at),
        "scheduled_for": None,
        "estimated_delivery": None,
        "one_click_unsubscribe_url": None,
    }


def _receipt_json(n: StoredNotification) -> dict:
    return {
        "id": n.id,
        "reference": n.reference,
        "to": n.to,
        "status": n.status,
        "created_at": _timestamp(n.created_at),
        "completed_at": _timestamp(n.completed_at),
        "sent_at": _timestamp(n.sent_at),
        "notification_type": n.type,
        "template_id": n.template_id,
        "template_version": n.template_version,
    }


def _received_callback_json(text: ReceivedText) -> dict:
    return {
        "id": text.id,
        "source_number": text.source_number,
        "destination_number": text.destination_number,
        "message": text.message,
        "date_received": _timestamp(text.date_received),
    }


def _error_response(status: int, error: str, messages: list[str]) -> JSONResponse:
    return JSONResponse({"status_code": status, "errors": [{"error": error, "message": m} for m in messages]},
                        status_code=status)


def _rate_limit_message(limit: int, window: float) -> str:
    return f"Exceeded rate limit for key type LIVE of {limit} requests per {window:g} seconds"


def _injected(status: int, limit: int, window: float) -> _Refused:
    if status == 429:
        return _Refused(429, "RateLimitError", _rate_limit_message(limit, window))
    if status in (401, 403):
        return _Refused(status, "AuthError", "Invalid token: API key not found")
    if status == 404:
        return _Refused(404, "NoResultFound", "No result found")
    if status >= 500:
        return _Refused(status, "Exception", "Internal server error")
    return _Refused(status, "BadRequestError", "Injected fault: request refused")


# ---- helpers -------------------------------------------------------------------------------------------


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _check_scope(scope: str) -> None:
    if scope not in ("send", "all"):
        raise ValueError("scope must be 'send' or 'all'")


def _in_scope(scope: str, kind: str) -> bool:
    return scope == "all" or kind == "send"


def _take(queue: collections.deque, kind: str) -> Any:
    """Remove and return the value of the first queued fault that applies to a `kind` request."""
    for index, (value, scope) in enumerate(queue):
        if _in_scope(scope, kind):
            del queue[index]
            return value
    return None


def _templates_from(data: Any) -> list[Template]:
    if isinstance(data, dict) and "templates" in data and isinstance(data["templates"], (list, dict)):
        data = data["templates"]
    if isinstance(data, dict):
        items = [{"id": key, **value} for key, value in data.items()]
    else:
        items = list(data)
    templates = []
    for item in items:
        if isinstance(item, Template):
            templates.append(item)
        elif isinstance(item, dict):
            templates.append(Template(id=str(item["id"]), type=item["type"], body=item["body"],
                                      subject=item.get("subject"), version=int(item.get("version", 1))))
        else:
            raise ValueError("each template must be an object with id, type and body")
    return templates


def _redacted(url: Optional[str]) -> str:
    if not url:
        return "none"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


# ---- command line --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m integrations.govuk_notify.server",
                                     description="A local GOV.UK Notify-compatible server for the demo and tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--api-key", default=os.environ.get("NOTIFY_API_KEY") or None,
                        help="the API key clients use (default: $NOTIFY_API_KEY, else the built-in demo key)")
    parser.add_argument("--callback-url", default=None, help="where to POST delivery receipts")
    parser.add_argument("--callback-token", default=os.environ.get("NOTIFY_CALLBACK_TOKEN") or None,
                        help="bearer token sent with callbacks (default: $NOTIFY_CALLBACK_TOKEN)")
    parser.add_argument("--received-text-callback-url", default=None, help="where to POST received texts")
    parser.add_argument("--templates", metavar="FILE", default=None,
                        help="JSON templates to add to the two default ones")
    parser.add_argument("--receipt-delay", type=float, default=0.2, help="seconds from send to receipt")
    parser.add_argument("--rate-limit", type=int, default=3000, help="sends a minute per API key")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    server = NotifyServer(args.api_key or DEMO_API_KEY, callback_url=args.callback_url,
                          callback_token=args.callback_token,
                          received_text_callback_url=args.received_text_callback_url,
                          receipt_delay=args.receipt_delay, rate_limit_per_minute=args.rate_limit)
    if args.templates:
        server.load_templates(args.templates)
    server.start(args.host, args.port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    key = ("the key given" if args.api_key
           else "the built-in demo key (integrations.govuk_notify.server.DEMO_API_KEY)")
    print(f"GOV.UK Notify local server: {server.url} (service {server.primary_service_id}, {key}; "
          f"templates: {', '.join(f'{t.id} ({t.type})' for t in server.templates)}; "
          f"delivery receipts to {_redacted(server.callback_url)}, "
          f"received texts to {_redacted(server.received_text_callback_url)})", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
