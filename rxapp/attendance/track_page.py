"""`/track/<link>`: the victim's live arrival page, in the victim's language.

Every word comes from `TrackView` (built by `views.victim_view` from rxapp/languages), except the answer to a
link that is not valid, which cannot know whose language it is and is English (from en.toml). While the socket
is down the page says so ("Reconnecting…", with the time it was last updated) instead of "updates by itself".
The server's snapshot of the page (rxapp/attendance/track_html.py) shows until this page has its state: it is
hidden by CSS once `#track-live` or `#track-invalid` is in the document.
"""
from __future__ import annotations

import reflex as rx
from reflex_components_core.core.banner import has_connection_errors

from rxapp import languages
from rxapp.attendance.track_state import TrackPage, TrackView
from rxapp.ui.layout import ACCENT, MUTED, WARNING, page

L = TrackView.labels
ENGLISH = languages.texts("en")
# Urdu and Arabic in the fonts phones have for them (Nastaliq, where there is one, wants taller lines).
RTL_STYLE = ("".join(f"[lang={lang}]{{{rule}}}" for lang, rule in (
                 ("ur", "font-family:'Noto Nastaliq Urdu','Noto Naskh Arabic','Urdu Typesetting',system-ui,sans-serif;"
                        "line-height:1.9"),
                 ("ar", "font-family:'Noto Naskh Arabic','Geeza Pro','Arabic Typesetting',system-ui,sans-serif"))))
BIG_LINK = {"display": "inline-block", "font_weight": "700", "font_size": "1.15rem", "padding": "0.5rem 0.9rem",
            "margin": "0.25rem 0", "border": "2px solid currentColor", "border_radius": "4px",
            "text_decoration": "none"}


def danger_box() -> rx.Component:
    return rx.el.div(
        rx.el.h2(L["danger.heading"], style={"font_size": "1.1rem", "margin": "0 0 0.25rem"}),
        rx.el.a(L["danger.call"], href="tel:999", id="call-999", style={**BIG_LINK, "color": "#942514"}),
        rx.el.p(L["danger.silent"], style={"margin": "0.5rem 0 0.25rem"}),
        rx.el.p(L["danger.text"], style={"margin": "0"}),
        style={"border_inline_start": f"6px solid {WARNING}", "padding": "0.75rem 1rem", "background": "#fdf2f0",
               "margin": "1.25rem 0"},
        role="region",
        aria_label=L["danger.heading"],
    )


def contact_box() -> rx.Component:
    return rx.el.div(
        rx.el.h2(L["contact.heading"], style={"font_size": "1.1rem", "margin": "0 0 0.25rem"}),
        rx.el.p(L["contact.text"], style={"margin": "0 0 0.25rem"}),
        rx.el.a(L["contact.call"], href="tel:101", id="call-101", style={**BIG_LINK, "color": ACCENT}),
        rx.el.p(L["page.privacy"], style={"color": MUTED, "margin": "0.75rem 0 0"}),
        style={"margin": "1.25rem 0"},
    )


def step_item(step: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.span(rx.cond(step["today"] == "1", "", step["day"] + " "), rx.el.bdi(step["time"]),
                   style={"font_weight": "700", "flex": "0 0 auto"}),
        # A step on another day says the day ("Tuesday 1 December 23:39"): the words then go under it rather than
        # squeezing into a column too narrow to read, or past the edge of a 320 px screen.
        rx.el.span(step["text"], style={"flex": "1 1 12rem", "min_width": "0"}),
        style={"padding": "0.45rem 0", "border_bottom": "1px solid #b1b4b6", "display": "flex", "gap": "0 0.75rem",
               "flex_wrap": "wrap"},
    )


def arrival_panel() -> rx.Component:
    return rx.cond(
        TrackView.eta_text != "",
        rx.el.div(
            rx.el.p(L["page.expected_arrival"], style={"margin": "0", "font_size": "0.95rem", "color": MUTED}),
            rx.el.p(TrackView.eta_clock, id="eta-clock",
                    style={"font_size": "1.6rem", "font_weight": "700", "margin": "0.1rem 0"}),
            rx.el.p(TrackView.eta_text, id="eta-text", style={"margin": "0", "font_size": "1.1rem"}),
            rx.cond(TrackView.eta_stale,
                    rx.el.p(L["page.stale_window"], style={"margin": "0.4rem 0 0", "color": MUTED})),
            style={"border": f"3px solid {ACCENT}", "padding": "0.75rem 1rem", "margin": "1rem 0"},
        ),
    )


def crime_reference_box() -> rx.Component:
    return rx.cond(
        TrackView.crime_reference != "",
        rx.el.div(
            rx.el.p(L["page.crime_reference"], style={"margin": "0", "color": MUTED}),
            rx.el.p(rx.el.bdi(TrackView.crime_reference), id="crime-reference",
                    style={"font_size": "1.4rem", "font_weight": "700", "margin": "0"}),
            rx.el.p(L["page.keep_reference"], style={"margin": "0.25rem 0 0"}),
            style={"border": "2px solid #0b0c0c", "padding": "0.75rem 1rem", "margin": "1rem 0"},
        ),
    )


