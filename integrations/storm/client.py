"""The STORM feed client: keeps one resumable WebSocket subscription to the force's gateway and hands
every frame, parsed, to a `FeedSink` (the attendance service in the product, a test double in tests).

The client holds no state that matters: the resume point lives in the sink, written in the same
transaction as the events it covers. So whatever happens (a dropped link, a silent gateway, a database
error while applying) the client closes the connection and subscribes again from the sink's durable
`last_seq`, and the gateway replays what was not yet stored. Delivery is therefore at least once, and
the sink ignores repeated `event_id`s.

Frames already buffered when one arrives are applied together, up to `batch_max`, in one `apply` call:
one transaction per batch is what makes a long replay after an outage fast. Each frame is parsed against the
moment it was received, so times far in the past or future become dead letters (`protocol.FrameRules`).

The gateway's heartbeats go to the sink too (`heartbeat`, in order with the frames around them): the highest
seq the gateway announces is what lets the sink tell a gap the gateway will never fill from a frame that
jumped ahead of the stream (`rxapp/domain/feed_sequence.py`). When the sink accepts a gap it asks for a fresh
subscription, and the client subscribes again at once from the moved resume point.

Nothing here logs a frame's content: callers' names and numbers travel in it. Logs carry seq, type and
reason only.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
from datetime import datetime, timezone
from typing import Any, Callable, Optional, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.protocol import State

from integrations.common import redacted_url
from rxapp.domain.events import DispatchEvent

from .protocol import BadFrame, Heartbeat, parse_frame
from .shapes import CONTRACT, FrameRules

log = logging.getLogger(__name__)

# The websockets library logs every frame's text at DEBUG, and frames carry callers' names and numbers, so
# its logger is held at INFO whatever the root level is. Lower this one logger on purpose to see frames.
_wire_log = logging.getLogger(f"{__name__}.wire")
_wire_log.setLevel(logging.INFO)

# How long to wait for the gateway's side of the closing handshake before dropping the TCP connection.
CLOSE_TIMEOUT = 2.0
OPEN_TIMEOUT = 10.0
# Frames the library may buffer before it stops reading the socket (typically a few hundred bytes each).
READ_AHEAD_FRAMES = 1024


class FeedSink(Protocol):
    """Where parsed frames go. The product's implementation is `rxapp.attendance.AttendanceService`."""

    async def last_seq(self) -> int:
        """The durably stored resume point: the highest seq already applied (0 at first)."""
        ...

    async def apply(self, items: list[DispatchEvent | BadFrame]) -> None:
        """Apply events, store bad frames as dead letters and move the resume point, in ONE transaction."""
        ...

    # Optional: `async def heartbeat(self, seq_high: int) -> bool`, told each heartbeat's highest seq in order
    # with the frames around it; True asks the client to subscribe again from the (moved) resume point.


