"""Email over SMTP, for forces that relay mail themselves: one plain-text message per `send`, through the
relay named by `SMTP_URL`.

    smtp://user:pass@host:25            plain SMTP (a relay on this host or a trusted network)
    smtp+starttls://user:pass@host:587  upgraded with STARTTLS, which the relay must offer
    smtps://user:pass@host:465          TLS from the first byte

User name and password are optional and percent-decoded. TLS certificates are verified against the
system's trust store, or the `ssl_context` given (a force's own CA, or a test certificate).

SMTP cannot be asked afterwards whether a message went through. So every message carries a `Message-ID`
made from our outbox reference: if a crash or a dropped connection makes the sender try again, the copy
has the same Message-ID and mail systems (and people) can recognise it as the same message.

smtplib is blocking, so each send runs in a worker thread; one connection per message keeps a dead relay
connection from outliving the send that found it. Failures become `SmtpSendError`, whose `retryable`
says whether trying again may help (a 4xx reply, a lost or refused connection) or cannot (a 5xx reply,
bad credentials, a TLS failure). Neither errors nor logs quote an address, a subject, a body, or the
relay's reply text (relays quote the recipient in it): only our reference and the SMTP code.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Optional
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
# Characters RFC 5322 allows in a Message-ID's left part (dot-atom text) without quoting.
_ATEXT = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+)*$")


class SmtpSendError(Exception):
    """A message the relay did not take. `code` is the SMTP reply code, or None when there was none
    (no connection, a timeout, a TLS failure). `retryable` says whether the same message may go later.

    `maybe_sent` is True when the connection failed after the message data had been handed over: the relay
    may have queued it, so a retry can make a duplicate (with the same Message-ID)."""

    def __init__(self, message: str, *, code: Optional[int] = None, retryable: bool,
                 maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.maybe_sent = maybe_sent


@dataclass(frozen=True)
class SmtpSettings:
    """`SMTP_URL`, parsed. The password is kept out of the repr."""

    scheme: str
    host: str
    port: int
    username: Optional[str]
    password: Optional[str]

    def __repr__(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"SmtpSettings({self.scheme}://{user}{self.host}:{self.port})"


def parse_smtp_url(smtp_url: str) -> SmtpSettings:
    """Parse `smtp://`, `smtp+starttls://` or `smtps://` URLs. Errors never quote the URL: it may hold a
    password."""
    try:
        parts = urlsplit(smtp_url.strip())
        port = parts.port
    except (AttributeError, ValueError) as exc:
        raise ValueError("SMTP_URL is malformed: expected smtp://user:pass@host:port, "
                         "smtp+starttls://... or smtps://...") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError("SMTP_URL must start with smtp://, smtp+starttls:// or smtps://")
    if not parts.hostname:
        raise ValueError("SMTP_URL has no host")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise ValueError("SMTP_URL has a password but no user name")
    return SmtpSettings(scheme=scheme, host=parts.hostname, port=port or DEFAULT_PORTS[scheme],
                        username=username, password=password)


def message_id_for(reference: str, domain: str) -> str:
    """A Message-ID that is the same every time for one reference, so a resent copy can be recognised."""
    left = reference if _ATEXT.match(reference or "") and len(reference) <= 200 else (
        "ref-" + hashlib.sha256((reference or "").encode("utf-8")).hexdigest()[:40])
    return f"<{left}@{domain}>"


class SmtpSender:
    """Sends plain-text email through one SMTP relay. Safe to share: every send opens its own connection."""

    def __init__(
        self,
        smtp_url: str,
        from_address: str = "victim-updates@example.org",
        *,
        timeout: float = 30.0,
        ssl_context: Optional[ssl.SSLContext] = None,
        message_id_domain: Optional[str] = None,
        local_hostname: Optional[str] = None,
    ) -> None:
        """`message_id_domain` defaults to the domain of `from_address`, as mail systems expect."""
        self.settings = parse_smtp_url(smtp_url)
        if "@" not in from_address or any(c in from_address for c in "\r\n"):
            raise ValueError("the sender address (EMAIL_FROM) is not an email address")
        self.from_address = from_address
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.message_id_domain = message_id_domain or from_address.rsplit("@", 1)[1].strip("> ")
        self.local_hostname = local_hostname

    def __repr__(self) -> str:
        return f"SmtpSender({self.settings!r})"

    def build_message(self, to: str, subject: str, body: str, reference: str) -> EmailMessage:
        """The message `send` would send. Raises `SmtpSendError` (not retryable) for a header that cannot be
        written, such as a line break in the subject or the address."""
        message = EmailMessage()
        try:
            message["From"] = self.from_address
            message["To"] = to
            message["Subject"] = subject
            message["Date"] = formatdate(localtime=False, usegmt=True)
            message["Message-ID"] = message_id_for(reference, self.message_id_domain)
        except (ValueError, TypeError) as exc:
            raise SmtpSendError(f"message {reference}: a header cannot be written ({type(exc).__name__})",
                                retryable=False) from exc
        message.set_content(body)
        return message

    async def send(self, to: str, subject: str, body: str, reference: str) -> str:
        """Send one message; returns its Message-ID. `reference` is our outbox reference (no personal data)."""
        if not isinstance(to, str) or "@" not in to or any(c in to for c in "\r\n,;"):
            raise SmtpSendError(f"message {reference}: the recipient is not one email address", retryable=False)
        message = self.build_message(to, subject, body, reference)
        await asyncio.to_thread(self._send_blocking, message, to, reference)
        log.info("SMTP: message %s handed to the relay", reference)
        return message["Message-ID"]

    # ---- blocking part, in a worker thread --------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _send_blocking(self, message: EmailMessage, to: str, reference: str) -> None:
        settings = self.settings
        data_sent = False
        smtp: Optional[smtplib.SMTP] = None
        try:
            if settings.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=self.timeout,
                                        local_hostname=self.local_hostname, context=self._context())
            else:
                smtp = smtplib.SMTP(settings.host, settings.port, timeout=self.timeout,
                                    local_hostname=self.local_hostname)
            smtp.ehlo()
            if settings.scheme == "smtp+starttls":
                if not smtp.has_extn("starttls"):
                    raise SmtpSendError(f"message {reference}: the relay does not offer STARTTLS", retryable=False)
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            data_sent = True  # from here on the relay may have the message whatever happens next
            smtp.send_message(message, from_addr=self.from_address, to_addrs=[to])
        except SmtpSendError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise SmtpSendError(f"message {reference}: the relay refused our credentials ({exc.smtp_code})",
                                code=exc.smtp_code, retryable=False) from None
        except smtplib.SMTPRecipientsRefused as exc:
            code = next((c for c, _ in exc.recipients.values()), None)
            raise _refused(reference, "the recipient", code) from None
        except smtplib.SMTPSenderRefused as exc:
            raise _refused(reference, "the sender address", exc.smtp_code) from None
        except smtplib.SMTPDataError as exc:
            raise _refused(reference, "the message", exc.smtp_code) from None
        except smtplib.SMTPNotSupportedError:
            raise SmtpSendError(f"message {reference}: the relay does not support what SMTP_URL asks for "
                                "(STARTTLS or AUTH)", retryable=False) from None
        except smtplib.SMTPServerDisconnected:
            raise SmtpSendError(f"message {reference}: the relay closed the connection",
                                retryable=True, maybe_sent=data_sent) from None
        except smtplib.SMTPResponseException as exc:
            raise _refused(reference, "the connection", exc.smtp_code) from None
        except ssl.SSLError as exc:
            # A certificate that does not verify will not verify next time either.
            raise SmtpSendError(f"message {reference}: TLS failed ({type(exc).__name__})",
                                retryable=False) from None
        except (socket.timeout, TimeoutError):
            raise SmtpSendError(f"message {reference}: the relay did not answer in time",
                                retryable=True, maybe_sent=data_sent) from None
        except smtplib.SMTPException as exc:  # before OSError, of which it is a kind
            raise SmtpSendError(f"message {reference}: SMTP failed ({type(exc).__name__})",
                                retryable=True, maybe_sent=data_sent) from None
        except OSError as exc:
            raise SmtpSendError(f"message {reference}: could not reach the relay ({type(exc).__name__})",
                                retryable=True, maybe_sent=data_sent) from None
        else:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass  # the message is accepted; a goodbye that goes astray changes nothing
        finally:
            if smtp is not None:
                smtp.close()


def _refused(reference: str, what: str, code: Optional[int]) -> SmtpSendError:
    # 4xx is "not now" (a full queue, greylisting); 5xx is "never" (no such mailbox, policy).
    retryable = code is None or 400 <= code < 500
    log.warning("SMTP: relay refused %s for message %s (%s)", what, reference, code)
    return SmtpSendError(f"message {reference}: the relay refused {what} ({code})", code=code,
                         retryable=retryable)
