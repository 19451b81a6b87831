"""The portal's background work, run by the one elected runner (`rxapp/plumbing/runner.py`): sessions left idle
past PORTAL_IDLE_MINUTES, or whose case's access has ended, are marked ended. Each request checks this itself
(`rxapp/portal/access.py`), so the job only keeps the sessions table true for staff reading it."""
from __future__ import annotations

import asyncio
import logging

from rxapp.plumbing.config import Settings
from rxapp.plumbing.jobs import Job, Loop
from rxapp.portal.access import end_stale_sessions

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 300.0


async def end_sessions() -> int:
    ended = await asyncio.to_thread(end_stale_sessions)
    if ended:
        log.info("portal sessions: %s ended (idle, or access over)", ended)
    return ended


def jobs(cfg: Settings) -> list[Job]:
    return [Job("portal-sessions", end_sessions, SWEEP_EVERY_SECONDS)]


def loops(cfg: Settings) -> list[Loop]:
    return []
