"""`/portal/case`: the signed-in victim's case, in their language: what the case view says
(rxapp/portal/views.py, words in locales/portal_case/), the conversation with the officer in charge, the
victim's preferences and, when one is offered, the short survey.

Text someone wrote (a message, the classification as recorded) is put in the page as text, never as markup:
React escapes it. Forms are handled by `PortalCase`; the message box keeps what was typed until it has gone.
"""
from __future__ import annotations

import reflex as rx

from rxapp.domain.conversation import MAX_COMMENT_CHARS, MAX_MESSAGE_CHARS
from rxapp.portal.pages import call_link, case_frame, danger_box
from rxapp.portal.states import PortalCase
from rxapp.ui.layout import ACCENT, MUTED

L = PortalCase.labels  # the case content's fixed words
W = PortalCase.words  # the portal's own words
ITEM = {"padding": "0.5rem 0", "border_bottom": "1px solid #b1b4b6"}


def section(ident: str, heading, *children: rx.Component) -> rx.Component:
    return rx.el.section(rx.el.h2(heading, id=ident + "-heading"), *children, id=ident,
                         aria_labelledby=ident + "-heading")


def nav_link(target: str, text) -> rx.Component:
    return rx.el.li(rx.el.a(text, href="#" + target))


def in_page_nav() -> rx.Component:
    return rx.el.nav(
        rx.el.h2(W["page.nav"], style={"font_size": "1.05rem", "margin": "0.5rem 0 0.25rem"}),
        rx.el.ul(
            nav_link("timeline-section", L["timeline_heading"]),
            nav_link("next-steps", L["next_heading"]),
            nav_link("conversation", W["messages.heading"]),
            nav_link("preferences", W["prefs.heading"]),
            nav_link("rights", L["rights_heading"]),
            nav_link("support", L["support_heading"]),
            nav_link("complaints", L["complaints_heading"]),
        ),
        aria_label=W["page.nav"],
        style={"border": f"2px solid {ACCENT}", "padding": "0.5rem 0.9rem", "margin": "1rem 0"},
    )


def summary() -> rx.Component:
    return rx.fragment(
        rx.el.div(
            rx.el.p(L["reference_heading"], style={"margin": "0", "color": MUTED}),
            rx.el.p(rx.el.bdi(PortalCase.reference), style={"font_size": "1.4rem", "font_weight": "700",
                                                            "margin": "0"}),
            rx.el.p(L["reference_keep"], style={"margin": "0.25rem 0 0"}),
            id="case-reference",
            style={"border": "2px solid #0b0c0c", "padding": "0.75rem 1rem", "margin": "1rem 0"},
        ),
        rx.el.p(PortalCase.reported, id="case-reported"),
        section("case-status", L["status_heading"], rx.el.p(PortalCase.status, style={"font_weight": "700"})),
        section("case-oic", L["oic_heading"], rx.el.p(PortalCase.oic)),
    )


def milestone(item: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.p(rx.el.strong(item["title"]), style={"margin": "0"}),
        rx.el.p(rx.el.bdi(item["when"]), class_name="vj-muted", style={"margin": "0"}),
        rx.el.p(item["meaning"], style={"margin": "0.15rem 0 0"}),
        style=ITEM,
    )


def timeline() -> rx.Component:
    return section(
        "timeline-section", L["timeline_heading"],
        rx.cond(PortalCase.timeline.length() > 0, rx.el.p(L["timeline_order"], class_name="vj-muted"),
                rx.el.p(L["timeline_empty"])),
        rx.el.ol(rx.foreach(PortalCase.timeline, milestone), id="timeline",
                 style={"list_style": "none", "padding": "0", "margin": "0"}),
    )


def next_item(item: rx.Var) -> rx.Component:
    return rx.el.li(rx.el.span(item["text"]),
                    rx.cond(item["by"] != "", rx.el.span(" ", rx.el.strong(item["by"]))), style={"margin": "0.3rem 0"})


def next_steps() -> rx.Component:
    return section(
        "next-steps", L["next_heading"],
        rx.cond(PortalCase.next_steps.length() > 0, rx.el.ul(rx.foreach(PortalCase.next_steps, next_item)),
                rx.el.p(L["next_empty"])),
    )


def bullet_list(items: rx.Var) -> rx.Component:
    return rx.el.ul(rx.foreach(items, lambda line: rx.el.li(line, style={"margin": "0.3rem 0"})))


