"""Attack tests against the running product: fixtures any security test can use.

- `live_app`: the real product (`reflex run --env prod`, temporary SQLite, a STORM simulator), the same fixture
  as tests/browser (imported, so a run of tests/security alone starts one product; a run that also takes
  tests/browser starts a second, separate one for those). With TEST_SCALE_OUT=1 it runs on PostgreSQL with
  Redis and two backend workers (tests/browser/conftest.py), so the attacks meet either worker.
- `compiled`: what the built frontend sends when it connects (hydrate event, state hashes, schema).
- `raw_socket`: a factory of raw Socket.IO clients speaking Reflex's protocol on `/_event`, as an attacker's
  script would: any client token, any Cookie header, no Origin unless asked, any event.
- `staff`: a factory of staff accounts with an open session (the session token, as the browser's cookie holds
  it); every token issued is remembered in `issued_secrets`, so a test can check none leaked to disk or logs.
- `attendance`: sends a sample scenario (fresh URN) through the feed and returns the incident, its id and the
  victim's link.

Nothing here trusts the product's own client code: frames are read as raw text.
"""
from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import pytest
import pytest_asyncio
from sqlmodel import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.browser.conftest import STAFF_PASSWORD, shifted_events
from tests.browser.conftest import live_app as live_app  # noqa: F401  (re-exported fixture)

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "/_event"
SESSION_COOKIE = "vj_staff"


# ---- the compiled frontend -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Compiled:
    hydrate_event: str
    hashes: list
    state_schema: str
    reflex_version: str


@pytest.fixture(scope="session")
def compiled(live_app) -> Compiled:
    import importlib.metadata

    text = (ROOT / ".web" / "utils" / "context.jsx").read_text(encoding="utf-8")
    return Compiled(
        hydrate_event=re.search(r"ReflexEvent\('([^']+\.hydrate_and_load)'", text).group(1),
        hashes=json.loads(re.search(r"export const initialStateHashes = (\[[^\]]*\])", text).group(1)),
        state_schema=re.search(r'export const stateSchema = "([0-9a-f]+)"', text).group(1),
        reflex_version=importlib.metadata.version("reflex"),
    )


# ---- a raw socket client ----------------------------------------------------------------------------------

