"""A lightweight victim-page viewer: speaks Reflex 0.10's websocket protocol the way the generated
`.web/utils/state.js` does, without a browser, so hundreds of viewers fit in one benchmark process.

What a browser on `/track/<link>` does, and what this does too:
  1. GET the page (static HTML);
  2. open `ws://HOST/_event/?token=<session uuid>&EIO=4&transport=websocket` with the page's Origin and the
     Reflex version as websocket sub-protocol (Engine.IO 4 / Socket.IO 5 framing);
  3. send the Socket.IO CONNECT packet for namespace `/_event`, carrying the hydrate event
     (`hydrate_and_load`, with the compiled state hashes and the router data of the page) and the state schema;
  4. answer the server's pings, and apply the `event` packets (state deltas) it receives.

Only the status of `TrackView` is decoded; each change is noted with the `time.perf_counter()` at which its
frame arrived (taken before any parsing).
"""
from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Optional

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

NAMESPACE = "/_event"
TRACK_VIEW_SUFFIX = "rxapp___attendance___track_state____track_view"
TRACK_PAGE_SUFFIX = "rxapp___attendance___track_state____track_page"


class Compiled:
    """What the compiled frontend sends on connect, read from the app's generated `.web/utils/context.jsx`."""

    def __init__(self, web_dir: Path, reflex_version: str):
        text = (web_dir / "utils" / "context.jsx").read_text(encoding="utf-8")
        self.state_schema = re.search(r'export const stateSchema = "([0-9a-f]+)"', text).group(1)
        self.hashes = json.loads(re.search(r"export const initialStateHashes = (\[[^\]]*\])", text).group(1))
        self.hydrate_event = re.search(r"ReflexEvent\('([^']+\.hydrate_and_load)'", text).group(1)
        self.reflex_version = reflex_version


class Viewer:
    """One browser tab on `/track/<link>`."""

    def __init__(self, host: str, port: int, origin: str, compiled: Compiled, link: str, label: str = ""):
        self.host, self.port, self.origin = host, port, origin
        self.compiled = compiled
        self.link = link
        self.label = label
        self.session_token = str(uuid.uuid4())
        self.ws: Optional[ClientConnection] = None
        self.status: Optional[str] = None
        self.valid: Optional[bool] = None
        self.changes: list[tuple[float, str]] = []  # (perf_counter at arrival, new status)
        self.frames = 0
        self.bytes = 0
        self.connected_at: Optional[float] = None
        self.hydrated = asyncio.Event()
        self.closed = asyncio.Event()
        self.error: Optional[str] = None
        self._task: Optional[asyncio.Task] = None
        self._waiters: list[tuple[str, asyncio.Future]] = []

    @property
    def path(self) -> str:
        return f"/track/{self.link}"

    async def open(self, timeout: float = 60) -> float:
        """Connect and hydrate; returns seconds from opening the socket to the first status shown."""
        started = time.perf_counter()
        url = f"ws://{self.host}:{self.port}{NAMESPACE}/?token={self.session_token}&EIO=4&transport=websocket"
        self.ws = await connect(url, origin=self.origin, subprotocols=[self.compiled.reflex_version],
                                max_size=None, open_timeout=timeout, ping_interval=None, close_timeout=2)
        opening = await asyncio.wait_for(self.ws.recv(), timeout)
        if not opening.startswith("0"):
            raise RuntimeError(f"unexpected Engine.IO opening {opening[:80]!r}")
        boot = {
            "name": self.compiled.hydrate_event,
            "payload": {"hashes": self.compiled.hashes},
            "router_data": {"pathname": self.path, "asPath": self.path, "query": {"token": self.link}},
        }
        auth = {"event": boot, "state_schema": self.compiled.state_schema}
        await self.ws.send(f"40{NAMESPACE}," + json.dumps(auth, separators=(",", ":")))
        self.connected_at = time.perf_counter()
        self._task = asyncio.create_task(self._read(), name=f"viewer-{self.label}")
        await asyncio.wait_for(self.hydrated.wait(), timeout)
        return time.perf_counter() - started

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await self.ws.send(f"41{NAMESPACE},")
            except ConnectionClosed:
                pass
            await self.ws.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._task.cancel()

    def wait_for_status(self, status: str) -> asyncio.Future:
        """A future resolved with the arrival time of the first frame showing `status` (now or later)."""
        fut = asyncio.get_running_loop().create_future()
        for at, shown in self.changes:
            if shown == status:
                fut.set_result(at)
                return fut
        self._waiters.append((status, fut))
        return fut

    def arrival_of(self, status: str, after: float = 0.0) -> Optional[float]:
        for at, shown in self.changes:
            if shown == status and at >= after:
                return at
        return None

    async def _read(self) -> None:
        prefix_event = f"42{NAMESPACE},"
        try:
            async for message in self.ws:
                arrived = time.perf_counter()
                self.frames += 1
                self.bytes += len(message)
                if message == "2":
                    await self.ws.send("3")
                elif message.startswith(prefix_event):
                    self._apply(arrived, json.loads(message[len(prefix_event):]))
                elif message.startswith(f"44{NAMESPACE}"):
                    self.error = "connect refused: " + message[:200]
                    self.hydrated.set()
                elif message.startswith(f"41{NAMESPACE}") or message == "1":
                    break
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self.hydrated.set()

    def _apply(self, arrived: float, packet: list) -> None:
        if not packet or packet[0] != "event" or len(packet) < 2 or not isinstance(packet[1], dict):
            return
        delta = packet[1].get("delta") or {}
        for key, values in delta.items():
            if key.endswith(TRACK_PAGE_SUFFIX) and "valid_rx_state_" in values:
                self.valid = values["valid_rx_state_"]
                if self.valid is False:
                    self.error = "the app refused the link"
                    self.hydrated.set()
            if key.endswith(TRACK_VIEW_SUFFIX) and values.get("status_rx_state_"):
                status = values["status_rx_state_"]
                if status != self.status:
                    self.status = status
                    self.changes.append((arrived, status))
                    self.hydrated.set()
                    for waiting in [w for w in self._waiters if w[0] == status]:
                        self._waiters.remove(waiting)
                        if not waiting[1].done():
                            waiting[1].set_result(arrived)


