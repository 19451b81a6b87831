"""The outbound providers behind `integrations.outbound`, against the real local Notify simulator and a real
local SMTP server (aiosmtpd): what a send returns, how each provider's failures become a `ProviderError`
(retryable or not, outcome known or not, the provider's own code), and what `find_by_reference` answers.
Reasons must not quote a number, an address, a subject or a body."""
from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import time
import uuid

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller

from integrations.email.providers import SmtpEmailProvider
from integrations.email.smtp import SmtpSender
from integrations.govuk_notify.client import NotifyClient
from integrations.govuk_notify.providers import NotifyEmailProvider, NotifySmsProvider
from integrations.govuk_notify.simulator import (
    DEFAULT_EMAIL_TEMPLATE_ID,
    DEFAULT_SMS_TEMPLATE_ID,
    DEMO_API_KEY,
    PERM_FAIL_NUMBER,
    NotifyServer,
)
from integrations.outbound import CANNOT_TELL, Lookup, OutboundMessage, Provider, ProviderError

PHONE = "07700900123"
ADDRESS = "amina.hussain@example.org"
SUBJECT = "Update on your report, Amina"
BODY = "Officers are on their way to you. Your crime reference is CR-20261129-0001."
FROM = "victim-updates@force.example.police.uk"
PERSONAL = (PHONE, "7700900123", ADDRESS, "amina", "Amina", "Officers are on their way")


def reference() -> str:
    return f"outbox-{uuid.uuid4()}"


def text(to: str = PHONE, ref: str | None = None) -> OutboundMessage:
    return OutboundMessage(reference=ref or reference(), destination=to, body=BODY)


def mail(to: str = ADDRESS, ref: str | None = None) -> OutboundMessage:
    return OutboundMessage(reference=ref or reference(), destination=to, subject=SUBJECT, body=BODY)


def assert_no_personal_data(error: ProviderError) -> None:
    for shown in (str(error), repr(error), error.reason):
        for personal in PERSONAL:
            assert personal not in shown


# ---- GOV.UK Notify ---------------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def notify():
    server = NotifyServer(DEMO_API_KEY, receipt_delay=0.05, seed=1)
    await server.astart()
    yield server
    await server.astop()


@pytest_asyncio.fixture
async def client(notify):
    notify_client = NotifyClient(DEMO_API_KEY, notify.url, timeout=2.0)
    yield notify_client
    await notify_client.aclose()


@pytest.fixture
def sms(client):
    return NotifySmsProvider(client, DEFAULT_SMS_TEMPLATE_ID)


@pytest.fixture
def notify_email(client):
    return NotifyEmailProvider(client, DEFAULT_EMAIL_TEMPLATE_ID)


