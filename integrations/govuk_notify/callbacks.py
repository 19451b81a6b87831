"""GOV.UK Notify's callbacks (delivery receipts, received texts) parsed into the domain's own types.

Bodies are checked strictly: a body we cannot use raises `BadCallback` with a reason that names fields,
never their values (reasons are returned to the caller and may be logged)."""
from __future__ import annotations

from typing import Any

from integrations.validation import normalise_phone
from rxapp.domain.notifications import RECEIPT_STATUSES, DeliveryReceipt, ReceivedText

MAX_TEXT = 2000


class BadCallback(ValueError):
    """A callback body we cannot use; the message says why (no personal data)."""


def parse_delivery_receipt(payload: Any) -> DeliveryReceipt:
    if not isinstance(payload, dict):
        raise BadCallback("body must be a JSON object")
    status, reference, provider_id = payload.get("status"), payload.get("reference"), payload.get("id")
    if status not in RECEIPT_STATUSES:
        raise BadCallback("status must be one of " + ", ".join(RECEIPT_STATUSES))
    if not isinstance(reference, str) and not isinstance(provider_id, str):
        raise BadCallback("reference or id is required")
    return DeliveryReceipt(status=status, reference=reference if isinstance(reference, str) else None,
                           provider_id=provider_id if isinstance(provider_id, str) else None)


def parse_received_text(payload: Any) -> ReceivedText:
    if not isinstance(payload, dict):
        raise BadCallback("body must be a JSON object")
    provider_id, source, text = payload.get("id"), payload.get("source_number"), payload.get("message")
    if not isinstance(provider_id, str) or not provider_id or not isinstance(source, str) or not isinstance(text, str):
        raise BadCallback("id, source_number and message are required strings")
    return ReceivedText(provider_id=provider_id, source_number=normalise_phone(source) or source,
                        text=text[:MAX_TEXT])
