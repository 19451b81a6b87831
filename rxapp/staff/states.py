"""Staff identity for pages and handlers, read from the HttpOnly session cookie on the websocket's own
request, so a client cannot claim an identity by sending arguments or setting a state var."""
from __future__ import annotations

import asyncio
from typing import Optional

import reflex as rx

from rxapp.staff.accounts import StaffIdentity, identity_from_cookie_header


async def current_staff(state: rx.State) -> Optional[StaffIdentity]:
    """Checked afresh on every call: a revoked or expired session stops working at once."""
    return await asyncio.to_thread(identity_from_cookie_header, state.router.headers.cookie)


class StaffState(rx.State):
    display_name: str = ""
    role: str = ""
