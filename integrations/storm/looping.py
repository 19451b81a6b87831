"""Scenarios played again and again, each time as a new night's work: what the simulator's loop mode
(`StormSimulator(loop=True)`, used by the demo) needs to keep a board alive for as long as it runs.

A recorded scenario is moved in time as a whole (`shift_times`, `map_times`: every contract time field moves
together, appointment windows included). Played a second time, its references must be new, or the product
would take the replay for the same incident: `FreshReferences` gives each play new event ids, a new URN, new
crime references, new call signs and a new caller's number and email, all in the contract's shapes and the
samples' forms (URN `CLE-20261201-0417`, call sign `CE31`, crime reference `CL/26/041902`, Ofcom drama numbers
07700 900000 to 900999, example.org). Every choice is drawn from one seeded random generator, in play order,
so a seed gives the same stream every time.

A call sign is never handed to two plays whose incidents overlap in time: a car on its way to one burglary
is not also on its way to the same burglary's replay. A freed call sign comes back only after it has rested
for `CALLSIGN_REST`, as one unit's call sign recurs from shift to shift.
"""
from __future__ import annotations

import json
import random
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from .protocol import format_timestamp, parse_timestamp

# Every field of the contract that holds a moment in time; all move together when a scenario is shifted.
TIME_FIELDS = frozenset({"occurred_at", "fix_at", "window_start", "window_end"})

_URN = re.compile(r"^(?P<prefix>[A-Z]+)-(?P<date>\d{8})-(?P<serial>\d+)$")
_CALLSIGN = re.compile(r"^(?P<prefix>[A-Z]+)(?P<number>\d+)$")
_CRIME_REFERENCE = re.compile(r"^(?P<force>[A-Z]+)/(?P<year>\d{2})/(?P<serial>\d+)$")
_DRAMA = re.compile(r"^(?P<prefix>07700|\+447700)900(?P<line>\d{3})$")

CALLSIGN_REST = timedelta(hours=6)


@dataclass(frozen=True)
class Scenario:
    """One recorded scenario: its events as in the file, and when the first and the last happened."""

    name: str
    events: tuple[dict, ...]
    times: tuple[datetime, ...]  # each event's occurred_at

    @classmethod
    def load(cls, path: Path) -> "Scenario | None":
        events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not events:
            return None
        return cls(path.stem, tuple(events), tuple(parse_timestamp(event["occurred_at"]) for event in events))

    @property
    def first(self) -> datetime:
        return min(self.times)

    @property
    def last(self) -> datetime:
        return max(self.times)

    @property
    def span(self) -> timedelta:
        return self.last - self.first


def map_times(value: Any, fn: Callable[[datetime], datetime]) -> Any:
    """A copy of `value` with every contract time field passed through `fn` (a malformed time left as it is,
    for the client to cope with)."""
    if isinstance(value, dict):
        mapped = {}
        for key, item in value.items():
            if key in TIME_FIELDS and isinstance(item, str):
                try:
                    mapped[key] = format_timestamp(fn(parse_timestamp(item)))
                except ValueError:
                    mapped[key] = item
            else:
                mapped[key] = map_times(item, fn)
        return mapped
    if isinstance(value, list):
        return [map_times(item, fn) for item in value]
    return value


def shift_times(value: Any, delta: timedelta) -> Any:
    """A copy of `value` with every contract time field moved by `delta`."""
    return map_times(value, lambda moment: moment + delta)


