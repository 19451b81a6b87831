"""The real NichePoller against the real NicheSimulator over HTTP, with an in-memory sink."""
from __future__ import annotations

import asyncio
import logging
from typing import Optional, Sequence

import pytest

from integrations.niche.poller import FeedAuthError, FeedError, NichePoller
from integrations.niche.protocol import BadChange, RecordsChange
from integrations.niche.simulator import NicheSimulator, load_sample

TOKEN = "s3cret-token-value"


class MemorySink:
    """Implements RecordsSink: the cursor is stored with the items, atomically, as the real sink must."""

    def __init__(self, cursor: Optional[str] = None, fail_applies: int = 0) -> None:
        self._cursor = cursor
        self.items: list[RecordsChange | BadChange] = []
        self.applies = 0
        self.fail_applies = fail_applies

    async def cursor(self) -> Optional[str]:
        return self._cursor

    async def apply(self, items: Sequence[RecordsChange | BadChange], next_cursor: str) -> None:
        if self.fail_applies:
            self.fail_applies -= 1
            raise RuntimeError("database is down")
        self.items.extend(items)
        self._cursor = next_cursor
        self.applies += 1

    @property
    def good(self) -> list[RecordsChange]:
        return [i for i in self.items if isinstance(i, RecordsChange)]

    @property
    def bad(self) -> list[BadChange]:
        return [i for i in self.items if isinstance(i, BadChange)]


@pytest.fixture
def sim():
    simulator = NicheSimulator(token=TOKEN).start()
    yield simulator
    simulator.stop()


SAMPLE_IDS = [c["change_id"] for c in load_sample()]


def poller(sim, sink, **kw) -> NichePoller:
    kw.setdefault("interval", 0.05)
    kw.setdefault("backoff_initial", 0.02)
    kw.setdefault("backoff_max", 0.2)
    return NichePoller(sim.url, sink, kw.pop("token", TOKEN), **kw)


async def run_until(p: NichePoller, condition, timeout: float = 5.0) -> None:
    task = asyncio.create_task(p.run())
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                if task.done():
                    break
                await asyncio.sleep(0.01)
    finally:
        await asyncio.wait_for(p.stop(), 5)
        await asyncio.wait_for(task, 5)


@pytest.mark.asyncio
async def test_pages_through_all_sample_changes_in_order(sim):
    sink = MemorySink()
    p = poller(sim, sink, limit=5)
    counts = []
    try:
        while True:
            counts.append(await p.poll_once())
            if counts[-1] < 5:
                break
    finally:
        await p.aclose()
    assert counts == [5, 5, 2]
    assert [i.change_id for i in sink.items] == SAMPLE_IDS
    assert all(isinstance(i, RecordsChange) for i in sink.items)
    assert [r["after"] for r in sim.requests] == [None, "pos-5", "pos-10"]
    assert all(r["limit"] == "5" for r in sim.requests)
    # The sample was moved to now: nothing is in the future.
    assert max(i.occurred_at for i in sink.items) <= __import__("datetime").datetime.now(
        __import__("datetime").timezone.utc)


@pytest.mark.asyncio
async def test_run_follows_full_pages_at_once_then_waits(sim):
    sink = MemorySink()
    p = poller(sim, sink, limit=4, interval=30)
    await run_until(p, lambda: len(sink.items) == len(SAMPLE_IDS))
    assert [i.change_id for i in sink.items] == SAMPLE_IDS
    assert p.status["cursor"] == f"pos-{len(SAMPLE_IDS)}"
    assert p.status["state"] == "idle"


@pytest.mark.asyncio
async def test_resumes_from_stored_cursor_and_picks_up_new_changes(sim):
    sink = MemorySink(cursor="pos-7")
    p = poller(sim, sink)
    try:
        assert await p.poll_once() == len(SAMPLE_IDS) - 7
        assert [i.change_id for i in sink.items] == SAMPLE_IDS[7:]
        assert sim.requests[0]["after"] == "pos-7"
        # Nothing new: no items, cursor unchanged, sink not called.
        applies = sink.applies
        assert await p.poll_once() == 0
        assert sink.applies == applies
        new = dict(load_sample()[-1], change_id="c-0106", event="VPS_OFFERED", detail={})
        sim.append_change(new)
        assert await p.poll_once() == 1
        assert sink.items[-1].change_id == "c-0106"
    finally:
        await p.aclose()


