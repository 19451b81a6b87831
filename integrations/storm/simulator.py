"""A STORM gateway simulator: a real WebSocket server speaking the dispatch feed contract, so the demo and
the tests exercise the same client code path as a force's gateway would.

It plays recorded scenarios (the bundled `scenarios/*.jsonl` by default) as if they were happening now:
each scenario is moved so that it starts at `start_at` (then 20 s apart by default), every timestamp in
it moves with it, and all of them are merged by time into one stream numbered from seq 1. Simulated
time runs `speed` times faster than real time; an event is released once simulated time reaches it.

With `loop=True` (the demo) the scenarios never run out: scenario starts follow one another `stagger` apart
for as long as the simulator runs, the whole set again and again, and every play after the first is a new
night's work under fresh references (new event ids, URNs, crime references, call signs and callers' numbers:
see `looping.py`), its times moved to when it plays. Loops are planned ahead as simulated time reaches them
and merged by time into the one stream, whose seq keeps rising; a `seed` makes the stream the same every
time. `demo_scenarios()` adds the demo's own scenarios to the samples, among them one that misses its
grade's target. `epoch` ties the simulated clock to the wall clock the way the demo's product reads it
(DEMO_SPEED and DEMO_EPOCH): simulated time = epoch + (wall time - epoch) x speed.

Tests and the browser fixtures can also push frames straight in with `append_event` (given a seq,
released at once) and `append_raw` (sent exactly as given, for malformed input), and cut every client
off with `drop_connections` to exercise resume.

Replay rules: a client subscribing with `after_seq = N` receives every released event with seq > N, in
order, then live ones. Raw frames carry no seq of their own: each is anchored after the event that was
the newest when it was appended, and a replay after N resends the raw frames anchored at N or later.
So a malformed frame may be delivered more than once, as the contract's at-least-once delivery allows.
Each connection gets a heartbeat straight after its replay and then every `heartbeat_interval` real
seconds; its `at` is the simulated STORM clock, like every other time on the stream.

Run it on its own with `python -m integrations.storm.simulator --port 8765 --speed 10 [--token T] [--loop]`.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import hmac
import json
import logging
import os
import random
import signal
import socket
import struct
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .looping import DayUrns, LoopPlan, Scenario, map_times, shift_times
from .protocol import encode_event, format_timestamp, parse_timestamp

log = logging.getLogger(__name__)

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
DEMO_SCENARIO_DIR = SCENARIO_DIR / "demo"
FEED_PATH = "/feed"

# A client that connects but never subscribes is holding a slot for nothing.
SUBSCRIBE_TIMEOUT = 30.0

# Upper bound on the release loop's sleep, so an injected clock is noticed reasonably soon.
_MAX_IDLE = 0.5

# A looping simulator plans at most this many loops per release, so a huge speed cannot stall it.
_MAX_LOOPS_PER_RELEASE = 20
# A looping simulator keeps about this many frames for replays; older ones are let go (a client resuming from
# further back than that is told about the gap by the seq numbers).
_KEEP_FRAMES = 50_000


def bundled_scenarios() -> list[Path]:
    """The sample scenarios shipped with the product (the contract's four), in a stable order."""
    return sorted(SCENARIO_DIR.glob("*.jsonl"))


def demo_scenarios() -> list[Path]:
    """The samples and the demo's own scenarios (`scenarios/demo/`: a priority burglary whose first car is
    diverted and whose second arrives after the target), what the looping demo plays."""
    return bundled_scenarios() + sorted(DEMO_SCENARIO_DIR.glob("*.jsonl"))


@dataclass(frozen=True)
class _Released:
    """One frame in the released stream. `anchor` is the highest seq released when it was added."""

    seq: Optional[int]  # None for a raw frame
    anchor: int
    text: str


class StormSimulator:
    """A STORM gateway on a local port. Start it with `await start()`, point a client at `url`."""

    def __init__(
        self,
        scenarios: list[Path] | None = None,
        *,
        speed: float = 1.0,
        start_at: datetime | None = None,
        stagger: timedelta = timedelta(seconds=20),
        token: str | None = None,
        heartbeat_interval: float = 15.0,
        clock: Callable[[], float] | None = None,
        unique_urns: bool = False,
        compress_time: bool = False,
        loop: bool = False,
        seed: int | None = None,
        epoch: datetime | None = None,
    ) -> None:
        """`clock` returns real elapsed time in seconds (default `time.monotonic`); inject one to control
        release in tests, and call `release_due()` after moving it. `unique_urns` rewrites each URN's
        date to the simulated day and shifts its serial by a random amount, so repeated demo runs into
        one database do not collide. `loop`, `seed` and `epoch`: see the module notes."""
        if speed < 0:
            raise ValueError("speed cannot be negative")
        if heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be positive")
        if loop and stagger <= timedelta(0):
            raise ValueError("a looping simulator needs a positive stagger between scenario starts")
        if epoch is not None and (start_at is not None or speed <= 0):
            raise ValueError("an epoch needs a positive speed and no start_at (it sets the start itself)")
        self.speed = speed
        self.stagger = stagger
        self.heartbeat_interval = heartbeat_interval
        self._token = token
        self._clock = clock or time.monotonic
        self._rng = random.Random(seed)
        now = datetime.now(timezone.utc)
        self._anchor_wall: Optional[datetime] = None
        if epoch is not None:
            epoch = epoch.astimezone(timezone.utc)
            start_at = (epoch + (now - epoch) * speed).replace(microsecond=0)
            # The wall-clock moment at which the simulated clock reads start_at: start() anchors on it.
            self._anchor_wall = epoch + (start_at - epoch) / speed
        self.start_at = (start_at or now.replace(microsecond=0)).astimezone(timezone.utc)
        self._unique_urns = unique_urns
        self._compress_time = compress_time
        self._day_urns = DayUrns(self.start_at, self._rng.randrange(10_000))

        self._released_events: list[dict] = []
        self._stream: list[_Released] = []
        self._stream_base = 0  # frames let go from the front of the stream (looping only)
        self._seq_high = 0
        paths = bundled_scenarios() if scenarios is None else [Path(p) for p in scenarios]
        self._loop = loop
        self._plays = 0  # loops planned so far
        if loop:
            self._plan = LoopPlan([s for s in (Scenario.load(p) for p in paths) if s is not None], self.start_at,
                                  stagger, self._rng, fresh_first_play=unique_urns, compress=self._compressed)
            self._pending: deque[tuple[datetime, dict]] = deque()
            self._plan_loops(self.start_at + self._plan.loop_length)
        else:
            self._pending = deque(self._load(paths))
        self._changed = asyncio.Event()

        self._started_clock: Optional[float] = None
        self._server: Optional[Server] = None
        self._release_task: Optional[asyncio.Task] = None
        self._connections: set[ServerConnection] = set()
        self._host = "127.0.0.1"
        self._port = 0

    # ---- loading ---------------------------------------------------------------------------------

    def _load(self, paths: list[Path]) -> list[tuple[datetime, dict]]:
        merged: list[tuple[datetime, int, int, dict]] = []
        for index, path in enumerate(paths):
            events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            if not events:
                continue
            times = [parse_timestamp(event["occurred_at"]) for event in events]
            delta = self.start_at + index * self.stagger - min(times)
            for order, (event, moment) in enumerate(zip(events, times)):
                shifted = self._compressed(shift_times(event, delta))
                if self._unique_urns:
                    shifted = self._day_urns.rewrite(shifted)
                merged.append((moment + delta, index, order, shifted))
        # Ties keep scenario order, then file order, so a run is reproducible.
        merged.sort(key=lambda item: item[:3])
        seen_ids: set[str] = set()
        timeline = []
        for seq, (moment, _, _, event) in enumerate(merged, start=1):
            event["seq"] = seq
            # The same scenario loaded twice would repeat event ids, and the sink would drop the copies.
            if event.get("event_id") in seen_ids:
                event["event_id"] = str(uuid.uuid4())
            seen_ids.add(event.get("event_id"))
            timeline.append((moment, event))
        return timeline

    def _compressed(self, event: dict) -> dict:
        if self._compress_time and self.speed > 0:
            # The timestamps a client sees follow the wall clock at which each event is released, so a demo
            # played fast reads in wall-clock times (the looping demo uses `epoch` instead: see the notes).
            return map_times(event, lambda t: self.start_at + (t - self.start_at) / self.speed)
        return event

    # ---- looping ---------------------------------------------------------------------------------

    def _plan_loops(self, until: datetime) -> None:
        """Plan every loop starting by `until` (a bounded number per call), merged by time into what is
        pending and renumbered after the last seq released. Loops are planned in order whatever the timing,
        and nothing is released beyond the next unplanned loop's start, so a seed gives one stream."""
        added: list[tuple[datetime, dict]] = []
        for _ in range(_MAX_LOOPS_PER_RELEASE):
            if self._plan.loop_start(self._plays) > until:
                break
            added += self._plan.play(self._plays)
            self._plays += 1
        if not added:
            return
        # A stable sort: for equal times, earlier loops, then scenario order, then file order.
        self._pending = deque(sorted([*self._pending, *added], key=lambda item: item[0]))
        for offset, (_, event) in enumerate(self._pending, start=1):
            event["seq"] = self._seq_high + offset

    # ---- the stream ------------------------------------------------------------------------------

    @property
    def seq_high(self) -> int:
        """The highest seq released so far."""
        return self._seq_high

    @property
    def events(self) -> list[dict]:
        """Every event, released or still to come, as sent on the wire (shifted and renumbered). Looping:
        those kept for replays and those of the loops planned so far."""
        return copy.deepcopy(self._released_events + [event for _, event in self._pending])

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator has not been started")
        return f"ws://{self._host}:{self._port}{FEED_PATH}"

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def simulated_now(self) -> datetime:
        """The simulated STORM clock: `start_at` plus real time since `start()`, times `speed`."""
        if self._started_clock is None:
            return self.start_at
        elapsed = max(0.0, self._clock() - self._started_clock)
        return self.start_at + timedelta(seconds=elapsed * self.speed)

    def release_due(self) -> int:
        """Release every scenario event whose time has come; returns how many were released."""
        if self._started_clock is None:
            return 0
        now = self.simulated_now()
        released = 0
        if self._loop:
            self._plan_loops(now + self._plan.loop_length)
            now = min(now, self._plan.loop_start(self._plays) - timedelta(microseconds=1))
        while self._pending and self._pending[0][0] <= now:
            _, event = self._pending.popleft()
            self._publish_event(event)
            released += 1
        if released:
            self._notify()
        return released

    def append_event(self, event: dict) -> int:
        """Append an event at the current position, give it the next seq and release it at once.
        Its other fields are sent as given, so tests can send duplicates or odd values on purpose."""
        self.release_due()
        event = copy.deepcopy(event)
        event["seq"] = self._seq_high + 1
        self._publish_event(event)
        # Scenario events still to come move up one, so seqs stay strictly increasing on the wire.
        for offset, (_, pending) in enumerate(self._pending, start=1):
            pending["seq"] = self._seq_high + offset
        self._notify()
        return event["seq"]

    def append_raw(self, text: str) -> None:
        """Append a frame exactly as given (possibly malformed) at the current position, released at once."""
        self.release_due()
        self._stream.append(_Released(seq=None, anchor=self._seq_high, text=text))
        self._notify()

    def _publish_event(self, event: dict) -> None:
        self._seq_high = event["seq"]
        self._released_events.append(event)
        self._stream.append(_Released(seq=event["seq"], anchor=self._seq_high, text=encode_event(event)))
        if self._loop and len(self._stream) > 2 * _KEEP_FRAMES:
            drop = len(self._stream) - _KEEP_FRAMES
            del self._stream[:drop]
            self._stream_base += drop
            del self._released_events[:max(0, len(self._released_events) - _KEEP_FRAMES)]

    def _notify(self) -> None:
        # Wake every connection waiting for news, and give later waiters a fresh event to wait on.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _replay_start(self, after_seq: int) -> int:
        """Position (counted from the stream's very first frame) of the first frame a client that has
        processed `after_seq` should receive."""
        for index, frame in enumerate(self._stream):
            if (frame.seq is not None and frame.seq > after_seq) or (frame.seq is None and frame.anchor >= after_seq):
                return self._stream_base + index
        return self._stream_base + len(self._stream)

    # ---- server ----------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on `host:port` (0 picks a free port; read `url` afterwards) and start the clock."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        # No library pings: the contract's heartbeats are the liveness check (see the client).
        self._server = await serve(self._handle, host, port, process_request=self._check_request,
                                   ping_interval=None)
        self._host = host
        self._port = self._server.sockets[0].getsockname()[1]
        self._started_clock = self._clock()
        if self._anchor_wall is not None:
            self._started_clock -= (datetime.now(timezone.utc) - self._anchor_wall).total_seconds()
        self.release_due()
        self._release_task = asyncio.create_task(self._release_loop(), name="storm-simulator-release")

    async def stop(self) -> None:
        """Stop releasing, close every connection and stop listening."""
        if self._release_task is not None:
            self._release_task.cancel()
            try:
                await self._release_task
            except asyncio.CancelledError:
                pass
            self._release_task = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def drop_connections(self) -> None:
        """Cut every client off abruptly, as a network failure or a gateway crash would: no closing
        handshake, and frames not yet delivered are lost rather than flushed first."""
        for connection in list(self._connections):
            sock = connection.transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0: close with a reset, discarding what the kernel still holds for the client.
                # A plain close would deliver everything already written, and then the cut would land
                # wherever the client happened to have read up to, not where the test put it.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.transport.abort()
        # Let the handlers notice and tidy up before the caller carries on.
        await asyncio.sleep(0)

    async def _release_loop(self) -> None:
        while True:
            self.release_due()
            wait = _MAX_IDLE
            if self._pending and self.speed > 0:
                ahead = (self._pending[0][0] - self.simulated_now()).total_seconds() / self.speed
                wait = min(max(ahead, 0.0), _MAX_IDLE)
            await asyncio.sleep(wait)

    def _check_request(self, connection: ServerConnection, request: Request) -> Optional[Response]:
        if urlsplit(request.path).path != FEED_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        if self._token is not None:
            supplied = request.headers.get("Authorization", "")
            expected = f"Bearer {self._token}"
            if not hmac.compare_digest(supplied.encode("utf-8"), expected.encode("utf-8")):
                log.warning("simulator: rejected a connection without the right bearer token")
                response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        self._connections.add(connection)
        closed: Optional[asyncio.Future] = None
        try:
            after_seq = await self._read_subscribe(connection)
            if after_seq is None:
                return
            log.info("simulator: client subscribed after seq %d (released up to %d)", after_seq, self._seq_high)
            loop = asyncio.get_running_loop()
            position = self._replay_start(after_seq)
            next_heartbeat = loop.time()  # one straight after the replay tells the client where it stands
            # Watched alongside the stream, so a dropped client is let go at once rather than at the next send.
            closed = asyncio.ensure_future(connection.wait_closed())
            while not closed.done():
                # Take the wake-up event before reading the stream, so nothing appended in between is missed.
                changed = self._changed
                while position < self._stream_base + len(self._stream):
                    position = max(position, self._stream_base)  # frames let go are not replayed
                    await connection.send(self._stream[position - self._stream_base].text)
                    position += 1
                if loop.time() >= next_heartbeat:
                    await connection.send(encode_event({
                        "type": "heartbeat", "seq_high": self._seq_high,
                        "at": format_timestamp(self.simulated_now()),
                    }))
                    next_heartbeat = loop.time() + self.heartbeat_interval
                news = asyncio.ensure_future(changed.wait())
                await asyncio.wait({news, closed}, timeout=max(0.0, next_heartbeat - loop.time()),
                                   return_when=asyncio.FIRST_COMPLETED)
                news.cancel()
        except ConnectionClosed:
            pass
        finally:
            if closed is not None:
                closed.cancel()
            self._connections.discard(connection)

    async def _read_subscribe(self, connection: ServerConnection) -> Optional[int]:
        try:
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                message = await connection.recv()
        except TimeoutError:
            await connection.close(1008, "expected a subscribe message")
            return None
        try:
            request = json.loads(message)
            after_seq = request["after_seq"]
            valid = request.get("type") == "subscribe" and isinstance(after_seq, int) \
                and not isinstance(after_seq, bool) and after_seq >= 0
        except (ValueError, TypeError, KeyError, AttributeError):
            valid = False
        if not valid:
            await connection.close(1008, "expected {\"type\": \"subscribe\", \"after_seq\": N}")
            return None
        return after_seq


# ---- command line ----------------------------------------------------------------------------------


async def _serve_forever(args: argparse.Namespace) -> None:
    scenarios = [Path(p) for p in args.scenario] if args.scenario else demo_scenarios() if args.loop else None
    simulator = StormSimulator(
        scenarios,
        speed=args.speed,
        stagger=timedelta(seconds=args.stagger),
        token=args.token,
        heartbeat_interval=args.heartbeat_interval,
        unique_urns=args.unique_urns,
        compress_time=args.compress_time,
        loop=args.loop, seed=args.seed, epoch=parse_timestamp(args.epoch) if args.epoch else None,
    )
    await simulator.start(args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    events = f"looping, a scenario every {args.stagger:g} s" if args.loop else f"{len(simulator.events)} events"
    print(f"STORM simulator: {simulator.url} ({events} at {args.speed:g}x speed, "
          f"{'bearer token required' if args.token else 'no token required'})", flush=True)
    try:
        await stop.wait()
    finally:
        await simulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m integrations.storm.simulator",
                                     description="A STORM dispatch feed gateway playing recorded scenarios.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--scenario", action="append", metavar="FILE",
                        help="a .jsonl scenario (repeatable); defaults to the bundled ones")
    parser.add_argument("--stagger", type=float, default=20.0, help="seconds between scenario starts")
    parser.add_argument("--token", default=os.environ.get("STORM_FEED_TOKEN") or None,
                        help="bearer token clients must send (default: $STORM_FEED_TOKEN)")
    parser.add_argument("--heartbeat-interval", type=float, default=15.0)
    parser.add_argument("--compress-time", action="store_true",
                        help="send times as the wall clock at release (a fast demo that still reads true)")
    parser.add_argument("--unique-urns", action="store_true",
                        help="rewrite URNs so repeated runs into one database do not collide")
    parser.add_argument("--loop", action="store_true", help="play the scenarios (with the demo's) again and "
                        "again under fresh references, for as long as it runs")
    parser.add_argument("--seed", type=int, help="the same looping stream every time")
    parser.add_argument("--epoch", help="ISO time at which simulated and wall-clock time agree (the demo's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_serve_forever(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
