"""Outbound providers behind one interface, as GOV.UK Notify's own `app/clients/` keeps its SMS and email
providers: the outbox sender hands an `OutboundMessage` to the `Provider` of the message's channel, and
learns only what it needs to decide what happens next.

- `send` returns the provider's id for the message, or raises `ProviderError`, which says whether trying
  again may help (`retryable`) and whether the provider may have the message although no answer came
  (`outcome_unknown`): then the sender must ask `find_by_reference` before it sends again.
- `find_by_reference` answers with the provider's id of a copy it holds that is live (accepted, on its way
  or delivered), None when it holds none (so sending again cannot make a duplicate), or
  `Lookup.CANNOT_TELL` when the provider has no way to say (SMTP). It raises `ProviderError` when the
  provider could not be asked just now: then the sender must not send, and should ask again later.

The adapters: `integrations.govuk_notify.providers` (`NotifySmsProvider`, `NotifyEmailProvider`) and
`integrations.email.providers` (`SmtpEmailProvider`). Which provider serves which channel, and which
template or relay each uses, is configuration, not part of the message.

A `ProviderError`'s reason names the provider, its code and the kind of failure, never an address, a
number, a subject or a body, so it can be logged and stored on the message as it is.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal, Optional, Protocol, Union, runtime_checkable


@dataclass(frozen=True)
class OutboundMessage:
    """One rendered message for one recipient. `reference` is our outbox reference (no personal data): the
    provider keeps it, so the message can be found again. `subject` is for email; texts have none.

    The recipient, subject and body stay out of the repr, and so out of logs and tracebacks."""

    reference: str
    destination: str = field(repr=False)  # a phone number or an email address
    body: str = field(repr=False)
    subject: str = field(default="", repr=False)


class Lookup(enum.Enum):
    """What `find_by_reference` answers, besides a provider id or None."""

    CANNOT_TELL = "cannot-tell"  # the provider cannot be asked what it holds (SMTP)


CANNOT_TELL = Lookup.CANNOT_TELL
LookupResult = Union[str, None, Literal[Lookup.CANNOT_TELL]]


class ProviderError(Exception):
    """A send or a look-up the provider did not complete.

    `retryable`: the same request may succeed later (a rate limit, the provider's own fault, a timeout, a
    refused or lost connection); False when it would fail the same way again (a bad number or address, a
    refused recipient, bad credentials). `outcome_unknown`: the request may have reached the provider
    although we have no answer (a timeout, a 5xx, a connection lost after the message was handed over), so
    look it up by reference before sending again. `code` is the provider's own code when it gave one: the
    HTTP status for Notify, the SMTP reply code for SMTP; None when no answer came. `rate_limited`: the
    provider asked us to slow down (Notify's 429), so wait longer than usual before trying again.
    `reason` is short and holds no personal data."""

    def __init__(self, reason: str, *, retryable: bool, outcome_unknown: bool = False,
                 code: Optional[str | int] = None, rate_limited: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.outcome_unknown = outcome_unknown
        self.code = code
        self.rate_limited = rate_limited

    def __repr__(self) -> str:
        return (f"ProviderError({self.reason!r}, retryable={self.retryable}, "
                f"outcome_unknown={self.outcome_unknown}, code={self.code!r})")


@runtime_checkable
class Provider(Protocol):
    """Delivers one channel's messages through one provider. `name` is the provider's ("notify", "smtp"),
    for logs; `channel` is "sms" or "email"."""

    name: str
    channel: str

    async def send(self, message: OutboundMessage) -> str:
        """Hand `message` to the provider; returns the provider's id for it. Raises `ProviderError`."""
        ...

    async def find_by_reference(self, reference: str) -> LookupResult:
        """The provider's id of a live copy of the message with our `reference`, None if it holds none,
        or `Lookup.CANNOT_TELL`. Raises `ProviderError` when the provider could not be asked."""
        ...

    async def aclose(self) -> None:
        """Release what the provider holds open (connections it owns)."""
        ...
