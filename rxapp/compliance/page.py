"""`/compliance`: the Victims' Code measures, demand and feedback for supervisors (their teams' cases),
administrators and the Police and Crime Commissioner's office (the force). Charts where a picture reads
faster (recharts, shipped with Reflex), each figure also in a table, each table also as CSV; the count in a
table opens the list of cases behind it, for a person who may read them."""
from __future__ import annotations

import reflex as rx

from rxapp.attendance.board_page import sign_out
from rxapp.compliance.state import Compliance
from rxapp.domain.compliance import OUTCOME_WORDS, OUTCOMES
from rxapp.staff.states import StaffState
from rxapp.ui.layout import ACCENT, MUTED, WARNING, page
from rxapp.ui.native_form import native_form

CELL = {"padding": "0.35rem 0.5rem", "border_bottom": "1px solid #b1b4b6", "vertical_align": "top"}
NUM = {**CELL, "text_align": "right"}
HEAD = {"text_align": "left", "padding": "0.35rem 0.5rem", "border_bottom": "2px solid #0b0c0c"}
LINKISH = {"background": "none", "border": "none", "padding": "0", "color": ACCENT, "text_decoration": "underline",
           "cursor": "pointer", "font_size": "1rem", "font_family": "inherit"}
STANDARD, ENHANCED = "#1d70b8", "#912b88"  # 5.2:1 and 7.9:1 against white
DEMAND_SERIES = (("tracking_visits", "Tracking page visits", "#1d70b8"),
                 ("attendance_texts_delivered", "Attendance texts delivered", "#00703c"),
                 ("case_updates_delivered", "Case updates delivered", "#912b88"),
                 ("portal_sign_ins", "Portal sign-ins", "#b58840"))
# The charts repeat the tables' figures for the eye, hidden from screen readers; recharts' keyboard layer would
# put a focusable element inside the hidden part (axe: aria-hidden-focus), so it is off.
NO_KEYBOARD_LAYER = {"accessibilityLayer": False}
INPUT = {"padding": "0.4rem", "border": "2px solid #0b0c0c", "font_size": "1rem", "width": "9rem"}


def count_cell(row: rx.Var, outcome: str, table_words: str) -> rx.Component:
    value = row[outcome]
    title = row["measure"] + " · " + row["group"] + " · " + OUTCOME_WORDS[outcome]
    return rx.el.td(
        rx.cond(value == "0", rx.el.span("0"),
                rx.el.button(value, type="button", style=LINKISH,
                             aria_label=value + ": list the cases behind " + title,
                             on_click=Compliance.show_cases(row["split_key"], row["group"], row["measure_key"],
                                                            outcome, title))),
        style=NUM, data_label=OUTCOME_WORDS[outcome])


def measure_table(rows: rx.Var, split_key: str, caption: str, group_heading: str) -> rx.Component:
    # Split by measure, the group is the measure itself: one column says it.
    by_measure = split_key == "measure"
    columns = [*([] if by_measure else [group_heading]), "Measure", "Owed", *[OUTCOME_WORDS[o] for o in OUTCOMES],
               "Met or declined on time"]
    row_head = {**CELL, "font_weight": "400", "text_align": "left"}
    return rx.el.section(
        rx.el.h3(caption, id=f"table-{split_key}", style={"font_size": "1.2rem", "margin_top": "1.5rem"}),
        rx.el.a(f"Download “{caption}” as CSV (spreadsheet)",
                href="/compliance/export.csv?table=" + split_key + "&" + Compliance.export_query,
                style={"color": ACCENT}),
        rx.cond(
            rows.length() > 0,
            rx.el.div(rx.el.table(
                rx.el.thead(rx.el.tr(*[rx.el.th(h, scope="col", style=HEAD) for h in columns])),
                rx.el.tbody(rx.foreach(rows, lambda row: rx.el.tr(
                    *([rx.el.th(row["measure"], scope="row", style=row_head)] if by_measure else
                      [rx.el.th(row["group"], scope="row", style=row_head), rx.el.td(row["measure"], style=CELL)]),
                    rx.el.td(rx.el.button(row["owed"], type="button", style=LINKISH,
                                          aria_label=row["owed"] + " owed: list the cases behind " + row["measure"]
                                          + " · " + row["group"],
                                          on_click=Compliance.show_cases(row["split_key"], row["group"],
                                                                         row["measure_key"], "",
                                                                         row["measure"] + " · " + row["group"])),
                             style=NUM),
                    *[count_cell(row, o, caption) for o in OUTCOMES],
                    rx.el.td(row["on_time_percent"], style=NUM),
                ))),
                aria_labelledby=f"table-{split_key}",
                style={"border_collapse": "collapse", "width": "100%", "font_size": "0.95rem"},
            ), style={"overflow_x": "auto"}, tab_index=0, role="region", aria_label=caption),
            rx.el.p("Nothing owed in this period.", style={"color": MUTED}),
        ),
    )


