"""The supervisor view's settings (TEAM_*), read by `rxapp/plumbing/config.py` (the only reader of the environment)
into `Settings.team`. Standard library only, like the config module that loads it.

- TEAM_CASELOAD_LIMIT: how many open cases one officer may hold before the team page (`/team`) shows them as over
  their load.
"""
from __future__ import annotations

from dataclasses import dataclass

from rxapp.plumbing.settings_reader import SettingsReader

DEFAULT_CASELOAD_LIMIT = 20


@dataclass(frozen=True)
class TeamSettings:
    caseload_limit: int = DEFAULT_CASELOAD_LIMIT


def read_team_settings(r: SettingsReader) -> TeamSettings:
    return TeamSettings(
        caseload_limit=int(r.number("TEAM_CASELOAD_LIMIT", DEFAULT_CASELOAD_LIMIT, 1, 1000, whole=True)),
    )
