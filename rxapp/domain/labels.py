"""Words staff read for the product's own codes: message templates and case timeline entries.

One mapping for every staff page (a case, the list of cases, an incident's message history): a page never
shows a template's file name (`update_not_investigated`) or a code the records system sends (`RELEASED_NFA`).
`tests/test_domain_labels.py` checks that every template file in `rxapp/templates/` has its words here.
Plain Python, no I/O.
"""
from __future__ import annotations

import re

# Every message template (rxapp/templates/<name>.json), as staff name the message.
TEMPLATE_LABELS = {
    # The attendance journey: an officer coming now.
    "officer_assigned": "Officer assigned",
    "attendance_delayed": "Delay, new window",
    "attendance_delayed_no_window": "Delay, update promised",
    "officer_arriving_soon": "Arriving soon",
    "attendance_closed": "Visit closed, crime reference",
    "attendance_closed_no_crime": "Visit closed",
    "no_officer_yet": "No officer yet",
    # Answers to what the victim did.
    "opt_out_confirmation": "Opt-out confirmed",
    "reply_received": "Reply acknowledged",
    # The investigation: what the Victims' Code says each victim is told.
    "crime_recorded": "Crime recorded: written confirmation",
    "routine_no_news": "Routine update (nothing new yet)",
    "support_referral_made": "Support referral made",
    "vps_offer": "Victim Personal Statement offer",
    "oic_changed": "New officer in charge",
    "update_not_investigated": "Update: not investigated further for now",
    "update_suspect_arrested": "Update: a suspect was arrested",
    "update_suspect_interviewed": "Update: a suspect was interviewed",
    "update_released_nfa": "Update: suspect released with no further action",
    "update_released_on_bail": "Update: suspect released on bail",
    "update_released_under_investigation": "Update: suspect released under investigation",
    "update_bail_changed": "Update: bail changed",
    "update_charged": "Update: a suspect was charged",
    "update_out_of_court_disposal": "Update: dealt with out of court",
    "update_filed": "Update: case filed until new information comes in",
    "update_property_return": "Update: property ready to return",
    "updates_together": "Several updates in one message",
    "updates_together_more": "Several updates in one message (the rest)",
    "updates_together_portal": "Several updates: read them in the portal",
    # The victim's portal.
    "portal_invitation": "Portal invitation",
    "portal_code": "Portal sign-in code",
    "portal_reply_waiting": "Portal: a reply is waiting",
}

# A case's timeline entries (`OccurrenceEvent.kind`): the records system's events and the product's own.
TIMELINE_LABELS = {
    "recorded": "Crime recorded",
    "oic_changed": "Officer in charge changed",
    "finalised": "Case closed",
    "not_reached": "Victim could not be reached",
    "told_by_person": "Victim told by a person",
    "frequency_agreed": "Routine updates agreed",
    "duty_late": "Victims' Code deadline missed",
    "not_investigated": "Not investigated further for now",
    "suspect_arrested": "Suspect arrested",
    "suspect_interviewed": "Suspect interviewed",
    "released_nfa": "Suspect released with no further action",
    "released_on_bail": "Suspect released on bail",
    "released_under_investigation": "Suspect released under investigation",
    "bail_conditions_changed": "Bail conditions changed",
    "bail_cancelled": "Bail cancelled",
    "charged": "Charged",
    "out_of_court_disposal": "Dealt with out of court",
    "court_hearing_scheduled": "Court hearing arranged",
    "case_outcome": "Court outcome",
    "property_ready_for_return": "Property ready to return",
    "needs_assessment_completed": "Needs assessment completed",
    "support_referral_made": "Referred to a support service",
    "vps_offered": "Victim Personal Statement offered",
    "vps_taken": "Victim Personal Statement taken",
    "filed_pending_information": "Filed until new information comes in",
}

_TEMPLATE_NAME = re.compile(r"'?\b(" + "|".join(sorted(TEMPLATE_LABELS, key=len, reverse=True)) + r")\b'?")


def template_label(template: str) -> str:
    """'update_not_investigated' -> 'Update: not investigated further for now'. A name not (yet) listed is
    still shown as words, never as the name."""
    if template in TEMPLATE_LABELS:
        return TEMPLATE_LABELS[template]
    if template.startswith("update_"):
        return "Update: " + template[len("update_"):].replace("_", " ")
    return template.replace("_", " ").capitalize() or "Message"


def with_template_labels(text: str) -> str:
    """A stored sentence that names a template ("... for the 'update_charged' update") with the template's
    words in its place, in quotation marks ("... for the “Update: a suspect was charged” update")."""
    return _TEMPLATE_NAME.sub(lambda m: f"“{TEMPLATE_LABELS[m.group(1)]}”", text or "")


def timeline_label(kind: str) -> str:
    """A timeline entry's kind ('released_nfa') in words."""
    return TIMELINE_LABELS.get(kind, (kind or "").replace("_", " ").capitalize())


def timeline_staff_text(kind: str, staff_text: str) -> str:
    """The staff text of a timeline entry, whose records-system entries begin with the event's code made
    lower case ("Released nfa: reason"), with that beginning in words ("Suspect released with no further
    action: reason")."""
    raw = (kind or "").replace("_", " ").capitalize()
    if kind in TIMELINE_LABELS and raw and staff_text.startswith(raw):
        return TIMELINE_LABELS[kind] + staff_text[len(raw):]
    return staff_text
