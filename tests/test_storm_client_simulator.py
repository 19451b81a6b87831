"""The STORM client against the real simulator, over real WebSockets on a local port: replay, resume after
a dropped link, heartbeat timeout, malformed frames, a failing sink and a rejected token. The sink is an
in-memory double of the `FeedSink` interface that applies like the database one (events at or below its
stored seq are duplicates) and checks that nothing arrives out of order or with a gap."""
from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from integrations.storm.client import StormClient
from integrations.storm.looping import shift_times
from integrations.storm.protocol import BadFrame, encode_event, parse_timestamp
from integrations.storm.simulator import StormSimulator, bundled_scenarios
from rxapp.domain.events import DispatchEvent

ROOT = Path(__file__).resolve().parent.parent
# Recent enough for the client's checks of times against the moment a frame arrives, and all in the past.
START = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
FAST = 1_000_000  # simulated seconds per real second: every scenario is released at once
CALLER_DETAILS = ("Amina", "Hussain", "07700900123", "+447700900123", "amina@example.org", "Kowalski")


class MemorySink:
    """A FeedSink test double. `apply` is all or nothing, like the database sink's transaction."""

    def __init__(self, *, delay: float = 0.0, failures: int = 0):
        self.applied: list[DispatchEvent] = []
        self.bad: list[BadFrame] = []
        self.delivered = 0  # every event handed over, duplicates included
        self.calls = 0
        self.gaps: list[tuple[int, int]] = []
        self.delay = delay
        self.failures = failures
        self._last_seq = 0
        self.changed = asyncio.Event()

    async def last_seq(self) -> int:
        return self._last_seq

    async def apply(self, items):
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database is locked: INSERT INTO victim VALUES ('Amina Hussain')")
        high, applied, bad = self._last_seq, [], []
        for item in items:
            if isinstance(item, BadFrame):
                bad.append(item)
                continue
            self.delivered += 1
            if item.seq <= high:
                continue
            if item.seq != high + 1:
                self.gaps.append((high, item.seq))
            applied.append(item)
            high = item.seq
        self.applied += applied
        self.bad += bad
        self._last_seq = high
        self.changed.set()

    @property
    def applied_ids(self) -> list[str]:
        return [event.event_id for event in self.applied]


