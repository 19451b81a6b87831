"""`/messages?urn=…`: what the victim of one incident was sent, and what the safety rules held back."""
from __future__ import annotations

import reflex as rx

from rxapp.attendance.board_page import sign_out
from rxapp.messaging.history_state import MessageHistory
from rxapp.staff.states import StaffState
from rxapp.ui.layout import MUTED, WARNING, page

CELL = {"padding": "0.45rem", "border_bottom": "1px solid #b1b4b6", "vertical_align": "top"}
HEAD = {"text_align": "left", "padding": "0.45rem", "border_bottom": "2px solid #0b0c0c"}


def status_text(row: rx.Var) -> rx.Component:
    return rx.cond(
        (row["status"] == "blocked") | (row["status"] == "held") | (row["status"] == "failed"),
        rx.el.strong(row["status_label"], style={"color": WARNING}),
        rx.el.span(row["status_label"]),
    )


def message_row(row: rx.Var) -> rx.Component:
    return rx.el.tr(
        rx.el.td(row["when"], style=CELL, data_label="When"),
        rx.el.td(rx.el.div(row["what"], rx.el.div(row["body"], style={"color": MUTED, "font_size": "0.9rem"})),
                 style=CELL, data_label="Message"),
        rx.el.td(rx.el.div(row["channel"], rx.el.div(row["to"], style={"color": MUTED})), style=CELL,
                 data_label="Channel"),
        rx.el.td(rx.el.div(status_text(row), rx.el.div(row["why"], style={"font_size": "0.9rem"})), style=CELL,
                 data_label="Status", data_status=row["status"]),
    )


def message_table(rows) -> rx.Component:
    return rx.el.div(rx.el.table(
        rx.el.thead(rx.el.tr(*[rx.el.th(h, scope="col", style=HEAD)
                               for h in ("When", "Message", "Channel", "Status")])),
        rx.el.tbody(rx.foreach(rows, message_row)),
        class_name="board-table", style={"border_collapse": "collapse", "width": "100%"},
    ), style={"overflow_x": "auto"})


def task_item(task: rx.Var) -> rx.Component:
    return rx.el.li(rx.el.strong(task["title"]), " (", task["status_label"], ", due ", task["due"], ") ",
                    rx.el.div(task["detail"], style={"color": MUTED}), style={"margin_bottom": "0.5rem"})


def history_page() -> rx.Component:
    return page(
        "Messages to a victim",
        rx.cond(
            StaffState.role != "",
            rx.cond(
                MessageHistory.found,
                rx.fragment(
                    rx.el.p(rx.el.a("Back to the board", href="/board")),
                    rx.el.h1(MessageHistory.urn, style={"font_size": "1.6rem", "margin_bottom": "0.25rem"}),
                    rx.el.p(MessageHistory.summary, style={"margin": "0"}),
                    rx.el.p("Flags: ", MessageHistory.flags, style={"color": MUTED}),
                    rx.el.h2("Messages about this incident", style={"font_size": "1.25rem"}),
                    rx.cond(MessageHistory.messages.length() > 0, message_table(MessageHistory.messages),
                            rx.el.p("No messages.")),
                    rx.el.h2("Tasks for a person", style={"font_size": "1.25rem"}),
                    rx.cond(MessageHistory.tasks.length() > 0,
                            rx.el.ul(rx.foreach(MessageHistory.tasks, task_item), style={"padding_left": "1.2rem"}),
                            rx.el.p("No tasks.")),
                    rx.cond(MessageHistory.other_messages.length() > 0, rx.fragment(
                        rx.el.h2("Other messages to this victim", style={"font_size": "1.25rem"}),
                        message_table(MessageHistory.other_messages))),
                ),
                rx.el.p("No incident with that reference."),
            ),
            rx.el.p("Checking your sign-in…", aria_busy="true"),
        ),
        wide=True,
        right=rx.cond(StaffState.role != "", sign_out(), rx.fragment()),
    )
