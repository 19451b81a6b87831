"""The demo's clock: DEMO_SPEED and DEMO_EPOCH, read by `rxapp/plumbing/config.py` (the only reader of the
environment) and set by `python -m rxapp.demo` only; `serve` refuses them. Live attendance is then judged on a
clock DEMO_SPEED times faster than the wall clock that agrees with it at DEMO_EPOCH: the clock the demo's STORM
simulator stamps its events with (see rxapp/attendance/targets.py, `attendance_now`). Standard library only,
like the config module that loads it."""
from __future__ import annotations

import re
from datetime import datetime

from rxapp.plumbing.settings_reader import SettingsReader

_ISO = re.compile(r"[0-9T:.+Z-]{16,40}")


def demo_time(wall: datetime, speed: float, epoch: datetime) -> datetime:
    """The demo's time at wall-clock time `wall` (the STORM simulator's `epoch` option computes the same)."""
    return epoch + (wall - epoch) * speed


def read_demo_clock(r: SettingsReader) -> tuple[float | None, datetime | None]:
    """(DEMO_SPEED, DEMO_EPOCH), both or neither; problems go to `r`."""
    if r.given("DEMO_SPEED") != r.given("DEMO_EPOCH"):
        r.problem("DEMO_SPEED and DEMO_EPOCH go together (the demo sets both): set both or neither")
    if not (r.given("DEMO_SPEED") and r.given("DEMO_EPOCH")):
        return None, None
    speed, epoch = r.number("DEMO_SPEED", 1.0, 0.1, 1000), r.parsed("DEMO_EPOCH", _aware_time)
    return (speed, epoch) if epoch is not None and "DEMO_SPEED" not in r.malformed else (None, None)


def _aware_time(raw: str) -> datetime:
    value = datetime.fromisoformat(raw) if _ISO.fullmatch(raw) else None
    if value is None or value.tzinfo is None:
        raise ValueError("DEMO_EPOCH must be a time in ISO 8601 with its offset, e.g. 2026-12-01T12:00:00Z")
    return value
