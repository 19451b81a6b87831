"""`/track/<link>`: the victim's live arrival page."""
from __future__ import annotations

import reflex as rx

from rxapp.attendance.track_state import TrackPage, TrackView
from rxapp.ui.layout import ACCENT, MUTED, WARNING, page


def danger_box() -> rx.Component:
    return rx.box(
        rx.el.h2("If you are in danger", style={"font_size": "1.1rem", "margin": "0 0 0.25rem"}),
        rx.el.p("Call 999 now. If you cannot speak, call 999 and press 55 when asked."),
        rx.el.p("Deaf, hard of hearing or speech-impaired: text 999 if you have registered with emergencySMS."),
        style={"border_left": f"6px solid {WARNING}", "padding": "0.75rem 1rem", "background": "#fdf2f0",
               "margin": "1.25rem 0"},
        role="region",
        aria_label="If you are in danger",
    )


def step_item(step: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.span(rx.cond(step["day"] != "today", step["day"] + " ", ""), step["time"],
                   style={"font_weight": "700", "flex": "0 0 auto"}),
        rx.el.span(step["text"]),
        style={"padding": "0.45rem 0", "border_bottom": "1px solid #b1b4b6", "display": "flex", "gap": "0.75rem"},
    )


def arrival_panel() -> rx.Component:
    return rx.cond(
        TrackView.eta_text != "",
        rx.box(
            rx.el.p("Expected arrival", style={"margin": "0", "font_size": "0.95rem", "color": MUTED}),
            rx.el.p(TrackView.eta_text, id="eta-text",
                    style={"font_size": "1.9rem", "font_weight": "700", "margin": "0.1rem 0"}),
            rx.el.p(TrackView.eta_clock, style={"margin": "0", "font_size": "1.1rem"}),
            rx.cond(TrackView.eta_stale,
                    rx.el.p("We have not had an update from the officer for a little while, so this window is wider.",
                            style={"margin": "0.4rem 0 0", "color": MUTED})),
            style={"border": f"3px solid {ACCENT}", "padding": "0.75rem 1rem", "margin": "1rem 0"},
        ),
        rx.fragment(),
    )


def valid_page() -> rx.Component:
    return rx.fragment(
        rx.el.div(
            rx.el.h1(TrackView.status_label, id="status-label",
                     style={"font_size": "1.75rem", "margin": "0.25rem 0 0.5rem", "line_height": "1.2"}),
            arrival_panel(),
            rx.cond(TrackView.appointment != "", rx.el.p(TrackView.appointment, style={"font_size": "1.1rem"})),
            rx.cond(TrackView.waiting != "", rx.el.p(TrackView.waiting)),
            rx.cond(
                TrackView.crime_reference != "",
                rx.box(
                    rx.el.p("Your crime reference", style={"margin": "0", "color": MUTED}),
                    rx.el.p(TrackView.crime_reference, id="crime-reference",
                            style={"font_size": "1.4rem", "font_weight": "700", "margin": "0"}),
                    rx.el.p("Keep this number. Quote it if you contact us about this crime. "
                            "The officer in charge will tell you what happens next."),
                    style={"border": "2px solid #0b0c0c", "padding": "0.75rem 1rem", "margin": "1rem 0"},
                ),
            ),
            rx.el.p("Updated at ", TrackView.updated, ". This page updates by itself.",
                    style={"color": MUTED, "font_size": "0.95rem"}),
            aria_live="polite",
        ),
        rx.el.h2("What has happened", style={"font_size": "1.25rem", "margin": "1.25rem 0 0.25rem"}),
        rx.el.ol(rx.foreach(TrackView.steps, step_item), style={"list_style": "none", "padding": "0", "margin": "0"}),
        danger_box(),
        rx.el.p("To add information or if things change, call 101 and quote the crime reference if you have one. "
                "For your safety this page never shows where the officer is."),
    )


def invalid_page() -> rx.Component:
    return rx.fragment(
        rx.el.h1("This link has expired or is not valid", style={"font_size": "1.6rem"}),
        rx.el.p("Links to follow an officer's visit work until 24 hours after the visit ends."),
        rx.el.p("If you still need help, call 101. If you are in danger, call 999."),
    )


def track_page() -> rx.Component:
    return page(
        "Your police visit",
        rx.cond(
            TrackPage.checked,
            rx.cond(TrackPage.valid & ~TrackView.ended, valid_page(), invalid_page()),
            rx.el.p("Loading your visit…", aria_busy="true"),
        ),
    )
