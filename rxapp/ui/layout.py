"""Page frames: a plain header, a main landmark and a footer, sized for a 320 px phone upwards."""
from __future__ import annotations

import reflex as rx

BRAND = "Cleveland Police"
TEXT = "#0b0c0c"       # GOV.UK text colour, 19:1 on white
MUTED = "#484949"      # 9:1 on white
ACCENT = "#1d70b8"     # 5.2:1 on white
WARNING = "#d4351c"


def header(title: str, right: rx.Component | None = None) -> rx.Component:
    return rx.el.header(
        rx.hstack(
            rx.el.span(BRAND, style={"font_weight": "700", "font_size": "1.05rem"}),
            rx.spacer(),
            right or rx.fragment(),
            align="center",
            width="100%",
        ),
        rx.el.p(title, style={"margin": "0.2rem 0 0", "font_size": "0.95rem"}),
        style={"background": "#0b0c0c", "color": "white", "padding": "0.75rem 1rem",
               "border_bottom": f"6px solid {ACCENT}"},
    )


def page(title: str, *children: rx.Component, wide: bool = False, right: rx.Component | None = None) -> rx.Component:
    return rx.box(
        rx.el.a("Skip to main content", href="#main", class_name="skip-link"),
        header(title, right),
        rx.el.main(
            *children,
            id="main",
            style={"max_width": "1400px" if wide else "40rem", "margin": "0 auto", "padding": "1rem",
                   "color": TEXT},
        ),
        style={"font_family": "system-ui, -apple-system, 'Segoe UI', Arial, sans-serif", "min_height": "100vh",
               "background": "white", "line_height": "1.5"},
    )