def plain_table(rows: rx.Var, columns: list[tuple[str, str]], table_id: str, caption: str) -> rx.Component:
    return rx.el.div(rx.el.table(
        rx.el.thead(rx.el.tr(*[rx.el.th(words, scope="col", style=HEAD) for _, words in columns])),
        rx.el.tbody(rx.foreach(rows, lambda row: rx.el.tr(
            rx.el.th(row[columns[0][0]], scope="row", style={**CELL, "font_weight": "400", "text_align": "left"}),
            *[rx.el.td(row[key], style=NUM) for key, _ in columns[1:]]))),
        id=table_id, aria_label=caption,
        style={"border_collapse": "collapse", "width": "100%", "font_size": "0.95rem"},
    ), style={"overflow_x": "auto"}, tab_index=0, role="region", aria_label=caption)


def chart(title: str, note: str, body: rx.Component) -> rx.Component:
    return rx.el.figure(
        rx.el.div(body, aria_hidden="true", style={"width": "100%", "height": "300px"}),
        rx.el.figcaption(rx.el.strong(title), " ", note, style={"color": MUTED, "font_size": "0.95rem"}),
        style={"margin": "1rem 0", "max_width": "900px"},
    )


def on_time_chart() -> rx.Component:
    return chart(
        "Share met on time (or declined by the victim), standard and enhanced victims, per cent.",
        "The same figures, with the counts, are in the tables below.",
        rx.recharts.bar_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
            rx.recharts.x_axis(data_key="measure", interval=0, tick={"fontSize": 12}),
            rx.recharts.y_axis(domain=[0, 100], unit="%"),
            rx.recharts.tooltip(),
            rx.recharts.legend(),
            rx.recharts.bar(data_key="Standard", fill=STANDARD, is_animation_active=False),
            rx.recharts.bar(data_key="Enhanced", fill=ENHANCED, is_animation_active=False),
            data=Compliance.on_time_chart, custom_attrs=NO_KEYBOARD_LAYER,
        ),
    )


def demand_chart() -> rx.Component:
    return chart(
        "Demand by month.", "The same figures are in the table below.",
        rx.recharts.bar_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
            rx.recharts.x_axis(data_key="month"),
            rx.recharts.y_axis(allow_decimals=False),
            rx.recharts.tooltip(),
            rx.recharts.legend(),
            *[rx.recharts.bar(data_key=key, name=words, fill=colour, is_animation_active=False)
              for key, words, colour in DEMAND_SERIES],
            data=Compliance.demand_chart, custom_attrs=NO_KEYBOARD_LAYER,
        ),
    )


def feedback_chart() -> rx.Component:
    return chart(
        "Average survey scores by month (1 to 5).", "Months with no answers show 0; the table has the counts.",
        rx.recharts.line_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
            rx.recharts.x_axis(data_key="month"),
            rx.recharts.y_axis(domain=[0, 5]),
            rx.recharts.tooltip(),
            rx.recharts.legend(),
            rx.recharts.line(data_key="Kept informed", stroke=STANDARD, stroke_width=3, is_animation_active=False),
            rx.recharts.line(data_key="Overall", stroke=ENHANCED, stroke_width=3, is_animation_active=False),
            data=Compliance.feedback_chart, custom_attrs=NO_KEYBOARD_LAYER,
        ),
    )


def field(label: str, name: str, value, hint: str) -> rx.Component:
    return rx.el.div(
        rx.el.label(label, html_for=f"compliance-{name}", style={"display": "block", "font_weight": "700"}),
        rx.el.span(hint, id=f"compliance-{name}-hint", style={"display": "block", "color": MUTED,
                                                              "font_size": "0.9rem"}),
        rx.el.input(id=f"compliance-{name}", name=name, type="text", default_value=value, autocomplete="off",
                    max_length=10, aria_describedby=f"compliance-{name}-hint", style=INPUT),
        style={"margin_right": "1rem", "margin_bottom": "0.5rem"},
    )


def period_form() -> rx.Component:
    return native_form(
        rx.el.div(
            field("From", "start", Compliance.start, "Year-month-day"),
            field("To", "end", Compliance.end, "Year-month-day"),
            field("101 calls per update", "per_update", Compliance.per_update, "Per cent of delivered updates"),
            field("101 calls per sign-in", "per_sign_in", Compliance.per_sign_in, "Per cent of portal sign-ins"),
            style={"display": "flex", "flex_wrap": "wrap", "align_items": "flex-end"},
        ),
        rx.el.button("Show these figures", type="submit",
                     style={"background": "#00703c", "color": "white", "padding": "0.45rem 1rem", "border": "none",
                            "font_size": "1rem", "cursor": "pointer", "box_shadow": "0 2px 0 #002d18"}),
        action="/compliance", method="get", style={"margin": "1rem 0"},
    )


