"""`/team`: the supervisor's home page. Escalations sent to them, the team's queue (escalated first, then overdue,
then by deadline; narrowed to one officer if asked), who is over their load, and giving a task or a case to another
officer of the team, each form's result shown beside its button. Plain `rx.el` in the shared frame
(rxapp/ui/layout.py). A status always has its words; colour only repeats them."""
from __future__ import annotations

import reflex as rx

from rxapp.attendance.board_page import sign_out
from rxapp.investigation.case_pages import BUTTON, FIELD, H2, MUTED, signed_in, tone_badge
from rxapp.staff.states import StaffState
from rxapp.supervision.state import PAGE, Team
from rxapp.ui.layout import WARNING, page

CARD = {"border": "1px solid #b1b4b6", "padding": "0.6rem 0.75rem", "margin": "0 0 0.6rem", "list_style": "none"}
ESCALATED_CARD = {**CARD, "border_left": f"6px solid {WARNING}"}
SMALL = {"color": MUTED, "font_size": "0.95rem"}
LABEL = {"display": "block", "font_weight": "700", "margin": "0.4rem 0 0.2rem"}
GREY_BUTTON = {**BUTTON, "background": "#505a5f", "box_shadow": "none"}
ROW = {"display": "flex", "flex_wrap": "wrap", "gap": "0.35rem", "align_items": "center"}
CELL = {"padding": "0.35rem 0.5rem", "border_bottom": "1px solid #b1b4b6", "vertical_align": "top",
        "text_align": "left"}
HEAD = {"text_align": "left", "padding": "0.35rem 0.5rem", "border_bottom": "2px solid #0b0c0c"}


def result_here(place) -> rx.Component:
    """The last action's result, beside the control that asked for it (announced as it appears)."""
    return rx.el.p(
        rx.cond(Team.result_for == place, Team.result, ""),
        role="status", aria_live="polite",
        style=rx.cond(Team.result_for == place,
                      rx.cond(Team.result_ok, {"font_weight": "700", "color": "#005a30", "margin": "0.4rem 0"},
                              {"font_weight": "700", "color": WARNING, "margin": "0.4rem 0"}),
                      {"margin": "0"}),
    )


def officer_options() -> rx.Component:
    return rx.foreach(Team.officers, lambda o: rx.el.option(o["label"], value=o["key"]))


def case_link(r: rx.Var) -> rx.Component:
    return rx.el.a(r["case"], href="/case?occ=" + r["occurrence_number"],
                   style={"text_decoration": "underline", "font_weight": "700"})


def notice_item(n: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.div(rx.cond(n["new"] != "", tone_badge("New", "bad")), rx.el.strong(n["words"]), style=ROW),
        rx.el.div(case_link(n), " · with ", n["officer"], " · ", n["when"], " · ", n["state"], style=SMALL),
        class_name="team-notice", data_new=n["new"],
        style=rx.cond(n["new"] != "", ESCALATED_CARD, CARD),
    )


def task_card(r: rx.Var) -> rx.Component:
    form_id = "give-task-" + r["id"]
    return rx.el.li(
        rx.el.div(rx.el.strong(r["title"]), rx.cond(r["escalated"] != "", tone_badge(r["escalated"], "bad")),
                  tone_badge(r["due"], r["tone"]), style=ROW),
        rx.el.div(case_link(r), " ", r["classification"], " · Victim: ", r["victim_name"], style=SMALL),
        rx.el.div("With: ", rx.el.strong(r["officer"]), class_name="team-task-officer"),
        rx.el.details(
            rx.el.summary("Give this task to another officer", style={"cursor": "pointer", "margin_top": "0.3rem"}),
            rx.el.form(
                rx.el.input(type="hidden", name="task_id", value=r["id"]),
                rx.el.label("Officer", html_for=form_id + "-officer", style=LABEL),
                rx.el.div(
                    rx.el.select(officer_options(), id=form_id + "-officer", name="officer",
                                 default_value=r["officer_key"], style={**FIELD, "max_width": "100%"}),
                    rx.el.button("Give the task", type="submit", style=BUTTON,
                                 aria_label="Give the task " + r["title"] + " on case " + r["case"]),
                    style={"display": "flex", "flex_wrap": "wrap", "gap": "0.5rem"}),
                on_submit=Team.give_task, id=form_id, class_name="team-give-task",
            ),
        ),
        result_here("task:" + r["id"]),
        class_name="team-task", data_escalated=rx.cond(r["escalated"] != "", "yes", ""), data_tone=r["tone"],
        style=rx.cond(r["escalated"] != "", ESCALATED_CARD, CARD),
    )


def load_table() -> rx.Component:
    def cell(label: str, value) -> rx.Component:
        return rx.el.td(value, style=CELL, data_label=label)

    return rx.el.div(rx.el.table(
        rx.el.thead(rx.el.tr(*[rx.el.th(h, scope="col", style=HEAD)
                               for h in ("Officer", "Open cases", "Open tasks", "Overdue tasks", "Load")])),
        rx.el.tbody(rx.foreach(Team.load_rows, lambda r: rx.el.tr(
            rx.el.th(r["officer"], rx.cond(r["account"] != "", rx.el.div(r["account"], style=SMALL)),
                     scope="row", style={**CELL, "font_weight": "400"}, data_label="Officer"),
            cell("Open cases", r["cases"]), cell("Open tasks", r["tasks"]), cell("Overdue tasks", r["overdue"]),
            cell("Load", rx.cond(r["over"] != "", tone_badge(r["load"], "bad"), rx.el.span(r["load"]))),
            class_name="team-load-row", data_over=r["over"],
            style=rx.cond(r["over"] != "", {"background": "#fbe9e6"}, {}),
        ))),
        class_name="board-table", aria_labelledby="team-load-heading",
        style={"border_collapse": "collapse", "width": "100%", "font_size": "0.95rem"},
    ), id="team-load")


