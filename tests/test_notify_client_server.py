"""The Notify client against the local Notify-compatible server, over real HTTP on local ports: sends in
Notify's shape, JWT checks, validation, error mapping (what may be retried and what may not), injected
faults, finding a send whose answer was lost, delivery receipts and received texts POSTed to a real
callback receiver, and the command line."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
import pytest_asyncio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from integrations.govuk_notify.client import (
    NotificationStatus,
    NotifyClient,
    NotifyError,
    SentNotification,
    create_jwt,
    parse_api_key,
    validate_callback_token,
)
from integrations.govuk_notify.simulator import (
    DEFAULT_EMAIL_TEMPLATE_ID,
    DEFAULT_SMS_TEMPLATE_ID,
    NotifyServer,
)

ROOT = Path(__file__).resolve().parent.parent
SERVICE_ID = "8a4e2f5c-1b3d-4c6e-9f70-2a1b3c4d5e6f"
API_KEY = f"victim-journey-test-{SERVICE_ID}-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
OTHER_SERVICE_KEY = "other-3b1c9d7e-5f2a-4e8b-9c6d-1a2b3c4d5e6f-7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3928"
WRONG_SECRET_KEY = f"victim-journey-test-{SERVICE_ID}-11111111-2222-4333-8444-555555555555"
CALLBACK_TOKEN = "callback-token-5d41402abc4b2a76b9719d911017c592"
PHONE = "07700900123"
EMAIL = "amina.hussain@example.org"
TEXT = "Officers are on their way to you. Reply STOP to stop these texts."
PERSONAL = (PHONE, "+447700900123", EMAIL, "Amina", "Hussain", TEXT)

GREETING_TEMPLATE = "3c1f2e4d-5a6b-4c7d-8e9f-0a1b2c3d4e5f"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CallbackReceiver:
    """Our side of Notify's callbacks, as a real HTTP server in the test's event loop: records every POST
    (headers and JSON) and answers 500 to the first `fail_first` of them."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[dict] = []
        self.fail_first = fail_first
        self._changed = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None
        self.port = 0

    async def _record(self, request: Request) -> JSONResponse:
        self.received.append({"path": request.url.path, "authorization": request.headers.get("authorization"),
                              "json": json.loads(await request.body())})
        self._changed.set()
        if self.fail_first > 0:
            self.fail_first -= 1
            return JSONResponse({"error": "busy"}, status_code=500)
        return JSONResponse({}, status_code=200)

    async def start(self) -> "CallbackReceiver":
        app = Starlette(routes=[Route("/notify/delivery-receipts", self._record, methods=["POST"]),
                                Route("/notify/received-texts", self._record, methods=["POST"])])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # so TCP_NODELAY is set
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            await self._task

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"expected {count} callbacks, got {len(self.received)}"
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return self.received


@pytest_asyncio.fixture
async def server():
    notify = NotifyServer(API_KEY, receipt_delay=0.05, callback_retry_interval=0.05, seed=1)
    notify.add_template(GREETING_TEMPLATE, "sms", "Hello ((name)), your crime reference is ((crime ref)).")
    await notify.astart()
    yield notify
    await notify.astop()


@pytest_asyncio.fixture
async def client(server):
    notify_client = NotifyClient(API_KEY, server.url, timeout=2.0)
    yield notify_client
    await notify_client.aclose()


@pytest_asyncio.fixture
async def receiver():
    callbacks = await CallbackReceiver().start()
    yield callbacks
    await callbacks.stop()


def reference() -> str:
    return f"outbox-{uuid.uuid4()}"


async def raw_post(server: NotifyServer, path: str, body: dict, token: str | None = None) -> httpx.Response:
    """A request made by hand, for what the client would never send."""
    _, service_id, secret = parse_api_key(API_KEY)
    token = token if token is not None else create_jwt(service_id, secret)
    async with httpx.AsyncClient() as http:
        return await http.post(f"{server.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"})


