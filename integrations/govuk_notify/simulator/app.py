"""The local Notify's HTTP side: Notify's v2 endpoints (send a text or an email, list and get
notifications, list received texts), each behind Notify's JWT check, and the `/_control/...` endpoints
through which tests and the demo steer it from another process.

Every /v2 request goes through `NotifyApi._handle`, in Notify's order: an injected delay, authentication,
an injected failure, the rate limit for sends, then the endpoint itself. A refusal is raised as `Refused`
and answered in Notify's error shape.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Callable
from urllib.parse import urlencode

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .faults import injected
from .models import (
    Refused,
    StoredNotification,
    final_status,
    notification_json,
    template_json,
    timestamp,
)
from .validation import (
    MAX_SMS_CHARACTERS,
    is_uuid,
    missing_placeholders,
    render,
    validate_send,
)

log = logging.getLogger(__name__)

JWT_MAX_SKEW = 30  # seconds, either way, as Notify allows
MAX_PAGE = 250  # Notify's page size for notifications and received texts


class NotifyApi:
    """The HTTP half of `NotifyServer`, which provides the state (`_lock`, `_keys`, `_templates`,
    `_notifications`, `_received`, `_faults`, `_clock`, `_now()`, `_stopping`), the fault checks of
    `FaultControls`, and `_spawn`/`_deliver` to move a new notification on to its final status."""

    def _build_app(self) -> Starlette:
        routes = [
            Route("/v2/notifications/sms", self._post_sms, methods=["POST"]),
            Route("/v2/notifications/email", self._post_email, methods=["POST"]),
            Route("/v2/notifications", self._get_notifications, methods=["GET"]),
            Route("/v2/notifications/{notification_id}", self._get_notification, methods=["GET"]),
            Route("/v2/received-text-messages", self._get_received_texts, methods=["GET"]),
            Route("/_control/faults", self._control_faults, methods=["GET", "POST"]),
            Route("/_control/received-text", self._control_received_text, methods=["POST"]),
            Route("/_control/callbacks", self._control_callbacks, methods=["POST"]),
            Route("/_control/notifications", self._control_notifications, methods=["GET"]),
            Route("/_status", self._status, methods=["GET"]),
        ]
        return Starlette(routes=routes)

    async def _post_sms(self, request: Request) -> Response:
        return await self._handle(request, "send",
                                  lambda service, body: self._create(request, service, body, "sms"))

    async def _post_email(self, request: Request) -> Response:
        return await self._handle(request, "send",
                                  lambda service, body: self._create(request, service, body, "email"))

    async def _get_notifications(self, request: Request) -> Response:
        return await self._handle(request, "read", lambda service, _: self._list(request, service))

    async def _get_notification(self, request: Request) -> Response:
        return await self._handle(request, "read", lambda service, _: self._one(request, service))

    async def _get_received_texts(self, request: Request) -> Response:
        return await self._handle(request, "read", lambda service, _: self._received_list(request, service))

    async def _handle(self, request: Request, kind: str,
                      action: Callable[[tuple[str, str], bytes], Response]) -> Response:
        """What every /v2 request goes through, in Notify's order: (an injected delay,) authentication,
        (an injected failure,) the rate limit for sends, then the endpoint itself."""
        # Read the body first: checking for a disconnected client afterwards must not swallow it.
        raw = await request.body()
        latency = self._latency()
        if latency:
            await self._sleep(latency)
        delay = self._take_delay(kind)
        if delay:
            await self._sleep(delay)
            if await request.is_disconnected():
                log.info("local Notify: dropped a delayed %s request; its client had gone", request.url.path)
                return Response(status_code=499)
        try:
            service = self._authenticate(request)
            self._injected_failure(kind)
            if kind == "send":
                self._check_rate_limit(service)
            return action(service, raw)
        except Refused as refused:
            return refused.response()

    async def _sleep(self, seconds: float) -> None:
        # In small steps, so that stopping the server is not held up by a long injected delay.
        deadline = time.monotonic() + seconds
        while not self._stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.05))

    def _authenticate(self, request: Request) -> tuple[str, str]:
        """The (service id, key name) a request's JWT belongs to, or a `Refused` saying why not."""
        header = request.headers.get("authorization")
        if not header:
            raise Refused(401, "AuthError", "Unauthorized: authentication token must be provided")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused(401, "AuthError", "Unauthorized: authentication bearer scheme must be used")
        token = token.strip()
        try:
            unverified_header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Refused(403, "AuthError", "Invalid token: signature, api token is not valid")
        if unverified_header.get("alg") != "HS256":
            raise Refused(403, "AuthError", "Invalid token: algorithm used is not HS256")
        issuer = unverified.get("iss")
        if not issuer:
            raise Refused(403, "AuthError", "Invalid token: iss field not provided")
        if not is_uuid(issuer):
            raise Refused(403, "AuthError", "Invalid token: service id is not the right data type")
        service_id = str(uuid.UUID(issuer))
        with self._lock:
            keys = list(self._keys.get(service_id, ()))
        if not keys:
            raise Refused(403, "AuthError", "Invalid token: service not found")
        claims, key_name = None, None
        for name, secret in keys:
            try:
                claims = jwt.decode(token, secret, algorithms=["HS256"],
                                    options={"verify_iat": False, "verify_exp": False, "verify_nbf": False,
                                             "verify_aud": False, "verify_iss": False})
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError:
                raise Refused(403, "AuthError", "Invalid token: signature, api token is not valid")
            key_name = name
            break
        if claims is None or key_name is None:
            raise Refused(403, "AuthError", "Invalid token: API key not found")
        issued_at = claims.get("iat")
        if not isinstance(issued_at, (int, float)) or isinstance(issued_at, bool):
            raise Refused(403, "AuthError", "Invalid token: iat field not provided")
        if abs(self._clock() - issued_at) > JWT_MAX_SKEW:
            raise Refused(403, "AuthError", "Error: Your system clock must be accurate to within 30 seconds")
        return service_id, key_name

    def _create(self, request: Request, service: tuple[str, str], raw: bytes, notification_type: str) -> Response:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, "ValidationError", "Invalid JSON supplied in POST data")
        if not isinstance(body, dict):
            raise Refused(400, "ValidationError", "Invalid JSON supplied in POST data")
        problems = validate_send(body, notification_type)
        if problems:
            raise Refused(400, "ValidationError", problems)

        with self._lock:
            template = self._templates.get(str(uuid.UUID(body["template_id"])))
        if template is None:
            raise Refused(400, "BadRequestError", "Template not found")
        if template.type != notification_type:
            raise Refused(400, "BadRequestError",
                           f"{template.type} template is not suitable for {notification_type} notification")
        personalisation = body.get("personalisation") or {}
        missing = missing_placeholders(template.subject, template.body, personalisation)
        if missing:
            raise Refused(400, "BadRequestError", f"Missing personalisation: {', '.join(missing)}")
        rendered_body = render(template.body, personalisation, notification_type)
        subject = render(template.subject, personalisation, "sms") if template.subject is not None else None
        if not rendered_body.strip():
            raise Refused(400, "BadRequestError", "Message is empty or just whitespace")
        if notification_type == "sms" and len(rendered_body) > MAX_SMS_CHARACTERS:
            raise Refused(400, "BadRequestError",
                           f"Your message is too long. Text messages cannot be longer than {MAX_SMS_CHARACTERS} "
                           f"characters. Your message is {len(rendered_body)} characters long.")

        to = body["phone_number"] if notification_type == "sms" else body["email_address"]
        notification = StoredNotification(
            id=str(uuid.uuid4()),
            reference=body.get("reference"),
            to=to,
            type=notification_type,
            template_id=template.id,
            template_version=template.version,
            body=rendered_body,
            subject=subject,
            status="created",
            created_at=self._now(),
            service_id=service[0],
            final_status=final_status(notification_type, to),
        )
        with self._lock:
            self._notifications[notification.id] = notification
            lose_answer = self._faults.accept_then_fail > 0
            if lose_answer:
                self._faults.accept_then_fail -= 1
        log.info("local Notify: %s notification %s created (reference %s)", notification_type, notification.id,
                 notification.reference)
        self._spawn(self._deliver(notification.id))
        if lose_answer:
            log.info("local Notify: injected 500 after storing notification %s", notification.id)
            raise injected(500, self.rate_limit_per_minute, self.rate_limit_window)

        base = _base_url(request)
        if notification_type == "sms":
            content = {"body": rendered_body, "from_number": self.from_number}
        else:
            content = {"body": rendered_body, "subject": subject, "from_email": self.from_email,
                       "one_click_unsubscribe_url": body.get("one_click_unsubscribe_url")}
        return JSONResponse({
            "id": notification.id,
            "reference": notification.reference,
            "content": content,
            "uri": f"{base}/v2/notifications/{notification.id}",
            "template": template_json(template, service[0], base),
            "scheduled_for": None,
        }, status_code=201)

    def _list(self, request: Request, service: tuple[str, str]) -> Response:
        params = request.query_params
        reference = params.get("reference")
        template_type = params.get("template_type")
        statuses = set(params.getlist("status"))
        older_than = params.get("older_than")
        problems = []
        if template_type is not None and template_type not in ("sms", "email", "letter"):
            problems.append(f"template_type {template_type} is not one of [sms, email, letter]")
        if older_than is not None and not is_uuid(older_than):
            problems.append("older_than is not a valid UUID")
        if problems:
            raise Refused(400, "ValidationError", problems)
        with self._lock:
            newest_first = [n for n in reversed(self._notifications.values()) if n.service_id == service[0]]
            if older_than is not None:
                ids = [n.id for n in newest_first]
                newest_first = newest_first[ids.index(older_than) + 1:] if older_than in ids else []
            chosen = [n for n in newest_first
                      if (reference is None or n.reference == reference)
                      and (template_type is None or n.type == template_type)
                      and (not statuses or n.status in statuses)][:MAX_PAGE]
            base = _base_url(request)
            items = [notification_json(n, base) for n in chosen]
        links = {"current": str(request.url)}
        if len(chosen) == MAX_PAGE:
            query = {k: v for k, v in params.items() if k != "older_than"}
            query["older_than"] = chosen[-1].id
            links["next"] = f"{base}/v2/notifications?{urlencode(query)}"
        return JSONResponse({"notifications": items, "links": links})

    def _one(self, request: Request, service: tuple[str, str]) -> Response:
        notification_id = request.path_params["notification_id"]
        if not is_uuid(notification_id):
            raise Refused(400, "ValidationError", "notification_id is not a valid UUID")
        with self._lock:
            notification = self._notifications.get(str(uuid.UUID(notification_id)))
            if notification is None or notification.service_id != service[0]:
                raise Refused(404, "NoResultFound", "No result found")
            return JSONResponse(notification_json(notification, _base_url(request)))

    def _received_list(self, request: Request, service: tuple[str, str]) -> Response:
        older_than = request.query_params.get("older_than")
        if older_than is not None and not is_uuid(older_than):
            raise Refused(400, "ValidationError", "older_than is not a valid UUID")
        with self._lock:
            newest_first = [t for t in reversed(self._received) if t.service_id == service[0]]
        if older_than is not None:
            ids = [t.id for t in newest_first]
            newest_first = newest_first[ids.index(older_than) + 1:] if older_than in ids else []
        page = newest_first[:MAX_PAGE]
        base = _base_url(request)
        links = {"current": str(request.url)}
        if len(page) == MAX_PAGE:
            links["next"] = f"{base}/v2/received-text-messages?{urlencode({'older_than': page[-1].id})}"
        return JSONResponse({
            "received_text_messages": [{
                "id": t.id,
                "user_number": t.source_number,
                "notify_number": t.destination_number,
                "created_at": timestamp(t.date_received),
                "service_id": t.service_id,
                "content": t.message,
            } for t in page],
            "links": links,
        })

    # ---- control endpoints (tests and the demo, from another process) ----------------------------

    async def _control_faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                spec = json.loads(await request.body() or b"{}")
                for item in spec if isinstance(spec, list) else [spec]:
                    self.apply_fault(item)
            except (ValueError, KeyError, TypeError) as exc:
                return JSONResponse({"error": str(exc) or type(exc).__name__}, status_code=400)
        return JSONResponse(self.faults())

    async def _control_received_text(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            source, message = body["source_number"], body["message"]
            if not isinstance(source, str) or not isinstance(message, str):
                raise TypeError("source_number and message must be strings")
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": f"expected {{source_number, message}}: {type(exc).__name__}"},
                                status_code=400)
        payload = self.inject_received_text(source, message, body.get("destination_number"))
        return JSONResponse(payload, status_code=201)

    async def _control_callbacks(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            self.set_callbacks(delivery_url=body.get("delivery_url"), received_text_url=body.get("received_text_url"),
                               token=body.get("token"))
        except (ValueError, AttributeError) as exc:
            return JSONResponse({"error": type(exc).__name__}, status_code=400)
        return JSONResponse({"delivery_url": self.callback_url, "received_text_url": self.received_text_callback_url,
                             "token_set": bool(self.callback_token)})

    async def _control_notifications(self, request: Request) -> Response:
        reference = request.query_params.get("reference")
        items = [n for n in self.sent if reference is None or n.reference == reference]
        return JSONResponse({"notifications": [{
            "id": n.id, "reference": n.reference, "to": n.to, "type": n.type, "body": n.body, "subject": n.subject,
            "status": n.status, "created_at": timestamp(n.created_at), "template_id": n.template_id,
        } for n in items]})

    async def _status(self, request: Request) -> Response:
        with self._lock:
            return JSONResponse({"status": "ok", "notifications": len(self._notifications),
                                 "received_texts": len(self._received)})


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")