def case_form() -> rx.Component:
    return rx.el.section(
        rx.el.h2("Give a case to another officer", id="team-case-heading", style=H2),
        rx.el.p(rx.el.strong("NICHE is the master of the officer in charge: make the same change in NICHE too. "),
                "The case's open tasks and its conversations with the victims go to the new officer, and the victims "
                "are told a new officer is in charge. If NICHE's next change of officer in charge names someone "
                "else, the case goes to them, and the list below says so.", id="team-niche-note"),
        rx.el.form(
            rx.el.label("Case", html_for="team-case", style=LABEL),
            rx.el.select(rx.foreach(Team.cases, lambda c: rx.el.option(c["label"], value=c["occurrence_number"])),
                         id="team-case", name="case", style={**FIELD, "max_width": "100%", "width": "100%"}),
            rx.el.label("New officer in charge", html_for="team-case-officer", style=LABEL),
            rx.el.div(
                rx.el.select(rx.el.option("Choose an officer", value=""), officer_options(), id="team-case-officer",
                             name="officer", required=True, style={**FIELD, "max_width": "100%"}),
                rx.el.button("Give the case", type="submit", id="team-give-case", style=BUTTON),
                style={"display": "flex", "flex_wrap": "wrap", "gap": "0.5rem"}),
            on_submit=Team.give_case, id="team-case-form",
        ),
        result_here("case"),
        rx.cond(Team.reassigned.length() > 0, rx.fragment(
            rx.el.h3("Cases given to another officer here in the last 30 days",
                     style={"font_size": "1.1rem", "margin": "1.25rem 0 0.5rem"}),
            rx.el.ul(rx.foreach(Team.reassigned, lambda r: rx.el.li(
                rx.el.div(case_link(r), " · from ", r["from_officer"], " to ", rx.el.strong(r["to_officer"]),
                          " · ", r["when"], " · by ", r["by"]),
                rx.el.div(tone_badge(r["status"], r["tone"])),
                class_name="team-reassigned", data_tone=r["tone"], style=CARD)),
                id="team-reassigned", style={"padding": "0"}),
        )),
        aria_labelledby="team-case-heading",
    )


def team_content() -> rx.Component:
    return rx.fragment(
        rx.el.h1("Your team", style={"font_size": "1.6rem", "margin": "0 0 0.25rem"}),
        rx.el.p("Cases held by ", rx.el.strong(Team.teams), ": ", Team.counts.get("cases", "0"), " open cases, ",
                Team.counts.get("tasks", "0"), " open tasks, ", Team.counts.get("escalated", "0"), " escalated, ",
                Team.counts.get("overdue", "0"), " overdue.", style=SMALL),
        result_here(PAGE),
        rx.el.section(
            rx.el.h2("Escalations sent to you (", Team.counts.get("unread", "0"), " new)", id="team-notices-heading",
                     style=H2),
            rx.cond(Team.notices.length() > 0,
                    rx.el.ul(rx.foreach(Team.notices, notice_item), id="team-notices", style={"padding": "0"}),
                    rx.el.p("No task on your team's cases has been escalated to you.", style=SMALL)),
            aria_labelledby="team-notices-heading",
        ),
        rx.el.section(
            rx.el.h2("The team's queue (", Team.counts.get("shown", "0"), " open tasks)", id="team-queue-heading",
                     tab_index=-1, style=H2),
            rx.el.p("Escalated tasks first, then overdue ones, then by deadline.", style=SMALL),
            rx.el.form(
                rx.el.label("Show the tasks of", html_for="team-officer-filter", style=LABEL),
                rx.el.div(
                    rx.el.select(rx.el.option("Everyone in the team", value=""), officer_options(),
                                 id="team-officer-filter", name="officer", default_value=Team.officer,
                                 key=Team.officer, style={**FIELD, "max_width": "100%"}),
                    rx.el.button("Show", type="submit", style=GREY_BUTTON),
                    style={"display": "flex", "flex_wrap": "wrap", "gap": "0.5rem"}),
                on_submit=Team.show_officer, id="team-filter-form", style={"margin": "0 0 0.75rem"},
            ),
            rx.cond(Team.queue.length() > 0,
                    rx.el.ul(rx.foreach(Team.queue, task_card), id="team-queue", style={"padding": "0"}),
                    rx.el.p("No open tasks.", style=SMALL)),
            aria_labelledby="team-queue-heading",
        ),
        rx.el.section(
            rx.el.h2("Who is over their load", id="team-load-heading", style=H2),
            rx.el.p("Open cases each officer is in charge of, against the force's limit of ",
                    Team.counts.get("limit", "20"), " cases; ", Team.counts.get("over_load", "0"),
                    " over it, listed first.", style=SMALL),
            load_table(),
            aria_labelledby="team-load-heading",
        ),
        case_form(),
        rx.el.p(rx.el.a("All open cases I may see", href="/cases"), " · ",
                rx.el.a("Victims' Code compliance", href="/compliance"), style={"margin_top": "1.5rem"}),
    )


def team_page() -> rx.Component:
    return page("Your team", signed_in(rx.cond(Team.loaded, team_content(),
                                               rx.el.p("Loading your team…", aria_busy="true"))),
                wide=True, right=rx.cond(StaffState.role != "", sign_out(), rx.fragment()))
