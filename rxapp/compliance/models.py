"""The compliance view's one table: counters by day, for demand that leaves no row of its own.

A tracking-page visit is counted as a number for the day and nothing else: no link, no address, no time of
day, so the count cannot be traced back to a victim.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class DailyCount(SQLModel, table=True):
    __table_args__ = (sa.PrimaryKeyConstraint("name", "day", name="pk_dailycount"),)

    name: str = Field(max_length=40)  # what is counted: tracking_visit
    day: date  # the London date
    count: int = 0
