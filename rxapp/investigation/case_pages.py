"""`/cases`: the open investigations, each with the next thing to do and by when; `/case?occ=…`: one case, led
by what to do (the open tasks, each with the victim's name and how to reach them, and the form to record how
they were told), then the victims, what each is owed under the Victims' Code, the portal, and its history."""
from __future__ import annotations

import reflex as rx

from rxapp.attendance.board_page import sign_out
from rxapp.investigation.case_portal_page import AUTHOR_STYLE, portal_section  # noqa: F401 (the inbox's too)
from rxapp.investigation.case_state import CaseDetail, CaseList
from rxapp.investigation.case_widgets import (
    BUTTON,
    FACTS_GRID,
    FIELD,
    H2,
    H3,
    HEAD,
    NOWRAP,
    SMALL,
    cell,
    fact,
    feedback,
    history_part,
    signed_in,
    tone_badge,
)
from rxapp.investigation.duties import TASK_OUTCOMES
from rxapp.messaging.history_page import message_table
from rxapp.staff.states import StaffState
from rxapp.ui.layout import ACCENT, MUTED, page

# ---- /cases ----------------------------------------------------------------------------------------------

SHOW_LINKS = (("mine", "My cases"), ("team", "My team's cases"))


def show_link(key: str, words: str) -> rx.Component:
    return rx.el.a(
        words,
        href=f"/cases?show={key}",
        aria_current=rx.cond(CaseList.show == key, "page", "false"),
        style={"padding": "0.45rem 0.9rem", "font_weight": "700", "text_decoration": "none",
               "border": f"2px solid {ACCENT}",
               "background": rx.cond(CaseList.show == key, ACCENT, "white"),
               "color": rx.cond(CaseList.show == key, "white", ACCENT)},
    )


def show_choice() -> rx.Component:
    """Whose cases: the account's own (by its collar number) or its team's. The control room reads only the
    cases behind a live attendance: no choice to make."""
    return rx.cond(
        CaseList.role == "fcr",
        rx.el.p("Cases behind an attendance that is still open.", style={"margin": "0.75rem 0"}),
        rx.el.nav(*[show_link(k, w) for k, w in SHOW_LINKS], aria_label="Whose cases",
                  style={"display": "flex", "flex_wrap": "wrap", "gap": "0.5rem", "margin": "0.75rem 0 1rem"}),
    )


def case_row(row: rx.Var) -> rx.Component:
    return rx.el.tr(
        cell("Next action", rx.el.strong(row["action"]),
              rx.cond(row["action_about"] != "", rx.el.div(row["action_about"],
                                                           style={"color": MUTED, "font_size": "0.9rem"}))),
        cell("Due", rx.cond(row["action_late"] == "yes", tone_badge(row["action_due"], "bad"),
                             rx.el.span(row["action_due"], style=NOWRAP))),
        cell("Victim", row["victims"]),
        cell("Case", rx.el.a(rx.el.strong(row["crime_reference"]), href="/case?occ=" + row["occurrence_number"]),
              rx.el.div(row["classification"]),
              rx.cond(row["flags"] != "", rx.el.div(row["flags"], style={"color": MUTED}))),
        cell("Officer", rx.el.span(row["oic"], style=NOWRAP)),
        cell("Owed", row["owed"], rx.cond(row["enhanced"] == "Yes",
                                           rx.el.div("Enhanced rights", style={"color": MUTED}))),
        data_occ=row["occurrence_number"],
        data_urgency=row["urgency"],
    )


def empty_list() -> rx.Component:
    return rx.el.p(rx.match(
        CaseList.show,
        ("mine", rx.cond(CaseList.collar == "",
                         "Your account has no collar number, so no case shows as yours: ask an administrator "
                         "to add it.",
                         "No open cases where you are the officer in charge.")),
        "No open cases match."), style={"font_size": "1.1rem"})


