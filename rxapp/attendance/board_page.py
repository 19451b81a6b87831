"""`/board`: every open attendance for the control room, live, compact enough for a busy night (forty incidents in
two screens at 1280 px: one line a row, the full text of a cut cell kept for screen readers and on hover), with
the counts at the top, filters by grade, status and risk, each new breach announced, and holding an incident's
texts. Risk is said in words as well as colour; on a phone each row becomes a card with its labels."""
from __future__ import annotations

import reflex as rx

from rxapp.attendance.board_state import (
    GRADE_CHOICES,
    HELD,
    HOLD_REASON_CHOICES,
    HOLD_REASON_LABELS,
    NEEDS_ACTION,
    RISK_CHOICES,
    RISK_FILTER_LABELS,
    STATUS_CHOICES,
    STATUS_FILTER_LABELS,
    BoardActions,
    BoardFilter,
    BoardView,
)
from rxapp.attendance.board_views import GRADE_LABELS, RISK_LABELS
from rxapp.staff.pages import csrf_field
from rxapp.staff.states import StaffState
from rxapp.ui.layout import MUTED, WARNING, page, row, spacer
from rxapp.ui.native_form import native_form

RISK_STYLE = {
    "breached": {"background": WARNING, "color": "white"},
    "at_risk": {"background": "#f47738", "color": "#0b0c0c"},
    "unassigned": {"background": "#ffdd00", "color": "#0b0c0c"},
    "booked": {"background": "#d2e2f1", "color": "#0b0c0c"},
    "ok": {"background": "#cce2d8", "color": "#005a30"},
}
# Column widths at desktop sizes (the table's layout is fixed, so a long cell never widens a row).
COLUMNS = (("Incident", "15%"), ("Grade", "7.5%"), ("What and where", "11.5%"), ("Open", "5.5%"),
           ("Status", "6.5%"), ("Resources", "8%"), ("Arrival", "9%"), ("Risk", "30.5%"), ("Texts", "6.5%"))

BOARD_CSS = f"""
.board-table{{table-layout:fixed;border-collapse:collapse;width:100%;font-size:0.8125rem;line-height:1.3}}
.board-table th{{text-align:left;padding:0.3rem 0.35rem;border-bottom:2px solid #0b0c0c;white-space:nowrap}}
.board-table td{{padding:0.2rem 0.35rem;border-bottom:1px solid #b1b4b6;vertical-align:top}}
.board-table td>div{{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}}
.board-table td.texts>div{{white-space:normal}}
.board-table tr.new-breach td{{background:#fdf0ee}}
.board-table tr.new-breach td:first-child{{box-shadow:inset 6px 0 0 {WARNING}}}
.board-table caption{{text-align:left;caption-side:top;padding:0 0 0.3rem;color:{MUTED}}}
.badge{{display:inline-block;padding:0 0.35rem;font-weight:700;white-space:nowrap;margin-right:0.35rem}}
.small-button{{font:inherit;line-height:1.1;padding:0 0.35rem;border:2px solid #0b0c0c;background:white;cursor:pointer}}
.counts{{display:flex;flex-wrap:wrap;gap:0.5rem;list-style:none;padding:0;margin:0.4rem 0}}
.counts button{{font:inherit;font-size:0.95rem;line-height:1.3;padding:0.1rem 0.5rem;border:2px solid #0b0c0c;
 background:white;cursor:pointer;text-align:left}}
.counts button strong{{font-size:1.15rem;margin-right:0.3rem}}
.counts button[aria-pressed=true]{{background:#0b0c0c;color:white}}
@media (max-width: 760px){{
 .board-table,.board-table tbody,.board-table caption{{display:block;width:100%;font-size:0.95rem}}
 .board-table colgroup{{display:none}}
 .board-table td.texts>div{{display:flex;flex-wrap:wrap;gap:0.3rem;align-items:baseline}}
 .board-table td>div{{white-space:normal;overflow:visible}}
 .board-table tr.new-breach td:first-child{{box-shadow:none}}
 .board-table tr.new-breach{{border-left:6px solid {WARNING};padding-left:0.4rem}}
}}
"""


NOTE = {"border_left": "5px solid #0b0c0c", "padding": "0.2rem 0.6rem", "margin": "0.3rem 0"}


def risk_badge(row: rx.Var) -> rx.Component:
    return rx.match(
        row["risk"],
        *[(key, rx.el.span(RISK_LABELS[key], class_name="badge", style=style)) for key, style in RISK_STYLE.items()],
        rx.el.span(row["risk"], class_name="badge"),
    )


