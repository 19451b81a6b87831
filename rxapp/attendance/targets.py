"""Configured rule tables shared by services and pages, parsed once."""
from __future__ import annotations

from functools import lru_cache

from rxapp.domain.grades import GradeTargets
from rxapp.plumbing.config import settings


@lru_cache(maxsize=1)
def grade_targets() -> GradeTargets:
    raw = settings().grade_targets_json
    return GradeTargets.from_json(raw) if raw else GradeTargets()
