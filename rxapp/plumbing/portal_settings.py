"""The victim portal's settings (PORTAL_*), read by `rxapp/plumbing/config.py` (the only reader of the
environment) into `Settings.portal`. Standard library only, like the config module that loads it.

- PORTAL_CRIME_TYPES: which recorded crimes invite their victims to the portal, as Home Office offence code
  prefixes ("28" is every burglary code, 28/1, 28A, 28E...; "105A" assault without injury) and words of the
  classification's title ("burglary", "theft"); `rxapp/domain/portal_access.py` matches them.
- PORTAL_ACCESS_DAYS_AFTER_FINALISED: how long a victim can still sign in after the case is finalised.
- PORTAL_IDLE_MINUTES: a session unused this long has ended.
- PORTAL_REPLY_WORKING_DAYS: the officer in charge replies to a victim's message by the end of this many
  working days (the automatic answer promises it; the task is due then).
- PORTAL_MESSAGES_PER_HOUR: how many messages one victim may write in an hour (a flood is refused, not stored).
- PORTAL_LIVE_RECHECK: how often (seconds) an open portal page re-reads the conversation, a safety net
  (`rxapp/portal/live.py` wakes pages at once: of this process, and of every worker through Redis when
  REDIS_URL is set; without Redis, a change made by another worker process arrives at the next re-read).
- PORTAL_SHOW_OFFICER_NAME: whether the case page names the officer in charge (always their rank, collar number
  and team).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rxapp.plumbing.settings_reader import SettingsReader

# The default: burglary (28-31), robbery (34), theft and handling (37.2 aggravated vehicle taking, 39-49, 126
# vehicle interference), fraud and forgery (53), criminal damage (56B arson not endangering life, 58, 59),
# assault without injury (105A, 105B); and the same groups by the words of their titles, for feeds whose codes
# differ.
DEFAULT_CRIME_TYPES = (
    "28", "29", "30", "31", "34", "37.2", "39", "40", "41", "42", "43", "44", "45", "46", "47", "48", "49",
    "126", "53", "56B", "58", "59", "105A", "105B",
    "burglary", "theft", "robbery", "fraud", "criminal damage", "vehicle interference",
    "taking a motor vehicle", "assault without injury",
)
_ENTRY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./ '-]{0,59}$")


@dataclass(frozen=True)
class PortalSettings:
    crime_types: tuple[str, ...] = DEFAULT_CRIME_TYPES
    access_days_after_finalised: int = 28
    idle_minutes: float = 30.0
    reply_working_days: int = 2
    messages_per_hour: int = 20
    live_recheck_seconds: float = 15.0
    show_officer_name: bool = False


def parse_crime_types(raw: str) -> tuple[str, ...]:
    """PORTAL_CRIME_TYPES: entries separated by commas, each an offence code prefix or words of a title."""
    entries = tuple(dict.fromkeys(" ".join(part.split()) for part in raw.split(",") if part.strip()))
    if not entries or not all(_ENTRY.match(e) for e in entries):
        raise ValueError("PORTAL_CRIME_TYPES must be Home Office offence code prefixes or words of a crime's "
                         "title, separated by commas, e.g. 28,45,58,105A,burglary,theft")
    return entries


def read_portal_settings(r: SettingsReader) -> PortalSettings:
    return PortalSettings(
        crime_types=r.parsed("PORTAL_CRIME_TYPES", parse_crime_types) or DEFAULT_CRIME_TYPES,
        access_days_after_finalised=int(r.number("PORTAL_ACCESS_DAYS_AFTER_FINALISED", 28, 0, 3650, whole=True)),
        idle_minutes=r.number("PORTAL_IDLE_MINUTES", 30.0, 5, 240),
        reply_working_days=int(r.number("PORTAL_REPLY_WORKING_DAYS", 2, 0, 20, whole=True)),
        messages_per_hour=int(r.number("PORTAL_MESSAGES_PER_HOUR", 20, 1, 500, whole=True)),
        live_recheck_seconds=r.number("PORTAL_LIVE_RECHECK", 15.0, 2, 300),
        show_officer_name=r.boolean("PORTAL_SHOW_OFFICER_NAME", False),
    )
