"""The SMTP sender against a real local SMTP server (aiosmtpd), over plain SMTP, STARTTLS and implicit TLS
with a throwaway certificate: what arrives, the stable Message-ID, authentication, and which refusals may
be retried. Errors and logs must not quote an address, a subject or a body."""
from __future__ import annotations

import email
import email.policy
import logging
import shutil
import socket
import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from integrations.email.smtp import SmtpSender, SmtpSendError, message_id_for, parse_smtp_url

TO = "amina.hussain@example.org"
SUBJECT = "Update on your report, Amina"
BODY = "Officers are on their way to you.\nYour crime reference is CR-20261129-0001."
FROM = "victim-updates@force.example.police.uk"
USER, PASSWORD = "relay-user", "p@ss:w/rd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Collector:
    """An aiosmtpd handler that keeps every message, or refuses recipients with `rcpt_reply`."""

    def __init__(self) -> None:
        self.envelopes = []
        self.rcpt_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.original_content or e.content, policy=email.policy.default)
                for e in self.envelopes]


def check_password(server, session, envelope, mechanism, auth_data) -> AuthResult:
    # handled=False: aiosmtpd then answers 535 itself on a failure.
    return AuthResult(success=(auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode()),
                      handled=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    return server_context, client_context


def run_server(handler, **kwargs) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def relay():
    handler = Collector()
    controller = run_server(handler)
    yield handler, controller
    controller.stop()


# ---- the URL -------------------------------------------------------------------------------------------


def test_smtp_urls():
    plain = parse_smtp_url("smtp://mail.example.org")
    assert (plain.scheme, plain.host, plain.port, plain.username, plain.password) == (
        "smtp", "mail.example.org", 25, None, None)
    assert parse_smtp_url("smtp+starttls://relay:587").port == 587
    assert parse_smtp_url("smtp+starttls://relay").port == 587
    assert parse_smtp_url("smtps://relay").port == 465
    secure = parse_smtp_url("smtps://relay-user:p%40ss%3Aw%2Frd@relay.example.org:2465")
    assert (secure.username, secure.password, secure.port) == (USER, PASSWORD, 2465)
    assert PASSWORD not in repr(secure) and "p%40ss" not in repr(SmtpSender(
        "smtps://relay-user:p%40ss%3Aw%2Frd@relay.example.org"))


@pytest.mark.parametrize("url", ["http://relay", "relay:25", "smtp://", "smtp://user:secret@host:notaport",
                                 "smtp://:secret@host"])
def test_bad_smtp_urls_are_refused_without_quoting_them(url):
    with pytest.raises(ValueError) as caught:
        SmtpSender(url)
    assert "secret" not in str(caught.value)


def test_message_ids_are_stable_per_reference():
    assert message_id_for("outbox-42", "force.example") == "<outbox-42@force.example>"
    assert message_id_for("outbox-42", "force.example") == message_id_for("outbox-42", "force.example")
    odd = message_id_for("has spaces <and> brackets", "force.example")
    assert odd == message_id_for("has spaces <and> brackets", "force.example")
    assert odd.startswith("<ref-") and " " not in odd
    assert message_id_for("a", "x") != message_id_for("b", "x")


# ---- sending -------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_message_arrives_with_a_message_id_from_its_reference(relay):
    handler, controller = relay
    sender = SmtpSender(f"smtp://127.0.0.1:{controller.port}", FROM, timeout=5)
    message_id = await sender.send(TO, SUBJECT, BODY, "outbox-7f3a")
    assert message_id == "<outbox-7f3a@force.example.police.uk>"
    [envelope] = handler.envelopes
    assert envelope.mail_from == FROM and envelope.rcpt_tos == [TO]
    [message] = handler.messages()
    assert (message["From"], message["To"], message["Subject"], message["Message-ID"]) == (
        FROM, TO, SUBJECT, message_id)
    assert message["Date"]
    assert message.get_content().replace("\r\n", "\n").rstrip("\n") == BODY

    # A retry of the same outbox message carries the same Message-ID, so it can be recognised.
    assert await sender.send(TO, SUBJECT, BODY, "outbox-7f3a") == message_id
    assert [m["Message-ID"] for m in handler.messages()] == [message_id, message_id]


@pytest.mark.asyncio
async def test_unicode_subject_and_body(relay):
    handler, controller = relay
    sender = SmtpSender(f"smtp://127.0.0.1:{controller.port}", FROM, timeout=5)
    await sender.send(TO, "Aktualizacja zgłoszenia – ważne", "Funkcjonariusze są w drodze. شكرا", "outbox-pl")
    [message] = handler.messages()
    assert message["Subject"] == "Aktualizacja zgłoszenia – ważne"
    assert "Funkcjonariusze są w drodze. شكرا" in message.get_content()


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_login_with_credentials_from_the_url():
    handler = Collector()
    controller = run_server(handler, authenticator=check_password, auth_require_tls=False, auth_required=True)
    try:
        good = SmtpSender(f"smtp://relay-user:p%40ss%3Aw%2Frd@127.0.0.1:{controller.port}", FROM, timeout=5)
        await good.send(TO, SUBJECT, BODY, "outbox-auth")
        assert len(handler.envelopes) == 1

        wrong = SmtpSender(f"smtp://relay-user:wrong@127.0.0.1:{controller.port}", FROM, timeout=5)
        with pytest.raises(SmtpSendError) as caught:
            await wrong.send(TO, SUBJECT, BODY, "outbox-auth-2")
        assert (caught.value.code, caught.value.retryable) == (535, False)

        anonymous = SmtpSender(f"smtp://127.0.0.1:{controller.port}", FROM, timeout=5)
        with pytest.raises(SmtpSendError) as caught:
            await anonymous.send(TO, SUBJECT, BODY, "outbox-auth-3")
        assert caught.value.retryable is False  # 530 authentication required
        assert len(handler.envelopes) == 1
    finally:
        controller.stop()


@pytest.mark.asyncio
async def test_starttls(certificate):
    server_context, client_context = certificate
    handler = Collector()
    controller = run_server(handler, tls_context=server_context, require_starttls=True,
                            authenticator=check_password, auth_required=True)
    try:
        url = f"smtp+starttls://relay-user:p%40ss%3Aw%2Frd@127.0.0.1:{controller.port}"
        await SmtpSender(url, FROM, timeout=5, ssl_context=client_context).send(TO, SUBJECT, BODY, "outbox-tls")
        assert len(handler.envelopes) == 1

        # The system's trust store does not know the test certificate: that will not get better by retrying.
        with pytest.raises(SmtpSendError) as caught:
            await SmtpSender(url, FROM, timeout=5).send(TO, SUBJECT, BODY, "outbox-tls-2")
        assert caught.value.retryable is False and "TLS" in caught.value.message
    finally:
        controller.stop()


@pytest.mark.asyncio
async def test_starttls_required_but_not_offered(relay):
    _, controller = relay
    sender = SmtpSender(f"smtp+starttls://127.0.0.1:{controller.port}", FROM, timeout=5)
    with pytest.raises(SmtpSendError) as caught:
        await sender.send(TO, SUBJECT, BODY, "outbox-no-tls")
    assert caught.value.retryable is False and "STARTTLS" in caught.value.message


@pytest.mark.asyncio
async def test_implicit_tls(certificate):
    server_context, client_context = certificate
    handler = Collector()
    controller = run_server(handler, ssl_context=server_context)
    try:
        sender = SmtpSender(f"smtps://127.0.0.1:{controller.port}", FROM, timeout=5, ssl_context=client_context)
        await sender.send(TO, SUBJECT, BODY, "outbox-smtps")
        [message] = handler.messages()
        assert message["Message-ID"] == "<outbox-smtps@force.example.police.uk>"
    finally:
        controller.stop()


# ---- failures ------------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("reply, code, retryable", [
    (f"550 5.1.1 <{TO}>: Recipient address rejected: User unknown", 550, False),
    (f"451 4.3.0 <{TO}>: Temporary lookup failure", 451, True),
    ("452 4.2.2 Mailbox full", 452, True),
])
async def test_refused_recipients(relay, reply, code, retryable):
    handler, controller = relay
    handler.rcpt_reply = reply
    sender = SmtpSender(f"smtp://127.0.0.1:{controller.port}", FROM, timeout=5)
    with pytest.raises(SmtpSendError) as caught:
        await sender.send(TO, SUBJECT, BODY, "outbox-refused")
    assert (caught.value.code, caught.value.retryable) == (code, retryable)
    assert "outbox-refused" in str(caught.value)
    # The relay's reply quotes the address; the error must not.
    assert TO not in str(caught.value) and "amina" not in str(caught.value).lower()
    assert handler.envelopes == []


