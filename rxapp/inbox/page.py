"""`/inbox`: the officer's home page - today's work first. Replies to victims waiting (with unread counts and the
reply deadline the automatic answer promised; overdue ones first and marked), tasks by deadline (overdue first),
and duties falling due; each row with the victim's name, how and in what language to reach them, contact notes
and safety flags. Opening a conversation shows it whole beside a reply box with the force's reusable wording.
Plain `rx.el` in the shared frame (rxapp/ui/layout.py). A status always has its words; colour only repeats them."""
from __future__ import annotations

import reflex as rx

from rxapp.attendance.board_page import sign_out
from rxapp.inbox.state import Inbox
from rxapp.investigation.case_pages import AUTHOR_STYLE, BUTTON, FIELD, H2, MUTED, signed_in, tone_badge
from rxapp.staff.states import StaffState
from rxapp.ui.layout import page

CARD = {"border": "1px solid #b1b4b6", "padding": "0.6rem 0.75rem", "margin": "0 0 0.6rem", "list_style": "none"}
OVERDUE_CARD = {**CARD, "border_left": "6px solid #d4351c"}
SMALL = {"color": MUTED, "font_size": "0.95rem"}
LINK_BUTTON = {**BUTTON, "background": "#1d70b8", "box_shadow": "0 2px 0 #003078"}
GREY_BUTTON = {**BUTTON, "background": "#505a5f", "box_shadow": "none"}


def victim_line(r: rx.Var) -> rx.Component:
    """Who the victim is and how to reach them safely: beside every row."""
    return rx.el.div(
        rx.el.div(rx.el.strong(r["victim_name"]), " · ", r["channel"], " · ", r["language"], class_name="inbox-victim"),
        rx.el.div("Contact notes: ", r["contact_notes"], style=SMALL),
        rx.el.div("Safety: ", r["safety"], " · ", tone_badge(r["safe_contact"], r["safety_tone"]),
                  class_name="inbox-safety", style={**SMALL, "margin_top": "0.2rem"}),
    )


def case_link(r: rx.Var) -> rx.Component:
    return rx.cond(r["occurrence_number"] != "",
                   rx.el.a(r["case"], href="/case?occ=" + r["occurrence_number"], class_name="inbox-case",
                           style={"text_decoration": "underline", "font_weight": "700"}),
                   rx.el.span(r["case"]))


def conversation_card(r: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.div(
            case_link(r), " · ",
            rx.cond(r["unread"] != "0", tone_badge(r["unread_words"], "warn"), rx.el.span(r["unread_words"])),
            " · ", tone_badge(r["reply_by"], r["tone"]),
            style={"display": "flex", "flex_wrap": "wrap", "gap": "0.35rem", "align_items": "center"}),
        victim_line(r),
        rx.el.button("Open conversation", type="button", class_name="inbox-open",
                     on_click=Inbox.open_conversation(r["case_victim_id"]),
                     aria_label="Open conversation with " + r["victim_name"] + ", case " + r["case"],
                     style={**LINK_BUTTON, "margin_top": "0.4rem"}),
        class_name="inbox-conversation", data_case_victim=r["case_victim_id"], data_tone=r["tone"],
        style=rx.cond(r["tone"] == "bad", OVERDUE_CARD, CARD),
    )


def task_card(r: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.div(rx.el.strong(r["title"]), " · ", tone_badge(r["due"], r["tone"]),
                  rx.cond(r["escalated"] != "", rx.el.span(" · ", tone_badge(r["escalated"], "bad"))),
                  style={"display": "flex", "flex_wrap": "wrap", "gap": "0.35rem", "align_items": "center"}),
        rx.el.div(case_link(r), " ", r["classification"], style=SMALL),
        rx.cond(r["detail"] != "", rx.el.div(r["detail"], style={"margin": "0.2rem 0"})),
        victim_line(r),
        class_name="inbox-task", data_tone=r["tone"],
        style=rx.cond(r["tone"] == "bad", OVERDUE_CARD, CARD),
    )


def duty_card(r: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.div(rx.el.strong(r["title"]), " · ", tone_badge(r["due"], r["tone"]),
                  style={"display": "flex", "flex_wrap": "wrap", "gap": "0.35rem", "align_items": "center"}),
        rx.el.div(case_link(r), " · ", r["right"], " · ", r["with_person"], style=SMALL),
        victim_line(r),
        class_name="inbox-duty", data_tone=r["tone"],
        style=rx.cond(r["tone"] == "bad", OVERDUE_CARD, CARD),
    )


def section(title: str, ident: str, rows, card, empty: str, count_key: str) -> rx.Component:
    return rx.el.section(
        rx.el.h2(title, " (", Inbox.counts.get(count_key, "0"), ")", style=H2, id=ident + "-heading"),
        rx.cond(rows.length() > 0,
                rx.el.ul(rx.foreach(rows, card), id=ident, style={"padding": "0", "margin": "0"}),
                rx.el.p(empty, style=SMALL)),
        aria_labelledby=ident + "-heading",
    )


