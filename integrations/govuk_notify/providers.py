"""GOV.UK Notify as an outbound provider (see `integrations.outbound`): texts through one text template,
emails through one email template, both by way of a `NotifyClient`.

The product renders its own wording, so each Notify template is a shell: a text template whose body is
`((body))`, an email template whose subject is `((subject))` and body `((body))` (see the README). A
`NotifyError` becomes a `ProviderError` with Notify's HTTP status as its code; Notify may have a message
whose answer was lost (no answer, a 5xx), and `find_by_reference` finds it.

One client can serve both providers; a provider closes it only when told it owns it (`close_client`).
"""
from __future__ import annotations

from typing import Optional

from integrations.outbound import LookupResult, OutboundMessage, ProviderError

from .client import NotifyClient, NotifyError, SentNotification

# Notify statuses of a notification that has gone, or is going, to the recipient: a reference that has
# one of these must not be sent again. A failed one (permanent, temporary or technical failure) may be.
LIVE_STATUSES = frozenset({"created", "sending", "pending", "sent", "delivered", "accepted"})


class _NotifyProvider:
    """What the text and email providers share: one client, one template, Notify's errors translated, and
    the look-up by reference."""

    name = "notify"
    channel: str

    def __init__(self, client: NotifyClient, template_id: str, *, close_client: bool = False) -> None:
        self.client = client
        self.template_id = template_id
        self.close_client = close_client

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.client!r}, template_id={self.template_id!r})"

    async def send(self, message: OutboundMessage) -> str:
        try:
            sent = await self._send(message)
        except NotifyError as exc:
            raise _provider_error(exc) from exc
        return sent.id

    async def _send(self, message: OutboundMessage) -> SentNotification:
        raise NotImplementedError

    async def find_by_reference(self, reference: str) -> LookupResult:
        """The id of the newest live notification Notify holds with `reference` (see `LIVE_STATUSES`), or
        None."""
        try:
            matches = await self.client.find_by_reference(reference)
        except NotifyError as exc:
            raise _provider_error(exc) from exc
        live = [match for match in matches if match.status in LIVE_STATUSES]
        return live[0].id if live else None

    async def aclose(self) -> None:
        if self.close_client:
            await self.client.aclose()


class NotifySmsProvider(_NotifyProvider):
    """Texts through Notify: the message's body fills the template's `((body))`."""

    channel = "sms"

    def __init__(self, client: NotifyClient, template_id: str, *, sms_sender_id: Optional[str] = None,
                 close_client: bool = False) -> None:
        super().__init__(client, template_id, close_client=close_client)
        self.sms_sender_id = sms_sender_id

    async def _send(self, message: OutboundMessage) -> SentNotification:
        return await self.client.send_sms(message.destination, self.template_id, {"body": message.body},
                                          message.reference, self.sms_sender_id)


class NotifyEmailProvider(_NotifyProvider):
    """Emails through Notify: the message's subject and body fill the template's `((subject))` and
    `((body))`."""

    channel = "email"

    def __init__(self, client: NotifyClient, template_id: str, *, email_reply_to_id: Optional[str] = None,
                 close_client: bool = False) -> None:
        super().__init__(client, template_id, close_client=close_client)
        self.email_reply_to_id = email_reply_to_id

    async def _send(self, message: OutboundMessage) -> SentNotification:
        return await self.client.send_email(message.destination, self.template_id,
                                            {"subject": message.subject, "body": message.body},
                                            message.reference, self.email_reply_to_id)


def _provider_error(exc: NotifyError) -> ProviderError:
    # Notify's error class and status only: its message names fields, but the reason stays shorter still.
    status = exc.status_code if exc.status_code is not None else "no answer"
    return ProviderError(f"Notify {status} {exc.error}", retryable=exc.retryable,
                         outcome_unknown=exc.outcome_unknown, code=exc.status_code,
                         rate_limited=exc.status_code == 429)
