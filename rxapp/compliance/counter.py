"""Counting a thing for today (London date) in `DailyCount`, safely from several workers at once."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import update

from rxapp.compliance.models import DailyCount
from rxapp.domain.compliance import LONDON
from rxapp.plumbing.db import session_scope

log = logging.getLogger(__name__)
TRACKING_VISIT = "tracking_visit"


def count_today(name: str, *, now: Optional[datetime] = None, url: Optional[str] = None) -> None:
    """Add one to today's count of `name`. Never raises: a lost count must not cost a victim their page."""
    day = (now or datetime.now(timezone.utc)).astimezone(LONDON).date()
    try:
        for _ in range(2):  # a first insert can race another worker's: then the update finds its row
            with session_scope(url) as session:
                bumped = session.exec(update(DailyCount).where(DailyCount.name == name, DailyCount.day == day)
                                      .values(count=DailyCount.count + 1))
                if bumped.rowcount:
                    return
            try:
                with session_scope(url) as session:
                    session.exec(sa.insert(DailyCount).values(name=name, day=day, count=1))
                return
            except IntegrityError:
                continue
    except Exception:
        log.exception("a daily count could not be stored")
