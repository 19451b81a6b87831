"""Plain HTTP routes beside the Reflex app: each capability's routes, and a health check.

`/healthz` tells the public only whether the service is up (`{"status": "ok"}`), up but degraded
(`{"status": "degraded"}`: the dispatch feed's frames arrive but none applies, or a sequence alert; still 200,
since the pages work and a load balancer must not take the service out for it), or down (503). The details
(the STORM resume point and why the feed is degraded, dead letters, the runner's loops) go to a signed-in
administrator or supervisor, or to monitoring that sends `Authorization: Bearer <HEALTHZ_TOKEN>`.
"""
from __future__ import annotations

import asyncio
import hmac
import logging

from sqlmodel import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rxapp.compliance import export as compliance_export
from rxapp.domain.statuses import StaffRole
from rxapp.feeds.models import DeadLetter, FeedCursor
from rxapp.feeds.views import storm_feed_health
from rxapp.messaging import routes as messaging_routes
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.jobs import runner_status
from rxapp.portal import routes as portal_routes
from rxapp.staff import oidc_routes
from rxapp.staff import routes as staff_routes
from rxapp.staff.accounts import identity_from_cookie_header

log = logging.getLogger(__name__)
HEALTH_DETAIL_ROLES = (StaffRole.ADMIN, StaffRole.SUPERVISOR)
NO_STORE = {"cache-control": "no-store"}


async def _may_see_details(request: Request) -> bool:
    token = settings().healthz_token
    header = request.headers.get("authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    if not request.headers.get("cookie"):
        return False
    try:
        staff = await asyncio.to_thread(identity_from_cookie_header, request.headers.get("cookie"))
    except Exception:  # the database is down: the answer below says so, without details
        return False
    return staff is not None and staff.role in HEALTH_DETAIL_ROLES


async def health(request: Request):
    def _read():
        with session_scope(readonly=True) as session:
            cursor = session.get(FeedCursor, "storm")
            dead = session.exec(select(func.count()).select_from(DeadLetter)).one()
            body = {"database": "ok", "storm_last_seq": cursor.last_seq if cursor else 0, "dead_letters": dead,
                    "storm_feed": storm_feed_health(session, utcnow())}
        # What the elected runner last stored: the same answer whichever worker is asked.
        body["runner"] = runner_status()
        return body

    details = await _may_see_details(request)
    try:
        body = await asyncio.to_thread(_read)
    except Exception:
        log.exception("health check failed")
        return JSONResponse({"status": "error", **({"database": "error"} if details else {})}, status_code=503,
                            headers=NO_STORE)
    status = "degraded" if body["storm_feed"]["degraded"] else "ok"
    return JSONResponse({"status": status, **body} if details else {"status": status}, headers=NO_STORE)


api = Starlette(routes=[
    *staff_routes.ROUTES,
    *oidc_routes.ROUTES,
    Route("/healthz", health, methods=["GET"]),
    *messaging_routes.ROUTES,
    *portal_routes.ROUTES,
    *compliance_export.ROUTES,
])
