"""The victim portal's pages: `/portal/start/<link>` (sign in), `/portal/signed-out`, and the frame of
`/portal/case` (its sections are in rxapp/portal/page_case.py).

Sign-in and sign-out are plain HTML forms the browser posts to the portal's HTTP routes (rxapp/portal/routes.py),
which set or clear the HttpOnly session cookie; each carries the same `csrf` field as the staff forms. The
sign-in page is the same for every link: it looks nothing up and says nothing about the link. Every word comes
from rxapp/languages/locales/portal/ (and, for the case's content, portal_case/), in the victim's language, with
the page's `lang` and `dir` on its root.
"""
from __future__ import annotations

import reflex as rx

from rxapp import languages
from rxapp.attendance.track_page import BIG_LINK, RTL_STYLE
from rxapp.portal.states import PortalCase, PortalStart
from rxapp.staff.pages import StaffForm, csrf_field
from rxapp.ui.layout import ACCENT, MUTED, WARNING, header
from rxapp.ui.native_form import native_form

PORTAL_STYLE = RTL_STYLE + f"""
.vj-portal main{{max-width:44rem;margin:0 auto;padding:1rem}}
.vj-portal h1{{font-size:1.75rem;line-height:1.2;margin:0.25rem 0 0.75rem}}
.vj-portal h2{{font-size:1.3rem;margin:1.5rem 0 0.35rem}}
.vj-portal label,.vj-portal legend{{display:block;font-weight:700;margin:0.75rem 0 0.2rem}}
.vj-portal input[type=text],.vj-portal select,.vj-portal textarea{{font:inherit;font-size:1rem;padding:0.5rem;
 border:2px solid #0b0c0c;max-width:100%}}
.vj-portal textarea{{width:100%;min-height:8rem}}
.vj-portal fieldset{{border:none;padding:0;margin:0.75rem 0}}
.vj-portal .vj-choice{{display:flex;align-items:center;gap:0.5rem;margin:0.35rem 0}}
.vj-portal .vj-choice label{{font-weight:400;margin:0}}
.vj-portal .vj-choice input{{width:1.4rem;height:1.4rem;flex:0 0 auto}}
.vj-portal .vj-button{{font:inherit;font-size:1.05rem;font-weight:700;padding:0.5rem 1.1rem;border:2px solid #00703c;
 background:#00703c;color:#fff;cursor:pointer;margin:0.5rem 0}}
.vj-portal .vj-button:disabled{{background:#f3f2f1;color:{MUTED};border-color:{MUTED};cursor:default}}
.vj-portal .vj-second{{background:#fff;color:#0b0c0c;border-color:#0b0c0c}}
.vj-portal .vj-notice{{border-inline-start:6px solid {ACCENT};padding:0.5rem 0.75rem;margin:0.75rem 0;font-weight:700}}
.vj-portal .vj-warn{{border-inline-start-color:{WARNING}}}
.vj-portal .vj-call{{display:inline-block;font-weight:700;padding:0.35rem 0.7rem;border:2px solid currentColor;
 border-radius:4px;text-decoration:none;margin:0.15rem 0}}
.vj-portal .vj-header .vj-call{{color:#fff}}
.vj-portal .vj-header button{{font:inherit;font-weight:700;color:#fff;background:transparent;border:2px solid #fff;
 padding:0.35rem 0.7rem;border-radius:4px;cursor:pointer}}
.vj-portal nav ul{{display:flex;flex-wrap:wrap;gap:0.25rem 1rem;padding:0;margin:0;list-style:none}}
.vj-portal ul,.vj-portal ol{{padding-inline-start:1.25rem}}
.vj-portal .vj-muted{{color:{MUTED}}}
.vj-portal .vj-over{{color:#942514;font-weight:700}}
.vj-portal p,.vj-portal li{{overflow-wrap:anywhere}}
"""


def skip_link(text) -> rx.Component:
    return rx.el.a(text, href="#main", class_name="skip-link")


def call_link(text, number: str, **props) -> rx.Component:
    return rx.el.a(text, href=f"tel:{number}", class_name="vj-call", **props)


def danger_box(w) -> rx.Component:
    """999 and 101 to tap, in the victim's words."""
    return rx.el.div(
        rx.el.h2(w["page.danger_heading"], style={"font_size": "1.1rem", "margin": "0 0 0.25rem"}),
        rx.el.a(w["page.call_999"], href="tel:999", style={**BIG_LINK, "color": "#942514"}),
        rx.el.p(w["page.not_urgent"], style={"margin": "0.5rem 0 0.25rem"}),
        rx.el.a(w["page.call_101"], href="tel:101", style={**BIG_LINK, "color": ACCENT}),
        style={"border_inline_start": f"6px solid {WARNING}", "padding": "0.75rem 1rem", "background": "#fdf2f0",
               "margin": "1.25rem 0"},
        role="region",
        aria_label=w["page.danger_heading"],
    )


def portal_frame(lang, direction, skip, title, *children: rx.Component, right: rx.Component | None = None):
    """The force's header, a skip link and a main landmark, in the page's language and direction."""
    return rx.el.div(
        rx.el.style(PORTAL_STYLE),
        skip_link(skip),
        header(title, right),
        rx.el.main(*children, id="main", tab_index=-1),
        lang=lang,
        dir=direction,
        class_name="vj-portal",
        style={"min_height": "100vh"},
    )


