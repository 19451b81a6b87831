"""The GOV.UK Notify client: sends texts and emails through Notify's v2 REST API, finds notifications by
our outbox reference, and reads received texts (replies such as STOP).

Every request carries a fresh JWT (HS256, `{"iss": service_id, "iat": now}`) signed with the API key's
secret, because Notify refuses a token more than 30 seconds old. The base URL is configurable so that the
demo and the tests run this same code against the local server in `integrations.govuk_notify.simulator`.

The client never retries on its own. Every failure becomes a `NotifyError` whose `retryable` says whether
trying again may help (a rate limit, a Notify fault, a timeout, a lost connection) or cannot (a validation
or authentication error). The caller decides, and before re-sending after a failure whose outcome is
unknown (a timeout, a 5xx), it asks `find_by_reference` whether the first attempt went through after all:
that is what keeps a lost answer from becoming a second text to a victim.

Nothing here logs a phone number, an email address, a personalisation value or a message body. Logs carry
the endpoint, the HTTP status, Notify's error class and our reference, which holds no personal data.
"""
from __future__ import annotations

import hmac
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import httpx
import jwt

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.notifications.service.gov.uk"
USER_AGENT = "victim-journey-notify-client/1.0"

# Statuses a notification can have in Notify (texts and emails; letters are not used here).
FINAL_STATUSES = frozenset({"delivered", "permanent-failure", "temporary-failure", "technical-failure"})

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_API_KEY = re.compile(rf"^(?P<key_name>.+)-(?P<service_id>{_UUID})-(?P<secret>{_UUID})$")


class NotifyError(Exception):
    """A request to Notify that did not succeed.

    `status_code` is the HTTP status, or None when no answer came (timeout, connection failure).
    `error` is Notify's error class (`ValidationError`, `BadRequestError`, `AuthError`, `RateLimitError`,
    `TooManyRequestsError`, `Exception`...) or `Timeout` / `ConnectionError` / `BadResponse`.
    `message` is Notify's message; Notify's messages name fields and problems, not the values sent, so it
    is safe to log and to store. `retryable` says whether the same request may succeed later.
    """

    def __init__(self, status_code: Optional[int], error: str, message: str, retryable: bool) -> None:
        self.status_code = status_code
        self.error = error
        self.message = message
        self.retryable = retryable
        super().__init__(f"{status_code if status_code is not None else 'no answer'} {error}: {message}")

    @property
    def outcome_unknown(self) -> bool:
        """True when Notify may have accepted the request although we did not get its answer (no answer
        at all, or a server fault): check `find_by_reference` before sending again."""
        return self.status_code is None or self.status_code >= 500


@dataclass(frozen=True)
class SentNotification:
    """Notify's answer to a send: its own id for the notification, our reference, and status `created`."""

    id: str
    reference: str
    status: str = "created"


@dataclass(frozen=True)
class NotificationStatus:
    """Where a notification is: `created`, `sending`, `pending`, `delivered`, `permanent-failure`,
    `temporary-failure` or `technical-failure`."""

    id: str
    reference: str
    status: str

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


def parse_api_key(api_key: str) -> tuple[str, str, str]:
    """Split a Notify API key `{key_name}-{service_id}-{secret}` into its three parts.

    The last two parts are UUIDs; the key name may itself contain dashes. The error never quotes the key:
    it is a secret."""
    if not isinstance(api_key, str):
        raise ValueError("the Notify API key must be a string")
    match = _API_KEY.match(api_key.strip())
    if match is None:
        raise ValueError("the Notify API key is malformed: expected '{key_name}-{service_id}-{secret}', "
                         "where the service id and the secret are UUIDs (copy the whole key from Notify's "
                         "API integration page)")
    return match["key_name"], match["service_id"].lower(), match["secret"]