def support_item(contact: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.p(contact["name"], style={"font_weight": "700", "margin": "0"}),
        rx.cond(contact["about"] != "", rx.el.p(contact["about"], style={"margin": "0.1rem 0"})),
        rx.cond(contact["tel"] != "", rx.el.a(contact["call"], href=contact["tel"],
                                              style={"margin_inline_end": "1rem"})),
        rx.cond(contact["url"] != "", rx.el.a(L["support_web"], href=contact["url"], rel="noopener")),
        style={"margin": "0.6rem 0"},
    )


def about_the_case() -> rx.Component:
    return rx.fragment(
        section("rights", L["rights_heading"], rx.el.p(L["rights_intro"]), bullet_list(PortalCase.rights)),
        section("support", L["support_heading"], rx.el.p(L["support_intro"]),
                rx.el.ul(rx.foreach(PortalCase.support, support_item),
                         style={"list_style": "none", "padding": "0", "margin": "0"})),
        section("compensation", L["compensation_heading"], bullet_list(PortalCase.compensation)),
        section("complaints", L["complaints_heading"], bullet_list(PortalCase.complaints)),
        rx.cond(PortalCase.right_to_review.length() > 0,
                section("right-to-review", L["review_heading"], bullet_list(PortalCase.right_to_review))),
    )


def attendance() -> rx.Component:
    return rx.cond(
        PortalCase.has_attendance,
        section(
            "attendance", L["attendance_heading"],
            rx.el.p(PortalCase.attendance["status"]),
            rx.cond(PortalCase.attendance["when"] != "", rx.el.p(PortalCase.attendance["when"], class_name="vj-muted")),
            rx.cond(PortalCase.attendance["url"] != "",
                    rx.el.a(L["attendance_open"], href=PortalCase.attendance["url"], id="attendance-link"),
                    rx.el.p(L["attendance_closed"])),
        ),
    )


# ---- messages ----------------------------------------------------------------------------------------------

def message(item: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.p(rx.el.strong(item["label"]), " ", rx.el.span(rx.el.bdi(item["when"]), class_name="vj-muted"),
                style={"margin": "0"}),
        rx.el.p(item["body"], class_name="portal-message-body",
                style={"white_space": "pre-wrap", "margin": "0.2rem 0 0"}),
        class_name="portal-message",
        data_author=item["author"],
        style={**ITEM, "border_inline_start": rx.cond(item["author"] == "victim", f"4px solid {ACCENT}",
                                                      "4px solid #0b0c0c"),
               "padding_inline_start": "0.75rem", "margin": "0.4rem 0"},
    )


def conversation() -> rx.Component:
    notice_class = rx.cond(PortalCase.message_sent, "vj-notice", "vj-notice vj-warn")
    return section(
        "conversation", W["messages.heading"],
        rx.el.p(W["messages.intro"]),
        rx.cond(PortalCase.messages.length() > 0, rx.fragment(), rx.el.p(W["messages.empty"], class_name="vj-muted")),
        rx.el.ol(rx.foreach(PortalCase.messages, message), id="messages", aria_live="polite",
                 style={"list_style": "none", "padding": "0", "margin": "0"}),
        rx.el.p(W["messages.live"], class_name="vj-muted", style={"font_size": "0.95rem"}),
        rx.el.form(
            rx.el.label(W["messages.label"], html_for="message-text"),
            # Typing past 2,000 shows the counter in red and the send is refused in words; the box stops at
            # twice that, so a paste of a whole document never becomes a socket frame Reflex cuts off.
            rx.el.textarea(id="message-text", name="text", key=PortalCase.draft_key, rows=6,
                           max_length=2 * MAX_MESSAGE_CHARS, aria_describedby="message-counter",
                           on_change=PortalCase.count_draft.debounce(250)),
            rx.el.p(PortalCase.counter_text, id="message-counter",
                    class_name=rx.cond(PortalCase.draft_count > MAX_MESSAGE_CHARS, "vj-over", "vj-muted"),
                    aria_live="polite", style={"margin": "0.2rem 0"}),
            rx.el.button(W["messages.send"], type="submit", id="message-send", class_name="vj-button"),
            on_submit=PortalCase.send_message,
            id="message-form",
        ),
        rx.el.div(
            rx.el.button(W["messages.ask"], type="button", id="ask-update", class_name="vj-button vj-second",
                         on_click=PortalCase.ask_update, aria_describedby="ask-help"),
            rx.el.p(W["messages.ask_help"], id="ask-help", class_name="vj-muted", style={"margin": "0"}),
        ),
        rx.el.div(rx.cond(PortalCase.message_notice != "",
                          rx.el.p(PortalCase.message_notice, class_name=notice_class)),
                  id="message-notice", role="status"),
    )


