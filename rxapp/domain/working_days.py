"""Working days in England and Wales: Monday to Friday, less England and Wales bank holidays.

The Victims' Code counts its police deadlines in working days. This module answers two questions:
is a date a working day, and when does a deadline of n working days after an event end.

Bank holidays come from the `holidays` library (`UnitedKingdom`, subdivision "ENG"; Wales has the same
list), which includes Good Friday, Easter Monday, the early May, spring and summer bank holidays,
Christmas Day, Boxing Day, the substitute days when those fall at a weekend, and one-off days such as
a coronation. A new bank holiday the library does not know yet, or a date it has wrong, is a data
change: pass `extra_holidays` / `removed_holidays` (the rules file carries both lists).

How a deadline is counted (`add_working_days`):
- Days are London calendar days, so an event at 00:30 BST on a Thursday (23:30 UTC on the Wednesday)
  happened on the Thursday.
- The day of the event is day 0 and never counts, however early the event was: day 1 is the first
  working day after it. An event on a Saturday, a Sunday or a bank holiday is treated the same way,
  so its day 1 is the next working day.
- The deadline is the very end of day n (23:59:59.999999 London time), returned as aware UTC: the
  victim must be told at some point on that day, not by the hour the event happened.
- n = 0 means "the same day": the end of the event's day if it is a working day, otherwise the end of
  the next working day.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Iterable
from zoneinfo import ZoneInfo

import holidays

LONDON = "Europe/London"


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    # Cached per year: building the library's calendar is slow compared with the day-by-day walk.
    return frozenset(holidays.UnitedKingdom(subdiv="ENG", years=year).keys())


class WorkingCalendar:
    """England and Wales working days, with optional corrections to the bank-holiday list."""

    def __init__(self, extra_holidays: Iterable[date] = (), removed_holidays: Iterable[date] = ()):
        self.extra_holidays = frozenset(_as_date(d, "extra_holidays") for d in extra_holidays)
        self.removed_holidays = frozenset(_as_date(d, "removed_holidays") for d in removed_holidays)

    def is_bank_holiday(self, day: date) -> bool:
        if day in self.extra_holidays:
            return True
        return day in _bank_holidays(day.year) and day not in self.removed_holidays

    def is_working_day(self, day: date) -> bool:
        # A datetime is a date subclass; take its own calendar date rather than guess a time zone.
        if isinstance(day, datetime):
            day = day.date()
        return day.weekday() < 5 and not self.is_bank_holiday(day)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, start: datetime, n: int, tz: str = LONDON) -> datetime:
        """The end (23:59:59.999999 local) of the n-th working day after the local day of `start`, as
        aware UTC. See the module docstring for how days are counted."""
        if start.tzinfo is None or start.utcoffset() is None:
            # A naive time could be read as UTC or as London and land on a different day; refuse it.
            raise ValueError("start must be an aware datetime")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a whole number of working days, 0 or more, not {n!r}")
        zone = ZoneInfo(tz)
        day = start.astimezone(zone).date()
        if n == 0:
            if not self.is_working_day(day):
                day = self.next_working_day(day)
        else:
            for _ in range(n):
                day = self.next_working_day(day)
        return end_of_day(day, tz)


def end_of_day(day: date, tz: str = LONDON) -> datetime:
    """The last instant of a local calendar day, as aware UTC. (The UK clocks change at 01:00 or 02:00,
    so 23:59 local is never ambiguous.)"""
    return datetime.combine(day, time.max, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def _as_date(value: object, field: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"{field} must hold dates, not {value!r}")
    return value
