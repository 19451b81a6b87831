"""The Reflex application: pages, HTTP routes, and the lifespan tasks that run the feed and the pushes."""
from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import reflex as rx

from rxapp.attendance.board_page import board_page
from rxapp.attendance.board_state import BoardView
from rxapp.attendance.publish import ReflexPublisher
from rxapp.attendance.track_page import track_page
from rxapp.attendance.track_state import TrackView
from rxapp.feeds.admin_page import admin_feed_page
from rxapp.feeds.admin_state import FeedAdmin
from rxapp.investigation.case_pages import case_page, cases_page
from rxapp.investigation.case_state import CaseDetail, CaseList
from rxapp.messaging.history_page import history_page
from rxapp.messaging.history_state import MessageHistory
from rxapp.plumbing import realtime
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import migrate
from rxapp.plumbing.edges import bound_log_records, guard_edges
from rxapp.plumbing.http import api
from rxapp.plumbing.runner import run_background
from rxapp.staff.pages import index_page, login_page

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
for _noisy in ("apscheduler", "alembic", "httpx"):  # httpx logs every poll and every text at INFO
    logging.getLogger(_noisy).setLevel(logging.WARNING)


class _SharedTokenPushes(logging.Filter):
    """Pushing to a shared state also "emits" to its own token, which is no browser; Reflex warns each time."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Attempting to send delta to disconnected client")
                    and ("'attendance-" in message or "'board'" in message))


logging.getLogger("reflex.app").addFilter(_SharedTokenPushes())
bound_log_records()  # no request can write a long or many-line text into the log

STYLE = """
.skip-link{position:absolute;left:-9999px}
.skip-link:focus{left:0.5rem;top:0.5rem;background:#ffdd00;color:#0b0c0c;padding:0.5rem;z-index:10}
a{color:#1d70b8}
a:focus,button:focus,select:focus,input:focus{outline:3px solid #ffdd00;outline-offset:0;box-shadow:0 0 0 5px #0b0c0c}
body{margin:0}
@media (max-width: 760px){
 .board-table thead{position:absolute;left:-9999px}
 .board-table tr{display:block;border-bottom:2px solid #0b0c0c;padding:0.5rem 0}
 .board-table td{display:grid;grid-template-columns:6.5rem 1fr;gap:0.5rem;border:none !important;
  padding:0.15rem 0 !important}
 .board-table td::before{content:attr(data-label);font-weight:700}
}
"""

app = rx.App(
    # Our routes beside Reflex's, then the edge guard in front of all of it (hosts, bodies, headers).
    api_transformer=[api, guard_edges],
    html_lang="en-GB",
    head_components=[rx.el.style(STYLE), rx.el.meta(name="robots", content="noindex")],
)
app.add_page(index_page, route="/", title="Victim Journey")
app.add_page(track_page, route="/track/[token]", title="Your police visit", on_load=TrackView.open_link)
app.add_page(board_page, route="/board", title="Control room board", on_load=BoardView.open_board)
app.add_page(login_page, route="/login", title="Staff sign-in")
app.add_page(history_page, route="/messages", title="Messages to a victim", on_load=MessageHistory.load)
app.add_page(admin_feed_page, route="/admin/feed", title="Dispatch feed", on_load=FeedAdmin.load)
app.add_page(cases_page, route="/cases", title="Open investigations", on_load=CaseList.load)
app.add_page(case_page, route="/case", title="Investigation", on_load=CaseDetail.load)


async def _lifespan() -> None:
    await asyncio.to_thread(migrate)
    publisher = ReflexPublisher(app)
    realtime.hub.subscribe(publisher)
    push_task = asyncio.create_task(publisher.run(), name="page-pusher")
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
        with suppress(asyncio.CancelledError):
            await push_task


app.register_lifespan_task(_lifespan)
