"""A plain HTML form that the browser itself submits.

Reflex's own form always cancels native submission to send an event instead. Staff sign-in must post to
the server so that the server can set an HttpOnly session cookie, which JavaScript can neither set nor
read; so sign-in and sign-out use this element.
"""
from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.base import BaseHTML


class NativeForm(BaseHTML):
    tag = "form"
    action: rx.Var[str]
    method: rx.Var[str]


native_form = NativeForm.create