def _cell(label: str, *children, title=None, class_name: str = "") -> rx.Component:
    # One wrapper per cell, so the phone layout can put the label beside it; `title` shows a cut cell in full.
    return rx.el.td(rx.el.div(*children, title=title) if title is not None else rx.el.div(*children),
                    data_label=label, class_name=class_name)


def _visible(row: rx.Var):
    risk = BoardFilter.risk
    risk_ok = ((risk == "ALL") | (risk == row["risk"]) | ((risk == HELD) & (row["held"] == "yes"))
               | ((risk == NEEDS_ACTION) & ((row["risk"] == "breached") | (row["risk"] == "at_risk")
                                            | (row["risk"] == "unassigned"))))
    return (((BoardFilter.grade == "ALL") | (BoardFilter.grade == row["grade"]))
            & ((BoardFilter.status == "ALL") | (BoardFilter.status == row["status"])) & risk_ok)


def texts_cell(row: rx.Var) -> rx.Component:
    return _cell(
        "Texts",
        rx.cond(
            row["held"] == "yes",
            rx.fragment(
                rx.el.span("Held", class_name="badge", style={"background": "#0b0c0c", "color": "white"}),
                rx.cond(BoardActions.can_hold,
                        rx.el.button("Release", type="button", class_name="small-button release-texts",
                                     aria_label="Release texts for " + row["urn"],
                                     on_click=BoardActions.release_texts(row["id"]))),
                rx.el.div(row["hold_note"], style={"font_size": "0.75rem"}),
            ),
            rx.cond(BoardActions.can_hold,
                    rx.el.button("Hold", type="button", class_name="small-button hold-texts",
                                 aria_label="Hold texts for " + row["urn"],
                                 on_click=BoardActions.choose(row["id"], row["urn"]))),
        ),
        rx.cond(row["texts"] != "", rx.el.div(row["texts"], class_name="texts-note",
                                              style={"font_size": "0.75rem", "font_weight": "700"})),
        class_name="texts",
    )


def board_row(row: rx.Var) -> rx.Component:
    return rx.cond(
        _visible(row),
        rx.el.tr(
            _cell("Incident", rx.el.a(rx.el.strong(row["urn"]), href="/messages?urn=" + row["urn"]), title=row["urn"]),
            _cell("Grade", row["grade_label"]),
            _cell("What and where", row["category"], rx.cond(row["location"] != "", ", " + row["location"], ""),
                  rx.cond(row["flags"] != "", rx.el.span(" (", row["flags"], ")", style={"color": MUTED})),
                  title=row["category"] + ", " + row["location"]),
            _cell("Open", row["elapsed"], title="Open for " + row["elapsed"] + ", target " + row["target"]),
            _cell("Status", row["status_label"], title=row["status_label"]),
            _cell("Resources", row["resources"], title=row["resources"]),
            _cell("Arrival", row["eta"], title=row["eta"]),
            _cell("Risk", rx.cond(row["new_breach"] == "yes",
                                  rx.el.span("New", class_name="badge", style={"background": "#0b0c0c",
                                                                               "color": "white"})),
                  risk_badge(row), row["risk_reason"], title=row["risk_reason"]),
            texts_cell(row),
            data_urn=row["urn"],
            data_risk=row["risk"],
            class_name=rx.cond(row["new_breach"] == "yes", "new-breach", ""),
        ),
    )