async def settled(server: NotifyServer, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        sent = server.sent
        if len(sent) >= count and all(n.status not in ("created", "sending") for n in sent):
            return
        assert time.monotonic() < deadline, "notifications did not reach a final status"
        await asyncio.sleep(0.02)


# ---- the API key and the callback token ------------------------------------------------------------------


def test_api_key_parts_with_dashes_in_the_key_name():
    key_name, service_id, secret = parse_api_key(API_KEY)
    assert key_name == "victim-journey-test"
    assert service_id == SERVICE_ID
    assert secret == "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


@pytest.mark.parametrize("bad_key", ["", "not-a-key", f"name-{SERVICE_ID}", f"{SERVICE_ID}-0f1e2d3c-4b5a-4978",
                                     f"-{SERVICE_ID}-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"])
def test_a_malformed_api_key_is_refused_without_quoting_it(bad_key):
    with pytest.raises(ValueError) as caught:
        NotifyClient(bad_key, "http://127.0.0.1:1")
    assert "key_name" in str(caught.value)
    if bad_key:
        assert bad_key not in str(caught.value)


def test_the_client_repr_hides_the_secret():
    assert parse_api_key(API_KEY)[2] not in repr(NotifyClient(API_KEY, "http://127.0.0.1:1"))


def test_callback_token_check():
    assert validate_callback_token(f"Bearer {CALLBACK_TOKEN}", CALLBACK_TOKEN)
    assert validate_callback_token(f"bearer {CALLBACK_TOKEN}", CALLBACK_TOKEN)
    assert not validate_callback_token(f"Bearer {CALLBACK_TOKEN}x", CALLBACK_TOKEN)
    assert not validate_callback_token(CALLBACK_TOKEN, CALLBACK_TOKEN)
    assert not validate_callback_token(f"Basic {CALLBACK_TOKEN}", CALLBACK_TOKEN)
    assert not validate_callback_token(None, CALLBACK_TOKEN)
    assert not validate_callback_token("Bearer ", "")
    assert not validate_callback_token("Bearer anything", None)
    assert not validate_callback_token("Bearer ünïcode", CALLBACK_TOKEN)


# ---- sending -------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_send_sms(server, client):
    ref = reference()
    sent = await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, ref)
    assert isinstance(sent, SentNotification)
    assert sent.reference == ref and sent.status == "created"
    uuid.UUID(sent.id)
    [stored] = server.sent
    assert (stored.id, stored.to, stored.body, stored.reference, stored.type) == (sent.id, PHONE, TEXT, ref, "sms")


@pytest.mark.asyncio
async def test_a_send_answers_exactly_in_notifys_shape(server):
    ref = reference()
    response = await raw_post(server, "/v2/notifications/sms", {
        "phone_number": "+44 7700 900123", "template_id": GREETING_TEMPLATE,
        "personalisation": {"Name": "Amina", "crime_ref": "CR-1234"}, "reference": ref})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "reference", "content", "uri", "template", "scheduled_for"}
    assert body["reference"] == ref
    assert body["content"] == {"body": "Hello Amina, your crime reference is CR-1234.", "from_number": "GOVUK"}
    assert body["uri"] == f"{server.url}/v2/notifications/{body['id']}"
    assert body["template"] == {"id": GREETING_TEMPLATE, "version": 1,
                                "uri": f"{server.url}/services/{SERVICE_ID}/templates/{GREETING_TEMPLATE}"}

    response = await raw_post(server, "/v2/notifications/email", {
        "email_address": EMAIL, "template_id": DEFAULT_EMAIL_TEMPLATE_ID,
        "personalisation": {"subject": "Your report", "body": "We have your report."}, "reference": ref})
    assert response.status_code == 201
    content = response.json()["content"]
    assert content["subject"] == "Your report" and content["body"] == "We have your report."
    assert "from_email" in content


