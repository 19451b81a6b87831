"""What the compliance page's state calls (in a worker thread): each opens its own read-only session, asks the
read models with the signed-in member of staff, and returns plain values ready to show. The state never
touches the database itself (tests/test_architecture.py)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from rxapp.compliance import measures as m
from rxapp.domain import compliance as rules
from rxapp.plumbing.db import session_scope
from rxapp.staff.permissions import Permission, holds

CHART_MEASURES = ("written_confirmation", "support_referral", "vps_offer", "updates", "routine_update")


def today() -> datetime:
    return datetime.now(timezone.utc)


def period_from(start: str, end: str, now: Optional[datetime] = None) -> rules.Period:
    return rules.parse_period(start or "", end or "", (now or today()).astimezone(rules.LONDON).date())


def calls_from(per_update: str, per_sign_in: str) -> rules.CallsAvoided:
    return rules.CallsAvoided(
        rules.parse_share(per_update, "Share of delivered updates") if (per_update or "").strip()
        else rules.DEFAULT_CALLS_PER_UPDATE,
        rules.parse_share(per_sign_in, "Share of portal sign-ins") if (per_sign_in or "").strip()
        else rules.DEFAULT_CALLS_PER_SIGN_IN)


def _shown(row: dict) -> dict[str, str]:
    return {k: str(v) for k, v in row.items()}


def on_time_chart(measure_rows: list[dict], entitlement_rows_by_measure: dict) -> list[dict]:
    """Per measure: the share met on time (or declined) for standard and for enhanced victims, as whole
    percentages for the chart; the tables carry the counts."""
    out = []
    for measure in CHART_MEASURES:
        row = {"measure": rules.measure_words(measure)}
        for entitlement in ("Standard", "Enhanced"):
            counts = entitlement_rows_by_measure.get((entitlement, measure))
            share = rules.on_time_share(counts) if counts else None
            row[entitlement] = round(100 * share) if share is not None else 0
        if any(r["measure_key"] == measure for r in measure_rows):
            out.append(row)
    return out


def load_page(actor, start: str, end: str, per_update: str, per_sign_in: str) -> dict:
    """Everything the page shows, or {"error": ...} in words; {"refused": True} for a person who may not see it."""
    if not holds(actor, Permission.READ_COMPLIANCE):
        return {"refused": True}
    try:
        period = period_from(start, end)
        calls = calls_from(per_update, per_sign_in)
    except ValueError as exc:
        return {"error": str(exc)}
    try:
        with session_scope(readonly=True) as session:
            tables = m.measures(session, actor, period)
            demand = m.demand(session, actor, period, calls)
            feedback = m.feedback(session, actor, period)
    except m.NotAllowed:
        return {"refused": True}
    by_entitlement = {(r["group"], r["measure_key"]): r for r in tables["entitlement"]}
    return {
        "period_words": period.words, "start": period.first_day.isoformat(), "end": period.last_day.isoformat(),
        "scope_words": m.scope_words(actor), "may_read_cases": holds(actor, Permission.READ_CASE),
        "tables": {split: [_shown(r) for r in rows] for split, rows in tables.items()},
        "on_time_chart": on_time_chart(tables["measure"], by_entitlement),
        "demand": [_shown(r) for r in demand],
        "demand_chart": [r for r in demand if r["month"] != "Total"],
        "feedback": [_shown(r) for r in feedback],
        "feedback_chart": [{"month": r["month"], "Kept informed": float(r["informed_average"] or 0),
                            "Overall": float(r["overall_average"] or 0)} for r in feedback if r["month"] != "Total"],
        "method": calls.method(),
        "per_update": f"{calls.per_delivered_update * 100:g}", "per_sign_in": f"{calls.per_portal_sign_in * 100:g}",
    }


def load_cases(actor, start: str, end: str, split: str, group: str, measure: str, outcome: str) -> dict:
    """The cases behind one figure that `actor` may open, and how many there are in all."""
    if not holds(actor, Permission.READ_COMPLIANCE):
        return {"numbers": [], "total": 0}
    try:
        period = period_from(start, end)
    except ValueError as exc:
        return {"numbers": [], "total": 0, "error": str(exc)}
    try:
        with session_scope(readonly=True) as session:
            numbers, total = m.cases_behind(session, actor, period, split=str(split)[:40], group=str(group)[:200],
                                            measure=str(measure)[:60], outcome=str(outcome)[:40])
    except m.NotAllowed:
        return {"numbers": [], "total": 0}
    return {"numbers": numbers, "total": total}