class ReconnectingViewer(Viewer):
    """A tab that reconnects the way Reflex's client does (`.web/utils/state.js`, socket.io's own reconnection off):
    when its connection drops it reconnects at once with the same session token, the hydrate event riding in the
    CONNECT packet again but without the compiled hashes (a reconnect rehydrates in full); an attempt that fails
    (refused, closed before the hydrate) is retried after 200 ms times the failed attempts (at most 10).

    `reconnects` holds, per drop, (when the connection was lost, when the page showed its status again, attempts)
    in `time.perf_counter()` seconds; `shown_at` is when the last full view arrived (a hydrate or a push)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reconnects: list[tuple[float, float, int]] = []
        self.lost_at: Optional[float] = None
        self.failed_attempts = 0
        self.shown_at: Optional[float] = None
        self._view_seen = asyncio.Event()
        self._keeper: Optional[asyncio.Task] = None
        self._stopping = False

    def _apply(self, arrived: float, packet: list) -> None:
        super()._apply(arrived, packet)
        if packet and packet[0] == "event" and len(packet) > 1 and isinstance(packet[1], dict):
            for key, values in (packet[1].get("delta") or {}).items():
                if key.endswith(TRACK_VIEW_SUFFIX) and values.get("status_rx_state_"):
                    self.shown_at = arrived
                    self._view_seen.set()

    def keep_open(self) -> None:
        """Reconnect whenever the connection drops, until `close`."""
        self._keeper = asyncio.create_task(self._keep(), name=f"keeper-{self.label}")

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.closed.is_set() and self.lost_at is None

    async def _keep(self) -> None:
        while not self._stopping:
            await self.closed.wait()
            if self._stopping:
                return
            self.lost_at = lost = time.perf_counter()
            attempts = 0
            while not self._stopping:
                attempts += 1
                try:
                    await self._reconnect_once()
                    break
                except (OSError, asyncio.TimeoutError, ConnectionClosed, RuntimeError, Exception) as exc:  # noqa: BLE001
                    self.error = f"reconnect attempt {attempts}: {type(exc).__name__}: {exc}"[:200]
                    self.failed_attempts += 1
                    await asyncio.sleep(0.2 * min(attempts, 10))
            else:
                return
            self.reconnects.append((lost, self.shown_at, attempts))
            self.lost_at = None
            self.error = None

    async def _reconnect_once(self, timeout: float = 10) -> None:
        if self._task is not None and not self._task.done():  # its end must not touch the new connection's events
            self._task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._task
        self.closed = asyncio.Event()
        self.hydrated = asyncio.Event()
        self._view_seen = asyncio.Event()
        url = f"ws://{self.host}:{self.port}{NAMESPACE}/?token={self.session_token}&EIO=4&transport=websocket"
        self.ws = await connect(url, origin=self.origin, subprotocols=[self.compiled.reflex_version],
                                max_size=None, open_timeout=timeout, ping_interval=None, close_timeout=2)
        opening = await asyncio.wait_for(self.ws.recv(), timeout)
        if not opening.startswith("0"):
            raise RuntimeError(f"unexpected Engine.IO opening {opening[:80]!r}")
        boot = {"name": self.compiled.hydrate_event, "payload": {},
                "router_data": {"pathname": self.path, "asPath": self.path, "query": {"token": self.link}}}
        await self.ws.send(f"40{NAMESPACE}," + json.dumps({"event": boot, "state_schema": self.compiled.state_schema},
                                                          separators=(",", ":")))
        self._task = asyncio.create_task(self._read(), name=f"viewer-{self.label}")
        seen = asyncio.create_task(self._view_seen.wait())
        closed = asyncio.create_task(self.closed.wait())
        done, pending = await asyncio.wait({seen, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if not self._view_seen.is_set():
            with_reason = "closed before its hydrate" if self.closed.is_set() else "no hydrate in time"
            if not self.closed.is_set():
                await self.ws.close()
            raise RuntimeError(with_reason)

    async def close(self) -> None:
        self._stopping = True
        if self._keeper is not None:
            self._keeper.cancel()
            try:
                await self._keeper
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        await super().close()