class StormClient:
    """Subscribes to the gateway at `url` and feeds `sink` until `stop()` is called."""

    def __init__(
        self,
        url: str,
        sink: FeedSink,
        token: str | None = None,
        *,
        heartbeat_timeout: float = 45,
        backoff_initial: float = 1,
        backoff_max: float = 60,
        batch_max: int = 500,
        rng: Callable[[], float] = random.random,
        rules: FrameRules = CONTRACT,
        clock: Optional[Callable[[], datetime]] = None,
    ) -> None:
        """`rules` and `clock` judge each frame's times: against `clock()` (aware UTC; the wall clock unless the
        demo runs on a faster one) at the moment the frame arrives."""
        if batch_max < 1:
            raise ValueError("batch_max must be at least 1")
        self.url = url
        self.sink = sink
        self._token = token
        self.heartbeat_timeout = heartbeat_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.batch_max = batch_max
        self.rules = rules
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._rng = rng
        self._stopping = asyncio.Event()
        self._finished = asyncio.Event()
        self._running = False
        self._ws: Optional[ClientConnection] = None
        self._attempt = 0  # consecutive connections that ended without a healthy exchange
        self._status: dict[str, Any] = {
            "connected": False,
            "last_frame_at": None,
            "last_heartbeat_at": None,
            "seq_high": 0,  # highest seq the gateway has told us about (events or heartbeats)
            "applied_seq": None,  # highest event seq the sink has accepted from this client
            "reconnects": 0,
            "frames": 0,
            "bad_frames": 0,
            "last_error": None,
        }

    # ---- public ----------------------------------------------------------------------------------

    @property
    def status(self) -> dict:
        """A snapshot for health pages. `last_frame_at` and `last_heartbeat_at` are when this process received
        them (aware UTC); `seq_high` is the highest seq the gateway has announced, `applied_seq` the highest
        the sink has accepted from this process; `reconnects` counts connection attempts after the first,
        failed ones included; `frames` and `bad_frames` count since the client was made; `last_error` is a
        short description of the last failure, never a frame's content."""
        return dict(self._status)

    async def run(self) -> None:
        """Connect, subscribe, apply, and reconnect with backoff, until `stop()`. Never raises on network,
        protocol or sink errors; cancelling the task that runs it is the only other way out."""
        if self._running:
            raise RuntimeError("StormClient.run() is already running")
        self._running = True
        self._finished.clear()
        first = True
        try:
            while not self._stopping.is_set():
                if not first:
                    self._status["reconnects"] += 1
                first = False
                delay = await self._connect_once()
                if self._stopping.is_set():
                    break
                await self._sleep(delay)
        finally:
            self._status["connected"] = False
            self._running = False
            self._finished.set()

    async def stop(self) -> None:
        """Stop and wait for `run()` to finish. A batch being applied is allowed to finish first, so the
        sink's transaction is never cut in half. A stopped client stays stopped: make a new one to resume."""
        self._stopping.set()
        ws = self._ws
        if ws is not None:
            await ws.close()
        if self._running:
            await self._finished.wait()

    # ---- one connection --------------------------------------------------------------------------

    async def _connect_once(self) -> float:
        """One connection from handshake to close. Returns how long to wait before the next one."""
        where = redacted_url(self.url)
        try:
            after_seq = await self.sink.last_seq()
        except Exception as exc:  # noqa: BLE001 - a database outage must not end the feed
            self._note_error(f"sink.last_seq failed: {type(exc).__name__}")
            log.error("STORM feed: cannot read the resume point from the sink (%s); retrying",
                      type(exc).__name__)
            return self._next_delay()

        headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
        try:
            ws = await connect(
                self.url,
                additional_headers=headers,
                open_timeout=OPEN_TIMEOUT,
                close_timeout=CLOSE_TIMEOUT,
                # No library limit: an oversized frame must reach parse_frame and become a dead letter.
                # With a limit the library would close the link, the replay would resend the same frame,
                # and the feed would stall on it for ever. The gateway is authenticated and trusted.
                max_size=None,
                # The contract's heartbeats detect a dead link; the library's own pings would queue behind a
                # long backlog of frames and close a healthy link while the sink catches up.
                ping_interval=None,
                # Let the library read well ahead while the sink is busy: the drain below then finds whole
                # batches, and a reset link is noticed after the next batch rather than after the sink has
                # worked through everything the kernel was still holding.
                max_queue=max(READ_AHEAD_FRAMES, 2 * self.batch_max),
                logger=_wire_log,
            )
        except InvalidStatus as exc:
            code = exc.response.status_code
            if 400 <= code < 500:
                # Credentials or configuration are wrong; retrying fast will not fix that, and hammering
                # a force's gateway could lock the account. Keep trying, slowly, so a fix is picked up.
                self._note_error(f"handshake rejected: HTTP {code}")
                log.error("STORM feed at %s rejected the connection with HTTP %d; check STORM_FEED_URL and "
                          "STORM_FEED_TOKEN. Retrying every %.0f s.", where, code, self.backoff_max)
                return self._next_delay(at_max=True)
            self._note_error(f"handshake failed: HTTP {code}")
            log.warning("STORM feed at %s answered HTTP %d; retrying", where, code)
            return self._next_delay()
        except InvalidURI:
            self._note_error("invalid feed URL")
            log.error("STORM_FEED_URL is not a valid ws:// or wss:// URL; retrying every %.0f s",
                      self.backoff_max)
            return self._next_delay(at_max=True)
        except (OSError, asyncio.TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
            self._note_error(f"cannot connect: {type(exc).__name__}")
            log.warning("STORM feed at %s unreachable (%s); retrying", where, type(exc).__name__)
            return self._next_delay()
        except Exception as exc:  # noqa: BLE001 - never let the feed die
            self._note_error(f"cannot connect: {type(exc).__name__}")
            log.warning("STORM feed at %s: unexpected %s while connecting; retrying", where, type(exc).__name__)
            return self._next_delay()

        self._ws = ws
        try:
            if self._stopping.is_set():
                return 0
            await ws.send(json.dumps({"type": "subscribe", "after_seq": after_seq}))
            self._status["connected"] = True
            log.info("STORM feed connected to %s, resuming after seq %d", where, after_seq)
            if await self._receive(ws):
                return 0  # the sink moved its resume point over a confirmed gap: subscribe again at once
        except ConnectionClosed as exc:
            if not self._stopping.is_set():
                self._note_error(f"connection closed: code {_close_code(exc)}")
                log.warning("STORM feed connection closed (code %s); reconnecting", _close_code(exc))
        except (OSError, asyncio.TimeoutError) as exc:
            self._note_error(f"connection lost: {type(exc).__name__}")
            log.warning("STORM feed connection lost (%s); reconnecting", type(exc).__name__)
        except Exception as exc:  # noqa: BLE001
            self._note_error(f"unexpected {type(exc).__name__}")
            log.error("STORM feed: unexpected %s; reconnecting", type(exc).__name__)
        finally:
            self._status["connected"] = False
            self._ws = None
            try:
                await ws.close()
            except Exception:  # noqa: BLE001 - closing a broken link can fail in many ways; it is closed
                pass
        return self._next_delay()

    async def _receive(self, ws: ClientConnection) -> bool:
        """Read and apply batches until the link dies, goes silent or the sink fails (False), or the sink asks
        for a fresh subscription (True)."""
        while not self._stopping.is_set():
            try:
                async with asyncio.timeout(self.heartbeat_timeout):
                    first = await ws.recv(decode=False)
            except TimeoutError:
                self._note_error("heartbeat timeout")
                log.warning("STORM feed silent for %.0f s (no heartbeat); treating the link as dead",
                            self.heartbeat_timeout)
                return False
            frames = [first]
            frames.extend(await self._drain(ws, self.batch_max - 1))
            # Runs of frames between heartbeats, each heartbeat told to the sink after the frames before it.
            runs: list[list] = [[]]
            for parsed in self._parse_batch(frames):
                if isinstance(parsed, Heartbeat):
                    runs[-1].append(parsed)
                    runs.append([])
                else:
                    runs[-1].append(parsed)
            for run in runs:
                beat = run.pop() if run and isinstance(run[-1], Heartbeat) else None
                if run and not await self._apply(run):
                    return False
                if beat is not None and await self._heartbeat(beat):
                    log.info("STORM feed: subscribing again from the moved resume point")
                    return True
            # A healthy exchange: the next outage starts its backoff from the beginning again.
            self._attempt = 0
            if ws.state is not State.OPEN and not self._stopping.is_set():
                # The link died while we were busy. Frames still buffered from it are left for the replay,
                # so reconnection is prompt however far behind the sink is.
                self._note_error(f"connection closed: code {ws.close_code or 1006}")
                log.warning("STORM feed connection closed (code %s); reconnecting", ws.close_code or 1006)
                return False
        return False

    async def _apply(self, items: list[DispatchEvent | BadFrame]) -> bool:
        try:
            await self.sink.apply(items)
        except Exception as exc:  # noqa: BLE001 - the sink rolled back; replay will bring them again
            seqs = [item.seq for item in items if item.seq is not None]
            self._note_error(f"sink.apply failed: {type(exc).__name__}")
            # The exception text is not logged: database errors quote the values they choked on.
            log.error("STORM feed: sink failed to apply %d frame(s), seq %s to %s (%s); reconnecting "
                      "to resume from the stored seq", len(items), min(seqs, default="-"),
                      max(seqs, default="-"), type(exc).__name__)
            return False
        applied = [item.seq for item in items if isinstance(item, DispatchEvent)]
        if applied:
            self._status["applied_seq"] = max(applied + [self._status["applied_seq"] or 0])
        return True

    async def _heartbeat(self, beat: Heartbeat) -> bool:
        """Tell the sink the gateway's highest seq; True when the sink wants a fresh subscription."""
        tell = getattr(self.sink, "heartbeat", None)
        if tell is None:
            return False
        try:
            return bool(await tell(beat.seq_high))
        except Exception as exc:  # noqa: BLE001 - a heartbeat that cannot be stored is told again in 15 s
            self._note_error(f"sink.heartbeat failed: {type(exc).__name__}")
            log.warning("STORM feed: sink failed to note a heartbeat (%s)", type(exc).__name__)
            return False

    async def _drain(self, ws: ClientConnection, limit: int) -> list[bytes]:
        """Frames the library has already buffered, without waiting for more.

        `recv()` returns without suspending when a whole message is buffered, so a zero timeout only
        fires when nothing is waiting; cancelling `recv()` is documented as safe (no message lost)."""
        frames: list[bytes] = []
        while len(frames) < limit:
            try:
                async with asyncio.timeout(0):
                    frames.append(await ws.recv(decode=False))
            except TimeoutError:
                break
            except ConnectionClosed:
                # Apply what already arrived; the next recv() reports the closure.
                break
        return frames

    def _parse_batch(self, frames: list[bytes]) -> list[DispatchEvent | BadFrame | Heartbeat]:
        now = datetime.now(timezone.utc)
        received_at = self._clock()
        items: list[DispatchEvent | BadFrame | Heartbeat] = []
        for raw in frames:
            self._status["frames"] += 1
            self._status["last_frame_at"] = now
            parsed = parse_frame(raw, received_at=received_at, rules=self.rules)
            if isinstance(parsed, Heartbeat):
                self._status["last_heartbeat_at"] = now
                self._status["seq_high"] = max(self._status["seq_high"], parsed.seq_high)
                items.append(parsed)
                continue
            if isinstance(parsed, BadFrame):
                self._status["bad_frames"] += 1
                log.warning("STORM feed: bad frame seq=%s: %s", parsed.seq, parsed.reason)
            else:
                self._status["seq_high"] = max(self._status["seq_high"], parsed.seq)
            items.append(parsed)
        return items

    # ---- backoff ---------------------------------------------------------------------------------

    def _next_delay(self, *, at_max: bool = False) -> float:
        """Exponential backoff with equal jitter: half the ceiling plus a random half. Equal rather than
        full jitter so that a fleet of clients never retries in a tight loop after a gateway restart."""
        if at_max:
            ceiling = self.backoff_max
        else:
            ceiling = min(self.backoff_max, self.backoff_initial * 2 ** min(self._attempt, 32))
        self._attempt += 1
        return ceiling / 2 + self._rng() * ceiling / 2

    async def _sleep(self, delay: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)
        except asyncio.TimeoutError:
            pass

    def _note_error(self, text: str) -> None:
        self._status["last_error"] = text


def _close_code(exc: ConnectionClosed) -> Optional[int]:
    frame = exc.rcvd or exc.sent
    return frame.code if frame is not None else 1006
