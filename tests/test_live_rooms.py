"""Live rooms on a real python-socketio server (its packets captured instead of sent): a push is one encoded
packet to every socket in the room and none outside it; an end tells the room and closes it, so a later push
reaches nobody; a socket that is gone cannot join; with Redis, one publish reaches every worker's sockets, and
several rooms' pushes published together (one round trip) each reach their own room; a worker whose Redis
restarted sends its rooms their attendance's current view again once it has subscribed again."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import redis
import socketio

from rxapp.attendance.rooms import LiveRooms
from rxapp.attendance.track_state import attendance_channel

from .test_publisher import _bump
from .test_unassigned_sweep import T0, Feed

NS = "/_event"
STATE = "reflex___state____state.rxapp___attendance___track_state____track_view"


class Worker:
    """One process's socket server, with `sent[eio_sid]` = the Socket.IO packets each connection was sent."""

    def __init__(self, redis_url: str | None = None):
        self.sio = socketio.AsyncServer(async_mode="asgi")
        self.sent: dict[str, list] = {}
        self.encodings = 0
        original = self.sio.packet_class.encode

        def counted(packet):
            self.encodings += 1
            return original(packet)

        self.sio.packet_class = type("Counted", (self.sio.packet_class,), {"encode": counted})

        async def capture(eio_sid, pkt):
            self.sent.setdefault(eio_sid, []).append(json.loads(pkt.data.split(",", 1)[1]))

        self.sio._send_eio_packet = capture
        self.rooms = LiveRooms()
        self.rooms.attach(self.sio, NS, STATE, redis_url, deployment=f"test-{os.getpid()}")

    async def connect(self) -> tuple[str, str]:
        eio_sid = uuid.uuid4().hex
        sid = await self.sio.manager.connect(eio_sid, NS)
        return sid, eio_sid

    def heard(self, eio_sid: str) -> list[dict]:
        return [packet[1]["delta"][STATE] for packet in self.sent.get(eio_sid, [])]


def test_a_push_is_one_packet_to_the_room_and_an_end_closes_it():
    async def scenario():
        w = Worker()
        tabs = [await w.connect() for _ in range(3)]
        outsider = await w.connect()
        for sid, _ in tabs:
            assert await w.rooms.join(sid, "room-a")
        assert set(w.rooms.members("room-a")) == {sid for sid, _ in tabs}
        encodings = w.encodings
        await w.rooms.push("room-a", {"status": "en_route", "ended": False})
        assert w.encodings == encodings + 1  # encoded once for the whole room
        for _, eio in tabs:
            assert w.heard(eio) == [{"status_rx_state_": "en_route", "ended_rx_state_": False}]
        assert w.heard(outsider[1]) == []
        assert w.rooms.delivered_since("room-a", 0.0) and not w.rooms.delivered_since("room-b", 0.0)

        await w.rooms.end("room-a", {"status": "", "ended": True})
        assert w.rooms.members("room-a") == []
        await w.rooms.push("room-a", {"status": "at_scene", "ended": False})
        for _, eio in tabs:
            assert w.heard(eio)[-1] == {"status_rx_state_": "", "ended_rx_state_": True}
            assert len(w.heard(eio)) == 2

        gone_sid, _ = await w.connect()
        await w.sio.manager.disconnect(gone_sid, NS)
        assert not await w.rooms.join(gone_sid, "room-a")  # a socket that is gone cannot join
        await w.rooms.leave(tabs[0][0], "room-x")  # leaving a room it is not in is harmless

    asyncio.run(scenario())


def test_unattached_rooms_ignore_joins():
    async def scenario():
        rooms = LiveRooms()
        assert not await rooms.join("sid", "room")
        await rooms.push("room", {"status": "x"})
        assert rooms.sent == 1 and rooms.members("room") == []

    asyncio.run(scenario())


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


def _redis_answers() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