class LoopPlan:
    """Which events each loop plays: loop `play` starts its scenarios `stagger` apart from
    `start_at + play * loop_length`, every play after the first (or every play, with `fresh_first_play`) under
    fresh references. The first play is the recording itself, so the records simulator's investigations,
    which name its URNs, still continue its incidents."""

    def __init__(self, scenarios: list[Scenario], start_at: datetime, stagger: timedelta, rng: random.Random, *,
                 fresh_first_play: bool = False, compress: Callable[[dict], dict] = lambda event: event) -> None:
        if not scenarios:
            raise ValueError("a looping simulator needs at least one scenario with events")
        self.scenarios, self.start_at, self.stagger = scenarios, start_at, stagger
        self._fresh_first_play, self._compress = fresh_first_play, compress
        recorded = [event for scenario in scenarios for event in scenario.events]
        self.fresh = FreshReferences(rng, reserved_urns=urns_of(recorded), reserved_lines=recorded_lines(scenarios))

    @property
    def loop_length(self) -> timedelta:
        """Simulated time from one loop's first scenario start to the next loop's."""
        return self.stagger * len(self.scenarios)

    def loop_start(self, play: int) -> datetime:
        return self.start_at + play * self.loop_length

    def play(self, play: int) -> list[tuple[datetime, dict]]:
        """(release time, event) for loop `play`, by time, then scenario order, then file order. Call it for
        0, 1, 2 … in turn: the fresh references are drawn in that order."""
        planned: list[tuple[datetime, int, int, dict]] = []
        seen: set[str] = set()
        for index, scenario in enumerate(self.scenarios):
            start = self.loop_start(play) + index * self.stagger
            delta = start - scenario.first
            events = [shift_times(event, delta) for event in scenario.events]
            end = scenario.last + delta
            if play == 0 and not self._fresh_first_play and scenario.name not in seen:
                self.fresh.hold_callsigns(callsigns_of(events), start, end)
            else:
                events = self.fresh.rewrite(events, start, end, play)
            seen.add(scenario.name)
            for order, (event, moment) in enumerate(zip(events, scenario.times)):
                planned.append((moment + delta, index, order, self._compress(event)))
        planned.sort(key=lambda item: item[:3])
        return [(moment, event) for moment, _, _, event in planned]