@pytest.mark.asyncio
async def test_send_email(server, client):
    ref = reference()
    sent = await client.send_email(EMAIL, DEFAULT_EMAIL_TEMPLATE_ID,
                                   {"subject": "Update on your report", "body": TEXT}, ref,
                                   email_reply_to_id=str(uuid.uuid4()))
    [stored] = server.sent
    assert (stored.id, stored.to, stored.subject, stored.body, stored.type) == (
        sent.id, EMAIL, "Update on your report", TEXT, "email")


@pytest.mark.asyncio
async def test_get_notification_by_id(server, client):
    sent = await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
    status = await client.get_notification(sent.id)
    assert status.id == sent.id and status.status in ("created", "sending", "delivered")
    with pytest.raises(NotifyError) as caught:
        await client.get_notification(str(uuid.uuid4()))
    assert (caught.value.status_code, caught.value.error, caught.value.retryable) == (404, "NoResultFound", False)


# ---- authentication ------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("key", [WRONG_SECRET_KEY, OTHER_SERVICE_KEY])
async def test_a_wrong_key_is_refused_403_and_not_retryable(server, key):
    async with NotifyClient(key, server.url, timeout=2.0) as wrong:
        with pytest.raises(NotifyError) as caught:
            await wrong.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
    assert (caught.value.status_code, caught.value.error, caught.value.retryable) == (403, "AuthError", False)
    assert server.sent == []


@pytest.mark.asyncio
@pytest.mark.parametrize("age", [45, -45])
async def test_a_token_older_or_newer_than_30_seconds_is_refused(server, age):
    _, service_id, secret = parse_api_key(API_KEY)
    stale = jwt.encode({"iss": service_id, "iat": int(time.time()) - age}, secret, algorithm="HS256")
    response = await raw_post(server, "/v2/notifications/sms",
                              {"phone_number": PHONE, "template_id": DEFAULT_SMS_TEMPLATE_ID,
                               "personalisation": {"body": TEXT}}, token=stale)
    assert response.status_code == 403
    assert response.json() == {"status_code": 403, "errors": [
        {"error": "AuthError", "message": "Error: Your system clock must be accurate to within 30 seconds"}]}

    # The same through the client, whose clock is wrong.
    async with NotifyClient(API_KEY, server.url, clock=lambda: time.time() - age) as skewed:
        with pytest.raises(NotifyError) as caught:
            await skewed.find_by_reference("anything")
    assert (caught.value.status_code, caught.value.retryable) == (403, False)
    assert server.sent == []


@pytest.mark.asyncio
async def test_tokens_that_are_not_notifys_are_refused(server):
    _, service_id, secret = parse_api_key(API_KEY)
    body = {"phone_number": PHONE, "template_id": DEFAULT_SMS_TEMPLATE_ID, "personalisation": {"body": TEXT}}
    unsigned = jwt.encode({"iss": service_id, "iat": int(time.time())}, None, algorithm="none")
    no_iat = jwt.encode({"iss": service_id}, secret, algorithm="HS256")
    no_iss = jwt.encode({"iat": int(time.time())}, secret, algorithm="HS256")
    for token in (unsigned, no_iat, no_iss, "not.a.jwt"):
        response = await raw_post(server, "/v2/notifications/sms", body, token=token)
        assert response.status_code == 403, token
        assert response.json()["errors"][0]["error"] == "AuthError"
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.url}/v2/notifications/sms", json=body)
    assert response.status_code == 401
    assert server.sent == []


