"""`/board`: every open attendance for the control room, live."""
from __future__ import annotations

import reflex as rx

from rxapp.attendance.board_state import (
    GRADE_CHOICES,
    STATUS_CHOICES,
    STATUS_FILTER_LABELS,
    BoardFilter,
    BoardView,
)
from rxapp.attendance.board_views import GRADE_LABELS
from rxapp.staff.pages import csrf_field
from rxapp.staff.states import StaffState
from rxapp.ui.layout import MUTED, WARNING, page
from rxapp.ui.native_form import native_form

RISK_STYLE = {
    "breached": {"background": WARNING, "color": "white"},
    "unassigned": {"background": "#ffdd00", "color": "#0b0c0c"},
    "at_risk": {"background": "#f47738", "color": "#0b0c0c"},
    "ok": {"background": "#cce2d8", "color": "#005a30"},
}
RISK_LABEL = {"breached": "Target missed", "unassigned": "Nobody assigned", "at_risk": "At risk", "ok": "On track"}


def risk_badge(row: rx.Var) -> rx.Component:
    return rx.match(
        row["risk"],
        *[(key, rx.el.span(RISK_LABEL[key], style={**style, "padding": "0.1rem 0.45rem", "font_weight": "700",
                                                   "white_space": "nowrap"}))
          for key, style in RISK_STYLE.items()],
        rx.el.span(row["risk"]),
    )


CELL = {"padding": "0.5rem", "border_bottom": "1px solid #b1b4b6", "vertical_align": "top"}


def _cell(label: str, *children) -> rx.Component:
    # One wrapper per cell, so the phone layout can put the label beside it.
    return rx.el.td(rx.el.div(*children), style=CELL, data_label=label)


def board_row(row: rx.Var) -> rx.Component:
    visible = ((BoardFilter.grade == "ALL") | (BoardFilter.grade == row["grade"])) & (
        (BoardFilter.status == "ALL") | (BoardFilter.status == row["status"]))
    return rx.cond(
        visible,
        rx.el.tr(
            _cell("Incident", rx.el.a(rx.el.strong(row["urn"]), href="/messages?urn=" + row["urn"]),
                  rx.el.div(row["location"], style={"color": MUTED})),
            _cell("Grade", row["grade_label"]),
            _cell("Category", row["category"],
                  rx.cond(row["flags"] != "", rx.el.div(row["flags"], style={"color": MUTED}))),
            _cell("Open for", row["elapsed"], rx.el.div("target ", row["target"], style={"color": MUTED})),
            _cell("Status", row["status_label"]),
            _cell("Resources", row["resources"]),
            _cell("Arrival", row["eta"]),
            _cell("Risk", risk_badge(row), rx.el.div(row["risk_reason"], style={"font_size": "0.9rem"}),
                  rx.cond(row["texts"] != "", rx.el.div(row["texts"], class_name="texts-note",
                                                       style={"font_size": "0.9rem", "font_weight": "700"}))),
            data_urn=row["urn"],
            data_risk=row["risk"],
        ),
    )


def select(label: str, choices: list[str], labels: dict[str, str], value, on_change, ident: str) -> rx.Component:
    return rx.el.div(
        rx.el.label(label, html_for=ident, style={"display": "block", "font_weight": "700"}),
        rx.el.select(
            *[rx.el.option(labels.get(c, c), value=c) for c in choices],
            id=ident, value=value, on_change=on_change,
            style={"padding": "0.35rem", "border": "2px solid #0b0c0c", "min_width": "11rem"},
        ),
    )


def sign_out() -> rx.Component:
    return native_form(
        rx.el.span(StaffState.display_name, style={"margin_right": "0.75rem"}),
        csrf_field(),
        rx.el.button("Sign out", type="submit",
                     style={"background": "white", "color": "#0b0c0c", "padding": "0.2rem 0.6rem",
                            "border": "none", "cursor": "pointer"}),
        action="/staff/logout", method="post",
    )


def signed_out() -> rx.Component:
    return rx.fragment(
        rx.el.h1("Your sign-in has ended", style={"font_size": "1.6rem"}),
        rx.el.p("This board stopped updating because you signed out, your session expired or your account "
                "changed."),
        rx.el.a("Sign in again", href="/login?next=board", id="sign-in-again"),
    )


def board_page() -> rx.Component:
    showing = (StaffState.role != "") & ~BoardView.ended
    return page(
        "Control room: open attendances",
        rx.cond(BoardView.ended, signed_out(),
                rx.cond(showing, board_content(), rx.el.p("Checking your sign-in…", aria_busy="true"))),
        wide=True,
        right=rx.cond(showing, sign_out(), rx.fragment()),
    )


def board_content() -> rx.Component:
    head = {"text_align": "left", "padding": "0.5rem", "border_bottom": "2px solid #0b0c0c"}
    return rx.fragment(
        rx.hstack(
            rx.el.h1("Open attendances", style={"font_size": "1.6rem", "margin": "0"}),
            rx.el.a("Open investigations", href="/cases"),
            rx.spacer(),
            rx.el.p("Updated ", BoardView.updated, style={"color": MUTED, "margin": "0"}),
            align="center", width="100%", wrap="wrap",
        ),
        rx.hstack(
            select("Grade", GRADE_CHOICES, {"ALL": "All grades", **GRADE_LABELS}, BoardFilter.grade,
                   BoardFilter.set_grade, "grade-filter"),
            select("Status", STATUS_CHOICES, STATUS_FILTER_LABELS, BoardFilter.status, BoardFilter.set_status,
                   "status-filter"),
            spacing="4", wrap="wrap", style={"margin": "1rem 0"},
        ),
        rx.cond(
            BoardView.rows.length() > 0,
            rx.box(
                rx.el.table(
                    rx.el.thead(rx.el.tr(*[rx.el.th(h, scope="col", style=head) for h in (
                        "Incident", "Grade", "Category", "Open for", "Status", "Resources", "Arrival", "Risk")])),
                    rx.el.tbody(rx.foreach(BoardView.rows, board_row)),
                    class_name="board-table",
                    style={"border_collapse": "collapse", "width": "100%", "font_size": "0.95rem"},
                ),
                style={"overflow_x": "auto"},
            ),
            rx.el.p("No open attendances.", style={"font_size": "1.1rem"}),
        ),
    )