def create_jwt(service_id: str, secret: str, *, issued_at: Optional[float] = None) -> str:
    """A bearer token for one request to Notify: HS256 over `{"iss": service_id, "iat": issued_at}`."""
    iat = int(time.time() if issued_at is None else issued_at)
    return jwt.encode({"iss": service_id, "iat": iat}, secret, algorithm="HS256",
                      headers={"typ": "JWT", "alg": "HS256"})


def validate_callback_token(header_value: Optional[str], expected: Optional[str]) -> bool:
    """Whether an `Authorization` header from one of Notify's callbacks (delivery receipts, received texts)
    carries the bearer token we configured. `header_value` is the whole header, `Bearer <token>`.

    Constant-time, so the comparison does not leak how much of a guess was right. With no token
    configured, nothing is accepted: an unauthenticated callback would let anyone mark messages delivered.
    """
    if not expected or not header_value:
        return False
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode("utf-8"), expected.encode("utf-8"))


class NotifyClient:
    """An async client of one Notify service, authenticated by one API key.

    Use it as an async context manager, or call `aclose()` when done. A `client` passed in is used as is
    and left open (the caller owns it); otherwise the client makes and closes its own.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 10.0,
        client: Optional[httpx.AsyncClient] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock` gives the epoch seconds put in each token's `iat`; inject one only in tests."""
        self._key_name, self.service_id, self._secret = parse_api_key(api_key)
        self.base_url = base_url.rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("the Notify base URL must start with http:// or https://")
        self.timeout = timeout
        self._clock = clock
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:
        # The secret stays out of reprs, and so out of tracebacks and debug logs.
        return f"NotifyClient(service_id={self.service_id!r}, base_url={self.base_url!r})"

    async def __aenter__(self) -> "NotifyClient":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    # ---- sending ---------------------------------------------------------------------------------

    async def send_sms(
        self,
        phone_number: str,
        template_id: str,
        personalisation: dict,
        reference: str,
        sms_sender_id: Optional[str] = None,
    ) -> SentNotification:
        """Send a text. `reference` is our outbox reference; it must hold no personal data."""
        body: dict[str, Any] = {
            "phone_number": phone_number,
            "template_id": template_id,
            "personalisation": personalisation or {},
            "reference": reference,
        }
        if sms_sender_id:
            body["sms_sender_id"] = sms_sender_id
        return await self._send("/v2/notifications/sms", body, reference)

    async def send_email(
        self,
        email_address: str,
        template_id: str,
        personalisation: dict,
        reference: str,
        email_reply_to_id: Optional[str] = None,
    ) -> SentNotification:
        """Send an email. `reference` is our outbox reference; it must hold no personal data."""
        body: dict[str, Any] = {
            "email_address": email_address,
            "template_id": template_id,
            "personalisation": personalisation or {},
            "reference": reference,
        }
        if email_reply_to_id:
            body["email_reply_to_id"] = email_reply_to_id
        return await self._send("/v2/notifications/email", body, reference)

    async def _send(self, path: str, body: dict, reference: str) -> SentNotification:
        data = await self._request("POST", path, json_body=body, reference=reference)
        notification_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(notification_id, str) or not notification_id:
            # Notify said 2xx, so the message was most probably accepted: whoever retries must look first.
            raise NotifyError(None, "BadResponse", "Notify accepted the request but its answer had no id", True)
        return SentNotification(id=notification_id, reference=data.get("reference") or reference,
                                status="created")

    # ---- reading ---------------------------------------------------------------------------------

    async def find_by_reference(self, reference: str) -> list[NotificationStatus]:
        """Every notification Notify holds with our `reference`, newest first; empty if none.

        Used before re-sending a message whose first attempt had no clear answer: if Notify has it, the
        first attempt went through and must not be repeated."""
        data = await self._request("GET", "/v2/notifications", params={"reference": reference},
                                   reference=reference)
        notifications = data.get("notifications") if isinstance(data, dict) else None
        if not isinstance(notifications, list):
            raise NotifyError(200, "BadResponse", "Notify's answer had no list of notifications", True)
        return [_status_from(item) for item in notifications if isinstance(item, dict)]

    async def get_notification(self, notification_id: str) -> NotificationStatus:
        """One notification by Notify's id."""
        data = await self._request("GET", f"/v2/notifications/{notification_id}")
        if not isinstance(data, dict):
            raise NotifyError(200, "BadResponse", "Notify's answer was not a notification", True)
        return _status_from(data)

    async def received_texts(self, older_than: Optional[str] = None) -> list[dict]:
        """Texts received by the service, newest first, one page (up to 250) at a time: pass the id of the
        last one seen as `older_than` for the next page. Each is Notify's own dict (`id`, `user_number`,
        `notify_number`, `content`, `created_at`, `service_id`)."""
        params = {"older_than": older_than} if older_than else None
        data = await self._request("GET", "/v2/received-text-messages", params=params)
        texts = data.get("received_text_messages") if isinstance(data, dict) else None
        if not isinstance(texts, list):
            raise NotifyError(200, "BadResponse", "Notify's answer had no list of received texts", True)
        return [text for text in texts if isinstance(text, dict)]

    # ---- transport -------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {create_jwt(self.service_id, self._secret, issued_at=self._clock())}",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Optional[dict] = None,
        params: Optional[dict] = None,
        reference: Optional[str] = None,
    ) -> Any:
        url = f"{self.base_url}{path}"
        where = f"{method} {path}" + (f" reference={reference}" if reference else "")
        try:
            response = await self._client.request(method, url, json=json_body, params=params,
                                                  headers=self._headers(), timeout=self.timeout)
        except httpx.TimeoutException as exc:
            log.warning("Notify %s: no answer within %.1f s (%s)", where, self.timeout, type(exc).__name__)
            raise NotifyError(None, "Timeout", f"no answer from Notify within {self.timeout:g} s", True) from exc
        except httpx.TransportError as exc:
            log.warning("Notify %s: connection failed (%s)", where, type(exc).__name__)
            raise NotifyError(None, "ConnectionError",
                              f"could not reach Notify ({type(exc).__name__})", True) from exc

        if response.status_code >= 400:
            error = _error_from(response)
            log.warning("Notify %s: %s %s (%s)", where, error.status_code, error.error,
                        "will retry" if error.retryable else "will not retry")
            raise error
        try:
            data = response.json()
        except ValueError as exc:
            raise NotifyError(response.status_code, "BadResponse", "Notify's answer was not JSON", True) from exc
        log.debug("Notify %s: %s", where, response.status_code)
        return data


def _status_from(item: dict) -> NotificationStatus:
    return NotificationStatus(id=str(item.get("id") or ""), reference=str(item.get("reference") or ""),
                              status=str(item.get("status") or ""))


def _retryable(status_code: int) -> bool:
    # 429 is a rate or daily limit: later may work. 5xx is Notify's fault. Every other 4xx is ours
    # (validation, authentication, a missing template) and repeats identically however often it is sent.
    return status_code == 429 or status_code >= 500


def _error_from(response: httpx.Response) -> NotifyError:
    """A `NotifyError` from an error answer in Notify's shape `{"status_code", "errors": [{error, message}]}`.
    Several errors (Notify reports every failed validation) are joined into one message."""
    status = response.status_code
    error, message = "", ""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        errors = [item for item in data.get("errors") or [] if isinstance(item, dict)]
        if errors:
            error = str(errors[0].get("error") or "")
            message = "; ".join(str(item.get("message") or "") for item in errors if item.get("message"))
        elif isinstance(data.get("message"), str):
            message = data["message"]
    if not error:
        error = "Exception" if status >= 500 else f"HTTP{status}"
    if not message:
        message = response.reason_phrase or f"HTTP {status}"
    return NotifyError(status, error, message, _retryable(status))

