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

Run it on its own with `python -m integrations.niche.simulator --port 8766 [--token T]`.
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
from typing import Any, Optional

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
    parser = argparse.ArgumentParser(description="Serve the NICHE records change feed from the sample.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--token", default=None)
    args = parser.parse_args(argv)
    sim = NicheSimulator(token=args.token).start(args.host, args.port)
    print(f"NICHE records feed simulator on {sim.url}/changes", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
