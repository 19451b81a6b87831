"""What the local Notify holds (templates, notifications, received texts, callback attempts), the numbers
and addresses that make a notification fail, and how each record looks on the wire in Notify's JSON.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from starlette.responses import JSONResponse

from .validation import e164, is_uuid

# A key for the demo and for tests that do not care which key they use. It is published here, so it must
# never be configured on a real Notify service.
DEMO_SERVICE_ID = "d6aa2c68-a2d9-4437-ab19-3ae8eb202553"
DEMO_API_KEY = f"local-demo-{DEMO_SERVICE_ID}-2f4ae2c1-5f4b-4b7c-9d35-0a7a1e5f3c11"

# The two templates the product uses on a real service (see the README): its own wording travels whole in
# the personalisation. Registered on every server unless `templates` replaces them.
DEFAULT_SMS_TEMPLATE_ID = "5f0c3d44-2a8e-4a8e-9c1d-7b4b6f2e9a01"
DEFAULT_EMAIL_TEMPLATE_ID = "8b1e6a2d-4c3f-4d7e-8a9b-0c2d4e6f8a02"

TEMP_FAIL_NUMBER = "+447700900003"
PERM_FAIL_NUMBER = "+447700900002"
TEMP_FAIL_EMAIL = "temp-fail@simulator.notify"
PERM_FAIL_EMAIL = "perm-fail@simulator.notify"


# ---- records -------------------------------------------------------------------------------------------


@dataclass
class Template:
    """A Notify template: `type` is "sms" or "email"; `body` (and an email's `subject`) hold
    `((placeholders))`."""

    id: str
    type: str
    body: str
    subject: Optional[str] = None
    version: int = 1

    def __post_init__(self) -> None:
        if self.type not in ("sms", "email"):
            raise ValueError(f"template {self.id}: type must be 'sms' or 'email'")
        if not is_uuid(self.id):
            raise ValueError("a template id must be a UUID")
        self.id = str(uuid.UUID(self.id))
        if self.type == "email" and self.subject is None:
            raise ValueError(f"email template {self.id} needs a subject")


@dataclass
class StoredNotification:
    """A notification as the server holds it. `to` is the recipient exactly as sent."""

    id: str
    reference: Optional[str]
    to: str
    type: str  # "sms" | "email"
    template_id: str
    template_version: int
    body: str
    subject: Optional[str]
    status: str
    created_at: datetime
    service_id: str
    final_status: str
    sent_at: Optional[datetime] = None
    completed_at: Optional[datetime] = None


@dataclass
class ReceivedText:
    id: str
    source_number: str
    destination_number: str
    message: str
    date_received: datetime
    service_id: str


@dataclass
class CallbackAttempt:
    """One POST to a callback URL: `outcome` is the HTTP status, or the exception's class name."""

    kind: str  # "delivery-receipt" | "received-text"
    subject_id: str  # the notification's or received text's id
    attempt: int
    outcome: int | str
    at: datetime




def templates_from(data: Any) -> list[Template]:
    if isinstance(data, dict) and "templates" in data and isinstance(data["templates"], (list, dict)):
        data = data["templates"]
    if isinstance(data, dict):
        items = [{"id": key, **value} for key, value in data.items()]
    else:
        items = list(data)
    templates = []
    for item in items:
        if isinstance(item, Template):
            templates.append(item)
        elif isinstance(item, dict):
            templates.append(Template(id=str(item["id"]), type=item["type"], body=item["body"],
                                      subject=item.get("subject"), version=int(item.get("version", 1))))
        else:
            raise ValueError("each template must be an object with id, type and body")
    return templates


def final_status(notification_type: str, to: str) -> str:
    if notification_type == "sms":
        number = e164(to)
        if number == TEMP_FAIL_NUMBER:
            return "temporary-failure"
        if number == PERM_FAIL_NUMBER:
            return "permanent-failure"
        return "delivered"
    address = to.strip().lower()
    if address == TEMP_FAIL_EMAIL:
        return "temporary-failure"
    if address == PERM_FAIL_EMAIL:
        return "permanent-failure"
    return "delivered"



# ---- JSON shapes ---------------------------------------------------------------------------------------


def timestamp(moment: Optional[datetime]) -> Optional[str]:
    # Notify's format: microseconds and a Z, always UTC.
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


def template_json(template: Template, service_id: str, base: str) -> dict:
    return {"id": template.id, "version": template.version,
            "uri": f"{base}/services/{service_id}/templates/{template.id}"}


def notification_json(n: StoredNotification, base: str) -> dict:
    """A notification as Notify's GET endpoints show it (letter fields always empty here)."""
    template_info = {"id": n.template_id, "version": n.template_version,
                     "uri": f"{base}/services/{n.service_id}/templates/{n.template_id}"}
    return {
        "id": n.id,
        "reference": n.reference,
        "email_address": n.to if n.type == "email" else None,
        "phone_number": n.to if n.type == "sms" else None,
        "line_1": None, "line_2": None, "line_3": None, "line_4": None, "line_5": None, "line_6": None,
        "postcode": None,
        "postage": None,
        "type": n.type,
        "status": n.status,
        "template": template_info,
        "body": n.body,
        "subject": n.subject,
        "created_at": timestamp(n.created_at),
        "created_by_name": None,
        "sent_at": timestamp(n.sent_at),
        "completed_at": timestamp(n.completed_at),
        "scheduled_for": None,
        "estimated_delivery": None,
        "one_click_unsubscribe_url": None,
    }


def receipt_json(n: StoredNotification) -> dict:
    return {
        "id": n.id,
        "reference": n.reference,
        "to": n.to,
        "status": n.status,
        "created_at": timestamp(n.created_at),
        "completed_at": timestamp(n.completed_at),
        "sent_at": timestamp(n.sent_at),
        "notification_type": n.type,
        "template_id": n.template_id,
        "template_version": n.template_version,
    }


def received_callback_json(text: ReceivedText) -> dict:
    return {
        "id": text.id,
        "source_number": text.source_number,
        "destination_number": text.destination_number,
        "message": text.message,
        "date_received": timestamp(text.date_received),
    }


def error_response(status: int, error: str, messages: list[str]) -> JSONResponse:
    return JSONResponse({"status_code": status, "errors": [{"error": error, "message": m} for m in messages]},
                        status_code=status)



class Refused(Exception):
    """Raised inside a handler to answer with Notify's error shape."""

    def __init__(self, status: int, error: str, messages: str | list[str]) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.messages = [messages] if isinstance(messages, str) else messages

    def response(self) -> JSONResponse:
        return error_response(self.status, self.error, self.messages)
