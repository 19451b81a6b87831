"""`GET /compliance/export.csv?table=…&start=…&end=…`: one of the compliance page's tables as CSV, for the
signed-in member of staff (the session cookie, checked afresh), with the same figures the page shows them.

A cell that a spreadsheet would read as a formula (starting = + - @, or a tab or carriage return) is
prefixed with an apostrophe, so an exported file never runs anything when opened.
"""
from __future__ import annotations

import asyncio
import csv
import io
import re

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from rxapp.compliance import measures as m
from rxapp.compliance import views
from rxapp.domain import compliance as rules
from rxapp.plumbing.db import session_scope
from rxapp.staff.accounts import identity_from_cookie_header
from rxapp.staff.permissions import Permission, holds

NO_STORE = {"cache-control": "no-store"}
MEASURE_COLUMNS = ("split", "group", "measure", "owed", *rules.OUTCOMES, "on_time_percent")
FEEDBACK_COLUMNS = ("month", "answered", "declined", "informed_average", "overall_average", "informed_count",
                    "overall_count")
TABLES = (*m.SPLITS, "demand", "feedback")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(columns: tuple[str, ...], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(c, "")) for c in columns])
    return out.getvalue()


def table_csv(actor, table: str, start: str, end: str, per_update: str = "", per_sign_in: str = "") -> str:
    """The table as CSV; raises m.NotAllowed or ValueError (in words)."""
    if not holds(actor, Permission.READ_COMPLIANCE):
        raise m.NotAllowed()
    if table not in TABLES:
        raise ValueError("No such table.")
    period = views.period_from(start, end)
    with session_scope(readonly=True) as session:
        if table == "demand":
            calls = views.calls_from(per_update, per_sign_in)
            return to_csv(("month", *m.DEMAND_COLUMNS), m.demand(session, actor, period, calls))
        if table == "feedback":
            return to_csv(FEEDBACK_COLUMNS, m.feedback(session, actor, period))
        rows = m.measure_table(m.owed_duties(session, actor, period), table)
    return to_csv(MEASURE_COLUMNS, rows)


async def export(request: Request) -> Response:
    q = request.query_params
    staff = await asyncio.to_thread(identity_from_cookie_header, request.headers.get("cookie"))
    if staff is None or not holds(staff, Permission.READ_COMPLIANCE):
        return PlainTextResponse("Sign in with an account that may see the compliance figures.\n", status_code=403,
                                 headers=NO_STORE)
    table = q.get("table", "")[:20]
    try:
        body = await asyncio.to_thread(table_csv, staff, table, q.get("start", "")[:10], q.get("end", "")[:10],
                                       q.get("per_update", "")[:10], q.get("per_sign_in", "")[:10])
    except m.NotAllowed:
        return PlainTextResponse("Sign in with an account that may see the compliance figures.\n", status_code=403,
                                 headers=NO_STORE)
    except ValueError as exc:
        return PlainTextResponse(f"{exc}\n", status_code=400, headers=NO_STORE)
    name = f"compliance-{table}-{re.sub(r'[^0-9-]', '', q.get('start', '')[:10]) or 'this-quarter'}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={**NO_STORE, "content-disposition": f'attachment; filename="{name}"'})


ROUTES = [Route("/compliance/export.csv", export, methods=["GET"])]
