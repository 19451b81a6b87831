"""Live changes to one victim's portal (a new message, a reply, a changed preference), across workers.

A service calls `changed(case_victim_id)` once its transaction has committed (or `changed_after_commit` while
it is still open: the notice then goes when, and only if, the transaction commits). A page waiting in
`wait_for_change(case_victim_id, timeout)` wakes at once. Services run in worker threads
(`asyncio.to_thread`), so `changed` never touches an event loop's objects directly: it asks each waiter's own
loop to wake it (`call_soon_threadsafe`).

With `REDIS_URL` set (several workers), `changed` also publishes the change once on a Redis pub/sub channel, and
each worker whose pages wait listens there (a task started by its first wait) and wakes its own waiters. What
is published is only the case victim's channel key, an HMAC of its id under the server secret
(`links.channel_token`), and a random name for the publishing process (which has woken its own pages already);
the channel's name is the deployment's HMAC too. A message lost while Redis was away is made up for when the
subscription is back (every waiting page here re-reads), and in any case by the pages' re-read every
PORTAL_LIVE_RECHECK seconds. Without Redis everything stays within the process.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import threading
from contextlib import suppress
from typing import Any, Optional

from sqlalchemy import event
from sqlalchemy.orm import Session

from rxapp.plumbing.config import settings
from rxapp.plumbing.links import channel_token
from rxapp.plumbing.pubsub import listen_forever

log = logging.getLogger(__name__)

_lock = threading.Lock()
_waiters: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
_versions: dict[int, int] = {}
_keys: dict[str, int] = {}  # channel key -> case victim id, for the ids this process's pages wait on
_SESSION_KEY = "vj_portal_live"
PUBSUB_CHANNEL = "vj:portal-live"  # the Redis pub/sub channel's prefix (the deployment's HMAC follows)


def version(case_victim_id: int) -> int:
    """How many changes this process has seen for the case victim (a page keeps it to miss none)."""
    with _lock:
        return _versions.get(case_victim_id, 0)


def case_key(case_victim_id: int) -> str:
    """What a message across workers names a case victim by: never its id in clear."""
    return channel_token("portal-live", int(case_victim_id))


def changed(case_victim_id: int) -> None:
    """Wake every page waiting on this case victim, on every worker. Safe from any thread."""
    _wake(case_victim_id)
    relay.publish(case_victim_id)


def _wake(case_victim_id: int) -> None:
    with _lock:
        _versions[case_victim_id] = _versions.get(case_victim_id, 0) + 1
        waiters = list(_waiters.get(case_victim_id, ()))
    for loop, flag in waiters:
        try:
            loop.call_soon_threadsafe(flag.set)
        except RuntimeError:
            pass  # that loop has closed: its waiter is gone with it


def changed_after_commit(session: Session, case_victim_id: int) -> None:
    """`changed(case_victim_id)` once `session` commits; nothing if it rolls back."""
    pending: Optional[set[int]] = session.info.get(_SESSION_KEY)
    if pending is None:
        pending = session.info[_SESSION_KEY] = set()

        def _after_commit(committed: Session) -> None:
            ids = committed.info.pop(_SESSION_KEY, set())
            for one in sorted(ids):
                changed(one)

        def _after_rollback(rolled: Session) -> None:
            # What was pending is forgotten; a later change in this session registers afresh (the listener
            # left behind then finds nothing, or the new ids, and notifies each once).
            rolled.info.pop(_SESSION_KEY, None)

        event.listen(session, "after_commit", _after_commit, once=True)
        event.listen(session, "after_rollback", _after_rollback, once=True)
    pending.add(case_victim_id)


async def wait_for_change(case_victim_id: int, timeout: float, since: Optional[int] = None) -> bool:
    """True as soon as the case victim changes (or has changed since `version` gave `since`), False after
    `timeout` seconds with no change."""
    loop = asyncio.get_running_loop()
    flag = asyncio.Event()
    entry = (loop, flag)
    key = case_key(case_victim_id) if relay.enabled() else ""
    with _lock:
        if since is not None and _versions.get(case_victim_id, 0) != since:
            return True
        _waiters.setdefault(case_victim_id, set()).add(entry)
        if key:
            _keys[key] = case_victim_id
    try:
        if key:
            await relay.ensure_listening()
        await asyncio.wait_for(flag.wait(), timeout)
        return True
    except asyncio.TimeoutError:
        return False
    finally:
        with _lock:
            waiting = _waiters.get(case_victim_id)
            if waiting is not None:
                waiting.discard(entry)
                if not waiting:
                    del _waiters[case_victim_id]
                    if key:
                        _keys.pop(key, None)


def _wake_all() -> None:
    """Every page of this process re-reads (after a gap in which a change from elsewhere may have been lost)."""
    with _lock:
        ids = list(_waiters)
    for one in ids:
        _wake(one)


class Relay:
    """The Redis side: one publish per change, one subscription per process that has pages waiting."""

    def __init__(self) -> None:
        self.redis_url: Optional[str] = None
        self.channel = ""
        self._configured = False
        self._client: Any = None  # a synchronous client: `changed` is called from worker threads
        self._origin = ("", 0)  # (random name, pid): a worker forked after import gets its own name
        self._task: Optional[asyncio.Task] = None
        self._subscribed: Optional[asyncio.Event] = None
        self.published = 0
        self.heard = 0  # messages from other processes that woke a page here
        self.resyncs = 0  # subscriptions regained after a loss (every waiting page woken)

    def configure(self, redis_url: Optional[str], deployment: str) -> None:
        """Tests and scripts; the app reads REDIS_URL and the server secret on first use."""
        self.redis_url, self._configured, self._client = redis_url or None, True, None
        self.channel = f"{PUBSUB_CHANNEL}:{deployment}"

    def enabled(self) -> bool:
        if not self._configured:
            self.configure(settings().redis_url, channel_token("portal-live", "pubsub")[:16])
        return bool(self.redis_url)

    def origin(self) -> str:
        name, pid = self._origin
        if pid != os.getpid():
            self._origin = (name := secrets.token_hex(8), os.getpid())
        return name

    def publish(self, case_victim_id: int) -> None:
        if not self.enabled():
            return
        message = json.dumps({"k": case_key(case_victim_id), "o": self.origin()}, separators=(",", ":"))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:  # never block an event loop on Redis
            loop.run_in_executor(None, self._publish, message)
        else:
            self._publish(message)

    def _publish(self, message: str) -> None:
        try:
            if self._client is None:
                import redis

                self._client = redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
            self._client.publish(self.channel, message)
            self.published += 1
        except Exception as exc:  # Redis away: other workers' pages catch up at their re-read
            log.warning("portal live change not published (%s)", type(exc).__name__)

    async def ensure_listening(self, wait: float = 2.0) -> None:
        """Start this process's listener on the running loop if it has none, and give it up to `wait` seconds to
        subscribe, so a page that starts waiting misses no change published after."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._subscribed = asyncio.Event()
            self._task = loop.create_task(self.listen(self._subscribed), name="portal-live")
        if self._subscribed is not None and not self._subscribed.is_set():
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._subscribed.wait()), wait)

    def deliver(self, raw: Any) -> None:
        message = json.loads(raw)
        if message.get("o") == self.origin():
            return  # this process woke its own pages when it published
        with _lock:
            case_victim_id = _keys.get(str(message.get("k", "")))
        if case_victim_id is not None:
            self.heard += 1
            _wake(case_victim_id)

    async def listen(self, subscribed: asyncio.Event) -> None:
        """Deliver every message from other processes for as long as the loop runs; a lost Redis connection is
        retried, and once subscribed again every waiting page here re-reads (what it missed is not kept)."""
        def caught_up() -> None:
            self.resyncs += 1
            _wake_all()

        await listen_forever(self.redis_url, self.channel, self.deliver, what="portal live changes",
                             on_subscribed=subscribed.set, on_resubscribed=caught_up)

relay = Relay()
