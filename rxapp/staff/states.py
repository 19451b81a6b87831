"""Staff identity for pages and handlers, resolved on the server from the HttpOnly session cookie each time it
is needed, so a client cannot claim an identity by sending arguments or setting a state var.

The websocket's Cookie header is taken out of Reflex's router data when the socket connects (rxapp.rxapp) and
kept here, in this process's memory, for that socket only. It is never part of a state, so it is never pickled
into `.states/` or Redis, never sent to a browser and never in a logged event. What a state may keep is at most
the session's hash, in a backend-only var.
"""
from __future__ import annotations

import asyncio
from typing import Optional

import reflex as rx

from rxapp.plumbing.links import token_hash
from rxapp.staff.accounts import StaffIdentity, identity_from_cookie_header, token_from_cookie_header

# Socket.IO session id -> that socket's Cookie header. Events of a socket are handled in the process that holds
# the socket, so this process's memory is the right place, and the entry goes when the socket does.
_socket_cookies: dict[str, str] = {}


def keep_socket_cookie(sid: str, cookie_header: str) -> None:
    if cookie_header:
        _socket_cookies[sid] = cookie_header


def forget_socket_cookie(sid: str) -> None:
    _socket_cookies.pop(sid, None)


def cookie_header(state: rx.State) -> str:
    """The Cookie header of the socket this state's event came in on ("" when it sent none)."""
    return _socket_cookies.get(state.router.session.session_id, "")


_cookie_header = cookie_header  # the name rxapp.staff.pages looks for


async def current_staff(state: rx.State) -> Optional[StaffIdentity]:
    """Checked afresh on every call: a revoked or expired session stops working at once."""
    return await asyncio.to_thread(identity_from_cookie_header, cookie_header(state))


def session_hash(state: rx.State) -> str:
    """The hash of this socket's session token, as the session table keys it; "" when there is none."""
    token = token_from_cookie_header(cookie_header(state))
    return token_hash(token) if token else ""


class StaffState(rx.State):
    display_name: str = ""
    role: str = ""