# ---- validation ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("kind, recipient, template, personalisation, ref, error, message", [
    ("sms", "01632960001", DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, "r1",
     "ValidationError", "phone_number Not a UK mobile number"),
    ("sms", "0770090012", DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, "r1", "ValidationError",
     "phone_number Not enough digits"),
    ("sms", "07700 9OO123", DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, "r1", "ValidationError",
     "phone_number Must not contain letters or symbols"),
    ("email", "amina.hussain@", DEFAULT_EMAIL_TEMPLATE_ID, {"subject": "s", "body": TEXT}, "r1",
     "ValidationError", "email_address Not a valid email address"),
    ("sms", PHONE, "not-a-uuid", {"body": TEXT}, "r1", "ValidationError", "template_id is not a valid UUID"),
    ("sms", PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, "r" * 1001, "ValidationError",
     "reference is too long (longer than 1000 characters)"),
    ("sms", PHONE, "8d919052-d91a-4c14-9bdd-e19f75697b57", {"body": TEXT}, "r1", "BadRequestError", "Template not found"),
    ("email", EMAIL, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, "r1", "BadRequestError",
     "sms template is not suitable for email notification"),
    ("sms", PHONE, GREETING_TEMPLATE, {"name": "Amina"}, "r1", "BadRequestError",
     "Missing personalisation: crime ref"),
    ("sms", PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": "x" * 919}, "r1", "BadRequestError",
     "Your message is too long. Text messages cannot be longer than 918 characters. "
     "Your message is 919 characters long."),
])
async def test_validation_errors_are_400_and_not_retryable(server, client, kind, recipient, template,
                                                           personalisation, ref, error, message):
    send = client.send_sms if kind == "sms" else client.send_email
    with pytest.raises(NotifyError) as caught:
        await send(recipient, template, personalisation, ref)
    assert (caught.value.status_code, caught.value.error, caught.value.message) == (400, error, message)
    assert caught.value.retryable is False and caught.value.outcome_unknown is False
    # Notify's messages name the field, never the value: they may be logged.
    assert recipient not in str(caught.value)
    assert server.sent == []


@pytest.mark.asyncio
async def test_every_schema_problem_is_reported_at_once(server):
    response = await raw_post(server, "/v2/notifications/sms", {"template_id": "nope", "personalisation": [],
                                                                 "colour": "blue"})
    assert response.status_code == 400
    messages = [e["message"] for e in response.json()["errors"]]
    assert messages == ["Additional properties are not allowed (colour was unexpected)",
                        "phone_number is a required property", "template_id is not a valid UUID",
                        "personalisation is not of type object"]
    async with httpx.AsyncClient() as http:
        _, service_id, secret = parse_api_key(API_KEY)
        response = await http.post(f"{server.url}/v2/notifications/sms", content=b"{not json",
                                   headers={"Authorization": f"Bearer {create_jwt(service_id, secret)}"})
    assert response.json() == {"status_code": 400, "errors": [
        {"error": "ValidationError", "message": "Invalid JSON supplied in POST data"}]}


# ---- failures and what may be retried ------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("status, error, retryable", [
    (500, "Exception", True), (503, "Exception", True), (429, "RateLimitError", True),
    (400, "BadRequestError", False), (403, "AuthError", False),
])
async def test_injected_failures_map_to_retryable_or_not(server, client, status, error, retryable):
    server.fail_next(1, status)
    with pytest.raises(NotifyError) as caught:
        await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
    assert (caught.value.status_code, caught.value.error, caught.value.retryable) == (status, error, retryable)
    assert server.sent == []
    # One-shot: the next send goes through.
    await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
    assert len(server.sent) == 1


@pytest.mark.asyncio
async def test_faults_queue_in_order_and_reset_clears_them(server, client):
    server.fail_next(2, 503)
    server.fail_next(1, 429)
    statuses = []
    for _ in range(3):
        with pytest.raises(NotifyError) as caught:
            await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
        statuses.append(caught.value.status_code)
    assert statuses == [503, 503, 429]
    # Reads are not affected by send-scoped faults...
    server.fail_next(1, 500)
    assert await client.find_by_reference("nothing") == []
    # ...but can be made to fail too.
    server.reset()
    server.fail_next(1, 502, scope="all")
    with pytest.raises(NotifyError) as caught:
        await client.find_by_reference("nothing")
    assert (caught.value.status_code, caught.value.retryable) == (502, True)
    server.fail_rate(1.0, 500)
    server.reset()
    await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())


