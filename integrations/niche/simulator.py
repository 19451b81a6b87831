"""A NICHE records feed simulator: a real HTTP server (Starlette under uvicorn, in a thread) serving the
change-feed contract, so the demo and the tests exercise the same poller code path as a force's adapter.

It serves the bundled sample page (`scenarios/records-changes.json`) moved forward by whole days so that
its last change happened today and before now; every date moves by the same number of days (dates of
birth too, so an age on the offence date is unchanged).

`GET /changes?after=<cursor>&limit=<n>` returns `{"changes": [...], "next_cursor": "..."}`. The cursor is
opaque to clients (here `pos-<N>`: N changes served); an unknown cursor is a 400. Faults: `fail_next(n,
status)` answers the next n requests with that status, `require_token(token)` demands a bearer token.
`append_change` adds a change (a repeat of a `change_id` is served again, as a real adapter might) and
`append_raw` adds any JSON value, for malformed input.

A timeline (`NicheSimulator.from_timeline`, e.g. `investigations.investigations(now)`) is a list of
`(offset, change)` pairs, offsets from the moment the simulator starts (`start`). A change with an offset
of 0 or less is served from the start, as it is (its `occurred_at` is in the past). A change with a
positive offset is withheld until `elapsed_wall_seconds * time_scale >= offset_seconds` (time_scale 1 is
real time; 8640 plays one simulated day every 10 s), then released: appended after every change already
served, so cursors stay valid, and stamped with the wall-clock moment it became due (`start +
offset / time_scale`, never later than the request that releases it): its `occurred_at` and, for
`occurrence.recorded`, the occurrence's `recorded_at` become that moment; its other times
(`reported_at`, `first_hearing`) and dates (`bail_date`) move with it, keeping their distance from the
event (a date of birth never moves). `clock` is a wall clock in epoch seconds (`time.time` by default);
inject one in tests.

Run it on its own with `python -m integrations.niche.simulator --port 8767 [--token T]`, or serve the
simulated investigations with `--investigations [--time-scale 8640]`.
"""
from __future__ import annotations

import argparse
import copy
import hmac
import json
import re
import socket
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Optional
from zoneinfo import ZoneInfo

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.storm.protocol import format_timestamp, parse_timestamp

SAMPLE = Path(__file__).resolve().parent / "scenarios" / "records-changes.json"
MAX_LIMIT = 500
TIME_FIELDS = frozenset({"occurred_at", "reported_at", "recorded_at", "first_hearing"})
DATE_FIELDS = frozenset({"bail_date", "date_of_birth"})
# Dates that belong to the event and move with it when a timeline change is released (not date of birth).
EVENT_DATE_FIELDS = frozenset({"bail_date"})
LONDON = ZoneInfo("Europe/London")
DEFAULT_PORT = 8767  # 8766 is the demo's Notify server
_CURSOR = re.compile(r"^pos-(\d{1,9})$")


def load_sample(path: Path = SAMPLE, *, shift_to: Optional[datetime] = None) -> list[dict]:
    """The sample's changes, moved by whole days so the last one falls on `shift_to`'s day (default now)
    and not after it."""
    changes = json.loads(path.read_text(encoding="utf-8"))["changes"]
    now = (shift_to or datetime.now(timezone.utc)).astimezone(timezone.utc)
    last = max(parse_timestamp(c["occurred_at"]) for c in changes)
    days = (now.date() - last.date()).days
    if last + timedelta(days=days) > now:
        days -= 1
    return [_shift(c, timedelta(days=days)) for c in changes]


def _shift(value: Any, delta: timedelta, key: Optional[str] = None) -> Any:
    if isinstance(value, dict):
        return {k: _shift(v, delta, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, delta) for v in value]
    if isinstance(value, str) and key in TIME_FIELDS:
        try:
            return format_timestamp(parse_timestamp(value) + delta)
        except ValueError:
            return value
    if isinstance(value, str) and key in DATE_FIELDS:
        try:
            return (date.fromisoformat(value) + delta).isoformat()
        except ValueError:
            return value
    return value