@pytest.mark.asyncio
async def test_no_relay_is_retryable():
    sender = SmtpSender(f"smtp://127.0.0.1:{free_port()}", FROM, timeout=2)
    with pytest.raises(SmtpSendError) as caught:
        await sender.send(TO, SUBJECT, BODY, "outbox-down")
    assert caught.value.retryable is True and caught.value.code is None and caught.value.maybe_sent is False


@pytest.mark.asyncio
async def test_a_silent_relay_times_out_and_is_retryable():
    # Accepts the connection but never greets.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        sender = SmtpSender(f"smtp://127.0.0.1:{listener.getsockname()[1]}", FROM, timeout=0.3)
        with pytest.raises(SmtpSendError) as caught:
            await sender.send(TO, SUBJECT, BODY, "outbox-silent")
    assert caught.value.retryable is True and caught.value.code is None


@pytest.mark.asyncio
@pytest.mark.parametrize("to, subject", [(TO, "Injected\r\nBcc: someone@example.org"),
                                         (f"{TO}\r\nBcc: someone@example.org", SUBJECT),
                                         (f"{TO}, someone@example.org", SUBJECT),
                                         ("not an address", SUBJECT)])
async def test_header_injection_and_bad_recipients_are_refused(relay, to, subject):
    handler, controller = relay
    sender = SmtpSender(f"smtp://127.0.0.1:{controller.port}", FROM, timeout=5)
    with pytest.raises(SmtpSendError) as caught:
        await sender.send(to, subject, BODY, "outbox-inject")
    assert caught.value.retryable is False
    assert "someone" not in str(caught.value) and TO not in str(caught.value)
    assert handler.envelopes == []


@pytest.mark.asyncio
async def test_no_personal_data_in_logs(relay, caplog):
    caplog.set_level(logging.DEBUG)
    handler, controller = relay
    sender = SmtpSender(f"smtp://127.0.0.1:{controller.port}", FROM, timeout=5)
    await sender.send(TO, SUBJECT, BODY, "outbox-log")
    handler.rcpt_reply = f"550 5.1.1 <{TO}>: Recipient address rejected"
    with pytest.raises(SmtpSendError):
        await sender.send(TO, SUBJECT, BODY, "outbox-log-2")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("integrations."))
    assert "outbox-log" in logged
    for personal in (TO, "Amina", "Officers are on their way"):
        assert personal not in logged