def message_item(m: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.div(rx.el.strong(m["label"]), rx.el.span(" · ", m["when"], " · ", m["via"], style={"color": MUTED})),
        rx.el.div(m["body"], class_name="inbox-message-body", style={"white_space": "pre-wrap"}),
        class_name="inbox-message", data_author=m["author"],
        style={**CARD, "background": rx.match(m["author"], *AUTHOR_STYLE.items(), "white")},
    )


def conversation_panel() -> rx.Component:
    head = Inbox.open_head
    return rx.el.section(
        rx.el.h2("Conversation: ", head["victim_name"], ", case ", head["case"], id="conversation-heading",
                 tab_index=-1, style=H2),
        victim_line(head),
        rx.el.p("Reply expected: ", tone_badge(head["reply_by"], head["tone"]), id="inbox-reply-by",
                style={"margin": "0.4rem 0"}),
        rx.el.ol(rx.foreach(Inbox.messages, message_item), id="inbox-messages", style={"padding": "0"}),
        rx.cond(Inbox.wordings.length() > 0, rx.el.form(
            rx.el.label("Reusable wording", html_for="inbox-wording", style={"display": "block", "font_weight": "700"}),
            rx.el.div(
                rx.el.select(rx.foreach(Inbox.wordings, lambda w: rx.el.option(w["title"], value=w["key"])),
                             id="inbox-wording", name="wording", style={**FIELD, "max_width": "100%"}),
                rx.el.button("Insert into reply", type="submit", id="inbox-insert", style=GREY_BUTTON),
                style={"display": "flex", "flex_wrap": "wrap", "gap": "0.5rem"}),
            on_submit=Inbox.insert_wording, id="inbox-wording-form", style={"margin": "0.5rem 0"})),
        rx.cond(Inbox.wording_error != "", rx.el.p(Inbox.wording_error, role="status")),
        rx.el.form(
            rx.el.input(type="hidden", name="case_victim_id", value=Inbox.open_id),
            rx.el.label("Your reply (the victim reads it in the portal; a text or email tells them it is waiting, "
                        "without what it says). Edit any wording before you send it.", html_for="inbox-reply-text",
                        style={"display": "block", "font_weight": "700"}),
            rx.el.textarea(id="inbox-reply-text", name="text", rows=6, max_length=2000,
                           on_blur=Inbox.keep_draft,
                           style={**FIELD, "width": "100%", "box_sizing": "border-box"}),
            rx.el.div(rx.el.button("Send reply", type="submit", id="inbox-send", style=BUTTON),
                      rx.el.button("Close conversation", type="button", on_click=Inbox.close_conversation,
                                   style=GREY_BUTTON),
                      style={"display": "flex", "flex_wrap": "wrap", "gap": "0.5rem", "margin_top": "0.5rem"}),
            on_submit=Inbox.send_reply, id="inbox-reply-form",
        ),
        rx.cond(Inbox.error != "", rx.el.p(Inbox.error, role="alert", id="inbox-reply-error",
                                           style={"color": "#d4351c", "font_weight": "700"})),
        id="inbox-conversation-panel",
        style={"border": "2px solid #0b0c0c", "padding": "0.75rem", "margin": "1rem 0"},
    )


def inbox_content() -> rx.Component:
    return rx.fragment(
        rx.el.h1("Today's work", style={"font_size": "1.6rem", "margin": "0 0 0.25rem"}),
        rx.el.p("Your own cases (you are the officer in charge) and the tasks given to you. Overdue first.",
                style=SMALL),
        rx.cond(Inbox.loaded & (Inbox.collar == ""),
                rx.el.p("Your account has no collar number, so no work shows as yours: ask an administrator to add "
                        "it.", role="status")),
        rx.el.p(rx.cond(Inbox.notice != "", Inbox.notice, ""), id="inbox-notice", role="status", tab_index=-1,
                style={"font_weight": "700", "color": "#005a30"}),
        rx.cond((Inbox.error != "") & (Inbox.open_id == ""),
                rx.el.p(Inbox.error, role="alert", style={"color": "#d4351c", "font_weight": "700"})),
        rx.cond(Inbox.open_id != "", conversation_panel()),
        section("Victims waiting for a reply", "inbox-conversations", Inbox.conversations, conversation_card,
                "No victim is waiting for a reply from you.", "conversations"),
        section("Your tasks", "inbox-tasks", Inbox.tasks, task_card, "No open tasks.", "tasks"),
        section("Duties falling due in the next three working days", "inbox-duties", Inbox.duties, duty_card,
                "Nothing falls due on your cases in the next three working days.", "duties"),
        rx.el.p(rx.el.a("All open cases I may see", href="/cases"), style={"margin_top": "1.5rem"}),
    )


def inbox_page() -> rx.Component:
    return page("Inbox: today's work", signed_in(inbox_content()),
                right=rx.cond(StaffState.role != "", sign_out(), rx.fragment()))