def _restamp(change: Any, due: datetime) -> Any:
    """A released timeline change, moved so that it happened at `due` (see the module docstring)."""
    if not isinstance(change, dict):
        return change
    try:
        original = parse_timestamp(change.get("occurred_at"))
    except ValueError:
        return {**change, "occurred_at": format_timestamp(due)}
    delta = due - original
    days = timedelta(days=(due.astimezone(LONDON).date() - original.astimezone(LONDON).date()).days)
    moved = {key: _move(value, delta, days, key) for key, value in change.items()}
    moved["occurred_at"] = format_timestamp(due)
    occurrence = moved.get("occurrence")
    if change.get("type") == "occurrence.recorded" and isinstance(occurrence, dict):
        occurrence["recorded_at"] = format_timestamp(due)
        try:
            if parse_timestamp(occurrence.get("reported_at")) > due:
                occurrence["reported_at"] = format_timestamp(due)
        except ValueError:
            pass
    return moved


def _move(value: Any, delta: timedelta, days: timedelta, key: Optional[str] = None) -> Any:
    if isinstance(value, dict):
        return {k: _move(v, delta, days, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_move(v, delta, days) for v in value]
    if isinstance(value, str) and key in TIME_FIELDS:
        try:
            return format_timestamp(parse_timestamp(value) + delta)
        except ValueError:
            return value
    if isinstance(value, str) and key in EVENT_DATE_FIELDS:
        try:
            return (date.fromisoformat(value) + days).isoformat()
        except ValueError:
            return value
    return value


class NicheSimulator:
    """A records feed on a local port: `start()`, point a poller at `url`, `stop()`."""

    def __init__(self, changes: Optional[list[Any]] = None, *, token: Optional[str] = None,
                 shift_to_now: bool = True) -> None:
        if changes is None:
            changes = load_sample() if shift_to_now else json.loads(SAMPLE.read_text("utf-8"))["changes"]
        self._lock = threading.Lock()
        self._changes: list[Any] = [copy.deepcopy(c) for c in changes]
        self._token = token
        self._faults: list[tuple[int, Optional[float]]] = []
        self.requests: list[dict] = []  # {"after", "limit", "status"} per request, for tests
        self._server: Optional[uvicorn.Server] = None
        self._thread: Optional[threading.Thread] = None
        self._port: Optional[int] = None
        self.app = Starlette(routes=[Route("/changes", self._changes_endpoint, methods=["GET"])])
        # A timeline's changes still to come: (offset, change), by offset. See from_timeline.
        self._pending: list[tuple[timedelta, Any]] = []
        self._clock: Callable[[], float] = time.time
        self._time_scale = 1.0
        self._start: Optional[datetime] = None

    @classmethod
    def from_timeline(cls, timeline: Iterable[tuple[timedelta, Any]], *, start: Optional[datetime] = None,
                      time_scale: float = 1.0, clock: Callable[[], float] = time.time,
                      token: Optional[str] = None) -> "NicheSimulator":
        """A feed that plays `timeline` (`(offset from start, change)` pairs): offsets of 0 or less are
        served at once, later ones as wall time times `time_scale` reaches them. `start` (aware) is the
        moment offsets count from, by default `clock()` now; `clock` returns wall time in epoch seconds."""
        if not time_scale > 0:
            raise ValueError("time_scale must be more than 0")
        if start is None:
            start = datetime.fromtimestamp(clock(), timezone.utc)
        elif start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be an aware datetime")
        entries = sorted(timeline, key=lambda entry: entry[0])  # stable: equal offsets keep their order
        zero = timedelta(0)
        sim = cls([change for offset, change in entries if offset <= zero], token=token)
        sim._pending = [(offset, copy.deepcopy(change)) for offset, change in entries if offset > zero]
        sim._clock = clock
        sim._time_scale = float(time_scale)
        sim._start = start.astimezone(timezone.utc)
        return sim

    # ---- control ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("simulator not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def changes(self) -> list[Any]:
        with self._lock:
            return copy.deepcopy(self._changes)

    @property
    def pending(self) -> list[tuple[timedelta, Any]]:
        """The timeline's changes not released yet, as (offset, change), unstamped."""
        with self._lock:
            return [(offset, copy.deepcopy(change)) for offset, change in self._pending]

    @property
    def simulated_elapsed(self) -> timedelta:
        """How far into the timeline the feed is: wall time since `start`, times `time_scale`."""
        if self._start is None:
            return timedelta(0)
        return self._reached()

    def _reached(self) -> timedelta:
        # Rounded to whole microseconds (timedelta's own resolution), so float rounding of the clock
        # cannot hold back a change whose moment has come.
        elapsed = (self._clock() - self._start.timestamp()) * self._time_scale
        return timedelta(microseconds=round(elapsed * 1e6))

    def release_due(self) -> int:
        """Release the timeline changes whose time has come (every request does this first); returns how
        many were released."""
        with self._lock:
            return self._release_due_locked()

    def _release_due_locked(self) -> int:
        if not self._pending or self._start is None:
            return 0
        reached = self._reached()
        released = 0
        while self._pending and self._pending[0][0] <= reached:
            offset, change = self._pending.pop(0)
            due = self._start + offset / self._time_scale
            self._changes.append(_restamp(change, due))
            released += 1
        return released

    def fail_next(self, n: int = 1, status: int = 500, *, retry_after: Optional[float] = None) -> None:
        """Answer the next `n` requests with `status` (and a Retry-After header, when given)."""
        with self._lock:
            self._faults.extend([(status, retry_after)] * n)

    def require_token(self, token: Optional[str]) -> None:
        """Demand `Authorization: Bearer <token>` (None: no authentication)."""
        with self._lock:
            self._token = token

    def append_change(self, change: dict) -> None:
        with self._lock:
            self._changes.append(copy.deepcopy(change))

    def append_raw(self, value: Any) -> None:
        """Any JSON value, served as one element of `changes` exactly as given."""
        with self._lock:
            self._changes.append(copy.deepcopy(value))

    def start(self, host: str = "127.0.0.1", port: int = 0) -> "NicheSimulator":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="niche-simulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("NICHE simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> "NicheSimulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- the endpoint ----------------------------------------------------------------------------

    async def _changes_endpoint(self, request: Request) -> Response:
        after = request.query_params.get("after")
        limit_text = request.query_params.get("limit", str(MAX_LIMIT))
        with self._lock:
            record = {"after": after, "limit": limit_text, "status": 200}
            self.requests.append(record)
            if self._token is not None:
                header = request.headers.get("authorization", "")
                expected = f"Bearer {self._token}"
                if not hmac.compare_digest(header.encode(), expected.encode()):
                    record["status"] = 401
                    return JSONResponse({"error": "unauthorised"}, status_code=401,
                                        headers={"WWW-Authenticate": "Bearer"})
            if self._faults:
                status, retry_after = self._faults.pop(0)
                record["status"] = status
                headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
                return JSONResponse({"error": "injected fault"}, status_code=status, headers=headers)
            try:
                limit = int(limit_text)
            except ValueError:
                limit = -1
            if not 1 <= limit <= MAX_LIMIT:
                record["status"] = 400
                return JSONResponse({"error": "limit must be 1 to 500"}, status_code=400)
            self._release_due_locked()
            if after is None:
                start = 0
            else:
                match = _CURSOR.match(after)
                if match is None or int(match.group(1)) > len(self._changes):
                    record["status"] = 400
                    return JSONResponse({"error": "unknown cursor"}, status_code=400)
                start = int(match.group(1))
            page = copy.deepcopy(self._changes[start:start + limit])
            next_cursor = f"pos-{start + len(page)}"
        return JSONResponse({"changes": page, "next_cursor": next_cursor})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the NICHE records change feed from the sample, or "
                                                 "play the simulated investigations.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--token", default=None)
    parser.add_argument("--investigations", action="store_true",
                        help="serve the simulated investigations (integrations/niche/investigations.py) "
                             "instead of the sample page")
    parser.add_argument("--time-scale", type=float, default=None,
                        help="with --investigations: simulated seconds per real second (default 1; "
                             "8640 plays one day every 10 s)")
    args = parser.parse_args(argv)
    if args.time_scale is not None and not args.investigations:
        parser.error("--time-scale needs --investigations")
    time_scale = 1.0 if args.time_scale is None else args.time_scale
    if not time_scale > 0:
        parser.error("--time-scale must be more than 0")
    if args.investigations:
        from integrations.niche.investigations import investigations

        now = datetime.now(timezone.utc)
        timeline = investigations(now)
        sim = NicheSimulator.from_timeline(timeline, start=now, time_scale=time_scale, token=args.token)
        sim.start(args.host, args.port)
        ahead = [offset for offset, _ in timeline if offset > timedelta(0)]
        last = max(ahead, default=timedelta(0))
        print(f"NICHE records feed simulator on {sim.url}/changes: {len(timeline) - len(ahead)} changes "
              f"now, {len(ahead)} to come over {last.total_seconds() / 86400:.1f} simulated days "
              f"({last.total_seconds() / time_scale:.0f} s at time scale {time_scale:g})", flush=True)
    else:
        sim = NicheSimulator(token=args.token).start(args.host, args.port)
        print(f"NICHE records feed simulator on {sim.url}/changes", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