def case_list_content() -> rx.Component:
    return rx.fragment(
        rx.el.h1("Open investigations", style={"font_size": "1.6rem", "margin": "0 0 0.25rem"}),
        rx.el.p("What to do next on each case and by when. Late ones come first, then by the next deadline.",
                style={"color": MUTED, "margin": "0"}),
        show_choice(),
        rx.cond(
            CaseList.rows.length() > 0,
            rx.el.div(rx.el.table(
                rx.el.thead(rx.el.tr(*[rx.el.th(h, scope="col", style=HEAD) for h in (
                    "Next action", "Due", "Victim", "Case", "Officer", "Owed")])),
                rx.el.tbody(rx.foreach(CaseList.rows, case_row)),
                class_name="board-table", id="case-list",
                style={"border_collapse": "collapse", "width": "100%", "font_size": "0.95rem"},
            ), style={"overflow_x": "auto"}),
            rx.cond(CaseList.loaded, empty_list()),
        ),
    )


def cases_page() -> rx.Component:
    return page(
        "Investigations: open cases",
        signed_in(case_list_content()),
        wide=True,
        right=rx.cond(StaffState.role != "", sign_out(), rx.fragment()),
    )


# ---- /case?occ=… -------------------------------------------------------------------------------------------

SAFETY_RED = "#942514"  # 7:1 on white and on the grey of a task's victim box (the warning red is 4.3:1 there)


def safe_contact_words(words, confirmed) -> rx.Component:
    return rx.cond(confirmed == "yes", rx.el.span(words), rx.el.strong(words, style={"color": SAFETY_RED}))


def contact_link(kind: str, words, href) -> rx.Component:
    """A phone number or email: a link to ring or write when shown in full, masked text otherwise."""
    style = {"font_weight": "700", "word_break": "break-all" if kind == "email" else "normal"}
    return rx.cond(href != "", rx.el.a(words, href=href, class_name=f"victim-{kind}", style=style),
                   rx.el.span(words, class_name=f"victim-{kind}"))


def contact_links(phone, phone_href, email, email_href) -> rx.Component:
    """The phone number and email, each on a line."""
    return rx.fragment(
        rx.cond(phone != "", rx.el.div("Phone ", contact_link("phone", phone, phone_href))),
        rx.cond(email != "", rx.el.div("Email ", contact_link("email", email, email_href))),
    )


def task_victim(task: rx.Var) -> rx.Component:
    """Whom the task is about and how to reach them, beside the task: name and number on one line, then when
    and how it is safe to call."""
    return rx.cond(task["victim_name"] != "", rx.el.div(
        rx.el.div(rx.el.strong(task["victim_name"]),
                  rx.cond(CaseDetail.victims.length() > 1, rx.el.span(" (", task["victim_label"], ")")),
                  rx.cond(task["victim_phone"] != "", rx.el.span(
                      " · ", contact_link("phone", task["victim_phone"], task["victim_phone_href"]))),
                  rx.cond(task["victim_email"] != "", rx.el.span(
                      " · ", contact_link("email", task["victim_email"], task["victim_email_href"])))),
        rx.el.div("Prefers ", task["victim_preferred_channel"].lower(),
                  rx.cond(task["victim_language"] != "", rx.el.span(", speaks ", task["victim_language"])),
                  rx.cond(task["victim_interpreter"] != "", rx.el.span(", needs an interpreter")),
                  ". Safe contact: ", safe_contact_words(task["victim_safe_contact"],
                                                         task["victim_safe_contact_confirmed"])),
        rx.cond(task["victim_contact_notes"] != "",
                rx.el.div(rx.el.strong("Contact notes: "), task["victim_contact_notes"])),
        rx.cond(task["victim_updates"] != "", rx.el.div(rx.el.strong(task["victim_updates"]))),
        class_name="task-victim",
        style={"background": "#f3f2f1", "padding": "0.4rem 0.6rem", "margin": "0.4rem 0", "font_size": "0.95rem",
               "line_height": "1.4"},
    ))