@dataclass
class RawSocket:
    """One Socket.IO connection to `/_event` under a client token of the caller's choosing."""

    base: str
    compiled: Compiled
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    cookie: Optional[str] = None  # the staff session token, sent as the session cookie
    origin: Optional[str] = None
    ws: Optional[ClientConnection] = None
    frames: list[str] = field(default_factory=list)  # every Socket.IO event frame received, raw
    outcome: str = ""  # "connected", "refused" (CONNECT_ERROR or HTTP refusal) or "closed"
    sid: str = ""
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _answered: asyncio.Event = field(default_factory=asyncio.Event)
    _task: Optional[asyncio.Task] = None

    @property
    def url(self) -> str:
        host = self.base.split("://", 1)[1]
        return f"ws://{host}{NAMESPACE}/?token={self.token}&EIO=4&transport=websocket"

    def boot_event(self, path: str) -> dict:
        query = {}
        if path.startswith("/track/"):
            query = {"token": path.rsplit("/", 1)[-1]}
        return {"name": self.compiled.hydrate_event, "payload": {"hashes": self.compiled.hashes},
                "router_data": {"pathname": path.split("?")[0], "asPath": path, "query": query}}

    async def open(self, path: str = "/", timeout: float = 20) -> str:
        """Connect and hydrate `path` as the frontend does; returns the outcome."""
        headers = {"Cookie": f"{SESSION_COOKIE}={self.cookie}"} if self.cookie else None
        try:
            self.ws = await connect(self.url, origin=self.origin, additional_headers=headers,
                                    subprotocols=[self.compiled.reflex_version], max_size=None,
                                    open_timeout=timeout, ping_interval=None, close_timeout=2)
        except InvalidStatus:
            self.outcome = "refused"
            self.closed.set()
            return self.outcome
        opening = await asyncio.wait_for(self.ws.recv(), timeout)
        assert opening.startswith("0"), opening[:80]
        auth = {"event": self.boot_event(path), "state_schema": self.compiled.state_schema}
        await self.ws.send(f"40{NAMESPACE}," + json.dumps(auth, separators=(",", ":")))
        self._task = asyncio.create_task(self._read())
        try:
            await asyncio.wait_for(self._answered.wait(), timeout)
        except asyncio.TimeoutError:
            self.outcome = self.outcome or "no answer"
        return self.outcome

    async def emit(self, name: str, payload: Any = None, path: str = "/", raw: Optional[str] = None) -> bool:
        """Send one event (or a raw frame); False when the socket is already gone."""
        frame = raw if raw is not None else f"42{NAMESPACE}," + json.dumps(
            ["event", {"name": name, "payload": {} if payload is None else payload,
                       "router_data": {"pathname": path, "asPath": path, "query": {}}}])
        try:
            await self.ws.send(frame)
            return True
        except ConnectionClosed:
            return False

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

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if message == "2":
                    await self.ws.send("3")
                elif message.startswith(f"40{NAMESPACE},"):
                    self.outcome = "connected"
                    self.sid = json.loads(message.split(",", 1)[1]).get("sid", "")
                elif message.startswith(f"44{NAMESPACE}"):
                    self.outcome = "refused"
                    self.frames.append(message)
                    self._answered.set()
                elif message.startswith(f"42{NAMESPACE},"):
                    self.frames.append(message)
                    self._answered.set()
                elif message.startswith(f"41{NAMESPACE}") or message == "1":
                    break
        except ConnectionClosed:
            pass
        finally:
            self.outcome = self.outcome or "closed"
            self.closed.set()
            self._answered.set()

    # -- reading what arrived --
    def text(self) -> str:
        return "\n".join(self.frames)

    def deltas(self) -> list[dict]:
        out = []
        for frame in self.frames:
            if not frame.startswith(f"42{NAMESPACE},"):
                continue
            packet = json.loads(frame.split(",", 1)[1])
            if packet and packet[0] == "event" and len(packet) > 1 and isinstance(packet[1], dict):
                out.append(packet[1].get("delta") or {})
        return out

    def values(self, state_suffix: str) -> dict:
        """The newest value of every var of the state whose name ends with `state_suffix`."""
        merged: dict = {}
        for delta in self.deltas():
            for key, values in delta.items():
                if key.endswith(state_suffix) and isinstance(values, dict):
                    merged.update({k.removesuffix("_rx_state_"): v for k, v in values.items()})
        return merged

    async def wait_for(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            await asyncio.sleep(0.1)
        return predicate()


@pytest_asyncio.fixture
async def raw_socket(live_app, compiled):
    """`await raw_socket(token=..., cookie=..., path=...)` -> an opened RawSocket; all are closed afterwards."""
    opened: list[RawSocket] = []

    async def _open(path: str = "/", **kwargs) -> RawSocket:
        client = RawSocket(live_app["base"], compiled, **kwargs)
        opened.append(client)
        await client.open(path)
        return client

    yield _open
    for client in opened:
        await client.close()


# ---- staff accounts and sessions --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def issued_secrets() -> list[str]:
    """Every session token and link the tests were given: none may ever be found on disk or in the log."""
    return []


@dataclass
class Staff:
    username: str
    role: str
    token: str  # the session token the browser's HttpOnly cookie holds
    db_url: str

    def update_user(self, **values) -> None:
        from rxapp.plumbing.db import session_scope
        from rxapp.staff.models import StaffUser

        with session_scope(self.db_url) as s:
            user = s.exec(select(StaffUser).where(StaffUser.username == self.username)).one()
            for key, value in values.items():
                setattr(user, key, value)

    def update_session(self, **values) -> None:
        from rxapp.plumbing.db import session_scope
        from rxapp.plumbing.links import token_hash
        from rxapp.staff.models import StaffSession

        with session_scope(self.db_url) as s:
            row = s.get(StaffSession, token_hash(self.token))
            for key, value in values.items():
                setattr(row, key, value)

    def sign_out(self) -> None:
        """What POST /staff/logout does with the session (the browser test clicks the real button)."""
        from rxapp.plumbing.db import session_scope
        from rxapp.staff.accounts import sign_out

        with session_scope(self.db_url) as s:
            sign_out(s, self.token)


@pytest.fixture
def staff(live_app, issued_secrets):
    """`staff(role)` -> a new account of that role, signed in (its session token in `.token`)."""
    from rxapp.plumbing.db import session_scope
    from rxapp.staff.accounts import create_user, sign_in

    def _make(role: str = "fcr") -> Staff:
        username = f"sec.{role}.{secrets.token_hex(4)}"
        with session_scope(live_app["db_url"]) as s:
            create_user(s, username, STAFF_PASSWORD, role, display_name=f"Security {role}")
        with session_scope(live_app["db_url"]) as s:
            token = sign_in(s, username, STAFF_PASSWORD)
        issued_secrets.append(token)
        return Staff(username, role, token, live_app["db_url"])

    return _make


# ---- attendances through the real feed --------------------------------------------------------------------

@dataclass
class Attendance:
    urn: str
    incident_id: int
    link: str
    location: str
    scenario: list[dict]  # every event of the scenario, the first ones already sent
    feed: Any = None

    def send(self, index: int) -> None:
        """Send one more event of the scenario (e.g. 2: the car is on its way)."""
        self.feed.send(self.scenario[index])


def tagged_scenario(name: str, start: datetime) -> list[dict]:
    """A sample scenario moved to `start`, with a fresh URN and event ids so tests never collide."""
    events = shifted_events(name, start)
    tag = uuid.uuid4().hex[:6].upper()
    text = json.dumps(events)
    for urn in set(re.findall(r"CLE-\d{8}-\d{4}", text)):  # a fresh reference of the contract's shape
        text = text.replace(urn, f"CLE-{datetime.now(timezone.utc):%Y%m%d}-{secrets.randbelow(900000) + 100000}")
    events = json.loads(text)
    for e in events:
        e["event_id"] = f"{e['event_id']}-{tag}"
    return events


def wait_incident(db_url: str, urn: str, timeout: float = 20, closed: bool = False):
    from rxapp.attendance.models import Incident
    from rxapp.plumbing.db import session_scope

    deadline = time.time() + timeout
    while time.time() < deadline:
        with session_scope(db_url, readonly=True) as s:
            inc = s.exec(select(Incident).where(Incident.urn == urn)).first()
            if inc is not None and (not closed or not inc.is_open):
                return inc
        time.sleep(0.1)
    raise AssertionError(f"{urn} never reached the database")


@pytest.fixture
def attendance(live_app, issued_secrets):
    """`attendance(upto=2, start=None, closed_at=None)`: the first `upto` events of burglary-priority (opened,
    assigned, ...) through the feed; `closed_at` also sends its closing event at that time."""
    from rxapp.plumbing.links import derive_token

    def _send(upto: int = 2, start: Optional[datetime] = None, closed_at: Optional[datetime] = None) -> Attendance:
        start = start or datetime.now(timezone.utc) - timedelta(minutes=2)
        events = tagged_scenario("burglary-priority", start)
        chosen = events[:upto]
        if closed_at is not None:
            close = dict(events[-1])
            close["occurred_at"] = closed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            chosen.append(close)
        for event in chosen:
            live_app["feed"].send(event)
        urn = events[0]["incident"]["urn"]
        inc = wait_incident(live_app["db_url"], urn, closed=closed_at is not None)
        link = derive_token(inc.link_nonce)
        issued_secrets.append(link)
        return Attendance(urn, inc.id, link, inc.location_description, events, live_app["feed"])

    return _send
