"""`/login`: staff sign-in. The form posts to the server (not through a state), which sets an HttpOnly cookie.

Every staff form carries `csrf_field()`: the token that proves to the server the form came from our page
(rxapp/staff/forms.py). Its submit button stays disabled until the token has arrived.

The token (and the sign-in form's remembered username) is worked out from the socket's cookies when the tab
hydrates, which it does on every (re)connect, in the worker holding the socket (the only one that has its
cookies: rxapp.staff.states), and kept in the tab's state as plain vars. A delta another worker computes for this
tab (a push to a board tab) then carries them unchanged, or not at all, never emptied."""
from __future__ import annotations

import reflex as rx

from rxapp.plumbing.config import settings
from rxapp.staff import states as staff_states
from rxapp.staff.accounts import NOT_RIGHT, too_many_attempts
from rxapp.staff.forms import FORM_FIELD, form_token, remembered_username
from rxapp.ui.layout import WARNING, page
from rxapp.ui.native_form import native_form

# The pages a sign-in may go back to: the keys of rxapp/staff/routes.py NEXT_PAGES (tests/test_signin.py checks).
NEXT_PAGE_NAMES = ("board", "admin", "cases", "inbox", "compliance", "team")


def socket_cookie_header(state: rx.State) -> str:
    """This socket's Cookie header: held by rxapp.staff.states outside any state where it takes the header out
    of Reflex's router data (issue 9, point 2), else still in the router data."""
    keeper = getattr(staff_states, "_cookie_header", None)
    return keeper(state) if keeper is not None else (state.router.headers.cookie or "")


class StaffForm(rx.State):
    """Derived from this socket's own cookies (which rxapp.staff.states keeps out of the state) at each hydrate
    (`FormOnHydrate`); nothing here is secret from the browser that holds them, and no handler takes a value
    for them from a client. (Once computed vars recomputed on every delta: on a worker without the socket's
    cookies they came out "" and blanked the form.)"""

    csrf_token: str = ""
    remembered_username: str = ""

    def _fill(self) -> None:
        header = socket_cookie_header(self)
        self.csrf_token = form_token(header)
        self.remembered_username = remembered_username(header)


class FormOnHydrate(rx.Middleware):
    """Fills `StaffForm` before each hydrate, so the tab's full state carries this socket's own token."""

    HYDRATE = frozenset({f"{rx.State.get_full_name()}.hydrate", f"{rx.State.get_full_name()}.hydrate_and_load"})

    async def preprocess(self, app, state, event):
        if event.name in self.HYDRATE:
            (await state.get_state(StaffForm))._fill()
        return None


def csrf_field() -> rx.Component:
    return rx.el.input(type="hidden", name=FORM_FIELD, value=StaffForm.csrf_token)


def _minutes(raw: str) -> int:
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= 1440 else 15


class LoginPage(rx.State):
    @rx.var
    def message(self) -> str:
        query = self.router.url.query_parameters
        code = str(query.get("error", ""))
        if code == "locked":
            return too_many_attempts(_minutes(str(query.get("minutes", ""))))
        return {
            "invalid": NOT_RIGHT,
            "role": "Your account does not have access to that page.",
            "expired": "Please sign in again.",
            "missing": "Enter your username and password.",
            "form": "The sign-in form had expired. Please try again.",
            "sso": "Signing in with your force account did not complete. Please try again.",
            "sso_role": "Your force account is not set up for Victim Journey. Ask the system administrator to give "
                        "you a Victim Journey role.",
            "sso_down": "Signing in with your force account is not available just now. Please try again later, or "
                        "sign in with your username and password.",
        }.get(code, "")

    @rx.var
    def sso_start(self) -> str:
        return "/staff/oidc/start" + (f"?next={self.next_page}" if self.next_page else "")

    @rx.var
    def next_page(self) -> str:
        value = str(self.router.url.query_parameters.get("next", ""))
        return value if value in NEXT_PAGE_NAMES else ""


def field(label: str, name: str, kind: str, autocomplete: str, **value) -> rx.Component:
    return rx.el.div(
        rx.el.label(label, html_for=name,
                    style={"display": "block", "font_weight": "700", "margin": "0.75rem 0 0.2rem"}),
        rx.el.input(id=name, name=name, type=kind, autocomplete=autocomplete, required=True, **value,
                    style={"width": "100%", "padding": "0.5rem", "border": "2px solid #0b0c0c", "font_size": "1rem"}),
    )


def sso_sign_in() -> rx.Component:
    """Single sign-on (rxapp/staff/oidc.py), when OIDC_ISSUER is set: a link to the force's provider."""
    conf = settings().oidc
    if not conf.enabled:
        return rx.fragment()
    return rx.el.div(
        # reload_document: the browser goes to the server route itself (rx.el.a is a client-side router link).
        rx.el.a(f"Sign in with {conf.display_name} account", href=LoginPage.sso_start, id="sso-sign-in",
                reload_document=True,
                style={"display": "inline-block", "background": "#1d70b8", "color": "white", "font_size": "1.05rem",
                       "padding": "0.5rem 1.25rem", "text_decoration": "none", "font_weight": "700"}),
        rx.el.p("Or sign in with a username and password:", style={"margin": "1.25rem 0 0"}),
        style={"margin_top": "0.75rem"},
    )


def login_page() -> rx.Component:
    return page(
        "Staff sign-in",
        rx.el.h1("Sign in", style={"font_size": "1.75rem"}),
        rx.cond(LoginPage.message != "",
                rx.el.p(LoginPage.message, role="alert", id="login-error",
                        style={"border_left": f"6px solid {WARNING}", "padding": "0.5rem 0.75rem",
                               "color": "#0b0c0c", "font_weight": "700"})),
        sso_sign_in(),
        native_form(
            rx.el.input(type="hidden", name="next", value=LoginPage.next_page),
            csrf_field(),
            # The name typed before a mistake; `key` re-creates the field when it arrives after the page.
            field("Username", "username", "text", "username", default_value=StaffForm.remembered_username,
                  key=StaffForm.remembered_username),
            field("Password", "password", "password", "current-password"),
            rx.el.button("Sign in", type="submit", disabled=StaffForm.csrf_token == "",
                         style={"margin_top": "1rem", "background": "#00703c", "color": "white", "font_size": "1.05rem",
                                "padding": "0.5rem 1.25rem", "border": "none", "cursor": "pointer"}),
            action="/staff/login", method="post",
        ),
    )


def index_page() -> rx.Component:
    return page(
        "Victim Journey",
        rx.el.h1("Victim Journey", style={"font_size": "1.75rem"}),
        rx.el.p("If you were sent a link by text message, open that link to follow your police visit."),
        rx.el.p("If you are in danger, call 999. For anything else, call 101."),
        rx.el.p(rx.el.a("Staff sign-in", href="/login")),
    )
