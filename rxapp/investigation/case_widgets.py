"""What the staff case pages (`case_pages.py`, `case_portal_page.py`) share: styles, a table cell that labels
itself on a phone, a status badge in words, the answer a form gives beside its button, a fact, and a part of
a case's history folded away until asked for."""
from __future__ import annotations

import reflex as rx

from rxapp.staff.states import StaffState
from rxapp.ui.layout import WARNING

CELL = {"padding": "0.45rem", "border_bottom": "1px solid #b1b4b6", "vertical_align": "top"}
HEAD = {"text_align": "left", "padding": "0.45rem", "border_bottom": "2px solid #0b0c0c"}
H2 = {"font_size": "1.25rem", "margin": "1.5rem 0 0.5rem"}
H3 = {"font_size": "1.1rem", "margin": "0"}
GOOD = "#00703c"
# A status always shows its words; the colour only repeats them. Each pair is at least 4.5:1.
TONE_STYLE = {
    "good": {"background": "#cce2d8", "color": "#005a30"},
    "warn": {"background": "#fff7bf", "color": "#594d00", "outline": "1px solid #594d00"},
    "bad": {"background": WARNING, "color": "white"},
    "neutral": {"background": "#f3f2f1", "color": "#0b0c0c", "outline": "1px solid #b1b4b6"},
}
NOWRAP = {"white_space": "nowrap"}
BADGE = {"padding": "0.1rem 0.45rem", "font_weight": "700", "display": "inline-block"}
FIELD = {"padding": "0.4rem", "border": "2px solid #0b0c0c", "font_size": "1rem", "background": "white",
         "color": "#0b0c0c"}
BUTTON = {"background": GOOD, "color": "white", "padding": "0.45rem 1rem", "border": "none",
          "font_size": "1rem", "cursor": "pointer", "box_shadow": "0 2px 0 #002d18"}
SMALL = {"margin": "0.15rem 0", "font_size": "0.95rem"}


def cell(label: str, *children) -> rx.Component:
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


def feedback(ident, words, tone) -> rx.Component:
    """What a form said, right by its button: always in the page (so a screen reader hears it change), empty
    until the form is used."""
    return rx.el.p(
        words,
        id=ident,
        aria_live="polite",
        class_name="form-feedback",
        data_tone=tone,
        style={"margin": "0.5rem 0 0", "font_weight": "700", "color": "#0b0c0c",
               "padding_left": rx.cond(words != "", "0.6rem", "0"),
               "border_left": rx.cond(tone == "error", f"5px solid {WARNING}",
                                      rx.cond(words != "", f"5px solid {GOOD}", "none"))},
    )


def fact(term: str, *value) -> rx.Component:
    return rx.el.div(
        rx.el.dt(term, style={"font_weight": "700"}),
        rx.el.dd(*value, style={"margin": "0"}),
        style={"padding": "0.35rem 0", "border_bottom": "1px solid #b1b4b6"},
    )


FACTS_GRID = {"display": "grid", "grid_template_columns": "repeat(auto-fit, minmax(15rem, 1fr))",
              "column_gap": "1.5rem", "margin": "0.5rem 0 1rem"}


def history_part(title, count, ident: str, *children) -> rx.Component:
    """A part of the case's history, folded away until asked for: the page leads with what to do."""
    return rx.el.details(
        rx.el.summary(rx.el.strong(title), " (", count, ")",
                      style={"cursor": "pointer", "padding": "0.5rem 0", "font_size": "1.05rem"}),
        rx.el.div(*children, style={"padding": "0.25rem 0 0.75rem"}),
        id=ident,
        style={"border_bottom": "1px solid #b1b4b6"},
    )


def small_table(rows, columns: list[tuple[str, str]], ident: str) -> rx.Component:
    return rx.el.div(rx.el.table(
        rx.el.thead(rx.el.tr(*[rx.el.th(h, scope="col", style=HEAD) for h, _ in columns])),
        rx.el.tbody(rx.foreach(rows, lambda r: rx.el.tr(*[cell(h, r[k]) for h, k in columns]))),
        id=ident, class_name="board-table", style={"border_collapse": "collapse", "width": "100%"},
    ), style={"overflow_x": "auto"})


