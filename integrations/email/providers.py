"""Email over SMTP as an outbound provider (see `integrations.outbound`), by way of an `SmtpSender`.

SMTP has no look-up: once a relay has a message, nobody can ask it whether it has. So
`find_by_reference` answers `Lookup.CANNOT_TELL`, and a message sent again carries the same Message-ID
(made from our reference), which lets mail systems and people recognise the repeat. An `SmtpSendError`
becomes a `ProviderError` with the SMTP reply code as its code; its outcome is unknown only when the
connection failed after the message had been handed over (`maybe_sent`).
"""
from __future__ import annotations

from integrations.outbound import Lookup, LookupResult, OutboundMessage, ProviderError

from .smtp import SmtpSender, SmtpSendError

# What `send` returns: SMTP relays give no id of their own that we could look anything up by.
PROVIDER_ID_PREFIX = "smtp:"


class SmtpEmailProvider:
    """Emails through one SMTP relay, one connection per message (so there is nothing to close)."""

    name = "smtp"
    channel = "email"

    def __init__(self, sender: SmtpSender) -> None:
        self.sender = sender

    def __repr__(self) -> str:
        return f"SmtpEmailProvider({self.sender!r})"

    async def send(self, message: OutboundMessage) -> str:
        """Hand the message to the relay; returns `smtp:<reference>`."""
        try:
            await self.sender.send(message.destination, message.subject, message.body, message.reference)
        except SmtpSendError as exc:
            raise ProviderError(_reason(exc, message.reference), retryable=exc.retryable,
                                outcome_unknown=exc.maybe_sent, code=exc.code) from exc
        return PROVIDER_ID_PREFIX + message.reference

    async def find_by_reference(self, reference: str) -> LookupResult:
        return Lookup.CANNOT_TELL

    async def aclose(self) -> None:
        return None


def _reason(exc: SmtpSendError, reference: str) -> str:
    # `SmtpSendError` messages read "message <reference>: <what happened> (<code>)" and quote nothing the
    # relay said (relays quote the recipient); the caller knows the reference already.
    text = exc.message.removeprefix(f"message {reference}: ")
    return f"SMTP: {text}"
