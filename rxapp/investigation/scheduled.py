"""The investigation's background work, run by the one elected runner (`rxapp/plumbing/runner.py`):
- the Victims' Code deadline sweep (routine updates queued, duties gone late, tasks escalated);
- the NICHE records poller, which feeds the journey service page by page.
"""
from __future__ import annotations

import asyncio
import logging

from integrations.niche.poller import NichePoller
from rxapp.investigation.service import JourneyService
from rxapp.plumbing.config import Settings
from rxapp.plumbing.jobs import Job, Loop

log = logging.getLogger(__name__)

# A backlog (after the runner was down) is worked through in passes a second apart rather than waiting for
# the next scheduled sweep; each pass keeps to its own time budget.
BACKLOG_PASSES = 120
BACKLOG_PAUSE_SECONDS = 1.0


async def deadline_sweep(journey: JourneyService) -> None:
    result = await asyncio.to_thread(journey.sweep)
    for _ in range(BACKLOG_PASSES):
        if not result.more:
            break
        await asyncio.sleep(BACKLOG_PAUSE_SECONDS)
        result = await asyncio.to_thread(journey.sweep)
    if result.routine_queued or result.became_late or result.escalated:
        log.info("deadline sweep: %s routine updates queued, %s duties late, %s tasks escalated",
                 result.routine_queued, result.became_late, result.escalated)


def jobs(cfg: Settings) -> list[Job]:
    journey = JourneyService()
    return [Job("deadline-sweep", lambda: deadline_sweep(journey), cfg.sweep_seconds)]


def _poller_state(status: dict) -> str:
    return status.get("state") or "idle"


def loops(cfg: Settings) -> list[Loop]:
    if not cfg.niche_feed_url:
        log.warning("NICHE_FEED_URL is not set: no records feed is connected")
        return []
    poller = NichePoller(cfg.niche_feed_url, JourneyService(), token=cfg.niche_feed_token,
                         interval=cfg.niche_poll_seconds)
    return [Loop("niche", poller, _poller_state)]
