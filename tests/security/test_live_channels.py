"""Live channels attacked through the real socket (issue 9, points 1, 2 and the last clause of 6).

Each test connects to the running product's `/_event` endpoint as a script would, with no browser: client
tokens of its own choosing, a Cookie header or none, no Origin header, any event. What must hold:
- a socket can name neither the board's nor an attendance's channel (`?token=board`, `attendance-<n>`), and
  the answer is the same whether the incident exists;
- a client token that is not the shape Reflex issues (a UUID) is refused;
- a victim's tab gets nothing once its link has expired, and an expired link opens nothing;
- a board tab stops receiving the board within seconds of sign-out, expiry, lock-out, deactivation or a role
  change, and a reconnecting tab of an ended session hydrates no rows;
- a socket that keeps sending invalid events is disconnected;
- after all of it, neither `.states/` nor the app's log holds a session token or the cookie.
"""
from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]

ROOT = Path(__file__).resolve().parents[2]
SESSION_COOKIE = "vj_staff"

BOARD_VIEW = "board_state____board_view"
TRACK_VIEW = "track_state____track_view"
TRACK_PAGE = "track_state____track_page"
CUT_SECONDS = 5  # a live tab must stop within this many seconds of its session ending
QUIET = 1.5  # how long to listen for something that must not arrive


def _rows(client) -> list:
    return client.values(BOARD_VIEW).get("rows") or []


def _shows(client, urn: str) -> bool:
    return any(row.get("urn") == urn for row in _rows(client))


def _normalised(client) -> tuple[str, str]:
    """A socket's answer with its own session id and token masked, to compare two refusals."""
    text = client.text().replace(client.sid, "<sid>").replace(client.token, "<token>") if client.sid else \
        client.text().replace(client.token, "<token>")
    return client.outcome, re.sub(r"\d{2}:\d{2}", "<time>", text)


# ---- channels nobody can name ----------------------------------------------------------------------------

async def test_the_board_channel_cannot_be_named(attendance, raw_socket):
    before = attendance()
    attackers = [await raw_socket(token=token, path="/board") for token in ("board", "BOARD", "board-1")]
    attackers.append(await raw_socket(path="/board"))  # a proper client token, but no cookie
    after = attendance()  # a change the board pushes
    await asyncio.sleep(QUIET)
    for client in attackers:
        seen = client.text()
        for leaked in (before.urn, after.urn, before.location):
            assert leaked not in seen, f"token {client.token!r} received {leaked}"
        assert _rows(client) == []


async def test_attendance_channels_cannot_be_named_and_refusals_look_alike(attendance, raw_socket):
    a = attendance(upto=2)  # opened, assigned
    existing = await raw_socket(token=f"attendance-{a.incident_id}")
    missing = await raw_socket(token=f"attendance-{a.incident_id + 100000}")
    a.send(2)  # the car is on its way: pushed to the attendance's channel
    await asyncio.sleep(QUIET)
    for client in (existing, missing):
        assert "Officer assigned" not in client.text() and "on the way" not in client.text()
        assert not client.values(TRACK_VIEW).get("status")
    assert _normalised(existing) == _normalised(missing)


NOT_CLIENT_TOKENS = {
    "board": "board", "counter": "attendance-1", "channel-shaped": "a" * 64, "word": "not-a-token",
    "upper-case-uuid": str(uuid.uuid4()).upper(), "uuid-without-dashes": uuid.uuid4().hex,
    "uuid-version-1": str(uuid.uuid1()), "uuid-and-more": str(uuid.uuid4()) + "x", "empty": "",
}


@pytest.mark.parametrize("token", list(NOT_CLIENT_TOKENS.values()), ids=list(NOT_CLIENT_TOKENS))
async def test_a_client_token_not_shaped_as_reflex_issues_is_refused(raw_socket, token):
    client = await raw_socket(token=token)
    assert client.outcome in ("refused", "closed"), f"{token!r}: {client.outcome}"
    assert client.deltas() == []


async def test_a_proper_client_token_still_connects(raw_socket):
    client = await raw_socket(path="/login")
    assert client.outcome == "connected"
    assert client.deltas(), "a real client hydrates"


# ---- victims' links ----------------------------------------------------------------------------------------

async def test_an_expired_link_opens_nothing(attendance, raw_socket):
    now = datetime.now(timezone.utc)
    a = attendance(upto=2, start=now - timedelta(hours=26), closed_at=now - timedelta(hours=24, minutes=5))
    by_link = await raw_socket(path=f"/track/{a.link}")
    by_counter = await raw_socket(token=f"attendance-{a.incident_id}")
    assert await by_link.wait_for(lambda: by_link.values(TRACK_PAGE).get("checked"), 10)
    await asyncio.sleep(QUIET)
    assert by_link.values(TRACK_PAGE).get("valid") is False
    for client in (by_link, by_counter):
        assert "CL/26/041877" not in client.text()  # the crime reference the closed attendance carries
        assert not client.values(TRACK_VIEW).get("status")


