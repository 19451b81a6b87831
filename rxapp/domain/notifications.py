"""What comes back from the message provider, in the domain's own words: a delivery receipt for one of our
messages, and a text a victim sent us. Translated from GOV.UK Notify's callbacks by
`integrations/govuk_notify/callbacks.py`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .statuses import MessageStatus

# The statuses a receipt can report: the provider's words, which are also our messages' statuses.
DELIVERED = MessageStatus.DELIVERED
TEMPORARY_FAILURE = MessageStatus.TEMPORARY_FAILURE
PERMANENT_FAILURE = MessageStatus.PERMANENT_FAILURE
TECHNICAL_FAILURE = MessageStatus.TECHNICAL_FAILURE
RECEIPT_STATUSES = (DELIVERED, TEMPORARY_FAILURE, PERMANENT_FAILURE, TECHNICAL_FAILURE)


@dataclass(frozen=True)
class DeliveryReceipt:
    status: str  # one of RECEIPT_STATUSES
    reference: Optional[str]  # ours: random, no personal data
    provider_id: Optional[str]  # the provider's id for the message


@dataclass(frozen=True)
class ReceivedText:
    provider_id: str
    source_number: str  # E.164 where it could be read as a phone number, else as sent
    text: str
