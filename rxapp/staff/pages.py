"""`/login`: staff sign-in. The form posts to the server (not through a state), which sets an HttpOnly cookie."""
from __future__ import annotations

import reflex as rx

from rxapp.ui.layout import WARNING, page
from rxapp.ui.native_form import native_form


class LoginPage(rx.State):
    @rx.var
    def message(self) -> str:
        code = str(self.router.url.query_parameters.get("error", ""))
        return {
            "invalid": "The username or password is not right.",
            "locked": "This account is locked after too many failed attempts. Try again later or ask an administrator.",
            "role": "Your account does not have access to that page.",
            "expired": "Please sign in again.",
            "missing": "Enter your username and password.",
        }.get(code, "")

    @rx.var
    def next_page(self) -> str:
        value = str(self.router.url.query_parameters.get("next", ""))
        return value if value in ("board", "admin", "cases") else ""


def field(label: str, name: str, kind: str, autocomplete: str) -> rx.Component:
    return rx.el.div(
        rx.el.label(label, html_for=name,
                    style={"display": "block", "font_weight": "700", "margin": "0.75rem 0 0.2rem"}),
        rx.el.input(id=name, name=name, type=kind, autocomplete=autocomplete, required=True,
                    style={"width": "100%", "padding": "0.5rem", "border": "2px solid #0b0c0c", "font_size": "1rem"}),
    )


def login_page() -> rx.Component:
    return page(
        "Staff sign-in",
        rx.el.h1("Sign in", style={"font_size": "1.75rem"}),
        rx.cond(LoginPage.message != "",
                rx.el.p(LoginPage.message, role="alert", id="login-error",
                        style={"border_left": f"6px solid {WARNING}", "padding": "0.5rem 0.75rem",
                               "color": "#0b0c0c", "font_weight": "700"})),
        native_form(
            rx.el.input(type="hidden", name="next", value=LoginPage.next_page),
            field("Username", "username", "text", "username"),
            field("Password", "password", "password", "current-password"),
            rx.el.button("Sign in", type="submit",
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