# ---- /portal/start/<link> ------------------------------------------------------------------------------------

def language_picker() -> rx.Component:
    """Links to this same page in each of our languages (only the language changes in the address)."""
    return rx.el.nav(
        rx.el.p(PortalStart.start_words["signin.language"], style={"margin": "0", "font_weight": "700"}),
        rx.el.ul(*[
            rx.el.li(rx.el.a(languages.meta(code)["name"], href="?lang=" + code, lang=code,
                             dir=languages.direction(code), href_lang=code))
            for code in languages.LANGUAGES
        ]),
        aria_label=PortalStart.start_words["signin.language"],
        style={"margin": "1.5rem 0"},
    )


def start_page() -> rx.Component:
    w = PortalStart.start_words
    ready = StaffForm.csrf_token != ""
    return portal_frame(
        PortalStart.start_lang, PortalStart.start_dir, w["page.skip"], w["signin.title"],
        rx.el.h1(w["signin.title"]),
        rx.el.p(w["signin.intro"]),
        rx.cond(PortalStart.notice != "",
                rx.el.p(PortalStart.notice, id="portal-notice", role="status", class_name="vj-notice")),
        rx.el.h2(w["signin.step_send"]),
        native_form(
            csrf_field(),
            rx.el.input(type="hidden", name="link", value=PortalStart.link_in_address),
            rx.el.input(type="hidden", name="lang", value=PortalStart.start_lang),
            rx.el.p(w["signin.send_help"]),
            rx.el.button(w["signin.send"], type="submit", id="send-code", disabled=~ready,
                         class_name="vj-button vj-second"),
            action="/portal/code", method="post", id="portal-send-code",
        ),
        rx.el.h2(w["signin.step_code"]),
        native_form(
            csrf_field(),
            rx.el.input(type="hidden", name="link", value=PortalStart.link_in_address),
            rx.el.input(type="hidden", name="lang", value=PortalStart.start_lang),
            rx.el.label(w["signin.code_label"], html_for="code"),
            rx.el.p(w["signin.code_hint"], id="code-hint", class_name="vj-muted", style={"margin": "0 0 0.3rem"}),
            rx.el.input(id="code", name="code", type="text", input_mode="numeric", auto_complete="one-time-code",
                        pattern="[0-9]{6}", max_length=6, required=True, aria_describedby="code-hint",
                        style={"width": "9rem", "letter_spacing": "0.2em", "font_size": "1.25rem"}),
            rx.el.div(rx.el.button(w["signin.sign_in"], type="submit", id="sign-in", disabled=~ready,
                                   class_name="vj-button")),
            action="/portal/sign-in", method="post", id="portal-sign-in",
        ),
        rx.el.p(w["signin.no_sign_up"], class_name="vj-muted"),
        danger_box(w),
        language_picker(),
    )


# ---- /portal/signed-out --------------------------------------------------------------------------------------

def signed_out_page() -> rx.Component:
    w = PortalStart.start_words
    return portal_frame(
        PortalStart.start_lang, PortalStart.start_dir, w["page.skip"], w["signedout.title"],
        rx.el.h1(w["signedout.title"]),
        rx.el.p(w["signedout.text"], id="portal-signed-out"),
        danger_box(w),
        language_picker(),
    )


# ---- /portal/case: the frame ---------------------------------------------------------------------------------

def sign_out_form() -> rx.Component:
    return native_form(
        csrf_field(),
        rx.el.button(PortalCase.words["page.sign_out"], type="submit", id="sign-out",
                     disabled=StaffForm.csrf_token == ""),
        action="/portal/sign-out", method="post", id="portal-sign-out",
    )


def header_actions() -> rx.Component:
    return rx.el.div(
        call_link(PortalCase.words["page.call_999"], "999"),
        sign_out_form(),
        style={"display": "flex", "gap": "0.75rem", "align_items": "center", "flex_wrap": "wrap"},
    )


def ended_notice() -> rx.Component:
    """All a tab shows without a live session: the same words for every reason."""
    return rx.el.div(
        rx.el.h1(PortalCase.words["page.ended"], style={"font_size": "1.4rem"}),
        id="portal-signed-out-notice",
        role="alert",
    )


def case_frame(content: rx.Component) -> rx.Component:
    """/portal/case: loading, then the case (`content`) or the ended notice; in the victim's language."""
    english = languages.labels("en", "portal")
    live = PortalCase.checked & PortalCase.signed_in
    return portal_frame(
        rx.cond(PortalCase.checked, PortalCase.lang, "en"),
        rx.cond(PortalCase.checked, PortalCase.dir, "ltr"),
        rx.cond(PortalCase.checked, PortalCase.words["page.skip"], english["page.skip"]),
        rx.cond(PortalCase.checked, PortalCase.words["page.title"], english["page.title"]),
        rx.cond(
            PortalCase.checked,
            rx.cond(live, content, ended_notice()),
            rx.el.p(english["page.loading"], aria_busy="true", id="portal-loading"),
        ),
        right=rx.cond(live, header_actions(), rx.fragment()),
    )