def cases_behind() -> rx.Component:
    return rx.el.section(
        rx.cond(
            Compliance.cases_chosen,
            rx.fragment(
                rx.el.h2("Cases behind: ", Compliance.cases_title, style={"font_size": "1.2rem"}),
                rx.cond(
                    Compliance.case_numbers.length() > 0,
                    rx.el.ul(rx.foreach(Compliance.case_numbers, lambda n: rx.el.li(
                        rx.el.a(n, href="/case?occ=" + n, style={"color": ACCENT}))),
                        style={"columns": "12rem", "padding_left": "1.2rem"}),
                    rx.el.p(rx.cond(Compliance.cases_total == 0, "No cases behind this figure.",
                                    "Your account sees the figures, not the cases behind them."),
                            style={"color": MUTED}),
                ),
                rx.cond(Compliance.cases_total > Compliance.case_numbers.length(),
                        rx.el.p(Compliance.cases_total.to_string() + " cases in all; you may open those listed.",
                                style={"color": MUTED})),
            ),
        ),
        id="cases-behind", aria_live="polite",
        style={"border_left": f"4px solid {ACCENT}", "padding_left": "0.75rem", "margin": "1rem 0"},
    )


def compliance_page() -> rx.Component:
    return page(
        "Victims' Code compliance",
        rx.cond(
            StaffState.role != "",
            rx.fragment(
                rx.el.h1("Victims' Code compliance and demand", style={"font_size": "1.6rem"}),
                rx.el.p("Figures for ", rx.el.strong(Compliance.scope_words), ", duties due from ",
                        rx.el.strong(Compliance.period_words), " (London dates; the quarter so far unless you "
                        "choose dates). Each victim is owed their own duties, so a case with two victims counts "
                        "twice. \u201cMet or declined on time\u201d counts only duties whose outcome is known: a duty "
                        "whose deadline is still to come is neither met nor missed yet.", style={"color": MUTED}),
                period_form(),
                rx.cond(Compliance.error != "",
                        rx.el.p(Compliance.error, role="alert", style={"color": WARNING, "font_weight": "700"})),
                rx.el.h2("The Code's measures", style={"font_size": "1.4rem", "margin_top": "1.5rem"}),
                rx.el.p("Choose a number to list the cases behind it" + "", rx.cond(
                    Compliance.may_read_cases, ".", " (your account sees figures, not cases)."),
                    style={"color": MUTED}),
                on_time_chart(),
                cases_behind(),
                measure_table(Compliance.measure_rows, "measure", "By measure", "Measure"),
                measure_table(Compliance.entitlement_rows, "entitlement", "Standard and enhanced victims",
                              "Entitlement"),
                measure_table(Compliance.milestone_rows, "milestone", "Updates on the investigation, by milestone",
                              "Milestone"),
                measure_table(Compliance.category_rows, "category", "By crime category", "Category"),
                measure_table(Compliance.age_rows, "age", "By the victim's age at the offence", "Age"),
                measure_table(Compliance.reason_rows, "reason", "Enhanced victims, by the reason they are enhanced",
                              "Reason"),
                rx.el.h2("Demand", style={"font_size": "1.4rem", "margin_top": "2rem"}),
                rx.el.p("Counts for the whole force: an attendance comes before any case or team.",
                        style={"color": MUTED}),
                demand_chart(),
                rx.el.p(Compliance.method, id="calls-method", style={"max_width": "60rem"}),
                rx.el.a("Download “Demand” as CSV (spreadsheet)",
                        href="/compliance/export.csv?table=demand&" + Compliance.export_query, style={"color": ACCENT}),
                plain_table(Compliance.demand_rows, [("month", "Month"), ("tracking_visits", "Tracking page visits"),
                                                     ("attendance_texts_delivered", "Attendance texts delivered"),
                                                     ("case_updates_delivered", "Case updates delivered"),
                                                     ("portal_sign_ins", "Portal sign-ins"),
                                                     ("portal_messages_from_victims", "Portal messages from victims"),
                                                     ("portal_messages_from_officers", "Portal replies from officers"),
                                                     ("replies_by_text", "Replies by text"),
                                                     ("calls_avoided", "101 calls avoided (estimate)")],
                            "demand-table", "Demand by month"),
                rx.el.h2("Victims' feedback", style={"font_size": "1.4rem", "margin_top": "2rem"}),
                feedback_chart(),
                rx.el.a("Download “Feedback” as CSV (spreadsheet)",
                        href="/compliance/export.csv?table=feedback&" + Compliance.export_query,
                        style={"color": ACCENT}),
                plain_table(Compliance.feedback_rows, [("month", "Month"), ("answered", "Answers"),
                                                       ("declined", "Declined the survey"),
                                                       ("informed_average", "Kept informed (average, 1 to 5)"),
                                                       ("overall_average", "Overall (average, 1 to 5)")],
                            "feedback-table", "Feedback by month"),
            ),
            rx.el.p("Checking your sign-in…", aria_busy="true"),
        ),
        wide=True,
        right=rx.cond(StaffState.role != "", sign_out(), rx.fragment()),
    )