def complete_form(task: rx.Var) -> rx.Component:
    """How the victim was told, and a note: side by side where there is room, the button by the note."""
    ident = "how-" + task["id"]
    note = "note-" + task["id"]
    label = {"display": "block", "font_weight": "700"}
    return rx.el.form(
        rx.el.input(type="hidden", name="task_id", value=task["id"]),
        rx.el.div(
            rx.el.div(
                rx.el.label("How was the victim told?", html_for=ident, style=label),
                rx.el.select(
                    rx.el.option("Choose…", value=""),
                    *[rx.el.option(text, value=key) for key, text in TASK_OUTCOMES.items()],
                    id=ident, name="how_told", default_value="", style={**FIELD, "max_width": "100%"},
                ),
            ),
            rx.el.div(
                rx.el.label("Note (optional)", html_for=note, style=label),
                rx.el.div(
                    rx.el.input(id=note, name="note", type="text", max_length=300, autocomplete="off",
                                style={**FIELD, "flex": "1 1 8rem", "min_width": "0", "max_width": "24rem"}),
                    rx.el.button("Mark as done", type="submit", style={**BUTTON, "flex": "0 0 auto"},
                                 aria_describedby="result-" + task["id"]),
                    style={"display": "flex", "flex_wrap": "wrap", "gap": "0.5rem"},
                ),
                style={"flex": "1 1 16rem"},
            ),
            style={"display": "flex", "flex_wrap": "wrap", "gap": "0.4rem 1rem", "align_items": "flex-end"},
        ),
        on_submit=CaseDetail.complete_task,
        class_name="complete-task",
        style={"margin_top": "0.4rem"},
    )


def task_outcome(task: rx.Var, **props) -> rx.Component:
    """What became of a closed task: how the victim was told, by whom, when."""
    return rx.el.p(
        rx.el.span(task["result"]),
        rx.cond(task["completed_by"] != "", rx.el.span(", recorded by ", task["completed_by"])),
        rx.cond(task["completed"] != "", rx.el.span(", ", task["completed"])),
        rx.cond(task["outcome"] != "", rx.el.span(". ", task["outcome"])),
        style=SMALL, **props)


def task_card(task: rx.Var) -> rx.Component:
    """One thing to do: what, by when, for whom, the victim and how to reach them, what to tell them, and the
    form to record it, whose answer shows by its button."""
    return rx.el.li(
        rx.el.h3(task["title"], class_name="task-title", style=H3),
        rx.el.div(
            tone_badge(task["status_label"], task["tone"]),
            rx.el.span(rx.cond(task["due_by"] != "", rx.el.span("Due by ", task["due_by"], " · ")),
                       "for ", task["assignee"], style={"font_size": "0.95rem"}),
            style={"display": "flex", "flex_wrap": "wrap", "gap": "0.5rem", "align_items": "baseline",
                   "margin_top": "0.2rem"},
        ),
        task_victim(task),
        rx.el.p(task["detail"], style={"margin": "0.15rem 0", "font_size": "0.9rem", "color": MUTED}),
        rx.cond(task["escalated"] != "", rx.el.p(rx.el.strong(task["escalated"]), style=SMALL)),
        rx.cond(task["open"] == "yes",
                rx.cond(CaseDetail.can_complete, complete_form(task)),
                task_outcome(task, class_name="task-outcome")),
        feedback("result-" + task["id"], task["feedback"], task["feedback_tone"]),
        data_task=task["id"],
        data_status=task["status"],
        class_name="task",
        style={"border": "1px solid #b1b4b6", "border_left": f"5px solid {ACCENT}", "padding": "0.6rem 0.75rem",
               "margin_bottom": "0.75rem", "list_style": "none"},
    )


def closed_task(task: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.strong(task["title"]), " ", tone_badge(task["status_label"], task["tone"]),
        rx.cond(task["victim_name"] != "", rx.el.span(" · ", task["victim_name"])),
        task_outcome(task),
        data_task=task["id"], data_status=task["status"], class_name="task closed-task",
        style={"margin_bottom": "0.6rem"},
    )


def todo_section() -> rx.Component:
    return rx.el.section(
        rx.el.h2("What to do", id="todo-heading", tab_index=-1, style={**H2, "margin_top": "1rem"}),
        rx.cond(CaseDetail.todo.length() > 0,
                rx.el.ul(rx.foreach(CaseDetail.todo, task_card), style={"padding": "0", "margin": "0"}),
                rx.el.p("Nothing for a person to do: the victim is told automatically.", id="no-tasks")),
        id="todo",
        aria_labelledby="todo-heading",
    )