async def test_a_victims_tab_is_cut_when_its_link_expires(attendance, raw_socket):
    now = datetime.now(timezone.utc)
    expires_in = 10
    a = attendance(upto=2, start=now - timedelta(hours=24, minutes=20),
                   closed_at=now - timedelta(hours=24) + timedelta(seconds=expires_in))
    tab = await raw_socket(path=f"/track/{a.link}")
    assert await tab.wait_for(lambda: tab.values(TRACK_VIEW).get("crime_reference") == "CL/26/041877", 10), \
        "the tab opened while the link was valid"
    assert await tab.wait_for(lambda: tab.values(TRACK_VIEW).get("crime_reference") == "", expires_in + 45), \
        "the tab still shows the attendance after its link expired"
    assert tab.values(TRACK_VIEW).get("status") in ("", None)
    await tab.close()
    await asyncio.sleep(0.5)
    again = await raw_socket(path=f"/track/{a.link}", token=tab.token)  # the same tab reconnecting
    await asyncio.sleep(QUIET)
    assert "CL/26/041877" not in again.text()


# ---- staff channels follow the session ---------------------------------------------------------------------

ENDINGS = {
    "sign-out": lambda who: who.sign_out(),
    "expiry": lambda who: who.update_session(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)),
    "lock-out": lambda who: who.update_user(locked_until=datetime.now(timezone.utc) + timedelta(minutes=15)),
    "deactivated": lambda who: who.update_user(active=False),
    "role-change": lambda who: who.update_user(role="officer"),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_a_board_tab_stops_when_its_session_ends(attendance, raw_socket, staff, ending):
    who = staff("fcr")
    first = attendance()
    tab = await raw_socket(path="/board", cookie=who.token)
    assert await tab.wait_for(lambda: _shows(tab, first.urn), 15), "the signed-in board shows the attendance"
    await asyncio.to_thread(ENDINGS[ending], who)
    assert await tab.wait_for(lambda: _rows(tab) == [], CUT_SECONDS), f"the board was not cut after {ending}"
    heard = len(tab.frames)
    later = attendance()
    await asyncio.sleep(2.5)  # the publisher pushes within 0.1 s; the board clock every 30 s
    assert later.urn not in "\n".join(tab.frames[heard:]), f"a push reached the tab after {ending}"


async def test_a_reconnecting_board_tab_of_an_ended_session_hydrates_no_rows(attendance, raw_socket, staff):
    who = staff("fcr")
    a = attendance()
    tab = await raw_socket(path="/board", cookie=who.token)
    assert await tab.wait_for(lambda: _shows(tab, a.urn), 15)
    await tab.close()
    await asyncio.sleep(0.5)  # the server forgets the closed socket, so the token is not taken as a duplicate
    await asyncio.to_thread(who.sign_out)
    again = await raw_socket(path="/board", cookie=who.token, token=tab.token)  # same tab, at once
    await asyncio.sleep(QUIET)
    assert '"new_token"' not in again.text(), "the server gave the tab a new token: the test proves nothing"
    assert a.urn not in again.text()
    assert _rows(again) == []


async def test_a_board_tab_of_a_live_session_keeps_receiving(attendance, raw_socket, staff):
    who = staff("supervisor")
    tab = await raw_socket(path="/board", cookie=who.token)
    assert await tab.wait_for(lambda: tab.values("staff_state").get("role") == "supervisor", 15)
    a = attendance()
    assert await tab.wait_for(lambda: _shows(tab, a.urn), 10), "pushes reach a signed-in board"


# ---- invalid events ----------------------------------------------------------------------------------------

async def test_a_socket_sending_invalid_events_is_disconnected(raw_socket):
    client = await raw_socket(path="/login")
    assert client.outcome == "connected"
    await client.emit("rxapp.nothing____here.at_all")
    await asyncio.sleep(0.5)
    assert not client.closed.is_set(), "one mistake is tolerated"
    junk = [
        dict(name="reflex___state____state.no_such_handler"),
        dict(name="", payload={}),
        dict(name="x" * 5000),
        dict(name="reflex___state____state.hydrate", payload=["not", "a", "dict"]),
        dict(name=None, raw='42/_event,["event", "a string, not an object"]'),
        dict(name=None, raw='42/_event,["event", {"name": 7}]'),
    ]
    for _ in range(5):
        for kwargs in junk:
            if not await client.emit(**kwargs):
                break
            await asyncio.sleep(0.02)
    assert await client.wait_for(client.closed.is_set, 5), "the socket was not disconnected"


# ---- nothing sensitive kept (runs last) --------------------------------------------------------------------

async def test_zz_no_session_token_or_cookie_on_disk_or_in_the_log(live_app, raw_socket, staff, issued_secrets):
    who = staff("fcr")
    tab = await raw_socket(path="/board", cookie=who.token)
    await tab.emit("rxapp___attendance___board_state____board_view.no_such_event", path="/board")
    await tab.emit("reflex___state____state.hydrate", payload=["malformed"], path="/board")
    await asyncio.sleep(2)
    tokens = [s for s in issued_secrets if len(s) == 43]  # session tokens and links: token_urlsafe(32) / b64
    assert tokens
    found = []
    log = live_app["log"].read_text(errors="replace")
    found += [f"log: {t[:6]}…" for t in tokens if t in log]
    found += ["log: a Cookie header"] if f"{SESSION_COOKIE}=" in log else []
    states = ROOT / ".states"
    for path in (states.rglob("*") if states.exists() else []):
        if path.is_file():
            data = path.read_bytes()
            found += [f".states/{path.name}: {t[:6]}…" for t in tokens if t.encode() in data]
            found += [f".states/{path.name}: a Cookie header"] if f"{SESSION_COOKIE}=".encode() in data else []
    assert not found, f"{len(found)} secrets kept: {found[:5]}"
