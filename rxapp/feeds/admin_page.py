"""`/admin/feed`: the dispatch and records feeds' health, the background runner (which process leads, its
heartbeat, each job's last run) and the dead letters, for administrators and supervisors."""
from __future__ import annotations

import reflex as rx

from rxapp.attendance.board_page import sign_out
from rxapp.feeds.admin_state import FeedAdmin
from rxapp.staff.states import StaffState
from rxapp.ui.layout import MUTED, WARNING, page

CELL = {"padding": "0.4rem", "border_bottom": "1px solid #b1b4b6", "vertical_align": "top"}


def _row(*cells) -> rx.Component:
    return rx.el.tr(*[rx.el.td(content, style=CELL) for content in cells])


def letter(row: rx.Var) -> rx.Component:
    return _row(row["when"], row["feed"], row["seq"], row["reason"],
                rx.el.code(row["raw"], style={"word_break": "break-all", "font_size": "0.85rem"}))


def alert_row(row: rx.Var) -> rx.Component:
    return _row(row["raised"], row["seq"], row["expected"], row["outcome"])


def job_row(row: rx.Var) -> rx.Component:
    return _row(row["id"], row["every"], row["started"], row["finished"], row["outcome"])


def admin_feed_page() -> rx.Component:
    head = {"text_align": "left", "padding": "0.4rem", "border_bottom": "2px solid #0b0c0c"}
    return page(
        "Administration: feeds",
        rx.cond(
            StaffState.role != "",
            rx.fragment(
                rx.el.h1("Dispatch feed", style={"font_size": "1.6rem"}),
                rx.el.dl(
                    rx.el.dt("State", style={"font_weight": "700"}),
                    rx.el.dd(rx.cond(FeedAdmin.feed_state.contains("DEGRADED"),
                                     rx.el.strong(FeedAdmin.feed_state, style={"color": "#d4351c"}),
                                     rx.el.span(FeedAdmin.feed_state)), id="feed-state"),
                    rx.el.dt("Applied up to sequence", style={"font_weight": "700"}), rx.el.dd(FeedAdmin.last_seq),
                    rx.el.dt("Gateway's highest sequence (last heartbeat)", style={"font_weight": "700"}),
                    rx.el.dd(FeedAdmin.gateway_seq_high),
                    rx.el.dt("Last applied", style={"font_weight": "700"}), rx.el.dd(FeedAdmin.cursor_at),
                    rx.el.dt("Link", style={"font_weight": "700"}), rx.el.dd(FeedAdmin.connected),
                    rx.el.dt("Frames not applied (dead letters)", style={"font_weight": "700"}),
                    rx.el.dd(FeedAdmin.storm_dead_letters, id="dead-letter-count"),
                ),
                rx.cond(FeedAdmin.alerts.length() > 0, rx.el.div(rx.el.table(
                    rx.el.caption("Sequence alerts: frames that came ahead of the stream (a jump or a gap)",
                                  style={"text_align": "left", "font_weight": "700"}),
                    rx.el.thead(rx.el.tr(*[rx.el.th(h, scope="col", style=head)
                                           for h in ("Raised", "Seq", "Expected", "Outcome")])),
                    rx.el.tbody(rx.foreach(FeedAdmin.alerts, alert_row)),
                    style={"border_collapse": "collapse", "width": "100%"},
                ), style={"overflow_x": "auto", "margin_bottom": "1rem"}, id="sequence-alerts")),
                rx.el.h2("Records feed (NICHE)", style={"font_size": "1.25rem"}),
                rx.el.dl(
                    rx.el.dt("Poller", style={"font_weight": "700"}),
                    rx.el.dd(rx.cond(FeedAdmin.records_state.contains("STOPPED"),
                                     rx.el.strong(FeedAdmin.records_state, style={"color": "#d4351c"}),
                                     rx.el.span(FeedAdmin.records_state)), id="records-state"),
                    rx.el.dt("Last page applied", style={"font_weight": "700"}), rx.el.dd(FeedAdmin.records_cursor_at),
                    rx.el.dt("Changes not applied (dead letters)", style={"font_weight": "700"}),
                    rx.el.dd(FeedAdmin.records_dead_letters, id="records-dead-letter-count"),
                ),
                rx.el.h2("Background runner", style={"font_size": "1.25rem"}),
                rx.el.p("One process runs the feeds and the scheduled jobs for every worker; the others wait to "
                        "take over.", style={"color": MUTED}),
                rx.el.dl(
                    rx.el.dt("Runs in", style={"font_weight": "700"}),
                    rx.el.dd(rx.cond(FeedAdmin.runner_ok, rx.el.span(FeedAdmin.runner_leader),
                                     rx.el.strong(FeedAdmin.runner_leader, style={"color": WARNING})),
                             id="runner-leader"),
                    rx.el.dt("Heartbeat", style={"font_weight": "700"}),
                    rx.el.dd(rx.cond(FeedAdmin.runner_ok, rx.el.span(FeedAdmin.runner_heartbeat),
                                     rx.el.strong(FeedAdmin.runner_heartbeat, style={"color": WARNING})),
                             id="runner-heartbeat"),
                ),
                rx.el.div(rx.el.table(
                    rx.el.caption("Scheduled jobs: each one's last run", style={"text_align": "left",
                                                                               "font_weight": "700"}),
                    rx.el.thead(rx.el.tr(*[rx.el.th(h, scope="col", style=head)
                                           for h in ("Job", "Every", "Last started", "Last finished", "Outcome")])),
                    rx.el.tbody(rx.foreach(FeedAdmin.jobs, job_row)),
                    style={"border_collapse": "collapse", "width": "100%"},
                ), style={"overflow_x": "auto", "margin_bottom": "1rem"}),
                rx.el.button("Refresh", on_click=FeedAdmin.load,
                             style={"padding": "0.3rem 0.8rem", "border": "2px solid #0b0c0c", "background": "white"}),
                rx.el.h2("Newest dead letters", style={"font_size": "1.25rem", "margin_top": "1.25rem"}),
                rx.el.p("Each frame is kept whole with the reason it could not be applied. Raw frames can hold "
                        "callers' details: do not copy them out of this page.", style={"color": MUTED}),
                rx.el.div(rx.el.table(
                    rx.el.thead(rx.el.tr(*[rx.el.th(h, scope="col", style=head)
                                           for h in ("Received", "Feed", "Seq", "Reason", "Frame")])),
                    rx.el.tbody(rx.foreach(FeedAdmin.letters, letter)),
                    style={"border_collapse": "collapse", "width": "100%"},
                ), style={"overflow_x": "auto"}),
            ),
            rx.el.p("Checking your sign-in…", aria_busy="true"),
        ),
        wide=True,
        right=rx.cond(StaffState.role != "", sign_out(), rx.fragment()),
    )
