"""A portal page waiting on one worker wakes at once for a change made on another (rxapp/portal/live.py): with
Redis, the change is published once and every other worker's pages waiting on that case victim wake; what goes
through Redis names the case victim only by an HMAC; a process never wakes its own pages twice; without Redis,
or with Redis gone, the in-process wake still works; once a lost subscription is back, every waiting page
re-reads (what was published meanwhile is not kept)."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest

from rxapp.portal import live

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


def _redis_answers(url: str = REDIS_URL) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


@pytest.fixture
def relay():
    """The module's relay pointed at a deployment of this test's own; afterwards as the app would find it."""
    saved = dict(live.relay.__dict__)
    yield live.relay
    live.relay.__dict__.clear()
    live.relay.__dict__.update(saved)


OTHER_WORKER = """
import sys
from rxapp.portal import live
live.relay.configure(sys.argv[1], sys.argv[2])
live.changed(int(sys.argv[3]))
assert live.relay.published == 1, live.relay.published
"""


@pytest.mark.skipif(not _redis_answers(), reason="no Redis at TEST_REDIS_URL")
def test_a_change_made_by_another_worker_wakes_this_worker_s_page_at_once(relay):
    deployment = f"test-{uuid.uuid4().hex[:8]}"
    relay.configure(REDIS_URL, deployment)
    case_victim_id = 424242

    async def scenario():
        import redis.asyncio as aioredis

        spy = aioredis.from_url(REDIS_URL)
        watch = spy.pubsub(ignore_subscribe_messages=True)
        await watch.subscribe(relay.channel)
        waiting = asyncio.create_task(live.wait_for_change(case_victim_id, 20))
        other = asyncio.create_task(live.wait_for_change(case_victim_id + 1, 1.5))  # another victim: not woken
        await relay.ensure_listening()
        started = time.monotonic()
        # Another process (a second worker) commits a change for this case victim.
        done = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", OTHER_WORKER, REDIS_URL, deployment,
                                                        str(case_victim_id)], capture_output=True, text=True,
                                       timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        assert await asyncio.wait_for(waiting, 5) is True
        woke_after = time.monotonic() - started
        assert await other is False
        message = None
        for _ in range(20):  # the subscribe confirmation is read (and passed over) first
            message = message or await watch.get_message(ignore_subscribe_messages=True, timeout=0.2)
        await watch.aclose()
        await spy.aclose()
        return woke_after, message

    woke_after, message = asyncio.run(scenario())
    # Woken by the message, not by a re-read: the other process's start-up is the most of it.
    assert woke_after < 15 and relay.heard == 1
    body = json.loads(message["data"])
    assert set(body) == {"k", "o"} and body["k"] == live.case_key(case_victim_id)
    for text in (message["channel"].decode(), message["data"].decode()):
        assert str(case_victim_id) not in text  # neither the id nor anything else guessable in clear
    assert deployment in message["channel"].decode() and len(body["k"]) == 64


@pytest.mark.skipif(not _redis_answers(), reason="no Redis at TEST_REDIS_URL")
def test_a_worker_wakes_its_own_pages_once_not_again_through_redis(relay):
    relay.configure(REDIS_URL, f"test-{uuid.uuid4().hex[:8]}")

    async def scenario():
        seen = live.version(77)
        waiting = asyncio.create_task(live.wait_for_change(77, 10))
        await relay.ensure_listening()
        await asyncio.sleep(0.05)
        await asyncio.to_thread(live.changed, 77)  # as a service's commit does, in a worker thread
        assert await asyncio.wait_for(waiting, 2) is True
        await asyncio.sleep(0.5)  # its own message comes back from Redis meanwhile, and is passed over
        return live.version(77) - seen

    assert asyncio.run(scenario()) == 1
    assert relay.published == 1 and relay.heard == 0


def test_with_redis_unreachable_a_change_still_wakes_this_worker_s_pages(relay):
    relay.configure("redis://127.0.0.1:9/0", "test-unreachable")  # nothing listens on port 9

    async def scenario():
        waiting = asyncio.create_task(live.wait_for_change(78, 10))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(live.changed, 78)
        return await asyncio.wait_for(waiting, 5)

    assert asyncio.run(scenario()) is True
    assert relay.published == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server to restart")
def test_once_its_lost_subscription_is_back_every_waiting_page_re_reads(relay):
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    relay.configure(url, f"test-{uuid.uuid4().hex[:8]}")

    def start_redis() -> subprocess.Popen:
        server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if _redis_answers(url):
                return server
            time.sleep(0.05)
        server.kill()
        pytest.skip("the private redis-server did not start")

    server = start_redis()
    try:
        async def scenario():
            waiting = asyncio.create_task(live.wait_for_change(79, 30))
            await relay.ensure_listening()
            assert relay._subscribed.is_set() and not waiting.done()
            server.terminate()  # Redis goes; whatever is published now reaches no one
            await asyncio.to_thread(server.wait, 10)
            await asyncio.sleep(0.3)
            assert not waiting.done()
            again = await asyncio.to_thread(start_redis)
            try:
                return await asyncio.wait_for(waiting, 10), relay.resyncs
            finally:
                again.terminate()
                await asyncio.to_thread(again.wait, 10)

        assert asyncio.run(scenario()) == (True, 1)
    finally:
        if server.poll() is None:
            server.kill()