def victim_facts(v: rx.Var) -> rx.Component:
    """One victim of the case: each has their own entitlement, contact safety and rhythm of updates."""
    return rx.el.section(
        rx.el.h3(v["label"], ": ", v["name"], style={"font_size": "1.1rem", "margin": "0.75rem 0 0"}),
        rx.el.dl(
            fact("Contact", contact_links(v["phone"], v["phone_href"], v["email"], v["email_href"]),
                 rx.cond((v["phone"] == "") & (v["email"] == ""), rx.el.span(v["contacts"])),
                 rx.el.div("Prefers: ", v["preferred_channel"]),
                 rx.cond(v["updates"] != "", rx.el.div(rx.el.strong(v["updates"])))),
            fact("Safe contact", safe_contact_words(v["safe_contact"], v["safe_contact_confirmed"])),
            fact("Needs", v["needs"]),
            fact("Enhanced rights", v["enhanced"],
                 rx.cond(v["enhanced_reasons"] != "", rx.el.span(": ", v["enhanced_reasons"]))),
            fact("Last update to them", v["last_update"]),
            fact("Routine updates", v["routine_every"]),
            style=FACTS_GRID,
        ),
        class_name="victim-facts",
        data_victim=v["victim_id"],
    )


def case_header() -> rx.Component:
    h = CaseDetail.header
    return rx.fragment(
        rx.el.h1(h["crime_reference"], id="case-title", style={"font_size": "1.6rem", "margin": "0.25rem 0 0"}),
        rx.el.p(h["classification"], rx.cond(h["flags"] != "none", rx.el.strong(" · ", h["flags"])),
                style={"margin": "0"}),
        rx.el.p("Officer in charge: ", h["oic"], style={"margin": "0", "color": MUTED, "font_size": "0.95rem"}),
    )


def case_facts_more() -> rx.Component:
    h = CaseDetail.header
    return rx.el.dl(
        fact("Occurrence number", h["occurrence_number"]),
        fact("Reported", h["reported"]),
        fact("Recorded", h["recorded"]),
        fact("Case status", h["status"]),
        fact("Flags", h["flags"]),
        fact("Victims", h["victim"]),
        style=FACTS_GRID,
        id="case-record",
    )


def victim_option(v: rx.Var) -> rx.Component:
    return rx.el.option(v["label"], ": ", v["name"], value=v["victim_id"])


def frequency_form() -> rx.Component:
    """How often a victim agreed to hear when nothing has happened (the Code lets each of them choose)."""
    return rx.el.form(
        rx.cond(
            CaseDetail.victims.length() > 1,
            rx.el.div(
                rx.el.label("Which victim agreed?", html_for="frequency-victim",
                            style={"display": "block", "font_weight": "700"}),
                rx.el.select(rx.foreach(CaseDetail.victims, victim_option), id="frequency-victim",
                             name="victim_id", style={**FIELD, "max_width": "100%"}),
                style={"margin_bottom": "0.5rem"},
            ),
        ),
        rx.el.label("Routine updates agreed with the victim: every how many days? (empty for the Code's default)",
                    html_for="every-days", style={"display": "block", "font_weight": "700"}),
        rx.el.div(
            rx.el.input(id="every-days", name="every_days", type="number", min="1", max="90", inputmode="numeric",
                        default_value=CaseDetail.frequency_default, key=CaseDetail.occ,
                        style={**FIELD, "width": "6rem"}),
            rx.el.button("Save", type="submit", style=BUTTON, aria_describedby="frequency-feedback"),
            style={"display": "flex", "gap": "0.75rem", "align_items": "center", "margin_top": "0.35rem"},
        ),
        feedback("frequency-feedback", CaseDetail.frequency_feedback, CaseDetail.frequency_tone),
        on_submit=CaseDetail.agree_frequency,
        id="frequency-form",
        style={"margin": "0.5rem 0 1rem"},
    )


def duty_row(duty: rx.Var) -> rx.Component:
    """One thing the Code says a victim is owed, and where it stands (its status's words carry its date: due
    by, was due by, done when). A list, not a table: on a phone each stays two or three lines."""
    return rx.el.li(
        rx.el.div(rx.cond(CaseDetail.victims.length() > 1, rx.el.span(duty["victim"], ": ")),
                  rx.el.strong(duty["title"]),
                  rx.el.span(" · ", duty["right"], " of the Victims' Code",
                             style={"color": MUTED, "font_size": "0.9rem"})),
        rx.el.div(tone_badge(duty["status_label"], duty["tone"]), " ",
                  rx.el.span(duty["status_detail"], style={"font_size": "0.9rem"}),
                  style={"margin_top": "0.15rem"}),
        data_key=duty["key"],
        data_tone=duty["tone"],
        class_name="duty-row",
        style={"padding": "0.45rem 0", "border_bottom": "1px solid #b1b4b6", "list_style": "none"},
    )


