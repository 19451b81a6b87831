"""Configured rule tables shared by services and pages, parsed once; and the clock live attendance is judged by.

`attendance_now()` is the wall clock, except in the demo. The demo's STORM simulator plays a night's work
`DEMO_SPEED` times faster than real time and stamps each event with its simulated time, so a 60-minute
priority target and a "10 to 15 minutes" window mean simulated minutes there. Judging those events against
the wall clock would make every target unreachable to miss and every window ten times too long; judging them
against the same simulated clock keeps the board's elapsed time, target and risk, the victim's window and
"arriving soon" in step with the feed, with no rule scaled. So "scaling with the demo speed" means: at speed
10, a 60-minute target passes in 6 real minutes on a board whose clock runs ten times fast; the rules and
the numbers they show are the real ones. Outside the demo (`serve` refuses DEMO_SPEED) nothing changes.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from rxapp.domain.grades import GradeTargets
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.demo_clock import demo_time


@lru_cache(maxsize=1)
def grade_targets() -> GradeTargets:
    raw = settings().grade_targets_json
    return GradeTargets.from_json(raw) if raw else GradeTargets()


def attendance_now() -> datetime:
    """Now, for live attendance's rules (targets, windows, the board, sweeps, the feed's time checks)."""
    return attendance_time(utcnow())


def attendance_time(wall: datetime) -> datetime:
    """A moment recorded on the wall clock (when a row was last changed, say) on the attendance clock, so a page
    that shows it beside the feed's times agrees with them (the same moment outside the demo)."""
    cfg = settings()
    if cfg.demo_speed is None or cfg.demo_epoch is None:
        return wall
    return demo_time(wall, cfg.demo_speed, cfg.demo_epoch)
