"""The attendance's background work, run by the one elected runner (`rxapp/plumbing/runner.py`):
- arrival windows re-estimated as fixes age (with road times from the routing engine when one is set);
- the board's clock: time moves on even when nothing happens, and risks change with it;
- the "no officer yet" apology to victims still waiting past their grade's target;
- the STORM feed client, which keeps the dispatch link open and feeds the attendance service.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from integrations.routing.osrm import OsrmRouter
from integrations.storm.client import StormClient
from integrations.storm.shapes import FrameRules
from rxapp.attendance.service import AttendanceService
from rxapp.attendance.targets import attendance_now, grade_targets
from rxapp.attendance.texts import sweep_unassigned
from rxapp.attendance.windows import route_legs
from rxapp.plumbing import realtime
from rxapp.plumbing.config import Settings
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.jobs import Job, Loop

log = logging.getLogger(__name__)

WINDOWS_SECONDS = 30
BOARD_CLOCK_SECONDS = 30
UNASSIGNED_SECONDS = 30


async def refresh_windows(service: AttendanceService, router: OsrmRouter | None) -> None:
    travel = await route_times(service, router) if router is not None else None
    changed = await asyncio.to_thread(service.refresh_windows, None, travel)
    if changed:
        await realtime.hub.incidents_changed(changed)


async def route_times(service: AttendanceService, router: OsrmRouter) -> dict[tuple[int, str], float]:
    """Ask the routing engine for each resource on its way to an attendance; missing answers fall back to the
    straight line."""
    legs = await asyncio.to_thread(route_legs, service.db_url)
    results = await asyncio.gather(*(router.travel_time(origin, dest) for _, origin, dest in legs))
    return {key: r.seconds for (key, _, _), r in zip(legs, results) if r is not None}


def _sweep_unassigned_now(db_url: str | None) -> list[int]:
    with session_scope(db_url) as session:
        return sweep_unassigned(session, grade_targets(), attendance_now())


async def apologise_for_waits(db_url: str | None = None) -> None:
    changed = await asyncio.to_thread(_sweep_unassigned_now, db_url)
    if changed:
        await realtime.hub.incidents_changed(changed)


def jobs(cfg: Settings) -> list[Job]:
    service = AttendanceService()
    router = OsrmRouter(cfg.routing_url) if cfg.routing_url else None
    return [
        Job("refresh-windows", lambda: refresh_windows(service, router), WINDOWS_SECONDS),
        Job("board-clock", realtime.hub.tick, BOARD_CLOCK_SECONDS),
        Job("unassigned-sweep", apologise_for_waits, UNASSIGNED_SECONDS),
    ]


def _link_state(status: dict) -> str:
    return "connected" if status.get("connected") else "not connected"


def loops(cfg: Settings) -> list[Loop]:
    if not cfg.storm_feed_url:
        log.warning("STORM_FEED_URL is not set: no dispatch feed is connected")
        return []
    rules = FrameRules(max_age=timedelta(hours=cfg.storm_max_event_age_hours),
                       max_ahead=timedelta(minutes=cfg.storm_clock_skew_minutes))
    # Times are judged on the attendance clock: the wall clock, or the demo's faster one (DEMO_SPEED).
    client = StormClient(cfg.storm_feed_url, AttendanceService(), token=cfg.storm_feed_token, rules=rules,
                         clock=attendance_now)
    return [Loop("storm", client, _link_state)]