def duties_table(rows, ident: str) -> rx.Component:
    return rx.el.ul(rx.foreach(rows, duty_row), id=ident, class_name="duties",
                    style={"padding": "0", "margin": "0"})


def duties_section() -> rx.Component:
    """What the Victims' Code says each victim is owed: what is still owed first; what was met (or is no longer
    owed) folded away."""
    return rx.el.section(
        rx.el.h2("What each victim is still owed", style=H2),
        rx.cond(CaseDetail.duties.length() == 0,
                rx.el.p("Nothing is owed yet: the victim is not linked to this case in the records system."),
                rx.cond(CaseDetail.duties_owed.length() > 0, duties_table(CaseDetail.duties_owed, "duties"),
                        rx.el.p("Nothing more is owed now.", id="duties"))),
        rx.cond(CaseDetail.duties_met.length() > 0,
                history_part("Already met or no longer owed", CaseDetail.duties_met.length(), "duties-met-part",
                             duties_table(CaseDetail.duties_met, "duties-met"))),
        rx.cond(CaseDetail.can_agree, frequency_form()),
        id="owed",
    )


def timeline_item(item: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.div(rx.el.strong(item["when"]), rx.el.span(" · ", item["what"]),
                  rx.el.span(" · ", item["audience"], style={"color": MUTED})),
        rx.cond(item["text"] != "", rx.el.div(item["text"])),
        rx.cond(item["staff_text"] != "", rx.el.div(item["staff_text"], style={"color": MUTED})),
        style={"margin_bottom": "0.6rem"},
    )


def history_section() -> rx.Component:
    return rx.el.section(
        rx.el.h2("History", style=H2),
        history_part("Timeline", CaseDetail.timeline.length(), "history-timeline",
                     rx.cond(CaseDetail.timeline.length() > 0,
                             rx.el.ol(rx.foreach(CaseDetail.timeline, timeline_item),
                                      style={"padding_left": "1.2rem", "margin": "0"}, id="timeline"),
                             rx.el.p("Nothing yet."))),
        history_part("Messages sent to the victim", CaseDetail.messages.length(), "history-messages",
                     rx.cond(CaseDetail.messages.length() > 0, message_table(CaseDetail.messages),
                             rx.el.p("No messages."))),
        history_part("Tasks already closed", CaseDetail.closed.length(), "history-tasks",
                     rx.cond(CaseDetail.closed.length() > 0,
                             rx.el.ul(rx.foreach(CaseDetail.closed, closed_task), style={"padding_left": "1.2rem"}),
                             rx.el.p("None."))),
        history_part("The case record", "reported, recorded, status", "history-record", case_facts_more()),
    )


def case_content() -> rx.Component:
    return rx.fragment(
        rx.el.p(rx.el.a("All open cases", href="/cases"), style={"margin": "0"}),
        # An answer with no form on the page to show it by (a stale page, a call the page did not make).
        rx.cond(CaseDetail.error != "", rx.el.p(
            CaseDetail.error, role="alert", id="case-error",
            style={"padding": "0.4rem 0.6rem", "font_weight": "700", "border_left": f"6px solid {SAFETY_RED}"})),
        rx.cond(
            CaseDetail.found,
            rx.fragment(
                case_header(),
                todo_section(),
                rx.el.section(
                    rx.el.h2(rx.cond(CaseDetail.victims.length() > 1, "The victims", "The victim"), style=H2),
                    rx.foreach(CaseDetail.victims, victim_facts),
                    id="case-facts",
                ),
                duties_section(),
                portal_section(),
                history_section(),
            ),
            rx.el.p("No case with that occurrence number."),
        ),
    )


def case_page() -> rx.Component:
    return page(
        "Investigation: one case",
        signed_in(case_content()),
        wide=True,
        right=rx.cond(StaffState.role != "", sign_out(), rx.fragment()),
    )
