"""The victim portal's side of the staff case page: each victim's access (invite, a new link, end it), the
conversation with the officer and the reply form, and what the victim changed or answered (folded away)."""
from __future__ import annotations

import reflex as rx

from rxapp.investigation.case_state import CaseDetail
from rxapp.investigation.case_widgets import BUTTON, FIELD, H2, history_part, small_table
from rxapp.ui.layout import MUTED, WARNING

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
        portal_said("reply"),
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


def portal_said(by: str) -> rx.Component:
    """What a portal form answered, beside that form's buttons (`by`: "access" or "reply")."""
    alert = {"padding": "0.4rem 0.6rem", "margin": "0.5rem 0", "font_weight": "700", "color": "#0b0c0c"}
    return rx.cond(CaseDetail.portal_by == by, rx.fragment(
        rx.cond(CaseDetail.portal_error != "", rx.el.p(CaseDetail.portal_error, role="alert", id="portal-error",
                                                        style={**alert, "border_left": f"6px solid {WARNING}"})),
        rx.cond(CaseDetail.portal_notice != "", rx.el.p(CaseDetail.portal_notice, role="status", id="portal-notice",
                                                         style={**alert, "border_left": "6px solid #00703c"})),
    ))


def portal_section() -> rx.Component:
    return rx.el.section(
        rx.el.h2("The victim's portal", style=H2),
        rx.el.ul(rx.foreach(CaseDetail.portal_victims, access_row), style={"padding": "0", "margin_bottom": "0"},
                 id="portal-access"),
        portal_said("access"),
        rx.el.h3("Messages with the victim", style={"font_size": "1.15rem"}),
        rx.cond(CaseDetail.portal_messages.length() > 0,
                rx.el.ol(rx.foreach(CaseDetail.portal_messages, portal_message), id="portal-conversation",
                         style={"padding": "0", "margin": "0"}),
                rx.el.p("No messages yet.", id="portal-conversation-empty")),
        rx.cond(CaseDetail.can_reply & (CaseDetail.portal_victims.length() > 0), reply_form()),
        history_part("Preferences the victim changed", CaseDetail.preference_changes.length(), "portal-preferences",
                     rx.cond(CaseDetail.preference_changes.length() > 0,
                             small_table(CaseDetail.preference_changes,
                                         [("When", "when"), ("Victim", "victim"), ("Setting", "setting"),
                                          ("Was", "old"), ("Now", "new"), ("By", "by")], "preference-changes"),
                             rx.el.p("None."))),
        history_part("Survey answers", CaseDetail.survey_answers.length(), "portal-survey",
                     rx.cond(CaseDetail.survey_answers.length() > 0,
                             small_table(CaseDetail.survey_answers,
                                         [("About", "subject"), ("Victim", "victim"), ("Status", "status"),
                                          ("Kept informed (1-5)", "informed"), ("Overall (1-5)", "overall"),
                                          ("Comment", "comment")], "survey-answers"),
                             rx.el.p("None yet."))),
        id="portal-side",
    )


