"""A local GOV.UK Notify: a real HTTP server speaking Notify's v2 API, so the demo and the tests run the
product's real `NotifyClient` (and the real callback endpoints) against something that behaves like
Notify, without sending anything to anybody.

What it does as Notify does (see /contracts/govuk-notify.md):

- checks each request's JWT: HS256, signed with the secret of an API key of the service named in `iss`,
  `iat` within 30 s of now; otherwise 401/403 `AuthError`;
- validates sends: a UK mobile number, a valid email address, `template_id` a UUID of a known template of
  the right type, every placeholder of the template provided, `reference` at most 1000 characters; every
  problem found answers 400 `ValidationError` or `BadRequestError`, in Notify's error shape;
- answers 201 in Notify's shape with the personalised body, and keeps every notification in memory for
  `GET /v2/notifications?reference=...` and `GET /v2/notifications/{id}`;
- moves each notification on to its final status after `receipt_delay` seconds (`temporary-failure` for
  07700900003 and temp-fail@simulator.notify, `permanent-failure` for 07700900002 and
  perm-fail@simulator.notify, `delivered` otherwise) and, with a callback URL configured, POSTs the
  delivery receipt there with the bearer token, retrying a few times like Notify does (faster);
- holds received texts for `GET /v2/received-text-messages`, and POSTs each to the received-text callback;
- refuses more than `rate_limit_per_minute` sends a minute per API key with 429 `RateLimitError`.

Tests make it misbehave through the fault methods (`fail_next`, `fail_rate`, `delay_next`,
`accept_then_fail_next`, `reset`), or from another process through `POST /_control/faults`. `set_latency`
(`--latency`) makes every request take as long as an answer from the real Notify across the internet does
(benchmarks: `bench/outbox.py --notify-latency`). The
`/_control/...` endpoints need no token: this is a test double and must only listen on a trusted host.

Start it from Python with `server = NotifyServer(...).start()` (a background thread; `server.url`,
`server.stop()`), or serve `server.app` with any ASGI server. On its own:
`python -m integrations.govuk_notify.simulator --port 8766 [--api-key K] [--callback-url U --callback-token T]
[--received-text-callback-url U] [--templates FILE] [--latency SECONDS]`.

Like the client, it never logs a phone number, an email address or a message body: logs carry ids,
references, types and statuses only.

Modules: `server` (`NotifyServer`: state, running, delivery and callbacks), `app` (the HTTP endpoints and
the JWT check), `faults` (fault injection and the rate limit), `validation` (what a send must satisfy, and
rendering templates), `models` (the records kept and their JSON shapes), `__main__` (the command line).
"""
from .app import JWT_MAX_SKEW, MAX_PAGE
from .models import (
                     DEFAULT_EMAIL_TEMPLATE_ID,
                     DEFAULT_SMS_TEMPLATE_ID,
                     DEMO_API_KEY,
                     DEMO_SERVICE_ID,
                     PERM_FAIL_EMAIL,
                     PERM_FAIL_NUMBER,
                     TEMP_FAIL_EMAIL,
                     TEMP_FAIL_NUMBER,
                     CallbackAttempt,
                     ReceivedText,
                     StoredNotification,
                     Template,
)
from .server import NotifyServer
from .validation import (
                     MAX_REFERENCE,
                     MAX_SMS_CHARACTERS,
                     is_valid_email,
                     uk_mobile_problem,
)

__all__ = [
    "CallbackAttempt", "DEFAULT_EMAIL_TEMPLATE_ID", "DEFAULT_SMS_TEMPLATE_ID", "DEMO_API_KEY", "DEMO_SERVICE_ID",
    "JWT_MAX_SKEW", "MAX_PAGE", "MAX_REFERENCE", "MAX_SMS_CHARACTERS", "NotifyServer", "PERM_FAIL_EMAIL",
    "PERM_FAIL_NUMBER", "ReceivedText", "StoredNotification", "TEMP_FAIL_EMAIL", "TEMP_FAIL_NUMBER", "Template",
    "is_valid_email", "uk_mobile_problem",
]
