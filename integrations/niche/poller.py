"""The NICHE records feed poller: `GET {base_url}/changes?after=<cursor>&limit=500` over httpx, every page
parsed and handed to a `RecordsSink` (the product's records service, or a test double in tests).

The poller holds no state that matters: the cursor lives in the sink, written in the same transaction as
the changes it covers, and is read back before every request. So whatever happens (a 5xx, a timeout, a
database error while applying) the next request asks again from the last durably stored cursor: no page
is ever skipped, and delivery is at least once. A repeated `change_id` is passed through; ignoring it is
the sink's job.

- `200`: every change becomes a `RecordsChange` or a `BadChange` (dead-lettered by the sink while the
  rest of the page applies); the page and its `next_cursor` go to `sink.apply` together. A full page is
  followed at once by the next one; otherwise the poller waits `interval` seconds.
- `429`, `5xx`, timeouts, network errors, a malformed page: exponential backoff with equal jitter
  (a `Retry-After` in seconds is honoured, capped at `backoff_max`).
- `401`/`403`: an alert is logged for administrators and polling STOPS; `status` says why. A stopped
  poller stays stopped: fix the credentials and make a new one.

Nothing here logs a change's content or the token: logs carry change ids, counts and reasons only.
"""
from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timezone
from typing import Any, Callable, Optional, Protocol, Sequence

import httpx

from integrations.common import redacted_url

from .protocol import BadChange, RecordsChange, parse_change

log = logging.getLogger(__name__)

PAGE_LIMIT = 500


class RecordsSink(Protocol):
    """Where parsed pages go."""

    async def cursor(self) -> Optional[str]:
        """The durably stored cursor: the `next_cursor` of the last page applied (None at first)."""
        ...

    async def apply(self, items: Sequence[RecordsChange | BadChange], next_cursor: str) -> None:
        """Apply the changes, store the bad ones as dead letters and store `next_cursor`, in ONE transaction.
        Repeated change_ids change nothing. May be called with no items when only the cursor moves."""
        ...


