"""`/admin/audit` (`?occ=…` for one case): the audit log, newest first, for administrators (every entry) and
supervisors (their teams' cases)."""
from __future__ import annotations

import reflex as rx

from rxapp.attendance.board_page import sign_out
from rxapp.audit.log_state import AuditLog
from rxapp.staff.states import StaffState
from rxapp.ui.layout import MUTED, WARNING, page
from rxapp.ui.native_form import native_form

CELL = {"padding": "0.4rem", "border_bottom": "1px solid #b1b4b6", "vertical_align": "top"}
HEAD = {"text_align": "left", "padding": "0.4rem", "border_bottom": "2px solid #0b0c0c"}
COLUMNS = ("When", "Who", "What", "Outcome", "Case", "Incident", "Team", "Detail")


def entry(row: rx.Var) -> rx.Component:
    return rx.el.tr(
        rx.el.td(row["when"], style=CELL, data_label="When"),
        rx.el.td(row["who"], rx.el.div(row["role"], style={"color": MUTED}), style=CELL, data_label="Who"),
        rx.el.td(row["what"], style=CELL, data_label="What"),
        rx.el.td(rx.cond(row["outcome"] == "refused", rx.el.strong(row["outcome_label"], style={"color": WARNING}),
                         rx.el.span(row["outcome_label"])), style=CELL, data_label="Outcome"),
        rx.el.td(row["case"], style=CELL, data_label="Case"),
        rx.el.td(row["incident"], style=CELL, data_label="Incident"),
        rx.el.td(row["team"], style=CELL, data_label="Team"),
        rx.el.td(row["detail"], style=CELL, data_label="Detail"),
        data_outcome=row["outcome"],
        data_action=row["action"],
        class_name="audit-entry",
    )


def case_filter() -> rx.Component:
    return native_form(
        rx.el.label("Occurrence number (empty for every case)", html_for="audit-occ",
                    style={"display": "block", "font_weight": "700"}),
        rx.el.input(id="audit-occ", name="occ", type="text", default_value=AuditLog.case, autocomplete="off",
                    max_length=40, style={"padding": "0.4rem", "border": "2px solid #0b0c0c", "font_size": "1rem"}),
        rx.el.button("Show", type="submit", style={"margin_left": "0.5rem", "background": "#00703c", "color": "white",
                                                   "padding": "0.45rem 1rem", "border": "none", "font_size": "1rem",
                                                   "cursor": "pointer", "box_shadow": "0 2px 0 #002d18"}),
        action="/admin/audit", method="get",
        style={"margin": "1rem 0"},
    )


def audit_page() -> rx.Component:
    return page(
        "Administration: audit log",
        rx.cond(
            StaffState.role != "",
            rx.fragment(
                rx.el.h1("Audit log", style={"font_size": "1.6rem"}),
                rx.el.p("Every look at a victim's details and every change to a case, allowed or refused, newest "
                        "first. Supervisors see their teams' cases; administrators see everything.",
                        style={"color": MUTED}),
                case_filter(),
                rx.cond(
                    AuditLog.rows.length() > 0,
                    rx.el.div(rx.el.table(
                        rx.el.thead(rx.el.tr(*[rx.el.th(h, scope="col", style=HEAD) for h in COLUMNS])),
                        rx.el.tbody(rx.foreach(AuditLog.rows, entry)),
                        class_name="board-table", id="audit-log",
                        style={"border_collapse": "collapse", "width": "100%", "font_size": "0.95rem"},
                    ), style={"overflow_x": "auto"}),
                    rx.cond(AuditLog.loaded, rx.el.p("No entries.")),
                ),
            ),
            rx.el.p("Checking your sign-in…", aria_busy="true"),
        ),
        wide=True,
        right=rx.cond(StaffState.role != "", sign_out(), rx.fragment()),
    )