@pytest.mark.asyncio
async def test_fail_rate(server, client):
    server.fail_rate(1.0, 503)
    for _ in range(3):
        with pytest.raises(NotifyError) as caught:
            await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
        assert caught.value.status_code == 503
    server.fail_rate(0.5)
    outcomes = []
    for _ in range(20):
        try:
            await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
            outcomes.append("ok")
        except NotifyError as exc:
            outcomes.append(exc.status_code)
    assert "ok" in outcomes and 500 in outcomes
    assert len(server.sent) == outcomes.count("ok")


@pytest.mark.asyncio
async def test_a_timeout_is_retryable_and_the_dropped_request_sends_nothing(server):
    server.delay_next(1, 0.5)
    async with NotifyClient(API_KEY, server.url, timeout=0.15) as impatient:
        ref = reference()
        with pytest.raises(NotifyError) as caught:
            await impatient.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, ref)
        assert (caught.value.status_code, caught.value.error, caught.value.retryable) == (None, "Timeout", True)
        assert caught.value.outcome_unknown
        await asyncio.sleep(0.6)  # past the delay: the server has dropped the request by now
    async with NotifyClient(API_KEY, server.url, timeout=5.0) as patient:  # a loaded machine can take 0.15 s
        assert await patient.find_by_reference(ref) == []
        await patient.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, ref)
    assert [n.reference for n in server.sent] == [ref]


@pytest.mark.asyncio
async def test_no_server_is_a_retryable_connection_error():
    async with NotifyClient(API_KEY, f"http://127.0.0.1:{free_port()}", timeout=1.0) as nowhere:
        with pytest.raises(NotifyError) as caught:
            await nowhere.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
    assert (caught.value.status_code, caught.value.error, caught.value.retryable) == (None, "ConnectionError", True)


@pytest.mark.asyncio
async def test_a_send_whose_answer_was_lost_is_found_by_reference(server, client):
    server.accept_then_fail_next(1)
    ref = reference()
    with pytest.raises(NotifyError) as caught:
        await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, ref)
    assert (caught.value.status_code, caught.value.retryable, caught.value.outcome_unknown) == (500, True, True)
    found = await client.find_by_reference(ref)
    assert len(found) == 1 and isinstance(found[0], NotificationStatus)
    assert found[0].reference == ref and found[0].id == server.sent[0].id
    assert await client.find_by_reference(reference()) == []
    # The next send is answered normally.
    await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
    assert len(server.sent) == 2


@pytest.mark.asyncio
async def test_the_rate_limit_answers_429(server, client):
    server.set_rate_limit(3)
    for _ in range(3):
        await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
    with pytest.raises(NotifyError) as caught:
        await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
    assert (caught.value.status_code, caught.value.error, caught.value.retryable) == (429, "RateLimitError", True)
    assert "3 requests per 60 seconds" in caught.value.message
    assert len(server.sent) == 3


@pytest.mark.asyncio
async def test_faults_can_be_set_over_http_by_another_process(server, client):
    async with httpx.AsyncClient(base_url=server.url) as control:
        response = await control.post("/_control/faults", json={"action": "fail_next", "n": 1, "status": 503})
        assert response.status_code == 200 and response.json()["fail_next"] == [{"status": 503, "scope": "send"}]
        with pytest.raises(NotifyError) as caught:
            await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
        assert caught.value.status_code == 503

        await control.post("/_control/faults", json={"action": "accept_then_fail_next", "n": 1})
        with pytest.raises(NotifyError):
            await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
        assert len(server.sent) == 1

        await control.post("/_control/faults", json=[{"action": "rate_limit", "per_minute": 1},
                                                     {"action": "reset"}])
        assert (await control.get("/_control/faults")).json()["fail_next"] == []
        assert (await control.post("/_control/faults", json={"action": "explode"})).status_code == 400
        listed = (await control.get("/_control/notifications")).json()["notifications"]
        assert [n["id"] for n in listed] == [server.sent[0].id]


