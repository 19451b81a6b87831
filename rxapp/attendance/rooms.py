"""Live rooms: a change to an attendance reaches every open victim page of it in ONE socket.io emit.

Each open `/track/<link>` tab keeps its own Reflex state (`TrackView`: what the page shows when it loads or
reconnects), and once its link has checked out its socket joins the room named by the attendance's channel
token (`links.channel_token`, an HMAC of the server secret: never a constant or a counter, and never anything a
client sends). A change is the victim's small view, sent once to that room as the state delta Reflex's own client
applies to the page's vars (`{"delta": {<TrackView's full name>: {<var>_rx_state_: value}}}`), instead of a
`modify_state` of every linked tab's state (a load, a patch, a pickle and an emit per viewer).

Socket.IO rooms are per process. With `REDIS_URL` set, the process that noticed the change publishes the room
and the view once on a Redis pub/sub channel, and every worker (itself included) emits it to the sockets of that
room it holds. An ended link closes the room the same way: its tabs get the emptied view (`ended` set), then
the room is closed, so nothing reaches them after; a tab rejoins only through `TrackView.open_link`, which checks
its link first.

Redis pub/sub keeps nothing: a change published while a worker's subscription is down (Redis restarting) never
reaches that worker. So once it has subscribed again the worker sends each room its tabs are in the attendance's
current view (`resync`, an expired link ending the room), to its own sockets only.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import suppress
from typing import Any, Optional

from rxapp.attendance.views import ENDED_VIEW, views_to_push
from rxapp.plumbing.pubsub import listen_forever

log = logging.getLogger(__name__)

PUBSUB_CHANNEL = "vj:live-rooms"  # the Redis pub/sub channel's prefix; messages name their room
FIELD_MARKER = "_rx_state_"  # how Reflex names a state's var in a delta (reflex_base.constants.FIELD_MARKER)


class LiveRooms:
    """The rooms of one process's socket server. Until `attach` (tests and scripts without the web app), joins
    are ignored and pushes are only counted."""

    def __init__(self) -> None:
        self.sio: Any = None
        self.namespace = "/_event"
        self.state_name = ""  # the full name of the state whose vars a push carries (TrackView)
        self.redis_url: Optional[str] = None
        self.pubsub_channel = PUBSUB_CHANNEL
        self._redis: Any = None
        self.sent = 0  # pushes and ends this process sent (published, or emitted when alone)
        self.delivered = 0  # room emits this process made to its own sockets
        self._delivered_at: dict[str, float] = {}  # room -> when this process last emitted to it (monotonic)
        self._incident_of: dict[str, int] = {}  # room -> its attendance, for the rooms this process's tabs joined
        self.resyncs = 0

    def attach(self, sio: Any, namespace: str, state_name: str, redis_url: Optional[str] = None,
               deployment: str = "") -> None:
        """`deployment` tells apart deployments sharing a Redis server (Redis pub/sub ignores database numbers)."""
        self.sio, self.namespace, self.state_name, self.redis_url = sio, namespace, state_name, redis_url
        self.pubsub_channel = f"{PUBSUB_CHANNEL}:{deployment}" if deployment else PUBSUB_CHANNEL

    # ---- the tab's side ---------------------------------------------------------------------------------

    async def join(self, sid: str, room: str, incident_id: Optional[int] = None) -> bool:
        """Put a socket of this process in a room (after its link checked out). False if it is gone."""
        if self.sio is None or not sid:
            return False
        manager = self.sio.manager
        # The boot event in the CONNECT packet can run before the connect completes: pre-connected counts.
        if not (manager.is_connected(sid, self.namespace) or manager.is_pre_connected(sid, self.namespace)):
            return False
        await self.sio.enter_room(sid, room, namespace=self.namespace)
        if incident_id is not None:
            self._incident_of[room] = incident_id
        return True

    async def leave(self, sid: str, room: str) -> None:
        if self.sio is not None and sid:
            with suppress(KeyError, ValueError):
                await self.sio.leave_room(sid, room, namespace=self.namespace)

    def delivered_since(self, room: str, since: float) -> bool:
        """Whether this process emitted to `room` at or after `since` (time.monotonic()): a tab that read its view
        before joining reads it again, or it could miss that push."""
        return self._delivered_at.get(room, float("-inf")) >= since

    def members(self, room: str) -> list[str]:
        """The sockets of this process in a room."""
        if self.sio is None:
            return []
        return [sid for sid, _ in self.sio.manager.get_participants(self.namespace, room)]

    # ---- the publisher's side ---------------------------------------------------------------------------

    async def push(self, room: str, fields: dict) -> None:
        """Every tab in the room, on every worker, gets `fields` as the new values of its page's vars."""
        await self._send({"room": room, "fields": fields, "end": False})

    async def push_many(self, pushes: list[tuple[str, dict]]) -> None:
        """`push` of each (room, fields), published in one Redis round trip (a pipeline) when with Redis."""
        messages = [{"room": room, "fields": fields, "end": False} for room, fields in pushes]
        self.sent += len(messages)
        if not self.redis_url:
            for message in messages:
                await self.deliver(message)
            return
        async with (await self._client()).pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(self.pubsub_channel, json.dumps(message, separators=(",", ":")))
            await pipe.execute()

    async def end(self, room: str, fields: dict) -> None:
        """Every tab in the room gets `fields` (the emptied view), then the room is closed on every worker."""
        await self._send({"room": room, "fields": fields, "end": True})

    async def _send(self, message: dict) -> None:
        self.sent += 1
        if self.redis_url:
            await (await self._client()).publish(self.pubsub_channel, json.dumps(message, separators=(",", ":")))
        else:
            await self.deliver(message)

    async def deliver(self, message: dict) -> None:
        """Emit one message to this process's sockets in its room (and close the room for an end)."""
        room = message["room"]
        now = time.monotonic()
        self._delivered_at[room] = now
        if len(self._delivered_at) > 20000:  # only the last few seconds matter (a tab between read and join)
            self._delivered_at = {r: at for r, at in self._delivered_at.items() if at > now - 60}
        if self.sio is None:
            return
        update = {"delta": {self.state_name: {k + FIELD_MARKER: v for k, v in message["fields"].items()}},
                  "events": [], "final": True}
        await self.sio.emit("event", update, room=room, namespace=self.namespace)
        self.delivered += 1
        if message.get("end"):
            await self.sio.close_room(room, namespace=self.namespace)
            self._incident_of.pop(room, None)

    # ---- across workers -----------------------------------------------------------------------------------

    async def _client(self):
        if self._redis is None:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(self.redis_url)
        return self._redis

    async def listen(self) -> None:
        """With Redis: deliver every published message to this process's sockets, for as long as the app runs;
        a lost Redis connection is retried (the pages' own reconnect re-reads their view meanwhile)."""
        if not self.redis_url:
            return
        await listen_forever(self.redis_url, self.pubsub_channel,
                             lambda data: self.deliver(json.loads(data)), what="live rooms",
                             on_resubscribed=self.resync)

    async def resync(self) -> None:
        """After the subscription was lost (Redis restarted): Redis pub/sub keeps nothing, so a change published
        meanwhile never reached this process. Every room its tabs are in gets its attendance's current view again
        (an expired link ends the room), emitted to this process's own sockets only."""
        if self.sio is None:
            return

        held = {room: incident_id for room, incident_id in self._incident_of.items() if self.members(room)}
        self._incident_of = held
        if not held:
            return
        views, expired = await asyncio.to_thread(views_to_push, set(held.values()))
        for room, incident_id in list(held.items()):  # an end forgets its room meanwhile
            if incident_id in expired:
                await self.deliver({"room": room, "end": True, "fields": {**ENDED_VIEW, "ended": True}})
            elif incident_id in views:
                await self.deliver({"room": room, "end": False, "fields": {**views[incident_id], "ended": False}})
        self.resyncs += 1
        log.info("live rooms: Redis subscription back; %d room(s) sent their current view again", len(held))

    async def close(self) -> None:
        if self._redis is not None:
            with suppress(Exception):
                await self._redis.aclose()
            self._redis = None


rooms = LiveRooms()
