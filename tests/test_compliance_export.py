"""The compliance tables as CSV over HTTP: only for a signed-in account that may see the figures, the same
figures the page shows that account, and no cell a spreadsheet would run as a formula."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from rxapp.compliance import measures as m
from rxapp.compliance.export import safe_cell
from rxapp.investigation.models import CaseVictim
from rxapp.plumbing.db import session_scope
from rxapp.staff.accounts import create_user, identity_for_token, sign_in
from rxapp.staff.models import StaffUser

from .test_compliance import WIDE, notify, played  # noqa: F401  (fixtures used by name)

PASSWORD = "correct horse battery"
QUERY = f"start={WIDE.first_day}&end={WIDE.last_day}"


def test_cells_a_spreadsheet_would_run_are_defused():
    assert [safe_cell(v) for v in ("=1+1", "+44", "-3", "@SUM(A1)", "\tx", "Burglary", 12, None)] == \
        ["'=1+1", "'+44", "'-3", "'@SUM(A1)", "'\tx", "Burglary", "12", ""]


def account(username: str, role: str, team: str = "") -> str:
    with session_scope() as s:
        create_user(s, username, PASSWORD, role, username)
        user = s.exec(select(StaffUser).where(StaffUser.username == username)).one()
        user.team = team or None
    with session_scope() as s:
        return sign_in(s, username, PASSWORD, datetime.now(timezone.utc))


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.asyncio
async def test_the_export_is_the_page_figures_for_that_account_and_nobody_else(played):  # noqa: F811
    from rxapp.plumbing.http import api

    with session_scope(played) as s:  # a reason the records system sent that a spreadsheet would run
        link = s.exec(select(CaseVictim).where(CaseVictim.enhanced == True)).first()  # noqa: E712
        link.enhanced_reasons = "=HYPERLINK(\"http://example.org\")"
    tokens = {name: account(f"{name}.one", role, team) for name, role, team in (
        ("officer", "officer", "Middlesbrough CID"), ("fcr", "fcr", ""), ("pcc", "pcc", ""),
        ("supervisor", "supervisor", "Middlesbrough CID"))}
    with TestClient(api) as client:
        def get(table, who=None, query=QUERY):
            headers = {"cookie": f"vj_staff={tokens[who]}"} if who else {}
            return client.get(f"/compliance/export.csv?table={table}&{query}", headers=headers)

        for who in (None, "officer", "fcr"):
            refused = get("measure", who)
            assert refused.status_code == 403 and "text/csv" not in refused.headers["content-type"]
        assert get("victims", "pcc").status_code == 400
        assert get("measure", "pcc", "start=2026-13-01&end=2026-12-31").status_code == 400
        answer = get("measure", "pcc")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        assert answer.headers["cache-control"] == "no-store"
        assert 'filename="compliance-measure-2026-10-01.csv"' in answer.headers["content-disposition"]
        with session_scope(played) as s:
            pcc = identity_for_token(s, tokens["pcc"])
            team = identity_for_token(s, tokens["supervisor"])
            expected_force = m.measures(s, pcc, WIDE)
            expected_team = m.measures(s, team, WIDE)
        for split in ("measure", "category", "reason"):
            shown = rows_of(get(split, "pcc").text)
            assert [(r["group"], r["measure"], int(r["owed"]), int(r["met_on_time"])) for r in shown] == \
                [(safe_cell(r["group"]), r["measure"], r["owed"], r["met_on_time"]) for r in expected_force[split]]
            shown_team = rows_of(get(split, "supervisor").text)
            assert [int(r["owed"]) for r in shown_team] == [r["owed"] for r in expected_team[split]]
        reasons = [r["group"] for r in rows_of(get("reason", "pcc").text)]
        assert "'=HYPERLINK(\"http://example.org\")" in reasons and not any(r.startswith("=") for r in reasons)
        demand = rows_of(get("demand", "pcc", QUERY + "&per_update=50&per_sign_in=0").text)
        total = demand[-1]
        assert total["month"] == "Total" and int(total["calls_avoided"]) == round(
            (int(total["attendance_texts_delivered"]) + int(total["case_updates_delivered"])) * 0.5)
        assert get("demand", "pcc", QUERY + "&per_update=500").status_code == 400
        assert rows_of(get("feedback", "supervisor").text)[-1]["month"] == "Total"