@pytest.mark.asyncio
async def test_duplicates_are_passed_to_the_sink(sim):
    sim.append_change(load_sample()[0])
    sink = MemorySink()
    p = poller(sim, sink)
    try:
        await p.poll_once()
    finally:
        await p.aclose()
    assert [i.change_id for i in sink.items] == SAMPLE_IDS + [SAMPLE_IDS[0]]


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [429, 500, 503])
async def test_backs_off_on_429_and_5xx_and_recovers_without_skipping(sim, status):
    sim.fail_next(3, status)
    sink = MemorySink()
    p = poller(sim, sink, limit=5)
    await run_until(p, lambda: len(sink.items) == len(SAMPLE_IDS))
    assert [i.change_id for i in sink.items] == SAMPLE_IDS
    assert [r["status"] for r in sim.requests[:4]] == [status, status, status, 200]
    assert all(r["after"] is None for r in sim.requests[:4])
    assert p.status["errors"] == 3
    assert p.status["last_error"] == f"HTTP {status}"


@pytest.mark.asyncio
async def test_poll_once_raises_feed_error_on_5xx(sim):
    sim.fail_next(1, 502)
    sink = MemorySink()
    p = poller(sim, sink)
    try:
        with pytest.raises(FeedError):
            await p.poll_once()
        assert sink.items == []
        assert await p.poll_once() == len(SAMPLE_IDS)
    finally:
        await p.aclose()


@pytest.mark.asyncio
async def test_retry_after_is_respected(sim):
    sim.fail_next(1, 429, retry_after=0.5)
    sink = MemorySink()
    p = poller(sim, sink, backoff_initial=0.01, backoff_max=2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await run_until(p, lambda: len(sink.items) == len(SAMPLE_IDS))
    assert loop.time() - started >= 0.5


def test_backoff_grows_with_equal_jitter_and_is_capped():
    p = NichePoller("http://127.0.0.1:1", MemorySink(), backoff_initial=1, backoff_max=8, rng=lambda: 1.0)
    assert [p._next_delay() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    p = NichePoller("http://127.0.0.1:1", MemorySink(), backoff_initial=1, backoff_max=8, rng=lambda: 0.0)
    assert [p._next_delay() for _ in range(3)] == [0.5, 1, 2]
    assert p._next_delay(retry_after=100) == 8


@pytest.mark.asyncio
async def test_timeouts_and_unreachable_feed_back_off():
    sink = MemorySink()
    p = NichePoller("http://127.0.0.1:1", sink, interval=0.05, backoff_initial=0.01, backoff_max=0.05)
    await run_until(p, lambda: p.status["errors"] >= 3, timeout=3)
    assert p.status["errors"] >= 3
    assert p.status["last_error"].startswith("cannot reach the feed")
    assert p.status["state"] == "idle" and not p.stopped


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failure_stops_polling_with_a_clear_status(sim, status, caplog):
    if status == 401:
        token = "wrong-token-value"
    else:
        token = TOKEN
        sim.fail_next(1, 403)
    sink = MemorySink()
    p = poller(sim, sink, token=token)
    with caplog.at_level(logging.DEBUG):
        task = asyncio.create_task(p.run())
        await asyncio.wait_for(task, 5)  # run() ends by itself
    assert p.stopped
    assert p.status["state"] == "stopped"
    assert f"HTTP {status}" in p.status["stopped_reason"]
    assert "credentials" in p.status["stopped_reason"]
    assert len(sim.requests) == 1
    assert sink.items == []
    assert any(r.levelno >= logging.CRITICAL and "STOPPED" in r.getMessage() for r in caplog.records)
    assert token not in caplog.text and TOKEN not in caplog.text
    with pytest.raises(FeedAuthError):
        await p.poll_once()
    assert len(sim.requests) == 1
    await p.aclose()


@pytest.mark.asyncio
async def test_bad_changes_arrive_as_badchange_and_later_ones_still_apply(sim):
    sample = load_sample()
    broken = dict(sample[1], change_id="c-0200")
    broken["person"] = dict(broken["person"], contact=dict(broken["person"]["contact"], preferred_channel="FAX"))
    sim.append_raw(broken)
    sim.append_raw("just a string")
    sim.append_change(dict(sample[-1], change_id="c-0201", event="VPS_TAKEN", detail={}))
    sink = MemorySink()
    p = poller(sim, sink)
    try:
        assert await p.poll_once() == len(SAMPLE_IDS) + 3
    finally:
        await p.aclose()
    assert [b.change_id for b in sink.bad] == ["c-0200", None]
    assert sink.bad[0].reason == "person.contact.preferred_channel: unknown value 'FAX'"
    assert sink.bad[1].reason == "not a JSON object"
    assert sink.items[-1].change_id == "c-0201" and isinstance(sink.items[-1], RecordsChange)
    assert p.status["bad_changes"] == 2


@pytest.mark.asyncio
async def test_sink_failure_retries_the_same_page(sim):
    sink = MemorySink(fail_applies=2)
    p = poller(sim, sink, limit=5)
    await run_until(p, lambda: len(sink.items) == len(SAMPLE_IDS))
    assert [i.change_id for i in sink.items] == SAMPLE_IDS
    assert [r["after"] for r in sim.requests[:3]] == [None, None, None]
    assert p.status["errors"] == 2
