"""Background work that must run once per deployment, not once per worker: the STORM feed client, the NICHE
records poller and the scheduled jobs (arrival windows re-estimated as fixes age, the board's clock, the
outbox sender, the Victims' Code deadline sweep). One process wins a lock
(a PostgreSQL advisory lock, or a file lock beside a SQLite database) and runs them; the others wait.
"""
from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from contextlib import suppress
from pathlib import Path
from typing import Optional

import sqlalchemy as sa
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from rxapp.plumbing import realtime
from rxapp.attendance.service import AttendanceService
from rxapp.plumbing.config import DATA_DIR, settings
from rxapp.plumbing.db import engine

log = logging.getLogger(__name__)
ADVISORY_KEY = 7_411_002  # arbitrary, fixed: "victim journey runner"
_status: dict = {"leader": False, "feed": None}


def runner_status() -> dict:
    status = dict(_status)
    poller = status.pop("records", None)
    if poller is not None:
        status["records"] = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in poller.status.items()}
    client = status.pop("client", None)
    if client is not None:
        status["feed"] = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in client.status.items()}
    return status


class Leadership:
    """Holds the runner lock for as long as the process lives."""

    def __init__(self, db_url: str):
        self.db_url = db_url
        self._file = None
        self._conn = None

    def try_acquire(self) -> bool:
        if self.db_url.startswith("sqlite"):
            path = Path(self.db_url.split("///", 1)[-1] + ".runner.lock") if "///" in self.db_url else DATA_DIR / "runner.lock"
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a+")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            self._file = handle
            return True
        conn = engine(self.db_url).connect()
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        conn.commit()
        if got:
            self._conn = conn  # the lock lives as long as this connection
            return True
        conn.close()
        return False

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._conn is not None:
            with suppress(Exception):
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.close()
            self._conn = None


async def _refresh_windows(service: AttendanceService, router) -> None:
    travel = None
    if router is not None:
        travel = await _route_times(service, router)
    changed = await asyncio.to_thread(service.refresh_windows, None, travel)
    if changed:
        await realtime.hub.incidents_changed(changed)


async def _route_times(service: AttendanceService, router) -> dict[int, float]:
    """Ask the routing engine for each en-route attendance; missing answers fall back to the straight line."""
    from rxapp.attendance.views import en_route_legs

    legs = await asyncio.to_thread(en_route_legs, service.db_url)
    results = await asyncio.gather(*(router.travel_time(origin, dest) for _, origin, dest in legs))
    return {incident_id: r.seconds for (incident_id, _, _), r in zip(legs, results) if r is not None}


def build_sender():
    """The outbox sender for this configuration, or None when no provider is configured."""
    from rxapp.messaging.sender import OutboxSender

    cfg = settings()
    notify = smtp = None
    if cfg.notify_api_key:
        from integrations.govuk_notify.client import NotifyClient

        notify = NotifyClient(cfg.notify_api_key, cfg.notify_base_url)
    if cfg.smtp_url:
        from integrations.email.smtp import SmtpSender

        smtp = SmtpSender(cfg.smtp_url, from_address=cfg.email_from)
    if notify is None and smtp is None:
        log.warning("neither NOTIFY_API_KEY nor SMTP_URL is set: messages stay in the outbox")
        return None
    return OutboxSender(notify=notify, smtp=smtp, sms_template_id=cfg.notify_sms_template_id,
                        email_template_id=cfg.notify_email_template_id,
                        email_via=cfg.email_via if smtp is not None else "notify")


async def _send_outbox(sender) -> None:
    result = await sender.drain(max_passes=20)
    if result.incidents:
        await realtime.hub.incidents_changed(result.incidents)
    if result.errors:
        log.warning("outbox pass: %s sent, %s to retry, %s failed", result.sent, result.retried, result.failed)


async def _sweep_unassigned() -> None:
    from rxapp.attendance.texts import sweep_unassigned
    from rxapp.plumbing.db import session_scope
    from rxapp.plumbing.columns import utcnow
    from rxapp.attendance.targets import grade_targets

    def _run():
        with session_scope() as session:
            return sweep_unassigned(session, grade_targets(), utcnow())

    changed = await asyncio.to_thread(_run)
    if changed:
        await realtime.hub.incidents_changed(changed)


async def _deadline_sweep(journey) -> None:
    result = await asyncio.to_thread(journey.sweep)
    for _ in range(120):
        # A pass keeps to its time budget; a backlog (after the runner was down) is worked through in
        # passes a second apart rather than waiting for the next scheduled sweep.
        if not result.more:
            break
        await asyncio.sleep(1)
        result = await asyncio.to_thread(journey.sweep)
    if result.routine_queued or result.became_late or result.escalated:
        log.info("deadline sweep: %s routine updates queued, %s duties late, %s tasks escalated",
                 result.routine_queued, result.became_late, result.escalated)


async def run_background(stop: Optional[asyncio.Event] = None) -> None:
    """Lifespan task: wait for the runner lock, then run the feed client and the scheduler until stopped."""
    cfg = settings()
    stop = stop or asyncio.Event()
    leadership = Leadership(cfg.database_url)
    while not stop.is_set():
        if await asyncio.to_thread(leadership.try_acquire):
            break
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=10)
    if stop.is_set():
        return
    _status["leader"] = True
    log.info("this process runs the background jobs (pid %s)", os.getpid())
    service = AttendanceService()
    router = None
    if cfg.routing_url:
        from integrations.routing.osrm import OsrmRouter

        router = OsrmRouter(cfg.routing_url)
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(_refresh_windows, "interval", seconds=30, args=[service, router], id="refresh-windows",
                      max_instances=1, coalesce=True)
    scheduler.add_job(realtime.hub.tick, "interval", seconds=30, id="board-clock", max_instances=1, coalesce=True)
    scheduler.add_job(_sweep_unassigned, "interval", seconds=30, id="unassigned-sweep", max_instances=1,
                      coalesce=True)
    sender = build_sender()
    if sender is not None:
        scheduler.add_job(_send_outbox, "interval", seconds=1, args=[sender], id="outbox-sender", max_instances=1,
                          coalesce=True)
    from rxapp.investigation.service import JourneyService

    journey = JourneyService()
    scheduler.add_job(_deadline_sweep, "interval", seconds=cfg.sweep_seconds, args=[journey], id="deadline-sweep",
                      max_instances=1, coalesce=True)
    scheduler.start()
    poller_task = None
    if cfg.niche_feed_url:
        from integrations.niche.poller import NichePoller

        poller = NichePoller(cfg.niche_feed_url, journey, token=cfg.niche_feed_token, interval=cfg.niche_poll_seconds)
        _status["records"] = poller
        poller_task = asyncio.create_task(poller.run(), name="niche-poller")
    else:
        log.warning("NICHE_FEED_URL is not set: no records feed is connected")
    client_task = None
    if cfg.storm_feed_url:
        from integrations.storm.client import StormClient

        client = StormClient(cfg.storm_feed_url, service, token=cfg.storm_feed_token)
        _status["client"] = client
        client_task = asyncio.create_task(client.run(), name="storm-client")
    else:
        log.warning("STORM_FEED_URL is not set: no dispatch feed is connected")
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        if client_task is not None:
            await _status["client"].stop()
            client_task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await client_task
        if poller_task is not None:
            await _status["records"].stop()
            poller_task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await poller_task
        await asyncio.to_thread(leadership.release)
        _status["leader"] = False
