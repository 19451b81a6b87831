"""The Reflex application: pages, HTTP routes, and the lifespan tasks that run the feed and the pushes."""
from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import re
import urllib.parse
from contextlib import suppress
from typing import Any, Optional

import reflex as rx
from reflex.app import EventNamespace
from reflex.state import StateUpdate
from reflex_base.constants import RouteVar
from socketio.exceptions import ConnectionRefusedError as SocketRefused

from rxapp.attendance.board_page import board_page
from rxapp.attendance.board_state import BoardView
from rxapp.attendance.publish import ReflexPublisher
from rxapp.attendance.rooms import rooms as live_rooms
from rxapp.attendance.track_html import track_snapshot
from rxapp.attendance.track_page import track_page
from rxapp.attendance.track_state import TrackView
from rxapp.audit.log_page import audit_page
from rxapp.audit.log_state import AuditLog
from rxapp.compliance.page import compliance_page
from rxapp.compliance.state import Compliance
from rxapp.feeds.admin_page import admin_feed_page
from rxapp.feeds.admin_state import FeedAdmin
from rxapp.inbox.page import inbox_page
from rxapp.inbox.state import Inbox
from rxapp.investigation.case_pages import case_page, cases_page
from rxapp.investigation.case_state import CaseDetail, CaseList
from rxapp.messaging.history_page import history_page
from rxapp.messaging.history_state import MessageHistory
from rxapp.plumbing import realtime
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import migrate
from rxapp.plumbing.edges import bound_log_records, guard_edges
from rxapp.plumbing.http import api
from rxapp.plumbing.links import channel_token, is_client_token
from rxapp.plumbing.runner import run_background
from rxapp.portal.case_html import case_snapshot
from rxapp.portal.page_case import case_page as portal_case_page
from rxapp.portal.pages import signed_out_page as portal_signed_out_page
from rxapp.portal.pages import start_page as portal_start_page
from rxapp.portal.states import PortalCase, PortalStart
from rxapp.staff.pages import FormOnHydrate, index_page, login_page
from rxapp.staff.states import forget_socket_cookie, keep_socket_cookie
from rxapp.supervision.page import team_page
from rxapp.supervision.state import Team
from rxapp.ui.layout import head_components as frame_head

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
for _noisy in ("apscheduler", "alembic", "httpx"):  # httpx logs every poll and every text at INFO
    logging.getLogger(_noisy).setLevel(logging.WARNING)


class _SharedTokenPushes(logging.Filter):
    """Pushing to a shared state also "emits" to its own token, which is no browser; Reflex warns each time,
    naming the channel, which must not be written down anywhere."""

    CHANNEL = re.compile(r"'[0-9a-f]{64}'")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Attempting to send delta to disconnected client")
                    and self.CHANNEL.search(message))


logging.getLogger("reflex.app").addFilter(_SharedTokenPushes())
bound_log_records()  # no request can write a long or many-line text into the log

app = rx.App(
    # Our routes beside Reflex's, the victim page's and the portal case page's server-rendered snapshots
    # (rxapp/attendance/track_html.py, rxapp/portal/case_html.py), then the edge guard in front of all of it
    # (hosts, bodies, headers).
    api_transformer=[api, track_snapshot, case_snapshot, guard_edges],
    html_lang="en-GB",
    # The frame's stylesheet and icon (rxapp/ui/layout.py); no Radix Themes, whose stylesheet a victim's first
    # visit cannot afford (bench/page_weight.py).
    head_components=[*frame_head(), rx.el.meta(name="robots", content="noindex")],
)

# ---- the socket: who may connect, what they may send, and what Reflex keeps of them ---------------------------

MAX_INVALID_EVENTS = 5  # a real page never sends one; a socket that sends this many is disconnected
log = logging.getLogger(__name__)


class GuardedEventNamespace(EventNamespace):
    """Reflex's `/_event` namespace with what it leaves to the app:
    - a client token that is not the shape Reflex issues (a UUID) is refused, the same way whatever it is, so a
      socket can never take a channel's name (`links.channel_token`) as its own;
    - the Cookie header is taken out of the router data Reflex keeps in each state (and would pickle to disk or
      Redis, and write into the log with an unknown event); staff.states holds it for this socket only;
    - an event that names no handler, or whose payload is not what a handler takes, is dropped before Reflex
      sees it (and logs it with the headers), and the socket is disconnected after MAX_INVALID_EVENTS.
    """

    _strikes: dict[str, int]  # invalid events so far, per socket

    @classmethod
    def install(cls, app: rx.App) -> None:
        """Guard the namespace instance Reflex made and registered for `app`."""
        namespace = app.event_namespace
        namespace.__class__ = cls
        namespace._strikes = {}

    async def on_connect(self, sid: str, request: dict, auth: Any = None):  # request: the socket's WSGI-style environ
        token = urllib.parse.parse_qs(request.get("QUERY_STRING", "")).get("token", [""])[0]
        if not is_client_token(token):
            log.warning("socket %s refused: its client token is not one Reflex issues", sid)
            raise SocketRefused("refused")
        try:
            return await super().on_connect(sid, request, auth)
        except BaseException:
            forget_socket_cookie(sid)  # a refused connect never reaches on_disconnect
            raise

    def _build_static_router_data(self, sid: str, request: dict) -> dict[str, Any]:
        data = super()._build_static_router_data(sid, request)
        keep_socket_cookie(sid, data[RouteVar.HEADERS].pop("cookie", ""))
        return data

    def on_disconnect(self, sid: str):
        forget_socket_cookie(sid)
        self._strikes.pop(sid, None)
        return super().on_disconnect(sid)

    async def on_event(self, sid: str, data: Any):
        problem = self._problem(data)
        if problem is None:
            return await super().on_event(sid, data)
        strikes = self._strikes[sid] = self._strikes.get(sid, 0) + 1
        log.warning("socket %s sent an invalid event (%s), %d of %d", sid, problem, strikes, MAX_INVALID_EVENTS)
        if strikes >= MAX_INVALID_EVENTS:
            log.warning("socket %s disconnected after %d invalid events", sid, strikes)
            await self.disconnect(sid)
        return None

    def _problem(self, data: Any) -> Optional[str]:
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                return "not JSON"
        if not isinstance(data, dict):
            return "not an object"
        name, payload, router_data = data.get("name"), data.get("payload") or {}, data.get("router_data") or {}
        if not isinstance(name, str) or not isinstance(payload, dict) or not isinstance(router_data, dict):
            return "malformed"
        registered = self.app._registration_context.event_handlers.get(name)
        if registered is None:
            return "no such handler"
        if not _accepts(registered.handler.fn, payload):
            return "arguments the handler does not take"
        return None


