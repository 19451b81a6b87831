"""Victims' live rooms attacked through the real socket (issue 13, point 2).

A victim's page gets its attendance's changes as one emit to a socket.io room named by the attendance's channel
token (an HMAC of the server secret). What must hold:
- a socket joins a room only by opening a page whose link checks out: naming the room (even its real name,
  as if it had leaked) in any event, custom socket.io message or path gives nothing;
- a tab of one attendance never receives another's changes;
- a tab whose link expires is told (the emptied view) and then receives nothing of that attendance, even
  while the feed goes on sending its events; reconnecting it shows nothing.
"""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from rxapp.attendance.track_state import attendance_channel

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]

NAMESPACE = "/_event"
TRACK_VIEW = "track_state____track_view"
QUIET = 1.5
OPEN_LINK = "reflex___state____state.rxapp___attendance___track_state____track_view.open_link"


async def test_naming_a_room_gives_nothing(attendance, raw_socket):
    victim = attendance(upto=1)  # opened, not yet assigned
    other = attendance(upto=1)
    room = attendance_channel(victim.incident_id)  # the real name, as if it had leaked
    tab = await raw_socket(path=f"/track/{victim.link}")
    assert await tab.wait_for(lambda: tab.values(TRACK_VIEW).get("status"), 10)
    first = tab.values(TRACK_VIEW)["status"]
    bystander = await raw_socket(path=f"/track/{other.link}")  # a valid tab, of another attendance
    assert await bystander.wait_for(lambda: bystander.values(TRACK_VIEW).get("status") == first, 10)
    stranger = await raw_socket(path="/track/not-a-link")
    by_room_path = await raw_socket(path=f"/track/{room}")
    by_room_token = await raw_socket(token=room, path=f"/track/{victim.link}")  # refused: not a client token
    for client in (stranger, bystander, by_room_path):
        for raw in (
            f'42{NAMESPACE},["join", "{room}"]', f'42{NAMESPACE},["enter_room", {{"room": "{room}"}}]',
            f'42{NAMESPACE},["subscribe", "{room}"]', f'42/,["join", "{room}"]',
        ):
            await client.emit("", raw=raw)
    for client in (stranger, by_room_path):  # the page's own handler, with the room where the link goes
        await client.emit(OPEN_LINK, payload={}, path=f"/track/{room}")
        await client.emit(OPEN_LINK, payload={"room": room}, path="/track/")
    await asyncio.sleep(0.5)
    marks = {id(c): len(c.frames) for c in (stranger, bystander, by_room_path, by_room_token)}

    victim.send(1)  # assigned: pushed to the victim's room
    assert await tab.wait_for(lambda: tab.values(TRACK_VIEW).get("status") not in (first, None), 10), \
        "the victim's own tab gets the change"
    changed = tab.values(TRACK_VIEW)["status"]
    await asyncio.sleep(QUIET)
    for client in (stranger, bystander, by_room_path, by_room_token):
        later = "\n".join(client.frames[marks[id(client)]:])
        assert victim.urn not in later and victim.location not in later
        assert f'"status_rx_state_":"{changed}"' not in later.replace(" ", ""), \
            f"a socket that named the room ({client.token[:8]}) received the victim's change"
    assert by_room_token.outcome in ("refused", "closed")
    assert bystander.values(TRACK_VIEW).get("status") == first


async def test_a_tab_whose_link_expires_hears_nothing_after(attendance, raw_socket):
    now = datetime.now(timezone.utc)
    expires_in = 8
    a = attendance(upto=2, start=now - timedelta(hours=24, minutes=20),
                   closed_at=now - timedelta(hours=24) + timedelta(seconds=expires_in))
    tabs = [await raw_socket(path=f"/track/{a.link}") for _ in range(2)]
    for tab in tabs:
        assert await tab.wait_for(lambda t=tab: t.values(TRACK_VIEW).get("crime_reference") == "CL/26/041877", 10)
    for tab in tabs:
        assert await tab.wait_for(lambda t=tab: t.values(TRACK_VIEW).get("ended") is True, expires_in + 45), \
            "the tab was not told its link expired"
        assert tab.values(TRACK_VIEW).get("status") in ("", None)
    marks = [len(tab.frames) for tab in tabs]
    for index in range(2, len(a.scenario) - 1):  # the feed goes on about the attendance
        a.send(index)
    await asyncio.sleep(QUIET + 1)
    for tab, mark in zip(tabs, marks):
        later = [json.loads(f.split(",", 1)[1]) for f in tab.frames[mark:]]
        assert later == [], f"a tab whose link expired received {str(later)[:200]}"
    await tabs[0].close()
    await asyncio.sleep(0.5)
    again = await raw_socket(path=f"/track/{a.link}", token=tabs[0].token)  # the same tab reconnecting
    await asyncio.sleep(QUIET)
    assert "CL/26/041877" not in again.text() and a.location not in again.text()