class FeedError(Exception):
    """A poll that did not complete; `reason` is safe to log and show (no token, no personal data)."""

    def __init__(self, reason: str, *, retry_after: Optional[float] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class FeedAuthError(FeedError):
    """401/403: the feed refused our credentials. Polling stops."""


class NichePoller:
    """Polls the records feed at `base_url` and feeds `sink` until `stop()`, or until the feed refuses the
    credentials."""

    def __init__(
        self,
        base_url: str,
        sink: RecordsSink,
        token: Optional[str] = None,
        *,
        interval: float = 30.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 300.0,
        limit: int = PAGE_LIMIT,
        timeout: float = 30.0,
        client: Optional[httpx.AsyncClient] = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.sink = sink
        self._token = token
        self.interval = interval
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.limit = limit
        self.timeout = timeout
        self._client = client
        self._own_client = client is None
        self._rng = rng
        self._attempt = 0
        self._stopping = asyncio.Event()
        self._finished = asyncio.Event()
        self._running = False
        self._status: dict[str, Any] = {
            "state": "idle",  # idle | running | backing_off | stopped
            "stopped_reason": None,
            "cursor": None,
            "last_poll_at": None,
            "last_success_at": None,
            "polls": 0,
            "changes": 0,
            "bad_changes": 0,
            "errors": 0,
            "last_error": None,
        }

    # ---- public ----------------------------------------------------------------------------------

    @property
    def status(self) -> dict:
        """A snapshot for health pages. `state` is idle, running, backing_off or stopped; `stopped_reason`
        says why polling stopped (e.g. the feed refused the credentials); `last_error` is a short
        description of the last failure, never a change's content or the token."""
        return dict(self._status)

    @property
    def stopped(self) -> bool:
        return self._status["state"] == "stopped"

    async def poll_once(self) -> int:
        """Fetch one page after the sink's cursor and apply it. Returns the number of changes handed to
        the sink (bad ones included). Raises `FeedAuthError` on 401/403 (and the poller is then stopped)
        and `FeedError` on anything to back off from."""
        if self.stopped:
            raise FeedAuthError(self._status["stopped_reason"] or "polling stopped")
        self._status["polls"] += 1
        self._status["last_poll_at"] = datetime.now(timezone.utc)
        try:
            cursor = await self.sink.cursor()
        except Exception as exc:  # noqa: BLE001 - a database outage must not end the feed
            raise self._failed(f"sink.cursor failed: {type(exc).__name__}") from None

        page = await self._fetch(cursor)
        changes, next_cursor = self._page(page, cursor)
        items = [parse_change(change, decoded=True) for change in changes]
        for item in items:
            if isinstance(item, BadChange):
                self._status["bad_changes"] += 1
                log.warning("NICHE feed: bad change id=%s: %s", item.change_id, item.reason)

        if items or next_cursor != cursor:
            try:
                await self.sink.apply(items, next_cursor)
            except Exception as exc:  # noqa: BLE001 - the sink rolled back; the next poll asks again
                # The exception text is not logged: database errors quote the values they choked on.
                raise self._failed(f"sink.apply failed: {type(exc).__name__}") from None
        self._status["cursor"] = next_cursor
        self._status["changes"] += len(items)
        self._status["last_success_at"] = datetime.now(timezone.utc)
        self._attempt = 0
        return len(items)

    async def run(self) -> None:
        """Poll until `stop()` or a 401/403. Never raises on network, feed or sink errors."""
        if self._running:
            raise RuntimeError("NichePoller.run() is already running")
        if self.stopped:
            return
        self._running = True
        self._finished.clear()
        try:
            while not self._stopping.is_set():
                self._status["state"] = "running"
                try:
                    count = await self.poll_once()
                except FeedAuthError:
                    return
                except FeedError as exc:
                    self._status["state"] = "backing_off"
                    await self._sleep(self._next_delay(exc.retry_after))
                    continue
                except Exception as exc:  # noqa: BLE001 - never let the feed die
                    self._failed(f"unexpected {type(exc).__name__}")
                    self._status["state"] = "backing_off"
                    await self._sleep(self._next_delay())
                    continue
                if count < self.limit:
                    await self._sleep(self.interval)
                # A full page: ask again at once, there is more waiting.
        finally:
            if not self.stopped:
                self._status["state"] = "idle"
            self._running = False
            self._finished.set()
            if self._own_client and self._client is not None:
                await self._client.aclose()
                self._client = None

    async def stop(self) -> None:
        """Stop and wait for `run()` to finish; a page being applied finishes first."""
        self._stopping.set()
        if self._running:
            await self._finished.wait()

    async def aclose(self) -> None:
        """Close the HTTP client if the poller made it (run() does this itself on the way out)."""
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    # ---- one request -----------------------------------------------------------------------------

    async def _fetch(self, cursor: Optional[str]) -> Any:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        params: dict[str, Any] = {"limit": self.limit}
        if cursor is not None:
            params["after"] = cursor
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        where = redacted_url(self.base_url)
        try:
            response = await self._client.get(f"{self.base_url}/changes", params=params, headers=headers)
        except httpx.TimeoutException:
            raise self._failed("timeout") from None
        except httpx.HTTPError as exc:
            raise self._failed(f"cannot reach the feed: {type(exc).__name__}") from None

        code = response.status_code
        if code in (401, 403):
            reason = (f"HTTP {code}: the records feed refused the credentials; polling stopped. "
                      "Check NICHE_FEED_URL and NICHE_FEED_TOKEN, then restart the poller.")
            self._status["state"] = "stopped"
            self._status["stopped_reason"] = reason
            self._status["last_error"] = f"HTTP {code}"
            self._status["errors"] += 1
            log.critical("ALERT: NICHE records feed at %s answered HTTP %d; polling has STOPPED until an "
                         "administrator fixes NICHE_FEED_URL / NICHE_FEED_TOKEN", where, code)
            raise FeedAuthError(reason)
        if code == 429 or code >= 500:
            raise self._failed(f"HTTP {code}", retry_after=_retry_after(response))
        if code != 200:
            # Another 4xx is a configuration fault (wrong URL, a cursor the adapter forgot): retrying does
            # not skip anything, so keep trying, slowly, and say so loudly.
            log.error("NICHE records feed at %s answered HTTP %d; retrying", where, code)
            raise self._failed(f"HTTP {code}", retry_after=self.backoff_max)
        try:
            return response.json()
        except ValueError:
            raise self._failed("response is not JSON") from None

    def _page(self, page: Any, cursor: Optional[str]) -> tuple[list, str]:
        if not isinstance(page, dict) or not isinstance(page.get("changes"), list):
            raise self._failed("response has no changes list")
        changes = page["changes"]
        next_cursor = page.get("next_cursor")
        if next_cursor is None and not changes and cursor is not None:
            next_cursor = cursor
        if not isinstance(next_cursor, str) or not next_cursor:
            # Without a cursor the page cannot be stored safely; asking again is the only way not to skip.
            raise self._failed("response has no next_cursor")
        return changes, next_cursor

    # ---- errors and backoff ----------------------------------------------------------------------

    def _failed(self, reason: str, *, retry_after: Optional[float] = None) -> FeedError:
        self._status["last_error"] = reason
        self._status["errors"] += 1
        log.warning("NICHE records feed: %s; backing off", reason)
        return FeedError(reason, retry_after=retry_after)

    def _next_delay(self, retry_after: Optional[float] = None) -> float:
        """Exponential backoff with equal jitter (half the ceiling plus a random half); a server's
        Retry-After is a floor, capped at `backoff_max`."""
        ceiling = min(self.backoff_max, self.backoff_initial * 2 ** min(self._attempt, 32))
        self._attempt += 1
        delay = ceiling / 2 + self._rng() * ceiling / 2
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max))
        return delay

    async def _sleep(self, delay: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)
        except asyncio.TimeoutError:
            pass


def _retry_after(response: httpx.Response) -> Optional[float]:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # the HTTP-date form is rare on feeds; fall back to our own backoff
    return seconds if seconds >= 0 else None


