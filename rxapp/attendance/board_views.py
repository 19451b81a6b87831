"""What the control room's board shows, built from the database as plain dictionaries: every open attendance
with its grade, target, resources, window and risk of missing the target (a booked visit against its own
window), whether the control room holds its texts, and the counts at the top. A closed incident whose texts
are still held stays on the board, last, until someone releases them."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Session, select

from rxapp.attendance.holds import active_holds, held_incident_ids
from rxapp.attendance.models import Assignment, Incident, stored_estimate
from rxapp.attendance.targets import attendance_now, grade_targets
from rxapp.domain import attendance as rules
from rxapp.domain.eta import describe_clock_window, describe_window
from rxapp.domain.grades import BREACHED, OK, RISK_LEVELS, GradeTargets, assess_breach, is_new_breach
from rxapp.domain.holds import hold_reason_words
from rxapp.messaging.views import held_back_summary
from rxapp.plumbing.db import session_scope

GRADE_LABELS = {
    "EMERGENCY": "Emergency",
    "PRIORITY": "Priority",
    "STANDARD": "Standard",
    "SCHEDULED": "Scheduled",
    "RESOLUTION_WITHOUT_DEPLOYMENT": "Phone resolution",
}
# The control room's own words for an attendance's status (the victim's page says it its own way).
STATUS_WORDS = {"logged": "Waiting", "scheduled": "Booked", "assigned": "Assigned", "en_route": "En route",
                "at_scene": "At scene", "completed": "Completed", "closed": "Closed"}
RISK_LABELS = {"breached": "Target missed", "at_risk": "At risk", "unassigned": "Nobody assigned",
               "booked": "Booked", "ok": "On track"}
COUNTED = ("breached", "at_risk", "unassigned", "booked", "held")  # the counts at the top of the board


def _clock(at: Optional[datetime]) -> str:
    return rules.london_time(at) if at else ""


def board_rows(session: Session, targets: GradeTargets, now: Optional[datetime] = None) -> list[dict]:
    """Every open attendance for the control room, most urgent first."""
    now = now or attendance_now()
    held_ids = held_incident_ids(session)
    incidents = session.exec(select(Incident).where((Incident.is_open == True)  # noqa: E712
                                                    | Incident.id.in_(held_ids))).all()
    if not incidents:
        return []
    ids = [i.id for i in incidents]
    holds = active_holds(session, ids)
    resources: dict[int, list[str]] = {}
    for a in session.exec(select(Assignment).where(Assignment.incident_id.in_(ids),
                                                  Assignment.active == True)):  # noqa: E712
        resources.setdefault(a.incident_id, []).append(f"{a.callsign} ({a.state.replace('_', ' ')})")
    held = held_back_summary(session, ids)
    rows = []
    for inc in incidents:
        estimate = stored_estimate(inc)
        if inc.is_open:
            level, reason = assess_breach(
                inc.grade, inc.opened_at, now, estimate.latest if estimate else None,
                assigned=bool(resources.get(inc.id)), arrived_at=inc.arrived_at, rural=inc.rural,
                appointment_end=inc.appointment_end, appointment_start=inc.appointment_start, targets=targets,
            )
        else:
            level, reason = OK, "Closed; its texts are still held until someone releases them"
        deadline = targets.target_deadline(inc.grade, inc.opened_at, inc.rural, inc.appointment_end)
        hold = holds.get(inc.id)
        texts = held.get(inc.id, "")
        if hold is not None and texts.endswith("held by the control room"):
            texts = ""  # the hold itself says it
        target = targets.target_minutes(inc.grade, inc.rural)
        elapsed = int((now - inc.opened_at).total_seconds() // 60)
        flags = [f for f in inc.flags.split(",") if f]
        rows.append({
            "id": str(inc.id),
            "urn": inc.urn,
            "grade": inc.grade,
            "grade_label": GRADE_LABELS.get(inc.grade, inc.grade),
            "category": inc.category.replace("_", " ").capitalize(),
            "location": inc.location_description,
            "opened": _clock(inc.opened_at),
            "elapsed": f"{elapsed} min" if elapsed < 600 else f"{elapsed // 60} h {elapsed % 60} min",
            "target": (f"{target} min" if target is not None and target < 600 else
                       f"{target // 60} h" if target is not None else
                       ("by " + _clock(inc.appointment_end) if inc.appointment_end else "none")),
            "status": inc.status,
            "status_label": STATUS_WORDS.get(inc.status, rules.STATUS_LABELS.get(inc.status, inc.status)),
            "resources": ", ".join(resources.get(inc.id, [])) or "None",
            "eta": (describe_window(estimate, now) + " (" + describe_clock_window(estimate) + ")") if estimate else "",
            "risk": level,
            "risk_label": RISK_LABELS.get(level, level),
            "risk_reason": reason,
            "new_breach": "yes" if inc.is_open and is_new_breach(level, deadline, now, inc.arrived_at) else "",
            "flags": ", ".join(f.replace("_", " ").lower() for f in flags),
            "texts": texts,
            "held": "yes" if hold is not None else "",
            "hold_note": (f"Texts held by {hold.held_by_name or hold.held_by} at {_clock(hold.held_at)}: "
                          f"{hold_reason_words(hold.reason)}") if hold is not None else "",
            "rank": (not inc.is_open, RISK_LEVELS.index(level) if level in RISK_LEVELS else len(RISK_LEVELS),
                     inc.opened_at.isoformat()),
        })
    rows.sort(key=lambda r: r["rank"])
    for r in rows:
        r.pop("rank")
    return rows


def board_counts(rows: list[dict]) -> dict[str, int]:
    """How many rows are breached, at risk, unassigned, booked, and have their texts held."""
    counts = {key: 0 for key in COUNTED}
    for row in rows:
        if row.get("risk") in counts:
            counts[row["risk"]] += 1
        if row.get("held"):
            counts["held"] += 1
    return counts


def breached_urns(rows: list[dict]) -> list[tuple[str, str]]:
    """(urn, grade label) of every breached row, in board order."""
    return [(row["urn"], row["grade_label"]) for row in rows if row.get("risk") == BREACHED]


def load_board() -> tuple[list[dict], str]:
    with session_scope(readonly=True) as session:
        return board_rows(session, grade_targets()), rules.london_time(attendance_now())