@pytest.mark.asyncio
async def test_a_standing_latency_slows_every_answer_until_reset(server, client):
    """Notify answers from across the internet: `latency` holds every /v2 request, sends and look-ups, for that
    long (concurrent requests wait side by side, not in turn); a client that gives up meanwhile does not stop
    the send, as with the real service; `reset` ends it; nonsense is refused."""
    async with httpx.AsyncClient(base_url=server.url) as control:
        assert (await control.post("/_control/faults", json={"action": "latency", "seconds": 0.3})).status_code == 200
        assert (await control.get("/_control/faults")).json()["latency"] == 0.3
        started = time.monotonic()
        await asyncio.gather(*(client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
                               for _ in range(5)))
        assert 0.3 <= time.monotonic() - started < 1.2
        started = time.monotonic()
        await client.find_by_reference(reference())
        assert time.monotonic() - started >= 0.3
        async with NotifyClient(API_KEY, server.url, timeout=0.1) as impatient:
            ref = reference()
            with pytest.raises(NotifyError):
                await impatient.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, ref)
        for _ in range(50):  # handled 0.3 s after it arrived, however soon its client gave up
            if ref in [n.reference for n in server.sent]:
                break
            await asyncio.sleep(0.1)
        assert ref in [n.reference for n in server.sent]
        for bad in ({"action": "latency"}, {"action": "latency", "seconds": -1}, {"action": "latency", "seconds": 61}):
            assert (await control.post("/_control/faults", json=bad)).status_code == 400
        await control.post("/_control/faults", json={"action": "reset"})
        started = time.monotonic()
        await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
        assert time.monotonic() - started < 0.25
    assert len(server.sent) == 7


# ---- delivery receipts ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_delivery_receipts_are_posted_with_the_bearer_token(server, client, receiver):
    server.set_callbacks(delivery_url=receiver.url("/notify/delivery-receipts"), token=CALLBACK_TOKEN)
    sends = {
        "delivered": await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference()),
        "temporary-failure": await client.send_sms("07700900003", DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT},
                                                   reference()),
        "permanent-failure": await client.send_sms("+447700900002", DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT},
                                                   reference()),
    }
    email_sends = {
        "delivered": await client.send_email(EMAIL, DEFAULT_EMAIL_TEMPLATE_ID, {"subject": "s", "body": TEXT},
                                             reference()),
        "temporary-failure": await client.send_email("temp-fail@simulator.notify", DEFAULT_EMAIL_TEMPLATE_ID,
                                                     {"subject": "s", "body": TEXT}, reference()),
        "permanent-failure": await client.send_email("perm-fail@simulator.notify", DEFAULT_EMAIL_TEMPLATE_ID,
                                                     {"subject": "s", "body": TEXT}, reference()),
    }
    received = await receiver.wait_for(6)
    by_id = {r["json"]["id"]: r for r in received}
    for kind, sent_by_status in (("sms", sends), ("email", email_sends)):
        for status, sent in sent_by_status.items():
            receipt = by_id[sent.id]
            assert validate_callback_token(receipt["authorization"], CALLBACK_TOKEN)
            payload = receipt["json"]
            assert set(payload) == {"id", "reference", "to", "status", "created_at", "completed_at", "sent_at",
                                    "notification_type", "template_id", "template_version"}
            assert (payload["status"], payload["reference"], payload["notification_type"]) == (
                status, sent.reference, kind)
            assert payload["completed_at"].endswith("Z")
    # And the API agrees once they have settled.
    await settled(server, 6)
    for status, sent in sends.items():
        assert [s.status for s in await client.find_by_reference(sent.reference)] == [status]


@pytest.mark.asyncio
async def test_a_failed_receipt_is_retried(server, client, receiver):
    receiver.fail_first = 2
    server.set_callbacks(delivery_url=receiver.url("/notify/delivery-receipts"), token=CALLBACK_TOKEN)
    sent = await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
    received = await receiver.wait_for(3)
    assert [r["json"]["id"] for r in received] == [sent.id] * 3
    await asyncio.sleep(0.05)
    assert [a.outcome for a in server.callback_attempts_made] == [500, 500, 200]


