"""The messaging background work, run by the one elected runner (`rxapp/plumbing/runner.py`): the outbox
sender, every second, with the providers this deployment is configured for (GOV.UK Notify, SMTP)."""
from __future__ import annotations

import logging

from rxapp.messaging.sender import OutboxSender
from rxapp.plumbing import realtime
from rxapp.plumbing.config import Settings, settings
from rxapp.plumbing.jobs import Job, Loop

log = logging.getLogger(__name__)

OUTBOX_SECONDS = 1
PASSES_PER_RUN = 20


def build_sender(cfg: Settings | None = None) -> OutboxSender | None:
    """The outbox sender for this configuration, or None when no provider is configured."""
    sender = OutboxSender.from_settings(cfg or settings())
    if sender is None:
        log.warning("neither NOTIFY_API_KEY nor SMTP_URL is set: messages stay in the outbox")
    return sender


async def send_outbox(sender: OutboxSender) -> None:
    result = await sender.drain(max_passes=PASSES_PER_RUN)
    if result.incidents:
        await realtime.hub.incidents_changed(result.incidents)
    if result.errors:
        log.warning("outbox pass: %s sent, %s to retry, %s failed", result.sent, result.retried, result.failed)


def jobs(cfg: Settings) -> list[Job]:
    sender = build_sender(cfg)
    if sender is None:
        return []
    return [Job("outbox-sender", lambda: send_outbox(sender), OUTBOX_SECONDS)]


def loops(cfg: Settings) -> list[Loop]:
    return []