async def settled(server: NotifyServer, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while any(n.status in ("created", "sending") for n in server.sent):
        assert time.monotonic() < deadline, "notifications did not reach a final status"
        await asyncio.sleep(0.02)


def test_every_provider_speaks_the_one_interface(client):
    smtp = SmtpEmailProvider(SmtpSender("smtp://127.0.0.1:2525", FROM))
    providers = [NotifySmsProvider(client, DEFAULT_SMS_TEMPLATE_ID),
                 NotifyEmailProvider(client, DEFAULT_EMAIL_TEMPLATE_ID), smtp]
    assert all(isinstance(provider, Provider) for provider in providers)
    assert [(p.name, p.channel) for p in providers] == [("notify", "sms"), ("notify", "email"), ("smtp", "email")]


def test_a_message_keeps_personal_data_out_of_its_repr():
    message = mail(ref="outbox-42")
    assert "outbox-42" in repr(message)
    for personal in PERSONAL:
        assert personal not in repr(message)


@pytest.mark.asyncio
async def test_notify_sends_a_text_and_finds_it_by_reference(notify, sms):
    message = text()
    provider_id = await sms.send(message)
    [stored] = notify.find(message.reference)
    assert (stored.id, stored.type, stored.to, stored.body) == (provider_id, "sms", PHONE, BODY)
    assert await sms.find_by_reference(message.reference) == provider_id
    await settled(notify)
    assert await sms.find_by_reference(message.reference) == provider_id  # delivered is live too
    assert await sms.find_by_reference(reference()) is None


@pytest.mark.asyncio
async def test_notify_sends_an_email_with_its_subject(notify, notify_email):
    message = mail()
    provider_id = await notify_email.send(message)
    [stored] = notify.find(message.reference)
    assert (stored.id, stored.type, stored.to, stored.subject, stored.body) == (
        provider_id, "email", ADDRESS, SUBJECT, BODY)
    assert await notify_email.find_by_reference(message.reference) == provider_id


@pytest.mark.asyncio
async def test_a_notification_that_failed_at_notify_is_not_live(notify, sms):
    message = text(PERM_FAIL_NUMBER)
    await sms.send(message)
    await settled(notify)
    assert [n.status for n in notify.find(message.reference)] == ["permanent-failure"]
    assert await sms.find_by_reference(message.reference) is None


@pytest.mark.asyncio
@pytest.mark.parametrize("status, outcome_unknown, rate_limited", [
    (500, True, False),
    (503, True, False),
    (429, False, True),
])
async def test_notify_faults_and_rate_limits_are_retryable(notify, sms, status, outcome_unknown, rate_limited):
    notify.fail_next(1, status)
    with pytest.raises(ProviderError) as caught:
        await sms.send(text())
    error = caught.value
    assert (error.retryable, error.outcome_unknown, error.code, error.rate_limited) == (
        True, outcome_unknown, status, rate_limited)
    assert str(status) in error.reason and "Notify" in error.reason
    assert_no_personal_data(error)
    assert notify.sent == []


@pytest.mark.asyncio
async def test_a_message_notify_refuses_is_not_retryable(notify, sms, notify_email):
    with pytest.raises(ProviderError) as caught:
        await sms.send(text("07700 9OO123"))
    error = caught.value
    assert (error.retryable, error.outcome_unknown, error.code, error.rate_limited) == (False, False, 400, False)
    assert error.reason == "Notify 400 ValidationError"
    assert_no_personal_data(error)

    notify.fail_next(1, 400)
    with pytest.raises(ProviderError) as caught:
        await notify_email.send(mail())
    assert (caught.value.retryable, caught.value.code) == (False, 400)
    assert notify.sent == []


@pytest.mark.asyncio
async def test_a_send_whose_answer_was_lost_is_found_before_sending_again(notify, sms):
    notify.accept_then_fail_next(1)
    message = text()
    with pytest.raises(ProviderError) as caught:
        await sms.send(message)
    assert (caught.value.retryable, caught.value.outcome_unknown, caught.value.code) == (True, True, 500)
    [stored] = notify.find(message.reference)
    assert await sms.find_by_reference(message.reference) == stored.id


@pytest.mark.asyncio
async def test_no_answer_from_notify_has_no_code_and_an_unknown_outcome(notify):
    impatient = NotifyClient(DEMO_API_KEY, notify.url, timeout=0.3)
    try:
        notify.delay_next(1, 2.0)
        with pytest.raises(ProviderError) as caught:
            await NotifySmsProvider(impatient, DEFAULT_SMS_TEMPLATE_ID).send(text())
    finally:
        await impatient.aclose()
    error = caught.value
    assert (error.retryable, error.outcome_unknown, error.code) == (True, True, None)
    assert error.reason == "Notify no answer Timeout"


@pytest.mark.asyncio
async def test_a_look_up_notify_cannot_answer_raises_rather_than_saying_none(notify, sms):
    notify.fail_next(1, 500, scope="all")
    with pytest.raises(ProviderError) as caught:
        await sms.find_by_reference(reference())
    assert (caught.value.retryable, caught.value.code) == (True, 500)


@pytest.mark.asyncio
async def test_providers_close_a_shared_client_only_when_they_own_it(notify):
    shared = NotifyClient(DEMO_API_KEY, notify.url, timeout=2.0)
    sms = NotifySmsProvider(shared, DEFAULT_SMS_TEMPLATE_ID)
    email_provider = NotifyEmailProvider(shared, DEFAULT_EMAIL_TEMPLATE_ID, close_client=True)
    await sms.aclose()
    await email_provider.send(mail())  # still open
    await email_provider.aclose()
    with pytest.raises(RuntimeError):  # httpx refuses to send on a closed client
        await sms.send(text())


# ---- SMTP ------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Relay:
    """An aiosmtpd handler: keeps every message, refuses recipients with `rcpt_reply`, answers the end of
    the data with `data_reply`, or, with `drop_after_data`, takes the message and hangs up without
    answering (the sender cannot tell whether it was queued)."""

    def __init__(self) -> None:
        self.envelopes = []
        self.rcpt_reply: str | None = None
        self.data_reply = "250 Message accepted for delivery"
        self.drop_after_data = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        if self.drop_after_data:
            server.transport.close()
        return self.data_reply

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.original_content or e.content, policy=email.policy.default)
                for e in self.envelopes]


