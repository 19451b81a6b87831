"""`/cases`: open investigations and what each victim is owed; `/case?occ=…`: one case, its duties under the
Victims' Code, the tasks for people (completed here), its timeline and its messages."""
from __future__ import annotations

import reflex as rx

from rxapp.attendance.board_page import sign_out
from rxapp.investigation.case_state import CaseDetail, CaseList
from rxapp.investigation.duties import TASK_OUTCOMES
from rxapp.messaging.history_page import message_table
from rxapp.staff.states import StaffState
from rxapp.ui.layout import ACCENT, MUTED, WARNING, page

CELL = {"padding": "0.45rem", "border_bottom": "1px solid #b1b4b6", "vertical_align": "top"}
HEAD = {"text_align": "left", "padding": "0.45rem", "border_bottom": "2px solid #0b0c0c"}
H2 = {"font_size": "1.25rem", "margin": "1.75rem 0 0.5rem"}
# A status always shows its words; the colour only repeats them. Each pair is at least 4.5:1.
TONE_STYLE = {
    "good": {"background": "#cce2d8", "color": "#005a30"},
    "warn": {"background": "#fff7bf", "color": "#594d00", "outline": "1px solid #594d00"},
    "bad": {"background": WARNING, "color": "white"},
    "neutral": {"background": "#f3f2f1", "color": "#0b0c0c", "outline": "1px solid #b1b4b6"},
}
NOWRAP = {"white_space": "nowrap"}
BADGE = {"padding": "0.1rem 0.45rem", "font_weight": "700", "display": "inline-block"}
FILTER_LABELS = {"all": "All open cases I may see", "late": "Only cases with a late duty",
                 "mine": "My cases (I am the officer in charge)"}
FIELD = {"padding": "0.4rem", "border": "2px solid #0b0c0c", "font_size": "1rem", "background": "white",
         "color": "#0b0c0c"}
BUTTON = {"background": "#00703c", "color": "white", "padding": "0.45rem 1rem", "border": "none",
          "font_size": "1rem", "cursor": "pointer", "box_shadow": "0 2px 0 #002d18"}


def _cell(label: str, *children) -> rx.Component:
    return rx.el.td(rx.el.div(*children), style=CELL, data_label=label)


def tone_badge(label, tone) -> rx.Component:
    return rx.match(
        tone,
        *[(key, rx.el.span(label, style={**BADGE, **style})) for key, style in TONE_STYLE.items()],
        rx.el.span(label, style={**BADGE, **TONE_STYLE["neutral"]}),
    )


def signed_in(*children) -> rx.Component:
    return rx.cond(StaffState.role != "", rx.fragment(*children),
                   rx.el.p("Checking your sign-in…", aria_busy="true"))


# ---- /cases ----------------------------------------------------------------------------------------------

def count_cell(label: str, value, tone: str) -> rx.Component:
    return _cell(label, rx.cond(value != "0", tone_badge(value, tone), rx.el.span("0", style={"color": MUTED})))


def case_row(row: rx.Var) -> rx.Component:
    return rx.el.tr(
        _cell("Case", rx.el.a(rx.el.strong(row["crime_reference"]), href="/case?occ=" + row["occurrence_number"]),
              rx.el.div(row["occurrence_number"], style={"color": MUTED})),
        _cell("Offence", row["classification"],
              rx.cond(row["flags"] != "", rx.el.div(row["flags"], style={"color": MUTED}))),
        _cell("Officer", row["oic"]),
        _cell("Enhanced", row["enhanced"]),
        count_cell("Late", row["late"], "bad"),
        count_cell("With a person", row["with_person"], "warn"),
        count_cell("Due", row["due"], "neutral"),
        count_cell("Done", row["done"], "good"),
        _cell("Next due", rx.el.span(row["next_due"], style=NOWRAP)),
        data_occ=row["occurrence_number"],
        data_urgency=row["urgency"],
    )


def filter_form() -> rx.Component:
    label = {"display": "block", "font_weight": "700"}
    return rx.el.form(
        rx.el.div(
            rx.el.label("Show", html_for="case-filter", style=label),
            rx.el.select(*[rx.el.option(text, value=key) for key, text in FILTER_LABELS.items()],
                         id="case-filter", name="only", default_value=CaseList.only, style=FIELD),
        ),
        rx.el.button("Apply", type="submit", style=BUTTON),
        on_submit=CaseList.apply_filter,
        style={"display": "flex", "flex_wrap": "wrap", "gap": "1rem", "align_items": "flex-end",
               "margin": "1rem 0"},
    )