@pytest.mark.skipif(not _redis_answers(), reason="no Redis at TEST_REDIS_URL")
def test_with_redis_one_publish_reaches_the_room_on_every_worker():
    async def scenario():
        one, two = Worker(REDIS_URL), Worker(REDIS_URL)
        listening = [asyncio.create_task(w.rooms.listen()) for w in (one, two)]
        try:
            a, b = await one.connect(), await two.connect()
            elsewhere = await two.connect()
            await one.rooms.join(a[0], "room-r")
            await two.rooms.join(b[0], "room-r")
            await two.rooms.join(elsewhere[0], "room-s")
            await asyncio.sleep(0.3)  # both subscribed
            await one.rooms.push("room-r", {"status": "en_route", "ended": False})
            for _ in range(50):
                if one.heard(a[1]) and two.heard(b[1]):
                    break
                await asyncio.sleep(0.05)
            assert one.heard(a[1]) == two.heard(b[1]) == [{"status_rx_state_": "en_route", "ended_rx_state_": False}]
            assert two.heard(elsewhere[1]) == []
            assert one.rooms.sent == 1 and (one.rooms.delivered, two.rooms.delivered) == (1, 1)
            # Several rooms' views in one round trip (a burst's chunk): each reaches its own room on every worker.
            await two.rooms.push_many([("room-r", {"status": "at_scene", "ended": False}),
                                       ("room-s", {"status": "assigned", "ended": False})])
            for _ in range(50):
                if len(one.heard(a[1])) == 2 and len(two.heard(b[1])) == 2 and two.heard(elsewhere[1]):
                    break
                await asyncio.sleep(0.05)
            assert one.heard(a[1])[1] == two.heard(b[1])[1] == {"status_rx_state_": "at_scene", "ended_rx_state_": False}
            assert two.heard(elsewhere[1]) == [{"status_rx_state_": "assigned", "ended_rx_state_": False}]
            assert two.rooms.sent == 2 and (one.rooms.delivered, two.rooms.delivered) == (3, 3)  # every worker, every room
            await two.rooms.end("room-r", {"status": "", "ended": True})
            for _ in range(50):
                if not one.rooms.members("room-r") and not two.rooms.members("room-r"):
                    break
                await asyncio.sleep(0.05)
            assert one.rooms.members("room-r") == [] == two.rooms.members("room-r")
        finally:
            for task in listening:
                task.cancel()
            for w in (one, two):
                await w.rooms.close()

    asyncio.run(scenario())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _private_redis(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    for _ in range(100):
        try:
            client.ping()
            return proc
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the private redis-server did not start")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server to restart")
def test_after_redis_restarts_a_worker_sends_its_rooms_their_current_view(db_url):
    """Redis pub/sub keeps nothing: a change published while a worker's subscription is down never reaches its
    tabs. Once subscribed again the worker renders each room's current view and emits it to its own sockets."""
    feed = Feed(db_url)
    incident_id = feed.opened("CLE-20261120-9601", "PRIORITY", T0)
    port = free_port()
    server = _private_redis(port)

    async def scenario():
        nonlocal server
        one = Worker(f"redis://127.0.0.1:{port}/0")
        listening = asyncio.create_task(one.rooms.listen())
        try:
            sid, eio_sid = await one.connect()
            other = await one.connect()
            room = attendance_channel(incident_id)
            assert await one.rooms.join(sid, room, incident_id)
            await one.rooms.join(other[0], "room-without-attendance")  # joined with no attendance: not re-sent
            await asyncio.sleep(0.3)
            server.terminate()
            server.wait(timeout=10)
            await asyncio.sleep(0.5)
            version = await asyncio.to_thread(_bump, db_url, incident_id)  # its push would be lost now
            server = await asyncio.to_thread(_private_redis, port)
            for _ in range(200):
                if one.rooms.resyncs:
                    break
                await asyncio.sleep(0.05)
            assert one.rooms.resyncs == 1
            heard = one.heard(eio_sid)
            assert heard and heard[-1]["version_rx_state_"] == version and heard[-1]["ended_rx_state_"] is False
            assert heard[-1]["labels_rx_state_"]  # the whole view, as a fresh load reads it
            assert one.heard(other[1]) == []
        finally:
            listening.cancel()
            await one.rooms.close()

    try:
        asyncio.run(scenario())
    finally:
        server.kill()
        server.wait(timeout=10)


def test_after_losing_redis_each_room_gets_its_current_view_again(monkeypatch):
    """Redis pub/sub keeps nothing: a change published while a worker was not subscribed (Redis restarted) never
    reaches it. When its subscription is back, every room its tabs are in gets its attendance's current view (an
    expired link ends the room instead); a room its tabs have all left, or that ended, is forgotten."""
    from rxapp.attendance import rooms as rooms_module

    current = {7: {"status": "at_scene"}, 8: {"status": "en_route"}, 9: {"status": "assigned"}}
    monkeypatch.setattr(rooms_module, "views_to_push",
                        lambda ids: ({i: current[i] for i in ids if i != 8}, {8} & set(ids)))

    async def scenario():
        w = Worker()
        (a, eio_a), (b, eio_b), (c, _) = [await w.connect() for _ in range(3)]
        assert await w.rooms.join(a, "room-7", 7) and await w.rooms.join(b, "room-8", 8)
        assert await w.rooms.join(c, "room-9", 9)
        await w.rooms.leave(c, "room-9")
        await w.rooms.resync()
        assert w.heard(eio_a)[-1]["status_rx_state_"] == "at_scene"
        assert w.heard(eio_b)[-1]["ended_rx_state_"] is True and w.rooms.members("room-8") == []
        assert set(w.rooms._incident_of) == {"room-7"} and w.rooms.resyncs == 1

    asyncio.run(scenario())