@pytest.fixture
def relay():
    handler = Relay()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, SmtpEmailProvider(SmtpSender(f"smtp://127.0.0.1:{controller.port}", FROM, timeout=5))
    controller.stop()


@pytest.mark.asyncio
async def test_smtp_sends_and_answers_with_its_reference(relay):
    handler, smtp = relay
    assert await smtp.send(mail(ref="outbox-7f3a")) == "smtp:outbox-7f3a"
    [message] = handler.messages()
    assert (message["To"], message["Subject"], message["Message-ID"]) == (
        ADDRESS, SUBJECT, "<outbox-7f3a@force.example.police.uk>")
    assert message.get_content().replace("\r\n", "\n").rstrip("\n") == BODY


@pytest.mark.asyncio
async def test_smtp_cannot_tell_what_the_relay_holds(relay):
    handler, smtp = relay
    message = mail()
    await smtp.send(message)
    assert await smtp.find_by_reference(message.reference) is CANNOT_TELL
    assert await smtp.find_by_reference(reference()) is Lookup.CANNOT_TELL
    await smtp.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("where, reply, code", [
    ("rcpt", f"451 4.3.0 <{ADDRESS}>: Temporary lookup failure", 451),
    ("data", "421 4.3.2 Service shutting down", 421),
])
async def test_a_relay_that_says_not_now_is_retryable_and_nothing_was_handed_over(relay, where, reply, code):
    handler, smtp = relay
    if where == "rcpt":
        handler.rcpt_reply = reply
    else:
        handler.data_reply = reply
    with pytest.raises(ProviderError) as caught:
        await smtp.send(mail())
    error = caught.value
    assert (error.retryable, error.outcome_unknown, error.code, error.rate_limited) == (True, False, code, False)
    assert error.reason.startswith("SMTP: ") and str(code) in error.reason
    assert_no_personal_data(error)


@pytest.mark.asyncio
async def test_a_refused_recipient_is_not_retryable(relay):
    handler, smtp = relay
    handler.rcpt_reply = f"550 5.1.1 <{ADDRESS}>: Recipient address rejected: User unknown"
    with pytest.raises(ProviderError) as caught:
        await smtp.send(mail())
    error = caught.value
    assert (error.retryable, error.outcome_unknown, error.code) == (False, False, 550)
    assert error.reason == "SMTP: the relay refused the recipient (550)"
    assert_no_personal_data(error)
    assert handler.envelopes == []


@pytest.mark.asyncio
async def test_a_connection_lost_after_the_data_may_have_sent_it(relay):
    handler, smtp = relay
    handler.drop_after_data = True
    with pytest.raises(ProviderError) as caught:
        await smtp.send(mail())
    error = caught.value
    assert (error.retryable, error.outcome_unknown, error.code) == (True, True, None)
    assert_no_personal_data(error)
    assert len(handler.envelopes) == 1  # the relay has it, though the sender never heard so


@pytest.mark.asyncio
async def test_no_relay_is_retryable_and_nothing_was_handed_over():
    smtp = SmtpEmailProvider(SmtpSender(f"smtp://127.0.0.1:{free_port()}", FROM, timeout=2))
    with pytest.raises(ProviderError) as caught:
        await smtp.send(mail())
    assert (caught.value.retryable, caught.value.outcome_unknown, caught.value.code) == (True, False, None)
