"""Making the local Notify misbehave on purpose, and its rate limit.

Tests queue faults through `NotifyServer`'s methods (`fail_next`, `fail_rate`, `delay_next`,
`accept_then_fail_next`, `set_rate_limit`, `set_latency`, `reset`), or from another process through
`POST /_control/faults` and `apply_fault`. Each fault applies to the send endpoints only (`scope="send"`)
or to every /v2 request (`scope="all"`).
"""
from __future__ import annotations

import collections
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .models import Refused

log = logging.getLogger(__name__)


@dataclass
class PendingFaults:
    failures: collections.deque = field(default_factory=collections.deque)  # (status, scope)
    delays: collections.deque = field(default_factory=collections.deque)  # (seconds, scope)
    accept_then_fail: int = 0
    fail_probability: float = 0.0
    fail_probability_status: int = 500
    fail_probability_scope: str = "send"
    latency: float = 0.0  # seconds every /v2 request takes before it is handled, as across the internet


class FaultControls:
    """The fault and rate-limit half of `NotifyServer`. The server provides `_lock` (an RLock), `_faults`
    (`PendingFaults`), `_sends` (API key -> monotonic times of its recent sends), `_random`,
    `rate_limit_per_minute`, `rate_limit_window` and `clear()`."""

    _lock: threading.RLock
    _faults: PendingFaults
    _sends: dict[tuple[str, str], collections.deque]
    _random: random.Random
    rate_limit_per_minute: int
    rate_limit_window: float

    def fail_next(self, n: int = 1, status: int = 500, *, scope: str = "send") -> None:
        """Answer the next `n` requests with `status` (500, 502, 503, 429, 400, 403...), in Notify's error
        shape, without storing anything. `scope` is "send" (the two send endpoints) or "all" (any /v2
        request). Queued behind failures already pending."""
        _check_scope(scope)
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        with self._lock:
            self._faults.failures.extend([(status, scope)] * max(0, n))

    def fail_rate(self, p: float, status: int = 500, *, scope: str = "send") -> None:
        """From now on, answer each request with `status` with probability `p` (0 turns it off)."""
        _check_scope(scope)
        if not 0.0 <= p <= 1.0:
            raise ValueError("p must be between 0 and 1")
        with self._lock:
            self._faults.fail_probability = p
            self._faults.fail_probability_status = status
            self._faults.fail_probability_scope = scope

    def delay_next(self, n: int, seconds: float, *, scope: str = "send") -> None:
        """Hold the next `n` requests for `seconds` before handling them, to make clients time out. A
        request whose client has gone by then is dropped unhandled and nothing is stored, as if it had been
        stuck in front of Notify. (For a send that happened but whose answer was lost, use
        `accept_then_fail_next`.)"""
        _check_scope(scope)
        with self._lock:
            self._faults.delays.extend([(float(seconds), scope)] * max(0, n))

    def set_latency(self, seconds: float) -> None:
        """From now on, handle every /v2 request `seconds` after it arrives, as the real Notify answers from
        across the internet (and does its own work) rather than from this machine; 0 turns it off. Unlike
        `delay_next`, a request is handled even if its client has gone meanwhile, as Notify would."""
        if not 0.0 <= seconds <= 60.0:
            raise ValueError("latency must be between 0 and 60 seconds")
        with self._lock:
            self._faults.latency = float(seconds)

    def accept_then_fail_next(self, n: int = 1) -> None:
        """For the next `n` valid sends, store the notification (it goes on to be delivered as usual) and
        then answer 500: the "sent, but the answer was lost" case."""
        with self._lock:
            self._faults.accept_then_fail += max(0, n)

    def set_rate_limit(self, per_minute: int, window: float = 60.0) -> None:
        """Allow `per_minute` sends per API key in any `window` seconds (Notify: 3,000 in 60)."""
        with self._lock:
            self.rate_limit_per_minute = per_minute
            self.rate_limit_window = window
            self._sends.clear()

    def reset(self) -> None:
        """Clear every fault and the rate-limit counters. Stored notifications stay (see `clear`)."""
        with self._lock:
            self._faults = PendingFaults()
            self._sends.clear()

    def faults(self) -> dict:
        """The faults still pending, for `GET /_control/faults` and for tests."""
        with self._lock:
            f = self._faults
            return {
                "fail_next": [{"status": s, "scope": scope} for s, scope in f.failures],
                "delay_next": [{"seconds": s, "scope": scope} for s, scope in f.delays],
                "accept_then_fail_next": f.accept_then_fail,
                "fail_rate": {"p": f.fail_probability, "status": f.fail_probability_status,
                              "scope": f.fail_probability_scope},
                "rate_limit": {"per_minute": self.rate_limit_per_minute, "window": self.rate_limit_window},
                "latency": f.latency,
            }

    def apply_fault(self, spec: dict) -> None:
        """One fault instruction as `POST /_control/faults` takes it: `{"action": "fail_next", "n": 2,
        "status": 500}`, `{"action": "fail_rate", "p": 0.3, "status": 503}`, `{"action": "delay_next", "n": 1,
        "seconds": 5}`, `{"action": "accept_then_fail_next", "n": 1}`, `{"action": "rate_limit",
        "per_minute": 10, "window": 60}`, `{"action": "latency", "seconds": 0.1}`, `{"action": "reset"}` or
        `{"action": "clear"}`."""
        if not isinstance(spec, dict):
            raise ValueError("a fault must be a JSON object with an 'action'")
        action = spec.get("action")
        scope = spec.get("scope", "send")
        if action == "fail_next":
            self.fail_next(int(spec.get("n", 1)), int(spec.get("status", 500)), scope=scope)
        elif action == "fail_rate":
            self.fail_rate(float(spec.get("p", 0.0)), int(spec.get("status", 500)), scope=scope)
        elif action == "delay_next":
            self.delay_next(int(spec.get("n", 1)), float(spec["seconds"]), scope=scope)
        elif action == "accept_then_fail_next":
            self.accept_then_fail_next(int(spec.get("n", 1)))
        elif action == "rate_limit":
            self.set_rate_limit(int(spec["per_minute"]), float(spec.get("window", 60.0)))
        elif action == "latency":
            self.set_latency(float(spec["seconds"]))
        elif action == "reset":
            self.reset()
        elif action == "clear":
            self.clear()
        else:
            raise ValueError("unknown action: expected fail_next, fail_rate, delay_next, "
                             "accept_then_fail_next, rate_limit, latency, reset or clear")


    # ---- applied to each request, in `NotifyApi._handle` -----------------------------------------

    def _take_delay(self, kind: str) -> float:
        with self._lock:
            return _take(self._faults.delays, kind) or 0.0

    def _latency(self) -> float:
        with self._lock:
            return self._faults.latency

    def _injected_failure(self, kind: str) -> None:
        with self._lock:
            status = _take(self._faults.failures, kind)
            f = self._faults
            if status is None and f.fail_probability > 0 and _in_scope(f.fail_probability_scope, kind):
                if self._random.random() < f.fail_probability:
                    status = f.fail_probability_status
        if status is not None:
            log.info("local Notify: injected %d", status)
            raise injected(status, self.rate_limit_per_minute, self.rate_limit_window)

    def _check_rate_limit(self, service: tuple[str, str]) -> None:
        now = time.monotonic()
        with self._lock:
            window = self._sends.setdefault(service, collections.deque())
            while window and window[0] <= now - self.rate_limit_window:
                window.popleft()
            if len(window) >= self.rate_limit_per_minute:
                raise Refused(429, "RateLimitError", _rate_limit_message(self.rate_limit_per_minute,
                                                                           self.rate_limit_window))
            window.append(now)


def _check_scope(scope: str) -> None:
    if scope not in ("send", "all"):
        raise ValueError("scope must be 'send' or 'all'")


def _in_scope(scope: str, kind: str) -> bool:
    return scope == "all" or kind == "send"


def _take(queue: collections.deque, kind: str) -> Any:
    """Remove and return the value of the first queued fault that applies to a `kind` request."""
    for index, (value, scope) in enumerate(queue):
        if _in_scope(scope, kind):
            del queue[index]
            return value
    return None


def _rate_limit_message(limit: int, window: float) -> str:
    return f"Exceeded rate limit for key type LIVE of {limit} requests per {window:g} seconds"


def injected(status: int, limit: int, window: float) -> Refused:
    if status == 429:
        return Refused(429, "RateLimitError", _rate_limit_message(limit, window))
    if status in (401, 403):
        return Refused(status, "AuthError", "Invalid token: API key not found")
    if status == 404:
        return Refused(404, "NoResultFound", "No result found")
    if status >= 500:
        return Refused(status, "Exception", "Internal server error")
    return Refused(status, "BadRequestError", "Injected fault: request refused")