def case_list_content() -> rx.Component:
    return rx.fragment(
        rx.el.h1("Open investigations", style={"font_size": "1.6rem", "margin": "0 0 0.25rem"}),
        rx.el.p("The cases your account may see: yours, your team's, or (in the control room) those behind an "
                "attendance still open. Cases with a late duty come first, then by the next deadline. Counts are "
                "of what the Victims' Code says each victim must be told.", style={"color": MUTED, "margin": "0"}),
        filter_form(),
        rx.cond(
            CaseList.rows.length() > 0,
            rx.el.div(rx.el.table(
                rx.el.thead(rx.el.tr(*[rx.el.th(h, scope="col", style=HEAD) for h in (
                    "Case", "Offence", "Officer", "Enhanced", "Late", "With a person", "Due", "Done", "Next due")])),
                rx.el.tbody(rx.foreach(CaseList.rows, case_row)),
                class_name="board-table", id="case-list",
                style={"border_collapse": "collapse", "width": "100%", "font_size": "0.95rem"},
            ), style={"overflow_x": "auto"}),
            rx.cond(CaseList.loaded,
                    rx.el.p(rx.cond(CaseList.only == "mine",
                                    rx.cond(CaseList.collar == "",
                                            "Your account has no collar number, so no case shows as yours: ask "
                                            "an administrator to add it.",
                                            "No open cases where you are the officer in charge."),
                                    "No open cases match."), style={"font_size": "1.1rem"})),
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

def fact(term: str, *value) -> rx.Component:
    return rx.el.div(
        rx.el.dt(term, style={"font_weight": "700"}),
        rx.el.dd(*value, style={"margin": "0"}),
        style={"padding": "0.35rem 0", "border_bottom": "1px solid #b1b4b6"},
    )


FACTS_GRID = {"display": "grid", "grid_template_columns": "repeat(auto-fit, minmax(15rem, 1fr))",
              "column_gap": "1.5rem", "margin": "0.5rem 0 1rem"}


def victim_facts(v: rx.Var) -> rx.Component:
    """One victim of the case: each has their own entitlement, contact safety and rhythm of updates."""
    return rx.el.section(
        rx.el.h3(v["label"], ": ", v["name"], style={"font_size": "1.15rem", "margin": "0.75rem 0 0"}),
        rx.el.dl(
            fact("Enhanced rights", v["enhanced"],
                 rx.cond(v["enhanced_reasons"] != "", rx.el.span(": ", v["enhanced_reasons"]))),
            fact("Prefers", v["preferred_channel"]),
            fact("Safe contact", rx.cond(
                v["safe_contact_confirmed"] == "yes", rx.el.span(v["safe_contact"]),
                rx.el.strong(v["safe_contact"], style={"color": WARNING}))),
            fact("Contact details", v["contacts"],
                 rx.cond(v["updates"] != "", rx.el.div(rx.el.strong(v["updates"])))),
            fact("Last update to them", v["last_update"]),
            fact("Routine updates", v["routine_every"]),
            fact("Needs", v["needs"]),
            style=FACTS_GRID,
        ),
        class_name="victim-facts",
        data_victim=v["victim_id"],
    )


def case_header() -> rx.Component:
    h = CaseDetail.header
    return rx.fragment(
        rx.el.h1(h["crime_reference"], id="case-title", style={"font_size": "1.6rem", "margin": "0.25rem 0 0"}),
        rx.el.p("Occurrence ", h["occurrence_number"], ", ", h["classification"], style={"margin": "0"}),
        rx.el.div(
            rx.el.dl(
                fact("Reported", h["reported"]),
                fact("Recorded", h["recorded"]),
                fact("Officer in charge", h["oic"]),
                fact("Flags", h["flags"]),
                fact("Case status", h["status"]),
                fact("Victims", h["victim"]),
                style=FACTS_GRID,
            ),
            rx.foreach(CaseDetail.victims, victim_facts),
            id="case-facts",
        ),
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
            rx.el.button("Save", type="submit", style=BUTTON),
            style={"display": "flex", "gap": "0.75rem", "align_items": "center", "margin_top": "0.35rem"},
        ),
        on_submit=CaseDetail.agree_frequency,
        id="frequency-form",
        style={"margin": "0.5rem 0 1rem"},
    )


def duty_row(duty: rx.Var) -> rx.Component:
    return rx.el.tr(
        _cell("Victim", rx.el.span(duty["victim"], style=NOWRAP)),
        _cell("Owed", rx.el.div(duty["title"]), rx.el.div(duty["right"], " of the Victims' Code",
                                                          style={"color": MUTED, "font_size": "0.9rem"})),
        _cell("Due by", rx.el.span(duty["due"], style=NOWRAP)),
        _cell("Status", tone_badge(duty["status_label"], duty["tone"]),
              rx.el.div(duty["status_detail"], style={"font_size": "0.9rem", "margin_top": "0.2rem"})),
        data_key=duty["key"],
        data_tone=duty["tone"],
        class_name="duty-row",
    )


def duties_table() -> rx.Component:
    return rx.cond(
        CaseDetail.duties.length() > 0,
        rx.el.div(rx.el.table(
            rx.el.thead(rx.el.tr(*[rx.el.th(h, scope="col", style=HEAD)
                                   for h in ("Victim", "Owed", "Due by", "Status")])),
            rx.el.tbody(rx.foreach(CaseDetail.duties, duty_row)),
            class_name="board-table", id="duties",
            style={"border_collapse": "collapse", "width": "100%"},
        ), style={"overflow_x": "auto"}),
        rx.el.p("Nothing is owed yet: the victim is not linked to this case in the records system."),
    )


def complete_form(task: rx.Var) -> rx.Component:
    ident = "how-" + task["id"]
    note = "note-" + task["id"]
    label = {"display": "block", "font_weight": "700", "margin_top": "0.5rem"}
    return rx.el.form(
        rx.el.input(type="hidden", name="task_id", value=task["id"]),
        rx.el.label("How was the victim told?", html_for=ident, style=label),
        rx.el.select(
            rx.el.option("Choose…", value=""),
            *[rx.el.option(text, value=key) for key, text in TASK_OUTCOMES.items()],
            id=ident, name="how_told", default_value="", style={**FIELD, "max_width": "100%"},
        ),
        rx.el.label("Note (optional)", html_for=note, style=label),
        rx.el.input(id=note, name="note", type="text", max_length=300, autocomplete="off",
                    style={**FIELD, "width": "100%", "max_width": "32rem", "box_sizing": "border-box"}),
        rx.el.div(rx.el.button("Mark as done", type="submit", style=BUTTON), style={"margin_top": "0.75rem"}),
        on_submit=CaseDetail.complete_task,
        class_name="complete-task",
        style={"margin_top": "0.5rem", "padding_top": "0.5rem", "border_top": "1px solid #b1b4b6"},
    )


def task_card(task: rx.Var) -> rx.Component:
    small = {"margin": "0.15rem 0", "font_size": "0.95rem"}
    return rx.el.li(
        rx.el.div(
            rx.el.strong(task["title"]),
            tone_badge(task["status_label"], task["tone"]),
            style={"display": "flex", "flex_wrap": "wrap", "gap": "0.5rem", "align_items": "baseline"},
        ),
        rx.el.p("For ", task["assignee"], rx.cond(task["due"] != "", rx.el.span(", due by ", task["due"])),
                style=small),
        rx.el.p(task["detail"], style={**small, "color": MUTED}),
        rx.cond(task["escalated"] != "", rx.el.p(rx.el.strong(task["escalated"]), style=small)),
        rx.cond(task["open"] != "yes", rx.el.p(
            rx.el.span(task["result"]),
            rx.cond(task["completed_by"] != "", rx.el.span(", recorded by ", task["completed_by"])),
            rx.cond(task["completed"] != "", rx.el.span(", ", task["completed"])),
            rx.cond(task["outcome"] != "", rx.el.span(". ", task["outcome"])),
            style=small)),
        rx.cond((task["open"] == "yes") & CaseDetail.can_complete, complete_form(task)),
        data_task=task["id"],
        data_status=task["status"],
        class_name="task",
        style={"border": "1px solid #b1b4b6", "border_left": f"5px solid {ACCENT}", "padding": "0.75rem",
               "margin_bottom": "0.75rem", "list_style": "none"},
    )


def tasks_section() -> rx.Component:
    alert = {"padding": "0.5rem 0.75rem", "font_weight": "700", "color": "#0b0c0c"}
    return rx.fragment(
        rx.el.h2("Tasks for people", style=H2),
        rx.cond(CaseDetail.error != "", rx.el.p(CaseDetail.error, role="alert", id="task-error",
                                                 style={**alert, "border_left": f"6px solid {WARNING}"})),
        rx.cond(CaseDetail.notice != "", rx.el.p(CaseDetail.notice, role="status", id="task-notice",
                                                  style={**alert, "border_left": "6px solid #00703c"})),
        rx.cond(CaseDetail.tasks.length() > 0,
                rx.el.ul(rx.foreach(CaseDetail.tasks, task_card), style={"padding": "0", "margin": "0"}),
                rx.el.p("No tasks: automation is telling the victim.")),
    )


def timeline_item(item: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.div(rx.el.strong(item["when"]), rx.el.span(" · ", item["audience"], style={"color": MUTED})),
        rx.cond(item["text"] != "", rx.el.div(item["text"])),
        rx.cond(item["staff_text"] != "", rx.el.div(item["staff_text"], style={"color": MUTED})),
        style={"margin_bottom": "0.6rem"},
    )


# ---- the victim portal --------------------------------------------------------------------------------------

AUTHOR_STYLE = {"victim": "#f3f2f1", "officer": "#e8f1f8", "auto": "white"}


def portal_message(m: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.div(rx.el.strong(m["label"]), rx.el.span(" · ", m["when"], " · ", m["via"], style={"color": MUTED}),
                  rx.cond(CaseDetail.portal_victims.length() > 1, rx.el.span(" · ", m["victim"],
                                                                            style={"color": MUTED})),
                  rx.cond(m["unread"] == "yes", rx.el.span(" · ", rx.el.strong("Not answered yet")))),
        # Text as the victim wrote it: Reflex escapes it; pre-wrap keeps their line breaks.
        rx.el.div(m["body"], class_name="staff-portal-message-body", style={"white_space": "pre-wrap"}),
        class_name="staff-portal-message",
        data_author=m["author"],
        style={"padding": "0.5rem 0.75rem", "margin_bottom": "0.5rem", "list_style": "none",
               "border": "1px solid #b1b4b6",
               "background": rx.match(m["author"], *AUTHOR_STYLE.items(), "white")},
    )


def victim_choice(name: str, ident: str) -> rx.Component:
    """Which victim (a choice only when the case has several)."""
    return rx.cond(
        CaseDetail.portal_victims.length() > 1,
        rx.el.div(
            rx.el.label("Which victim?", html_for=ident, style={"display": "block", "font_weight": "700"}),
            rx.el.select(rx.foreach(CaseDetail.portal_victims,
                                    lambda v: rx.el.option(v["label"], value=v["case_victim_id"])),
                         id=ident, name=name, style={**FIELD, "max_width": "100%"}),
            style={"margin_bottom": "0.5rem"},
        ),
        rx.el.input(type="hidden", name=name, value=CaseDetail.portal_victims[0]["case_victim_id"]),
    )


def reply_form() -> rx.Component:
    return rx.el.form(
        victim_choice("case_victim_id", "portal-reply-victim"),
        rx.el.label("Reply to the victim (they read it in the portal; a text or email tells them it is waiting, "
                    "without what it says)", html_for="portal-reply-text",
                    style={"display": "block", "font_weight": "700"}),
        rx.el.textarea(id="portal-reply-text", name="text", rows=4, max_length=2000,
                       style={**FIELD, "width": "100%", "max_width": "40rem", "box_sizing": "border-box"}),
        rx.el.div(rx.el.button("Send reply", type="submit", id="portal-reply-send", style=BUTTON),
                  style={"margin_top": "0.5rem"}),
        on_submit=CaseDetail.reply_to_victim,
        id="portal-reply-form",
        style={"margin": "0.75rem 0"},
    )


def access_row(v: rx.Var) -> rx.Component:
    small_button = {**BUTTON, "background": "#505a5f", "box_shadow": "none", "font_size": "0.9rem"}
    return rx.el.li(
        rx.el.strong(v["label"]), ": ", rx.el.span(v["access"], class_name="portal-access"),
        rx.cond(CaseDetail.can_reply, rx.el.div(
            rx.el.form(rx.el.input(type="hidden", name="case_victim_id", value=v["case_victim_id"]),
                       rx.el.button(rx.cond(v["invited"] == "yes", "Send a new link", "Invite to the portal"),
                                    type="submit", class_name="portal-invite", style=small_button),
                       on_submit=CaseDetail.invite_to_portal, style={"display": "inline"}),
            rx.cond(v["invited"] == "yes", rx.el.form(
                rx.el.input(type="hidden", name="case_victim_id", value=v["case_victim_id"]),
                rx.el.button("End portal access", type="submit", class_name="portal-revoke",
                             style={**small_button, "background": WARNING}),
                on_submit=CaseDetail.revoke_portal, style={"display": "inline"})),
            style={"display": "flex", "gap": "0.5rem", "margin_top": "0.3rem"})),
        data_case_victim=v["case_victim_id"],
        style={"margin_bottom": "0.6rem"},
    )


def small_table(rows, columns: list[tuple[str, str]], ident: str) -> rx.Component:
    return rx.el.div(rx.el.table(
        rx.el.thead(rx.el.tr(*[rx.el.th(h, scope="col", style=HEAD) for h, _ in columns])),
        rx.el.tbody(rx.foreach(rows, lambda r: rx.el.tr(*[_cell(h, r[k]) for h, k in columns]))),
        id=ident, class_name="board-table", style={"border_collapse": "collapse", "width": "100%"},
    ), style={"overflow_x": "auto"})


def portal_section() -> rx.Component:
    alert = {"padding": "0.5rem 0.75rem", "font_weight": "700", "color": "#0b0c0c"}
    return rx.el.section(
        rx.el.h2("The victim's portal", style=H2),
        rx.el.ul(rx.foreach(CaseDetail.portal_victims, access_row), style={"padding": "0"}, id="portal-access"),
        rx.cond(CaseDetail.portal_error != "", rx.el.p(CaseDetail.portal_error, role="alert", id="portal-error",
                                                        style={**alert, "border_left": f"6px solid {WARNING}"})),
        rx.cond(CaseDetail.portal_notice != "", rx.el.p(CaseDetail.portal_notice, role="status", id="portal-notice",
                                                         style={**alert, "border_left": "6px solid #00703c"})),
        rx.el.h3("Messages with the victim", style={"font_size": "1.15rem"}),
        rx.cond(CaseDetail.portal_messages.length() > 0,
                rx.el.ol(rx.foreach(CaseDetail.portal_messages, portal_message), id="portal-conversation",
                         style={"padding": "0", "margin": "0"}),
                rx.el.p("No messages yet.", id="portal-conversation-empty")),
        rx.cond(CaseDetail.can_reply & (CaseDetail.portal_victims.length() > 0), reply_form()),
        rx.el.h3("Preferences the victim changed", style={"font_size": "1.15rem"}),
        rx.cond(CaseDetail.preference_changes.length() > 0,
                small_table(CaseDetail.preference_changes, [("When", "when"), ("Victim", "victim"),
                                                            ("Setting", "setting"), ("Was", "old"), ("Now", "new"),
                                                            ("By", "by")], "preference-changes"),
                rx.el.p("None.")),
        rx.el.h3("Survey answers", style={"font_size": "1.15rem"}),
        rx.cond(CaseDetail.survey_answers.length() > 0,
                small_table(CaseDetail.survey_answers, [("About", "subject"), ("Victim", "victim"),
                                                        ("Status", "status"), ("Kept informed (1-5)", "informed"),
                                                        ("Overall (1-5)", "overall"), ("Comment", "comment")],
                            "survey-answers"),
                rx.el.p("None yet.")),
        id="portal-side",
    )


def case_content() -> rx.Component:
    return rx.fragment(
        rx.el.p(rx.el.a("All open cases", href="/cases"), style={"margin": "0"}),
        rx.cond(
            CaseDetail.found,
            rx.fragment(
                case_header(),
                rx.el.h2("What the victim is owed", style=H2),
                duties_table(),
                rx.cond(CaseDetail.can_agree, frequency_form()),
                tasks_section(),
                rx.el.h2("Timeline", style=H2),
                rx.cond(CaseDetail.timeline.length() > 0,
                        rx.el.ol(rx.foreach(CaseDetail.timeline, timeline_item),
                                 style={"padding_left": "1.2rem"}, id="timeline"),
                        rx.el.p("Nothing yet.")),
                rx.el.h2("Messages to the victim about this case", style=H2),
                rx.cond(CaseDetail.messages.length() > 0, message_table(CaseDetail.messages),
                        rx.el.p("No messages.")),
                portal_section(),
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