async def wait_until(condition, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def make_client(url: str, sink: MemorySink, **options) -> StormClient:
    settings = dict(backoff_initial=0.01, backoff_max=0.05, rng=lambda: 0.5, heartbeat_timeout=5.0)
    settings.update(options)
    return StormClient(url, sink, **settings)


class Running:
    """A simulator and a client running together for one test, stopped whatever happens."""

    def __init__(self, simulator: StormSimulator, sink: MemorySink, **client_options):
        self.simulator, self.sink, self.options = simulator, sink, client_options

    async def __aenter__(self):
        await self.simulator.start()
        self.client = make_client(self.simulator.url, self.sink, **self.options)
        self.task = asyncio.create_task(self.client.run())
        return self

    async def __aexit__(self, *exc):
        await asyncio.wait_for(self.client.stop(), 5)
        await asyncio.wait_for(self.task, 5)
        await self.simulator.stop()


def first_event(name: str) -> dict:
    """A scenario's first event, happening now (times keep their distance from it)."""
    path = ROOT / "integrations" / "storm" / "scenarios" / f"{name}.jsonl"
    event = json.loads(path.read_text().splitlines()[0])
    return shift_times(event, datetime.now(timezone.utc).replace(microsecond=0) - parse_timestamp(event["occurred_at"]))


# ---- the simulator on its own ----------------------------------------------------------------------


def test_simulator_shifts_staggers_merges_and_renumbers():
    simulator = StormSimulator(speed=1, start_at=START)
    events = simulator.events
    originals = [json.loads(line) for path in bundled_scenarios() for line in path.read_text().splitlines()]
    assert len(events) == len(originals) == 93
    assert [e["seq"] for e in events] == list(range(1, 94))
    assert len({e["event_id"] for e in events}) == 93
    times = [parse_timestamp(e["occurred_at"]) for e in events]
    assert times == sorted(times) and times[0] == START
    openings = {e["incident"]["urn"]: parse_timestamp(e["occurred_at"]) for e in events
                if e["type"] == "incident.opened"}
    # Scenario files in name order, 20 s apart; URNs untouched by default.
    assert openings == {"CLE-20261120-0142": START, "CLE-20261120-0188": START + timedelta(seconds=20),
                        "CLE-20261120-0203": START + timedelta(seconds=40),
                        "CLE-20261120-0230": START + timedelta(seconds=60)}
    for event in events:
        if event["type"] == "resource.position":
            assert event["resource"]["fix_at"] == event["occurred_at"]
    appointment = next(e for e in events if e["type"] == "incident.appointment")["appointment"]
    # The booked window keeps its distance from the call (booked 5 min after a call at START + 60 s).
    assert parse_timestamp(appointment["window_start"]) == START + timedelta(seconds=60, hours=27, minutes=-3)
    assert parse_timestamp(appointment["window_end"]) - parse_timestamp(appointment["window_start"]) \
        == timedelta(hours=2)


def test_simulator_can_make_urns_unique_per_run():
    first = StormSimulator(start_at=START, unique_urns=True).events
    urns = {e["incident"]["urn"] for e in first if e["type"] == "incident.opened"}
    assert len(urns) == 4 and all(urn.startswith(f"CLE-{START:%Y%m%d}-") for urn in urns)
    # Every event of an incident follows its renamed URN.
    for event in first:
        body = event.get("incident") or event.get("assignment") or event.get("appointment") or {}
        if body.get("urn"):
            assert body["urn"] in urns


@pytest.mark.asyncio
async def test_simulator_replays_after_seq_then_streams_live_and_checks_the_token():
    simulator = StormSimulator([], token="s3cret", heartbeat_interval=60)
    await simulator.start()
    try:
        for n in range(1, 4):
            event = dict(first_event("burglary-priority"), event_id=f"e{n}")
            assert simulator.append_event(event) == n
        simulator.append_raw("{broken")
        with pytest.raises(InvalidStatus) as rejected:
            async with connect(simulator.url, additional_headers={"Authorization": "Bearer wrong"}):
                pass
        assert rejected.value.response.status_code == 401
        async with connect(simulator.url, additional_headers={"Authorization": "Bearer s3cret"}) as ws:
            await ws.send(json.dumps({"type": "subscribe", "after_seq": 2}))
            assert json.loads(await ws.recv())["seq"] == 3
            assert await ws.recv() == "{broken"  # anchored after seq 3, so replayed too
            heartbeat = json.loads(await ws.recv())
            assert heartbeat["type"] == "heartbeat" and heartbeat["seq_high"] == 3
            simulator.append_event(dict(first_event("diverted"), event_id="e4"))
            assert json.loads(await asyncio.wait_for(ws.recv(), 2))["seq"] == 4
    finally:
        await simulator.stop()


@pytest.mark.asyncio
async def test_appended_events_keep_seq_strictly_increasing_ahead_of_scenario_events():
    # Speed 0 freezes the simulated clock at START: only the first scenario event is due.
    simulator = StormSimulator(speed=0, start_at=START)
    await simulator.start()
    try:
        assert simulator.seq_high == 1
        assert simulator.append_event(dict(first_event("diverted"), event_id="extra")) == 2
        events = simulator.events
        assert [e["seq"] for e in events] == list(range(1, 95))
        assert events[1]["event_id"] == "extra" and simulator.seq_high == 2
    finally:
        await simulator.stop()


# ---- client and simulator together -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_full_replay_applies_every_event_in_seq_order_in_batches():
    sink = MemorySink()
    simulator = StormSimulator(speed=FAST, start_at=START)
    expected = [e["event_id"] for e in simulator.events]
    async with Running(simulator, sink) as run:
        await wait_until(lambda: len(sink.applied) == 93, what="all 93 events")
        assert [e.seq for e in sink.applied] == list(range(1, 94))
        assert sink.applied_ids == expected and not sink.gaps and not sink.bad
        assert sink.calls < 93  # frames already waiting are applied together
        await wait_until(lambda: run.client.status["last_heartbeat_at"] is not None, what="a heartbeat")
        status = run.client.status
        assert status["connected"] and status["seq_high"] == 93 and status["reconnects"] == 0
        assert status["frames"] >= 94 and status["bad_frames"] == 0


@pytest.mark.asyncio
async def test_batches_never_exceed_batch_max():
    sizes = []

    class CountingSink(MemorySink):
        async def apply(self, items):
            sizes.append(len(items))
            await super().apply(items)

    sink = CountingSink(delay=0.01)
    async with Running(StormSimulator(speed=FAST, start_at=START), sink, batch_max=7):
        await wait_until(lambda: len(sink.applied) == 93, what="all events")
    assert max(sizes) <= 7 and sum(sizes) == 93


@pytest.mark.asyncio
async def test_dropped_connections_resume_with_the_same_events_and_no_gaps():
    reference = MemorySink()
    async with Running(StormSimulator(speed=FAST, start_at=START), reference):
        await wait_until(lambda: len(reference.applied) == 93, what="the uninterrupted run")

    # The same stream, released over about a second of real time, read slowly in small batches and cut off
    # three times: during the replay of what was already out, and while live events are flowing.
    sink = MemorySink(delay=0.005)
    simulator = StormSimulator(speed=7_600, start_at=START)
    async with Running(simulator, sink, batch_max=5) as run:
        for drops in range(3):
            # Each cut must land on a fresh connection, not on one the client has not yet noticed is dead.
            await wait_until(lambda: run.client.status["reconnects"] >= drops and run.client.status["connected"],
                             what="a new connection")
            seen = sink.calls
            await wait_until(lambda: sink.calls >= seen + 2, what="some batches")
            await simulator.drop_connections()
        await wait_until(lambda: len(sink.applied) == 93, timeout=10, what="every event after the drops")
        assert run.client.status["reconnects"] >= 3
    assert sink.applied_ids == reference.applied_ids
    assert [e.seq for e in sink.applied] == list(range(1, 94)) and not sink.gaps


@pytest.mark.asyncio
async def test_silent_link_is_dropped_and_reopened_after_heartbeat_timeout():
    sink = MemorySink()
    # Nothing to send and a heartbeat only every minute: after the first, the link goes quiet.
    simulator = StormSimulator([], heartbeat_interval=60)
    async with Running(simulator, sink, heartbeat_timeout=0.2) as run:
        await wait_until(lambda: run.client.status["reconnects"] >= 2, what="reconnections")
        assert run.client.status["last_error"] == "heartbeat timeout"
        # The old connections were closed, not left open beside the new one.
        await wait_until(lambda: simulator.connection_count <= 1, what="old connections to close")
        assert not run.task.done()
        # And the reopened link still delivers.
        simulator.append_event(first_event("burglary-priority"))
        await wait_until(lambda: len(sink.applied) == 1, what="an event after reconnecting")


@pytest.mark.asyncio
async def test_malformed_frames_become_bad_frames_and_later_events_still_arrive(caplog):
    caplog.set_level(logging.DEBUG)
    sink = MemorySink()
    simulator = StormSimulator([], heartbeat_interval=60)
    opened = first_event("burglary-priority")
    oversized = dict(first_event("diverted"), event_id="too-big")
    oversized["incident"] = dict(oversized["incident"], category="X" * 70_000)
    async with Running(simulator, sink) as run:
        simulator.append_event(opened)
        simulator.append_raw("{this is not JSON")
        simulator.append_raw(json.dumps(dict(opened, type="incident.teleported")))
        simulator.append_raw(encode_event(dict(oversized, seq=99)))
        bad_grade = dict(opened, event_id="bad-grade", incident=dict(opened["incident"], grade="URGENT"))
        simulator.append_event(bad_grade)
        later = simulator.append_event(first_event("diverted"))
        await wait_until(lambda: len(sink.bad) == 4 and sink._last_seq == later, what="bad frames and events")
        assert [e.seq for e in sink.applied] == [1, 3]
        reasons = [b.reason for b in sink.bad]
        assert reasons[0] == "not JSON" and "unknown type" in reasons[1]
        assert "64 KiB" in reasons[2] and sink.bad[2].event_id == "too-big"
        assert "grade" in reasons[3] and sink.bad[3].seq == 2
        status = run.client.status
        assert status["bad_frames"] == 4 and status["reconnects"] == 0  # the link survived it all
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "bad frame" in logged
    assert not any(detail in logged for detail in CALLER_DETAILS)


@pytest.mark.asyncio
async def test_frame_contents_never_reach_the_logs_even_at_debug(caplog):
    caplog.set_level(logging.DEBUG)
    sink = MemorySink()
    simulator = StormSimulator([], heartbeat_interval=60)
    async with Running(simulator, sink):
        # Short enough that the websockets library's own debug line would quote it whole.
        simulator.append_raw('{"caller":"Amina Hussain","phone":"07700900123"}')
        await wait_until(lambda: len(sink.bad) == 1, what="the bad frame")
    client_lines = [r.getMessage() for r in caplog.records if r.name.startswith("integrations.storm.client")]
    assert any("bad frame" in line for line in client_lines)
    assert not any(detail in line for line in client_lines for detail in CALLER_DETAILS)


@pytest.mark.asyncio
async def test_sink_failure_closes_the_link_and_resumes_without_loss(caplog):
    caplog.set_level(logging.DEBUG)
    sink = MemorySink(failures=2)
    simulator = StormSimulator(speed=FAST, start_at=START)
    async with Running(simulator, sink) as run:
        await wait_until(lambda: len(sink.applied) == 93, what="all events after the failures")
        assert run.client.status["reconnects"] >= 2
        assert [e.seq for e in sink.applied] == list(range(1, 94)) and not sink.gaps
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "sink failed to apply" in logged and "RuntimeError" in logged
    # The exception's text quoted a caller; it must not reach the log.
    assert not any(detail in logged for detail in CALLER_DETAILS)


@pytest.mark.asyncio
async def test_rejected_token_is_logged_and_retried_without_crashing(caplog):
    caplog.set_level(logging.INFO)
    sink = MemorySink()
    simulator = StormSimulator(speed=FAST, start_at=START, token="the-right-token")
    async with Running(simulator, sink, token="a-wrong-token", backoff_max=0.04) as run:
        await wait_until(lambda: run.client.status["reconnects"] >= 3, what="retries")
        assert not run.task.done() and not run.client.status["connected"]
        assert run.client.status["last_error"] == "handshake rejected: HTTP 401"
        assert not sink.applied
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "rejected the connection with HTTP 401" in logged
    assert "a-wrong-token" not in logged and "the-right-token" not in logged


@pytest.mark.asyncio
async def test_rejected_handshakes_retry_at_the_maximum_interval():
    delays = []
    client = StormClient("ws://127.0.0.1:9/feed", MemorySink(), backoff_initial=1, backoff_max=60,
                         rng=lambda: 1.0)
    for _ in range(3):
        delays.append(client._next_delay(at_max=True))
    assert delays == [60, 60, 60]
    client._attempt = 0
    # Otherwise: 1 s doubling to 60 s, with equal jitter (between half and all of the ceiling).
    assert [client._next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    low = StormClient("ws://127.0.0.1:9/feed", MemorySink(), rng=lambda: 0.0)
    assert [low._next_delay() for _ in range(3)] == [0.5, 1, 2]


@pytest.mark.asyncio
async def test_unreachable_gateway_is_retried_and_stop_ends_run_promptly():
    sink = MemorySink()
    client = make_client("ws://127.0.0.1:9/feed", sink)  # nothing listens on the discard port
    task = asyncio.create_task(client.run())
    await wait_until(lambda: client.status["reconnects"] >= 2, what="retries")
    assert not task.done()
    started = time.monotonic()
    await asyncio.wait_for(client.stop(), 2)
    assert task.done() and time.monotonic() - started < 1


@pytest.mark.asyncio
async def test_command_line_simulator_serves_the_bundled_scenarios():
    process = await asyncio.create_subprocess_exec(
        # Times compressed to the wall clock: at this speed, simulated times would run hours ahead of it.
        sys.executable, "-m", "integrations.storm.simulator", "--port", "0", "--speed", str(FAST), "--compress-time",
        "--token", "cli-token", cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        url = next(word for word in line.split() if word.startswith("ws://"))
        assert url.endswith("/feed") and "cli-token" not in line
        sink = MemorySink()
        client = make_client(url, sink, token="cli-token")
        task = asyncio.create_task(client.run())
        await wait_until(lambda: len(sink.applied) == 93, what="all events from the command line")
        await client.stop()
        await task
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
