"""`NotifyServer`: the local Notify itself. It holds the API keys, templates, notifications and received
texts; runs its ASGI app (`app.NotifyApi`) on a background thread or under any ASGI server; moves each
notification on to its final status and POSTs delivery receipts and received texts to the callback URLs,
retrying as Notify does. Its fault methods come from `faults.FaultControls`.
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import random
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterable, Optional

import httpx
import uvicorn
from starlette.applications import Starlette

from ..client import parse_api_key
from .app import NotifyApi
from .faults import FaultControls, PendingFaults
from .models import (
    DEFAULT_EMAIL_TEMPLATE_ID,
    DEFAULT_SMS_TEMPLATE_ID,
    DEMO_API_KEY,
    CallbackAttempt,
    ReceivedText,
    StoredNotification,
    Template,
    receipt_json,
    received_callback_json,
    templates_from,
)
from .validation import international_digits

log = logging.getLogger(__name__)


class NotifyServer(FaultControls, NotifyApi):
    """A Notify-compatible server for one or more services (one per API key's service id). Its HTTP
    endpoints are `NotifyApi`'s; its fault methods (`fail_next`, `fail_rate`, `delay_next`,
    `accept_then_fail_next`, `set_rate_limit`, `reset`, `faults`, `apply_fault`) are `FaultControls`'."""

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
            for template in templates_from(templates):
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
        self._faults = PendingFaults()
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
        loaded = templates_from(json.loads(Path(path).read_text(encoding="utf-8")))
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

    # ---- what was sent ---------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every notification, received text and callback attempt."""
        with self._lock:
            self._notifications.clear()
            self._received.clear()
            self._callback_log.clear()

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
            source_number=international_digits(source_number),
            destination_number=destination_number or self.inbound_number,
            message=message,
            date_received=self._now(),
            service_id=service_id or self.primary_service_id,
        )
        with self._lock:
            self._received.append(text)
            url, token = self.received_text_callback_url, self.received_text_callback_token
        log.info("local Notify: received text %s stored", text.id)
        payload = received_callback_json(text)
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
            payload = receipt_json(notification)
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

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), timezone.utc)
