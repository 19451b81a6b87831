"""The outbound providers this deployment sends through, one per channel (`integrations/outbound.py`): GOV.UK
Notify for texts, Notify or SMTP for email, as the configuration says (`Settings.channel_providers`)."""
from __future__ import annotations

from integrations.email.providers import SmtpEmailProvider
from integrations.email.smtp import SmtpSender
from integrations.govuk_notify.client import NotifyClient
from integrations.govuk_notify.providers import NotifyEmailProvider, NotifySmsProvider
from integrations.outbound import Provider
from rxapp.domain.contact import Channel
from rxapp.plumbing.config import Settings


def notify_providers(client: NotifyClient, *, sms_template_id: str, email_template_id: str = "",
                     owns_client: bool = False) -> dict[str, Provider]:
    """Texts (and email, when an email template is given) through one Notify client."""
    providers: dict[str, Provider] = {Channel.SMS: NotifySmsProvider(client, sms_template_id,
                                                                     close_client=owns_client)}
    if email_template_id:
        providers[Channel.EMAIL] = NotifyEmailProvider(client, email_template_id)
    return providers


def providers_from_settings(cfg: Settings) -> dict[str, Provider]:
    """channel -> provider for this configuration; empty when no provider is configured."""
    routes = cfg.channel_providers
    providers: dict[str, Provider] = {}
    if "notify" in routes.values():
        client = NotifyClient(cfg.notify_api_key, cfg.notify_base_url)
        if routes.get(Channel.SMS) == "notify":
            providers[Channel.SMS] = NotifySmsProvider(client, cfg.notify_sms_template_id, close_client=True)
        if routes.get(Channel.EMAIL) == "notify":
            providers[Channel.EMAIL] = NotifyEmailProvider(client, cfg.notify_email_template_id,
                                                           close_client=Channel.SMS not in providers)
    if routes.get(Channel.EMAIL) == "smtp":
        providers[Channel.EMAIL] = SmtpEmailProvider(SmtpSender(cfg.smtp_url, from_address=cfg.email_from))
    return providers
