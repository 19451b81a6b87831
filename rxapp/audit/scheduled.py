"""The audit log's background work, run by the one elected runner (`rxapp/plumbing/runner.py`): the retention
job, which deletes entries older than AUDIT_RETENTION_DAYS (about seven years unless set) and nothing else.
It is the only thing that ever removes an entry."""
from __future__ import annotations

import asyncio
import logging

from rxapp.audit.service import delete_expired
from rxapp.plumbing.config import Settings
from rxapp.plumbing.jobs import Job, Loop

log = logging.getLogger(__name__)

RETENTION_EVERY_SECONDS = 6 * 3600.0  # the period is years: a few runs a day keep it to the day


async def retention(days: int) -> int:
    removed = await asyncio.to_thread(delete_expired, retention_days=days)
    if removed:
        log.info("audit retention: %s entries older than %s days deleted", removed, days)
    return removed


def jobs(cfg: Settings) -> list[Job]:
    return [Job("audit-retention", lambda: retention(cfg.audit_retention_days), RETENTION_EVERY_SECONDS)]


def loops(cfg: Settings) -> list[Loop]:
    return []
