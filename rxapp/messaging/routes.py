"""GOV.UK Notify's callbacks: delivery receipts and the texts victims send us."""
from __future__ import annotations

import asyncio
import hmac
import json

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from integrations.govuk_notify.callbacks import (
    BadCallback,
    parse_delivery_receipt,
    parse_received_text,
)
from rxapp.messaging.receipts import record_receipt
from rxapp.messaging.replies import record_inbound
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope


def _callback_allowed(request: Request) -> bool:
    expected = settings().notify_callback_token
    header = request.headers.get("authorization", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer "):].encode(), expected.encode())


async def _callback(request: Request, parse, handler) -> JSONResponse:
    """Notify's callbacks: bearer token checked, body validated, stored in one transaction."""
    if not _callback_allowed(request):
        return JSONResponse({"error": "not authorised"}, status_code=401)
    try:
        payload = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return JSONResponse({"error": "body is not JSON"}, status_code=400)

    try:
        parsed = parse(payload)
    except BadCallback as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)

    def _store():
        with session_scope() as session:
            handler(session, parsed)

    try:
        await asyncio.to_thread(_store)
    except LookupError as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    return JSONResponse({"result": "ok"})


async def delivery_receipt(request: Request):
    return await _callback(request, parse_delivery_receipt, record_receipt)


async def received_text(request: Request):
    return await _callback(request, parse_received_text, record_inbound)



ROUTES = [
    Route("/notify/delivery-receipts", delivery_receipt, methods=["POST"]),
    Route("/notify/received-texts", received_text, methods=["POST"]),
]