class DayUrns:
    """`unique_urns` without looping: each URN dated `day` with its serial moved by `offset`, so repeated runs
    into one database do not collide."""

    def __init__(self, day: datetime, offset: int) -> None:
        self._day, self._offset = day, offset
        self._map: dict[str, str] = {}

    def rewrite(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (self._urn(v) if k == "urn" and isinstance(v, str) else self.rewrite(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.rewrite(v) for v in value]
        return value

    def _urn(self, urn: str) -> str:
        if urn in self._map:
            return self._map[urn]
        match = _URN.match(urn)
        if not match:
            return urn
        width = len(match["serial"])
        serial = (int(match["serial"]) + self._offset) % 10**width
        used = set(self._map.values())
        while True:
            candidate = f"{match['prefix']}-{self._day:%Y%m%d}-{serial:0{width}d}"
            if candidate not in used:
                break
            serial = (serial + 1) % 10**width
        self._map[urn] = candidate
        return candidate


class FreshReferences:
    """New references for each play of a scenario, drawn from one seeded generator (see the module notes)."""

    def __init__(self, rng: random.Random, reserved_urns: set[str] = frozenset(),
                 reserved_lines: set[str] = frozenset()) -> None:
        self._rng = rng
        self._urns: set[str] = set(reserved_urns)
        self._crime_references: set[str] = set()
        self._urn_serial = rng.randrange(10_000)
        self._crime_serial = rng.randrange(40_000, 90_000)
        # Caller lines in the drama range, never one a recorded scenario uses (its caller may be on the board).
        self._lines = [n for n in range(1000) if f"{n:03d}" not in reserved_lines]
        self._line_index = rng.randrange(len(self._lines))
        self._callsign_free_at: dict[str, datetime] = {}

    def event_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def hold_callsigns(self, callsigns: set[str], start: datetime, end: datetime) -> None:
        """Call signs a play keeps as recorded (the first play), busy from `start` to `end`."""
        for callsign in callsigns:
            self._callsign_free_at[callsign] = max(self._callsign_free_at.get(callsign, start), end)

    def rewrite(self, events: list[dict], start: datetime, end: datetime, play: int) -> list[dict]:
        """`events` (one play of one scenario, already moved to `start`..`end`) under fresh references."""
        urns: dict[str, str] = {}
        crimes: dict[str, str] = {}
        callsigns: dict[str, str] = {}
        for callsign in sorted(_values(events, "callsign")):
            callsigns[callsign] = self._callsign(callsign, start, end)
        out = []
        for event in events:
            event = self._walk(event, start, play, urns, crimes, callsigns)
            event["event_id"] = self.event_id()
            out.append(event)
        return out

    def _walk(self, value: Any, start: datetime, play: int, urns: dict, crimes: dict, callsigns: dict) -> Any:
        if isinstance(value, list):
            return [self._walk(item, start, play, urns, crimes, callsigns) for item in value]
        if not isinstance(value, dict):
            return value
        out = {}
        for key, item in value.items():
            if isinstance(item, str) and key == "urn":
                item = urns.setdefault(item, self._urn(item, start))
            elif isinstance(item, str) and key == "crime_reference":
                item = crimes.setdefault(item, self._crime_reference(item, start))
            elif isinstance(item, str) and key == "callsign":
                item = callsigns.get(item, item)
            elif key == "caller" and isinstance(item, dict):
                item = self._caller(item, play)
            else:
                item = self._walk(item, start, play, urns, crimes, callsigns)
            out[key] = item
        return out

    def _urn(self, urn: str, start: datetime) -> str:
        match = _URN.match(urn)
        if not match:
            return urn
        width = len(match["serial"])
        for _ in range(10 ** width):
            self._urn_serial = (self._urn_serial + 1) % 10 ** width
            candidate = f"{match['prefix']}-{start:%Y%m%d}-{self._urn_serial:0{width}d}"
            if candidate not in self._urns:
                self._urns.add(candidate)
                return candidate
        raise RuntimeError("every URN of the day is taken")

    def _crime_reference(self, reference: str, start: datetime) -> str:
        match = _CRIME_REFERENCE.match(reference)
        if not match:
            return reference
        width = len(match["serial"])
        for _ in range(10 ** width):
            self._crime_serial = (self._crime_serial + 1) % 10 ** width
            candidate = f"{match['force']}/{start:%y}/{self._crime_serial:0{width}d}"
            if candidate not in self._crime_references:
                self._crime_references.add(candidate)
                return candidate
        raise RuntimeError("every crime reference of the year is taken")

    def _callsign(self, callsign: str, start: datetime, end: datetime) -> str:
        """The same unit prefix with another number of the same width, free for the whole play."""
        match = _CALLSIGN.match(callsign)
        if not match:
            return callsign
        width = len(match["number"])
        base = int(match["number"])
        # Same last digit first (CE21 → CE31, CE41 …), then any other number.
        step = 10 if width >= 2 else 1
        offsets = list(range(step, 10 ** width, step)) + [n for n in range(1, 10 ** width) if n % step]
        for offset in offsets:
            candidate = f"{match['prefix']}{(base + offset) % 10 ** width:0{width}d}"
            free_at = self._callsign_free_at.get(candidate)
            if free_at is None or free_at + CALLSIGN_REST <= start:
                self._callsign_free_at[candidate] = end
                return candidate
        raise RuntimeError(f"no free call sign like {match['prefix']}{'N' * width} for a whole play")

    def _caller(self, caller: dict, play: int) -> dict:
        caller = dict(caller)
        phone = caller.get("phone")
        if isinstance(phone, str):
            match = _DRAMA.match(phone.replace(" ", ""))
            if match:
                self._line_index = (self._line_index + 1) % len(self._lines)
                caller["phone"] = f"{match['prefix']}900{self._lines[self._line_index]:03d}"
        email = caller.get("email")
        if isinstance(email, str) and email.endswith("@example.org"):
            caller["email"] = f"{email[:-len('@example.org')]}.{play}@example.org"
        return caller


def recorded_lines(scenarios: list[Scenario]) -> set[str]:
    """The drama-range line numbers (last three digits) the recorded callers use."""
    lines = set()
    for scenario in scenarios:
        for event in scenario.events:
            caller = (event.get("incident") or {}).get("caller") or {}
            match = _DRAMA.match(str(caller.get("phone") or "").replace(" ", ""))
            if match:
                lines.add(match["line"])
    return lines


def _values(value: Any, key: str) -> set[str]:
    """Every string held under `key` anywhere in `value`."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, item in value.items():
            if k == key and isinstance(item, str):
                found.add(item)
            else:
                found |= _values(item, key)
    elif isinstance(value, list):
        for item in value:
            found |= _values(item, key)
    return found


def callsigns_of(events: list[dict]) -> set[str]:
    return _values(events, "callsign")


def urns_of(events: list[dict]) -> set[str]:
    return _values(events, "urn")
