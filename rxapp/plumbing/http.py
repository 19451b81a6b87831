"""Plain HTTP routes beside the Reflex app: each capability's routes, and a health check."""
from __future__ import annotations

import asyncio
import logging

from sqlmodel import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rxapp.feeds.models import DeadLetter, FeedCursor
from rxapp.messaging import routes as messaging_routes
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.jobs import runner_status
from rxapp.staff import routes as staff_routes

log = logging.getLogger(__name__)


async def health(_request: Request):
    def _read():
        with session_scope(readonly=True) as session:
            cursor = session.get(FeedCursor, "storm")
            dead = session.exec(select(func.count()).select_from(DeadLetter)).one()
            body = {"database": "ok", "storm_last_seq": cursor.last_seq if cursor else 0, "dead_letters": dead}
        # What the elected runner last stored: the same answer whichever worker is asked.
        body["runner"] = runner_status()
        return body

    try:
        body = await asyncio.to_thread(_read)
    except Exception:
        log.exception("health check failed")
        return JSONResponse({"database": "error"}, status_code=503)
    return JSONResponse(body)


api = Starlette(routes=[
    *staff_routes.ROUTES,
    Route("/healthz", health, methods=["GET"]),
    *messaging_routes.ROUTES,
])
