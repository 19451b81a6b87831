"""What comes back from the message provider, in the domain's own words: a delivery receipt for one of our
messages, and a text a victim sent us. Translated from GOV.UK Notify's callbacks by
`integrations/govuk_notify/callbacks.py`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

DELIVERED = "delivered"
TEMPORARY_FAILURE = "temporary-failure"
PERMANENT_FAILURE = "permanent-failure"
TECHNICAL_FAILURE = "technical-failure"
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
