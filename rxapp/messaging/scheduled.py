"""The messaging background work, run by the one elected runner (`rxapp/plumbing/runner.py`): the outbox
sender, every second, with the providers this deployment is configured for (GOV.UK Notify, SMTP)."""
from __future__ import annotations

import logging

from integrations.email.smtp import SmtpSender
from integrations.govuk_notify.client import NotifyClient
from rxapp.messaging.sender import OutboxSender
from rxapp.plumbing import realtime
from rxapp.plumbing.config import Settings, settings
from rxapp.plumbing.jobs import Job, Loop

log = logging.getLogger(__name__)

OUTBOX_SECONDS = 1
PASSES_PER_RUN = 20


def build_sender(cfg: Settings | None = None) -> OutboxSender | None:
    """The outbox sender for this configuration, or None when no provider is configured."""
    cfg = cfg or settings()
    notify = NotifyClient(cfg.notify_api_key, cfg.notify_base_url) if cfg.notify_api_key else None
    smtp = SmtpSender(cfg.smtp_url, from_address=cfg.email_from) if cfg.smtp_url else None
    if notify is None and smtp is None:
        log.warning("neither NOTIFY_API_KEY nor SMTP_URL is set: messages stay in the outbox")
        return None
    return OutboxSender(notify=notify, smtp=smtp, sms_template_id=cfg.notify_sms_template_id,
                        email_template_id=cfg.notify_email_template_id,
                        email_via=cfg.email_via if smtp is not None else "notify")


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