# ---- preferences -------------------------------------------------------------------------------------------

def option(item: rx.Var) -> rx.Component:
    return rx.el.option(item["label"], value=item["value"])


def select(ident: str, name: str, label, items: rx.Var, current: rx.Var) -> rx.Component:
    return rx.el.div(
        rx.el.label(label, html_for=ident),
        rx.el.select(rx.foreach(items, option), id=ident, name=name, default_value=current,
                     key=PortalCase.pref_version.to_string() + ident),
    )


def checkbox(ident: str, name: str, label, checked: rx.Var) -> rx.Component:
    return rx.el.div(
        rx.el.input(type="checkbox", id=ident, name=name, default_checked=checked,
                    key=PortalCase.pref_version.to_string() + ident),
        rx.el.label(label, html_for=ident),
        class_name="vj-choice",
    )


def preferences() -> rx.Component:
    return section(
        "preferences", W["prefs.heading"],
        rx.el.form(
            select("pref-channel", "channel", W["prefs.channel"], PortalCase.channels, PortalCase.pref_channel),
            select("pref-language", "language", W["prefs.language"], PortalCase.pref_languages,
                   PortalCase.pref_language),
            select("pref-frequency", "every", W["prefs.frequency"], PortalCase.frequencies,
                   PortalCase.pref_frequency),
            rx.el.fieldset(
                rx.el.legend(W["prefs.optout_heading"]),
                checkbox("pref-optout-all", "optout_all", W["prefs.optout_all"], PortalCase.pref_optout_all),
                checkbox("pref-optout-sms", "optout_sms", W["prefs.optout_sms"], PortalCase.pref_optout_sms),
                checkbox("pref-optout-email", "optout_email", W["prefs.optout_email"], PortalCase.pref_optout_email),
            ),
            rx.el.button(W["prefs.save"], type="submit", id="pref-save", class_name="vj-button"),
            on_submit=PortalCase.save_preferences,
            id="preferences-form",
        ),
        rx.el.div(rx.cond(PortalCase.pref_notice != "", rx.el.p(PortalCase.pref_notice, class_name="vj-notice")),
                  id="pref-notice", role="status"),
    )


# ---- the survey --------------------------------------------------------------------------------------------

def scores(name: str, legend) -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend(legend),
        *[rx.el.div(
            rx.el.input(type="radio", id=f"{name}-{n}", name=name, value=str(n)),
            rx.el.label(W[f"survey.score_{n}"], html_for=f"{name}-{n}"),
            class_name="vj-choice",
        ) for n in range(1, 6)],
    )


def survey() -> rx.Component:
    return rx.cond(
        PortalCase.survey_done != "",
        rx.el.div(rx.el.p(rx.cond(PortalCase.survey_done == "thanks", W["survey.thanks"], W["survey.declined"]),
                          class_name="vj-notice"), id="survey-thanks", role="status"),
        rx.cond(
            PortalCase.survey_kind != "",
            section(
                "survey", W["survey.heading"],
                rx.el.p(rx.cond(PortalCase.survey_kind == "case", W["survey.intro_case"],
                                W["survey.intro_attendance"])),
                rx.el.form(
                    scores("informed", W["survey.informed"]),
                    scores("overall", W["survey.overall"]),
                    rx.el.label(W["survey.comment"], html_for="survey-comment"),
                    rx.el.textarea(id="survey-comment", name="comment", rows=4, max_length=2 * MAX_COMMENT_CHARS),
                    rx.el.div(
                        rx.el.button(W["survey.send"], type="submit", id="survey-send", class_name="vj-button"),
                        rx.el.button(W["survey.decline"], type="button", id="survey-decline",
                                     class_name="vj-button vj-second", on_click=PortalCase.decline_survey),
                        style={"display": "flex", "gap": "0.75rem", "flex_wrap": "wrap"},
                    ),
                    on_submit=PortalCase.answer_survey,
                    id="survey-form",
                ),
                rx.cond(PortalCase.survey_notice != "",
                        rx.el.p(PortalCase.survey_notice, class_name="vj-notice vj-warn", role="alert")),
            ),
        ),
    )


def case_content() -> rx.Component:
    return rx.el.div(
        rx.el.h1(L["title"]),
        summary(),
        in_page_nav(),
        timeline(),
        next_steps(),
        attendance(),
        conversation(),
        danger_box(W),
        preferences(),
        survey(),
        about_the_case(),
        rx.el.p(call_link(L["call_101"], "101"), " ", L["contact_text"]),
        id="portal-case",
    )


def case_page() -> rx.Component:
    return case_frame(case_content())

