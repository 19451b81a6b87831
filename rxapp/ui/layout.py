"""Page frames: the force's header (name, crest, colours: configuration, see rxapp/plumbing/branding.py), a main
landmark, sized for a 320 px phone upwards, and the one small stylesheet every page shares.

Only plain HTML elements (`rx.el.*`) and Reflex's core (cond, foreach, fragment): a single Radix Themes
component anywhere makes Reflex ship Radix's whole stylesheet (83 KB compressed) and its layout scripts to every
page, the victim's first visit included. Lay things out with `row`, `spacer` and `rx.el.div`, not `rx.box`,
`rx.hstack`, `rx.vstack` or `rx.spacer` (tests/test_frame.py checks every page)."""
from __future__ import annotations

import reflex as rx

from rxapp.plumbing.config import settings
from rxapp.staff.states import StaffState
from rxapp.supervision.state import TeamNotices

_brand = settings()
BRAND = _brand.force_name
PRIMARY = _brand.force_primary_colour  # the header, behind white text (4.5:1 at least, checked in config)
TEXT = "#0b0c0c"       # GOV.UK text colour, 19:1 on white
MUTED = "#484949"      # 9:1 on white
ACCENT = _brand.force_accent_colour    # links and borders (4.5:1 on white at least, checked in config)
WARNING = "#d4351c"
FOCUS = "#ffdd00"
CREST_URL = "/" + _brand.force_crest
FAVICON_URL = "/" + _brand.force_favicon

STYLE = f"""
*,*::before,*::after{{box-sizing:border-box}}
body{{margin:0;font-family:system-ui,-apple-system,'Segoe UI',Arial,sans-serif;line-height:1.5;color:{TEXT};
 background:#fff}}
.skip-link,.vj-hidden{{position:absolute;width:1px;height:1px;overflow:hidden;
 clip:rect(0 0 0 0);clip-path:inset(50%);white-space:nowrap}}
.skip-link:focus{{width:auto;height:auto;clip:auto;clip-path:none;top:0.5rem;inset-inline-start:0.5rem;
 background:{FOCUS};color:{TEXT};padding:0.5rem;z-index:10}}
[data-sonner-toast]{{background:#fff !important;color:{TEXT} !important;border:2px solid {TEXT} !important}}
[data-sonner-toast] [data-description]{{color:{TEXT} !important}}
a{{color:{ACCENT}}}
a:focus,button:focus,select:focus,input:focus,textarea:focus{{outline:3px solid {FOCUS};outline-offset:0;
 box-shadow:0 0 0 5px {TEXT}}}
.vj-header{{background:{PRIMARY};color:#fff;padding:0.75rem 1rem;border-bottom:6px solid {ACCENT}}}
.vj-header a{{color:#fff}}
.vj-brand{{display:flex;align-items:center;gap:0.6rem;font-weight:700;font-size:1.05rem}}
.vj-crest{{height:2.5rem;width:auto;flex:0 0 auto}}
.vj-row{{display:flex;align-items:center;gap:0.75rem;flex-wrap:wrap;width:100%}}
.vj-spacer{{flex:1 1 0}}
.vj-title{{margin:0.2rem 0 0;font-size:0.95rem}}
@media (max-width: 760px){{
 .board-table thead{{position:absolute;width:1px;height:1px;overflow:hidden;
  clip:rect(0 0 0 0);clip-path:inset(50%)}}
 .board-table tr{{display:block;border-bottom:2px solid {TEXT};padding:0.5rem 0}}
 .board-table td{{display:grid;grid-template-columns:6.5rem 1fr;gap:0.5rem;border:none !important;
  padding:0.15rem 0 !important}}
 .board-table td::before{{content:attr(data-label);font-weight:700}}
}}
"""


def head_components() -> list[rx.Component]:
    """What every page's <head> carries: the frame's stylesheet (inline: no request of its own) and the icon."""
    kind = {"svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon"}[FAVICON_URL.rsplit(".", 1)[1]]
    return [rx.el.style(STYLE), rx.el.link(rel="icon", href=FAVICON_URL, type=kind)]


def row(*children: rx.Component, gap: str = "0.75rem", **props) -> rx.Component:
    """Children side by side, wrapping on a narrow screen (instead of rx.hstack)."""
    style = {"gap": gap, **props.pop("style", {})}
    return rx.el.div(*children, class_name="vj-row", style=style, **props)


def spacer() -> rx.Component:
    """Pushes what follows it in a `row` to the far end (instead of rx.spacer)."""
    return rx.el.span(class_name="vj-spacer", aria_hidden="true")


def header(title: str, right: rx.Component | None = None) -> rx.Component:
    return rx.el.header(
        row(
            rx.el.span(
                rx.el.img(src=CREST_URL, alt="", class_name="vj-crest"),  # beside the name: decorative
                rx.el.span(BRAND),
                class_name="vj-brand",
            ),
            spacer(),
            right or rx.fragment(),
        ),
        rx.el.p(title, class_name="vj-title"),
        class_name="vj-header",
    )


def staff_nav() -> rx.Component:
    """A supervisor's way back to their team page from any staff page, with how many escalations they have not
    read (rxapp/supervision/state.py counts them when the link appears)."""
    return rx.cond(StaffState.role == "supervisor", rx.el.nav(
        rx.el.a("Team", rx.cond(TeamNotices.unread > 0, rx.el.span(  # read out as "Team (2 new)"
            rx.el.span(" (", class_name="vj-hidden"), TeamNotices.unread.to_string(), " new",
            rx.el.span(")", class_name="vj-hidden"), id="team-unread",
            style={"background": FOCUS, "color": TEXT, "padding": "0 0.3rem", "margin_left": "0.3rem",
                   "font_weight": "700"})),
            href="/team", id="nav-team", on_mount=TeamNotices.refresh),
        aria_label="Staff pages",
    ))


def page(title: str, *children: rx.Component, wide: bool = False, right: rx.Component | None = None) -> rx.Component:
    if right is not None:  # a staff page: its header carries the staff navigation beside the sign-out
        right = rx.fragment(staff_nav(), right)
    return rx.el.div(
        rx.el.a("Skip to main content", href="#main", class_name="skip-link"),
        header(title, right),
        rx.el.main(
            *children,
            id="main",
            style={"max_width": "1400px" if wide else "40rem", "margin": "0 auto", "padding": "1rem"},
        ),
        style={"min_height": "100vh"},
    )