def connection_line() -> rx.Component:
    """"Updated at 10:05. This page updates by itself", or, while the socket is down, that it is not."""
    return rx.cond(
        has_connection_errors,
        rx.el.div(
            rx.el.p(L["page.reconnecting_heading"], style={"font_weight": "700", "margin": "0"}),
            rx.el.p(TrackView.reconnecting_text, style={"margin": "0"}),
            id="reconnecting", role="status",
            style={"border": "2px solid #0b0c0c", "background": "#fff7bf", "padding": "0.5rem 0.75rem",
                   "margin": "0.5rem 0"},
        ),
        rx.el.p(TrackView.live_text, id="live-line", style={"color": MUTED, "font_size": "0.95rem"}),
    )


def advice_box() -> rx.Component:
    return rx.cond(
        TrackView.advice.length() > 0,
        rx.el.div(
            rx.el.h2(L["advice.heading"], style={"font_size": "1.25rem", "margin": "1.25rem 0 0.25rem"}),
            rx.el.ul(rx.foreach(TrackView.advice, lambda item: rx.el.li(item, style={"margin": "0.3rem 0"})),
                     style={"padding_inline_start": "1.25rem", "margin": "0"}),
            id="advice",
        ),
    )


def support_item(contact: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.p(contact["name"], style={"font_weight": "700", "margin": "0"}),
        rx.cond(contact["about"] != "", rx.el.p(contact["about"], style={"margin": "0.1rem 0"})),
        rx.cond(contact["tel"] != "",
                rx.el.a(contact["call"], href=contact["tel"], style={"margin_inline_end": "1rem"})),
        rx.cond(contact["url"] != "", rx.el.a(L["after.support_web"], href=contact["url"], rel="noopener")),
        style={"margin": "0.6rem 0"},
    )


def portal_box() -> rx.Component:
    """Once a crime is recorded and the victim is invited to the portal: where to read the case and write to the
    officer in charge."""
    return rx.cond(
        TrackView.portal_url != "",
        rx.el.div(
            rx.el.p(L["after.portal_text"], style={"margin": "0 0 0.5rem"}),
            rx.el.a(L["after.portal_open"], href=TrackView.portal_url, id="portal-link",
                    style={**BIG_LINK, "color": ACCENT}),
            id="portal-offer",
            style={"border": f"3px solid {ACCENT}", "padding": "0.75rem 1rem", "margin": "1rem 0"},
        ),
    )


def after_box() -> rx.Component:
    return rx.cond(
        TrackView.after.length() > 0,
        rx.el.div(
            rx.el.h2(L["after.heading"], style={"font_size": "1.25rem", "margin": "1.25rem 0 0.25rem"}),
            rx.foreach(TrackView.after, lambda item: rx.el.p(item)),
            portal_box(),
            rx.cond(
                TrackView.support.length() > 0,
                rx.fragment(
                    rx.el.h2(L["after.support_heading"], style={"font_size": "1.25rem", "margin": "1rem 0 0.25rem"}),
                    rx.el.p(L["after.support_intro"]),
                    rx.el.ul(rx.foreach(TrackView.support, support_item),
                             style={"list_style": "none", "padding": "0", "margin": "0"}),
                ),
            ),
            id="after",
        ),
    )


def valid_page() -> rx.Component:
    return rx.el.div(
        rx.el.div(
            rx.el.h1(TrackView.status_label, id="status-label",
                     style={"font_size": "1.75rem", "margin": "0.25rem 0 0.5rem", "line_height": "1.2"}),
            rx.foreach(TrackView.explain, lambda line: rx.el.p(line, class_name="explain")),
            arrival_panel(),
            crime_reference_box(),
            connection_line(),
            aria_live="polite",
        ),
        danger_box(),
        advice_box(),
        after_box(),
        rx.el.h2(L["page.history"], style={"font_size": "1.25rem", "margin": "1.25rem 0 0.25rem"}),
        rx.el.ol(rx.foreach(TrackView.steps, step_item), style={"list_style": "none", "padding": "0", "margin": "0"}),
        contact_box(),
        id="track-live",
    )


def invalid_page() -> rx.Component:
    return rx.el.div(
        rx.el.h1(ENGLISH["page.invalid_heading"], style={"font_size": "1.6rem"}),
        rx.el.p(ENGLISH["page.invalid_ttl"]),
        rx.el.p(ENGLISH["page.invalid_help"]),
        id="track-invalid",
    )


def track_page() -> rx.Component:
    live = TrackPage.valid & ~TrackView.ended
    return rx.el.div(
        rx.el.style(RTL_STYLE),
        page(
            rx.cond(live, L["page.title"], ENGLISH["page.title"]),
            rx.cond(
                TrackPage.checked,
                rx.cond(live, valid_page(), invalid_page()),
                rx.el.p(ENGLISH["page.loading"], aria_busy="true", id="track-loading"),
            ),
        ),
        lang=rx.cond(live, TrackView.lang, "en"),
        dir=rx.cond(live, TrackView.dir, "ltr"),
    )
