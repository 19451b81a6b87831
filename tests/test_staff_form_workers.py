"""The staff forms' token stays right whichever worker computes a tab's delta (rxapp/staff/pages.py): it is
worked out at the hydrate, in the worker that holds the socket and its cookies, and kept in the tab's state; a
delta another worker computes for the tab (its state loaded from Redis, a push to its board) never empties it.
A socket with no form cookie gets no token, and a new hydrate follows the browser's cookies as they now are."""
from __future__ import annotations

import asyncio
import pickle

from reflex.state import State
from reflex_base.event import Event

from rxapp.staff import states as staff_states
from rxapp.staff.forms import form_token
from rxapp.staff.pages import FormOnHydrate, StaffForm

COOKIE = "Q" * 43
SID = "socket-of-this-worker"


def _tab(sid: str = SID) -> State:
    root = State(_reflex_internal_init=True)
    router_data = {"sid": sid, "pathname": "/board", "asPath": "/board", "query": {}, "headers": {}}
    root.router_data = root._update_router_vars(router_data, {})
    return root


def _hydrate(root: State) -> None:
    event = Event(name=f"{State.get_full_name()}.hydrate", payload={})
    assert asyncio.run(FormOnHydrate().preprocess(None, root, event)) is None


def _form(root: State) -> StaffForm:
    return root.get_substate(StaffForm.get_full_name().split(".")[1:])


def test_a_delta_computed_on_a_worker_without_the_socket_keeps_the_form_token():
    staff_states.keep_socket_cookie(SID, f"vj_staff=x; vj_form={COOKIE}; vj_signin_name=control.one")
    try:
        root = _tab()
        assert root.router.session.session_id == SID
        _hydrate(root)
        full = root.dict()[StaffForm.get_full_name()]
        assert full["csrf_token_rx_state_"] == form_token(f"vj_form={COOKIE}") != ""
        assert full["remembered_username_rx_state_"] == "control.one"
        stored = pickle.dumps(_form(root))  # each state is kept on its own (Redis, with several workers)
    finally:
        staff_states.forget_socket_cookie(SID)
    # Another worker: it never saw this socket, so it has no cookie for it. It loads the tab's states, as the
    # state manager does, and a push changes something else.
    elsewhere = _tab()
    form = pickle.loads(stored)
    form.parent_state = elsewhere
    elsewhere.substates[form.get_name()] = form
    elsewhere._clean()
    elsewhere.is_hydrated = True
    delta = elsewhere.get_delta()
    form_part = delta.get(StaffForm.get_full_name(), {})
    assert form_part.get("csrf_token_rx_state_", "unchanged") == "unchanged", delta  # not sent, so not emptied
    assert _form(elsewhere).csrf_token == form_token(f"vj_form={COOKIE}")


def test_a_socket_without_a_form_cookie_gets_no_token_and_a_new_hydrate_follows_the_cookies():
    root = _tab("socket-without-cookies")
    _hydrate(root)
    assert (_form(root).csrf_token, _form(root).remembered_username) == ("", "")
    staff_states.keep_socket_cookie("socket-without-cookies", f"vj_form={COOKIE}; vj_signin_name=%3Cscript%3E")
    try:
        _hydrate(root)
    finally:
        staff_states.forget_socket_cookie("socket-without-cookies")
    assert _form(root).csrf_token == form_token(f"vj_form={COOKIE}")
    assert _form(root).remembered_username == ""  # only a name in the account-name alphabet is kept


def test_only_a_hydrate_fills_the_form():
    staff_states.keep_socket_cookie(SID, f"vj_form={COOKIE}")
    try:
        root = _tab()
        other = Event(name=f"{StaffForm.get_full_name()}.something", payload={})
        assert asyncio.run(FormOnHydrate().preprocess(None, root, other)) is None
        assert _form(root).csrf_token == ""
    finally:
        staff_states.forget_socket_cookie(SID)
