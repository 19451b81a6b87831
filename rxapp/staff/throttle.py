"""Sign-in throttling and the executor that checks passwords.

Failed sign-ins are counted in the database (`SignInThrottle`), so every worker shares the counts, under
three keys: the account named (whether or not it exists), the source address, and the whole service. A key
that reaches its limit within its window refuses every sign-in it covers until its block ends, right
password or not:

- account: `STAFF_LOCKOUT_ATTEMPTS` failures within `STAFF_LOCKOUT_MINUTES` block that username for
  `STAFF_LOCKOUT_MINUTES`; a successful sign-in starts its count again;
- address: `SIGNIN_ADDRESS_ATTEMPTS` failures within `STAFF_LOCKOUT_MINUTES` block that address as long;
- all: `SIGNIN_TOTAL_ATTEMPTS` failures within a minute block every sign-in for a minute.

Keys hold an HMAC of the username or address under the server secret, never either in clear.

argon2 runs in a small executor of its own, with a bounded queue: a flood of sign-ins waits there (or is
refused at once when the queue is full) instead of filling the thread pool the pages and feeds use.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Optional

from sqlmodel import Session, delete, or_

from rxapp.plumbing.config import settings
from rxapp.staff.models import SignInThrottle

log = logging.getLogger(__name__)

TOTAL_KEY = "all"
TOTAL_WINDOW = timedelta(minutes=1)
HASH_WORKERS = 2  # argon2 uses 64 MiB and ~50 ms a check: two at a time keep a flood from taking the machine
HASH_QUEUE = 8  # sign-ins waiting beyond those two; one more is refused at once, as if throttled
BUSY_MINUTES = 1


@dataclass(frozen=True)
class Rule:
    limit: int
    window: timedelta
    block: timedelta


def _digest(kind: str, value: str) -> str:
    mac = hmac.new(settings().secret_key.encode(), f"sign-in {kind}:{value}".encode(), hashlib.sha256)
    return f"{kind}:{mac.hexdigest()}"


def account_key(username: str) -> str:
    return _digest("account", (username or "").strip().lower())


def keys_for(username: str, address: Optional[str]) -> list[str]:
    """The keys one sign-in counts against, in the order rows are locked (always the same: no deadlock)."""
    keys = [account_key(username), TOTAL_KEY]
    if address:
        keys.append(_digest("address", address))
    return sorted(keys)


def rule_for(key: str) -> Rule:
    cfg = settings()
    window = timedelta(minutes=cfg.lockout_minutes)
    if key == TOTAL_KEY:
        return Rule(cfg.signin_total_attempts, TOTAL_WINDOW, TOTAL_WINDOW)
    if key.startswith("address:"):
        return Rule(cfg.signin_address_attempts, window, window)
    return Rule(cfg.lockout_attempts, window, window)


def blocked_until(session: Session, keys: list[str], now: datetime) -> Optional[datetime]:
    """The latest end of a block on any of `keys` still running at `now`, or None."""
    ends = [row.blocked_until for key in keys if (row := session.get(SignInThrottle, key)) is not None
            and row.blocked_until is not None and row.blocked_until > now]
    return max(ends, default=None)


def record_failure(session: Session, keys: list[str], now: datetime) -> Optional[datetime]:
    """Count one failed sign-in against each key (rows locked, on PostgreSQL, until the caller commits).
    Returns the end of the block this failure started, if it reached a limit."""
    until, purge = None, False
    for key in keys:
        rule = rule_for(key)
        row = session.get(SignInThrottle, key, with_for_update=True)
        if row is None:
            row = SignInThrottle(key=key, window_start=now, failures=0)
            session.add(row)
        elif row.window_start + rule.window <= now:
            purge = purge or key == TOTAL_KEY  # once a minute at most
            row.window_start, row.failures = now, 0
        row.failures += 1
        if row.failures >= rule.limit:
            row.blocked_until = now + rule.block
            row.window_start, row.failures = now, 0
            until = max(until or row.blocked_until, row.blocked_until)
            # Which kind of key, never whose: the log must not name the account or the address.
            log.warning("sign-in throttle: %s limit of %d reached, refusing for %d minutes",
                        key.split(":")[0], rule.limit, minutes_left(row.blocked_until, now))
    session.flush()
    if purge:
        purge_stale(session, now)
    return until


def clear_account(session: Session, username: str) -> None:
    row = session.get(SignInThrottle, account_key(username))
    if row is not None:
        session.delete(row)


def account_failures(session: Session, username: str) -> tuple[int, Optional[datetime]]:
    """(failures in the current window, end of block) for one username, as the account's own record shows."""
    row = session.get(SignInThrottle, account_key(username))
    return (row.failures, row.blocked_until) if row is not None else (0, None)


def purge_stale(session: Session, now: datetime) -> None:
    """Rows whose window and block are long over: forgetting them changes no answer."""
    longest = max(timedelta(minutes=settings().lockout_minutes), TOTAL_WINDOW)
    session.exec(delete(SignInThrottle).where(
        SignInThrottle.key != TOTAL_KEY, SignInThrottle.window_start < now - longest,
        or_(SignInThrottle.blocked_until.is_(None), SignInThrottle.blocked_until < now)))


def minutes_left(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


class PasswordWorkBusy(Exception):
    """Every password worker is busy and the queue is full."""


class PasswordWork:
    """A bounded executor for password checks: `workers` threads, at most `queue` jobs waiting."""

    def __init__(self, workers: int = HASH_WORKERS, queue: int = HASH_QUEUE):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password-check")
        self._slots = threading.BoundedSemaphore(workers + queue)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        if not self._slots.acquire(blocking=False):
            raise PasswordWorkBusy()
        try:
            future = self._pool.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        # Freed when the job ends, not when its caller stops waiting: a dropped request's job still counts.
        future.add_done_callback(lambda _done: self._slots.release())
        return await asyncio.wrap_future(future)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


password_work = PasswordWork()
