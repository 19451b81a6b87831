"""One Redis pub/sub subscription held for as long as the app runs: the listen-and-resubscribe loop that the
victims' live rooms (`rxapp/attendance/rooms.py`) and the portal's live changes (`rxapp/portal/live.py`) share.

Redis pub/sub keeps nothing: what is published while a process is not subscribed (Redis restarted, unreachable)
never reaches it. So after a lost connection is back, `on_resubscribed` runs, for the caller to send or re-read
the current state. One bad message never stops the others.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from contextlib import suppress
from typing import Any, Awaitable, Callable, Optional, Union

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0

Handler = Callable[..., Union[None, Awaitable[None]]]


async def _call(handler: Optional[Handler], *args: Any) -> None:
    if handler is None:
        return
    result = handler(*args)
    if inspect.isawaitable(result):
        await result


async def listen_forever(redis_url: str, channel: str, on_message: Handler, *, what: str,
                         on_subscribed: Optional[Handler] = None, on_resubscribed: Optional[Handler] = None) -> None:
    """Call `on_message(data)` for every message on `channel` until cancelled. `what` names the listener in the
    log (no personal data); `on_subscribed()` runs after each subscription, `on_resubscribed()` after one that
    follows a lost connection (its failure is logged, and the listening goes on)."""
    import redis.asyncio as aioredis

    lost = False
    while True:
        client = aioredis.from_url(redis_url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel)
            await _call(on_subscribed)
            if lost:
                lost = False
                try:
                    await _call(on_resubscribed)
                except Exception:  # the database away too: the next change or reconnect brings it
                    log.exception("%s: catching up after Redis came back failed", what)
            async for item in pubsub.listen():
                try:
                    await _call(on_message, item["data"])
                except Exception:  # one bad message must not stop the others
                    log.exception("%s: a message could not be handled", what)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis restarted or unreachable
            lost = True
            log.warning("%s lost Redis (%s); retrying in %g s", what, type(exc).__name__, RETRY_SECONDS)
            await asyncio.sleep(RETRY_SECONDS)
        finally:
            with suppress(Exception):
                await pubsub.aclose()
                await client.aclose()