def select(label: str, choices: list[str], labels: dict[str, str], value, on_change, ident: str) -> rx.Component:
    return rx.el.div(
        rx.el.label(label, html_for=ident, style={"font_weight": "700", "margin_right": "0.4rem"}),
        rx.el.select(
            *[rx.el.option(labels.get(c, c), value=c) for c in choices],
            id=ident, value=value, on_change=on_change,
            style={"padding": "0.1rem 0.25rem", "border": "2px solid #0b0c0c", "min_width": "11rem",
                   "max_width": "100%"},
        ),
        style={"max_width": "100%"},
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


def count_button(key: str, choice: str, words: str) -> rx.Component:
    """'3 target missed': a count that, pressed, shows only those rows (pressed again, all of them)."""
    return rx.el.li(rx.el.button(
        rx.el.strong(BoardView.counts[key].to_string()), words, type="button", id=f"count-{key}",
        aria_pressed=rx.cond(BoardFilter.risk == choice, "true", "false"),
        on_click=BoardFilter.set_risk(rx.cond(BoardFilter.risk == choice, "ALL", choice)),
    ))


def counts() -> rx.Component:
    return rx.el.ul(
        count_button("breached", "breached", "target missed"),
        count_button("at_risk", "at_risk", "at risk"),
        count_button("unassigned", "unassigned", "nobody assigned"),
        count_button("booked", "booked", "booked for later"),
        count_button("held", HELD, "texts held"),
        class_name="counts", aria_label="Counts (each button shows only those)",
    )


def hold_form() -> rx.Component:
    label = {"display": "block", "font_weight": "700"}
    return rx.el.form(
        rx.el.h2("Hold texts for ", BoardActions.choosing_urn, style={"font_size": "1.1rem", "margin": "0 0 0.3rem"}),
        rx.el.p("While texts are held nothing automated goes to the victim about this incident. When you release "
                "them, each waiting message goes through the safety rules again.", style={"margin": "0 0 0.4rem"}),
        rx.el.input(type="hidden", name="incident", value=BoardActions.choosing),
        rx.el.label("Why are you holding them?", html_for="hold-reason", style=label),
        rx.el.select(
            rx.el.option("Choose…", value=""),
            *[rx.el.option(HOLD_REASON_LABELS[code], value=code) for code in HOLD_REASON_CHOICES],
            id="hold-reason", name="reason", default_value="", auto_focus=True,
            style={"padding": "0.25rem", "border": "2px solid #0b0c0c", "max_width": "100%"},
        ),
        rx.el.div(
            rx.el.button("Hold texts", type="submit", id="hold-submit",
                         style={"background": "#0b0c0c", "color": "white", "padding": "0.3rem 0.8rem",
                                "border": "none", "cursor": "pointer", "margin_right": "0.6rem"}),
            rx.el.button("Cancel", type="button", class_name="small-button", on_click=BoardActions.cancel),
            style={"margin_top": "0.5rem"},
        ),
        on_submit=BoardActions.hold_texts,
        id="hold-form",
        style={"border": "3px solid #0b0c0c", "padding": "0.6rem 0.8rem", "margin": "0.5rem 0", "max_width": "40rem"},
    )


def board_content() -> rx.Component:
    return rx.fragment(
        rx.el.style(BOARD_CSS),
        row(
            rx.el.h1("Open attendances", style={"font_size": "1.4rem", "margin": "0"}),
            rx.el.a("Open investigations", href="/cases"),
            spacer(),
            rx.el.p("Updated ", BoardView.updated, style={"color": MUTED, "margin": "0"}),
            style={"align_items": "center", "width": "100%"},
        ),
        counts(),
        # Live regions are always on the page, so what appears in them is read out: a breach once (its text
        # changes only when a breach is new), seen as well as heard.
        rx.el.div(
            rx.el.div(
                rx.el.div(rx.cond(BoardView.announcement != "", rx.el.span(BoardView.announcement)),
                          id="breach-announcement", aria_live="assertive", aria_atomic="true"),
                rx.cond(BoardView.announced_at != "",
                        rx.el.span("at ", BoardView.announced_at, style={"font_weight": "400"})),
                style={"display": "flex", "gap": "0.6rem", "flex_wrap": "wrap"},
            ),
            style=rx.cond(BoardView.announcement != "",
                          {"background": WARNING, "color": "white", "font_weight": "700",
                           "padding": "0.3rem 0.6rem", "margin": "0.3rem 0"}, {}),
        ),
        rx.el.div(rx.cond(BoardActions.notice != "", rx.el.p(BoardActions.notice, style=NOTE)),
                  rx.cond(BoardActions.error != "", rx.el.p(BoardActions.error,
                                                            style={**NOTE, "border_color": WARNING})),
                  id="board-notice", role="status"),
        rx.cond(BoardActions.choosing != "", hold_form()),
        row(
            select("Risk", RISK_CHOICES, RISK_FILTER_LABELS, BoardFilter.risk, BoardFilter.set_risk, "risk-filter"),
            select("Grade", GRADE_CHOICES, {"ALL": "All grades", **GRADE_LABELS}, BoardFilter.grade,
                   BoardFilter.set_grade, "grade-filter"),
            select("Status", STATUS_CHOICES, STATUS_FILTER_LABELS, BoardFilter.status, BoardFilter.set_status,
                   "status-filter"),
            gap="1.25rem", style={"margin": "0.2rem 0 0.4rem"},
        ),
        rx.cond(
            BoardView.rows.length() > 0,
            rx.el.div(
                rx.el.table(
                    rx.el.caption("Open attendances, most urgent first: target missed, at risk, nobody assigned, "
                                  "booked for later, then on track. Each incident links to its messages."),
                    rx.el.colgroup(*[rx.el.col(style={"width": width}) for _, width in COLUMNS]),
                    rx.el.thead(rx.el.tr(*[rx.el.th(name, scope="col") for name, _ in COLUMNS])),
                    rx.el.tbody(rx.foreach(BoardView.rows, board_row)),
                    class_name="board-table",
                ),
                style={"overflow_x": "auto"},
            ),
            rx.el.p("No open attendances.", style={"font_size": "1.1rem"}),
        ),
    )