def _accepts(fn, payload: dict) -> bool:
    names = _argument_names(fn)
    return names is None or set(payload) <= names


@functools.lru_cache(maxsize=None)
def _argument_names(fn) -> Optional[frozenset[str]]:
    """The keyword arguments a handler takes; None when it takes any (or its signature cannot be read)."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())[1:]  # after self
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


class LiveChannelGuard(rx.Middleware):
    """Before a tab hydrates, each live channel it reads is checked again (its session or its link): a tab that
    may no longer read it is unlinked (the board) or emptied and out of its room (a victim's page), and hydrated
    afresh, so a reconnect never carries old rows."""

    HYDRATE = {f"{rx.State.get_full_name()}.hydrate", f"{rx.State.get_full_name()}.hydrate_and_load"}

    async def preprocess(self, app, state, event) -> Optional[StateUpdate]:
        if event.name not in self.HYDRATE:
            return None
        links = getattr(state, "_reflex_internal_links", None)
        if links and BoardView.get_full_name() in links:
            shared = await state.get_state(BoardView)
            if not await shared._still_entitled():
                log.info("a tab may no longer read its BoardView channel: unlinked before its hydrate")
                await shared._leave()
                return StateUpdate(delta={}, events=[event])  # the same hydrate, now unlinked
        path = str((event.router_data or {}).get("pathname") or "")
        if path.startswith("/track/"):
            view = await state.get_state(TrackView)
            if view._room and not await view._still_entitled(path):
                log.info("a victim's tab may no longer read its attendance: emptied before its hydrate")
                await view._leave()
        return None


GuardedEventNamespace.install(app)
# Victims' pages get their attendance's changes through socket.io rooms (rxapp/attendance/rooms.py), across
# workers through Redis when REDIS_URL is set.
live_rooms.attach(app.sio, app.event_namespace.namespace, TrackView.get_full_name(), settings().redis_url,
                  deployment=channel_token("live-rooms", "pubsub")[:16])
app.add_middleware(LiveChannelGuard())
app.add_middleware(FormOnHydrate())  # the staff forms' token, from this socket's cookies

app.add_page(index_page, route="/", title="Victim Journey")
app.add_page(track_page, route="/track/[token]", title="Your police visit", on_load=TrackView.open_link)
app.add_page(board_page, route="/board", title="Control room board", on_load=BoardView.open_board)
app.add_page(login_page, route="/login", title="Staff sign-in")
app.add_page(history_page, route="/messages", title="Messages to a victim", on_load=MessageHistory.load)
app.add_page(admin_feed_page, route="/admin/feed", title="Dispatch feed", on_load=FeedAdmin.load)
app.add_page(inbox_page, route="/inbox", title="Inbox: today's work", on_load=Inbox.load)
app.add_page(cases_page, route="/cases", title="Open investigations", on_load=CaseList.load)
app.add_page(case_page, route="/case", title="Investigation", on_load=CaseDetail.load)
app.add_page(audit_page, route="/admin/audit", title="Audit log", on_load=AuditLog.load)
app.add_page(compliance_page, route="/compliance", title="Victims' Code compliance", on_load=Compliance.load)
app.add_page(team_page, route="/team", title="Your team", on_load=Team.load)
# The victim portal (rxapp/portal/pages.py, page_case.py); its sign-in and sign-out posts are HTTP routes.
app.add_page(portal_start_page, route="/portal/start/[link]", title=PortalStart.start_words["signin.title"])
app.add_page(portal_signed_out_page, route="/portal/signed-out", title=PortalStart.start_words["signedout.title"])
app.add_page(portal_case_page, route="/portal/case", title=PortalCase.page_title, on_load=PortalCase.open_page)


async def _lifespan() -> None:
    await asyncio.to_thread(migrate)
    publisher = ReflexPublisher(app)
    realtime.hub.subscribe(publisher)
    push_task = asyncio.create_task(publisher.run(), name="page-pusher")
    rooms_task = asyncio.create_task(live_rooms.listen(), name="live-rooms")
    stop = asyncio.Event()
    try:
        if settings().run_background_jobs:
            await run_background(stop)
        else:
            await asyncio.Event().wait()
    finally:
        stop.set()
        realtime.hub.unsubscribe(publisher)
        push_task.cancel()
        rooms_task.cancel()
        for task in (push_task, rooms_task):
            with suppress(asyncio.CancelledError):
                await task
        await live_rooms.close()


app.register_lifespan_task(_lifespan)