@pytest.mark.asyncio
async def test_without_a_callback_url_statuses_still_move_on(server, client):
    sent = await client.send_sms("07700900003", DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
    await settled(server, 1)
    assert (await client.get_notification(sent.id)).status == "temporary-failure"
    assert server.callback_attempts_made == []


# ---- received texts ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_received_texts_are_listed_and_posted_to_the_callback(server, client, receiver):
    server.set_callbacks(received_text_url=receiver.url("/notify/received-texts"), token=CALLBACK_TOKEN)
    first = server.inject_received_text("07700900123", "STOP")
    async with httpx.AsyncClient(base_url=server.url) as control:
        response = await control.post("/_control/received-text",
                                      json={"source_number": "+447700900456", "message": "Thank you"})
        assert response.status_code == 201
    second = response.json()

    received = await receiver.wait_for(2)
    payloads = {r["json"]["id"]: r["json"] for r in received}
    assert payloads[first["id"]] == first
    assert set(first) == {"id", "source_number", "destination_number", "message", "date_received"}
    assert (first["source_number"], first["message"]) == ("447700900123", "STOP")
    assert all(validate_callback_token(r["authorization"], CALLBACK_TOKEN) for r in received)

    texts = await client.received_texts()
    assert [t["id"] for t in texts] == [second["id"], first["id"]]  # newest first
    assert (texts[1]["user_number"], texts[1]["content"]) == ("447700900123", "STOP")
    assert set(texts[0]) == {"id", "user_number", "notify_number", "created_at", "service_id", "content"}
    assert [t["id"] for t in await client.received_texts(older_than=second["id"])] == [first["id"]]


# ---- logs ----------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_no_personal_data_in_logs(server, client, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    server.set_callbacks(delivery_url=receiver.url("/notify/delivery-receipts"), token=CALLBACK_TOKEN)
    await client.send_sms(PHONE, GREETING_TEMPLATE, {"name": "Amina Hussain", "crime ref": "CR-1"}, reference())
    await client.send_email(EMAIL, DEFAULT_EMAIL_TEMPLATE_ID, {"subject": "Amina", "body": TEXT}, reference())
    server.fail_next(1, 500)
    with pytest.raises(NotifyError):
        await client.send_sms(PHONE, DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
    with pytest.raises(NotifyError):
        await client.send_sms("07700 9OO123", DEFAULT_SMS_TEMPLATE_ID, {"body": TEXT}, reference())
    server.inject_received_text(PHONE, TEXT)
    await receiver.wait_for(2)
    await asyncio.sleep(0.05)
    logged = caplog.text
    for personal in PERSONAL + ("7700900123", "9OO123"):
        assert personal not in logged


# ---- command line --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_command_line_server(tmp_path, receiver):
    templates = tmp_path / "templates.json"
    templates.write_text(json.dumps([{"id": GREETING_TEMPLATE, "type": "sms",
                                      "body": "Hello ((name)), your crime reference is ((crime ref))."}]))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "integrations.govuk_notify.simulator", "--port", str(port), "--api-key", API_KEY,
         "--callback-url", receiver.url("/notify/delivery-receipts"), "--callback-token", CALLBACK_TOKEN,
         "--templates", str(templates), "--receipt-delay", "0.01"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 15)
        assert f"http://127.0.0.1:{port}" in line and API_KEY not in line
        async with NotifyClient(API_KEY, f"http://127.0.0.1:{port}") as cli_client:
            sent = await cli_client.send_sms(PHONE, GREETING_TEMPLATE, {"name": "A", "crime ref": "B"}, reference())
        [receipt] = await receiver.wait_for(1)
        assert receipt["json"]["id"] == sent.id
        assert validate_callback_token(receipt["authorization"], CALLBACK_TOKEN)
    finally:
        process.terminate()
        process.wait(10)
