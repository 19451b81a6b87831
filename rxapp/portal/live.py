"""Live changes to one victim's portal (a new message, a reply, a changed preference), within this process.

A service calls `changed(case_victim_id)` once its transaction has committed (or `changed_after_commit` while
it is still open: the notice then goes when, and only if, the transaction commits). A page waiting in
`wait_for_change(case_victim_id, timeout)` wakes at once. Services run in worker threads
(`asyncio.to_thread`), so `changed` never touches an event loop's objects directly: it asks each waiter's own
loop to wake it (`call_soon_threadsafe`).

Process-local on purpose: with several workers, a change made on another worker does not arrive here, so the
pages also re-read every PORTAL_LIVE_RECHECK seconds. Nothing personal passes through: only a number.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Optional

from sqlalchemy import event
from sqlalchemy.orm import Session

_lock = threading.Lock()
_waiters: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
_versions: dict[int, int] = {}
_SESSION_KEY = "vj_portal_live"


def version(case_victim_id: int) -> int:
    """How many changes this process has seen for the case victim (a page keeps it to miss none)."""
    with _lock:
        return _versions.get(case_victim_id, 0)


def changed(case_victim_id: int) -> None:
    """Wake every page waiting on this case victim. Safe from any thread."""
    with _lock:
        _versions[case_victim_id] = _versions.get(case_victim_id, 0) + 1
        waiters = list(_waiters.get(case_victim_id, ()))
    for loop, flag in waiters:
        try:
            loop.call_soon_threadsafe(flag.set)
        except RuntimeError:
            pass  # that loop has closed: its waiter is gone with it


def changed_after_commit(session: Session, case_victim_id: int) -> None:
    """`changed(case_victim_id)` once `session` commits; nothing if it rolls back."""
    pending: Optional[set[int]] = session.info.get(_SESSION_KEY)
    if pending is None:
        pending = session.info[_SESSION_KEY] = set()

        def _after_commit(committed: Session) -> None:
            ids = committed.info.pop(_SESSION_KEY, set())
            for one in sorted(ids):
                changed(one)

        def _after_rollback(rolled: Session) -> None:
            # What was pending is forgotten; a later change in this session registers afresh (the listener
            # left behind then finds nothing, or the new ids, and notifies each once).
            rolled.info.pop(_SESSION_KEY, None)

        event.listen(session, "after_commit", _after_commit, once=True)
        event.listen(session, "after_rollback", _after_rollback, once=True)
    pending.add(case_victim_id)


async def wait_for_change(case_victim_id: int, timeout: float, since: Optional[int] = None) -> bool:
    """True as soon as the case victim changes (or has changed since `version` gave `since`), False after
    `timeout` seconds with no change."""
    loop = asyncio.get_running_loop()
    flag = asyncio.Event()
    entry = (loop, flag)
    with _lock:
        if since is not None and _versions.get(case_victim_id, 0) != since:
            return True
        _waiters.setdefault(case_victim_id, set()).add(entry)
    try:
        await asyncio.wait_for(flag.wait(), timeout)
        return True
    except asyncio.TimeoutError:
        return False
    finally:
        with _lock:
            waiting = _waiters.get(case_victim_id)
            if waiting is not None:
                waiting.discard(entry)
                if not waiting:
                    del _waiters[case_victim_id]
