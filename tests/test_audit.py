"""The audit log (issue 9, point 4) against a real database: every look at a victim's details and every change
to a case is recorded, allowed or refused, by whom, when and on what, with no personal data; the product can
only add entries; the retention job deletes only those older than AUDIT_RETENTION_DAYS; supervisors read
their teams' entries, administrators all of them, nobody else any."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from rxapp.audit import scheduled as audit_scheduled
from rxapp.audit.models import AuditEvent
from rxapp.audit.service import AuditAction, AuditOutcome, delete_expired, record
from rxapp.audit.views import audit_rows
from rxapp.investigation.models import Occurrence
from rxapp.investigation.service import JourneyService
from rxapp.investigation.views import case_detail
from rxapp.messaging.views import history
from rxapp.plumbing import config
from rxapp.plumbing.db import session_scope
from rxapp.staff.accounts import StaffIdentity
from rxapp.victims.models import Victim

from .test_access import (
    ADMIN,
    BURGLARY,
    CONTROL_ROOM,
    DOMESTIC,
    MISSING,
    PRIYA_SHAH,
    SAM_JONES,
    TEESSIDE_SUPERVISOR,
    load,
    open_task_on,
    set_incident_open,
)

UTC = timezone.utc
HARTLEPOOL_SUPERVISOR = StaffIdentity(21, "sgt.hart", "Sgt Hart", "supervisor", team="Hartlepool Safeguarding")
TYPED_NOTE = "Spoke to Amina on 07700900123 at her sister's, 14 Acacia Avenue"


def entries(db_url: str) -> list[AuditEvent]:
    with session_scope(db_url) as s:
        return list(s.exec(select(AuditEvent).order_by(AuditEvent.id)))


def case_id(db_url: str, number: str) -> int:
    with session_scope(db_url) as s:
        return s.exec(select(Occurrence.id).where(Occurrence.occurrence_number == number)).one()


def summary(e: AuditEvent) -> tuple:
    return (e.actor, e.actor_role, e.action, e.outcome, e.occurrence_id, e.team)


def test_every_look_and_every_change_is_recorded_allowed_or_refused(db_url):
    now = load(db_url)
    domestic, burglary = case_id(db_url, DOMESTIC), case_id(db_url, BURGLARY)
    urn = set_incident_open(db_url, DOMESTIC, True)
    before = len(entries(db_url))
    assert before == 0  # the records feed and the attendance feed record no looks

    with session_scope(db_url) as s:
        case_detail(s, PRIYA_SHAH, DOMESTIC, now)  # her own case
        case_detail(s, SAM_JONES, DOMESTIC, now)  # not his: refused
        case_detail(s, SAM_JONES, MISSING, now)  # no such case: refused, naming no case
        history(s, CONTROL_ROOM, urn)  # the attendance is live
        history(s, SAM_JONES, urn)  # refused
    service = JourneyService(db_url, now=lambda: now)
    task_id = open_task_on(db_url, DOMESTIC)
    with pytest.raises(LookupError):
        service.complete_task(SAM_JONES, task_id, how_told="phone")
    service.complete_task(PRIYA_SHAH, task_id, how_told="phone", note=TYPED_NOTE)
    with pytest.raises(LookupError):
        service.agree_update_frequency(ADMIN, BURGLARY, 14)
    service.agree_update_frequency(SAM_JONES, BURGLARY, 14)

    got = entries(db_url)
    hartlepool, middlesbrough = "Hartlepool Safeguarding", "Middlesbrough CID"
    assert [summary(e) for e in got] == [
        ("priya.shah", "officer", "view_case", "allowed", domestic, hartlepool),
        ("sam.jones", "officer", "view_case", "refused", domestic, hartlepool),
        ("sam.jones", "officer", "view_case", "refused", None, None),
        ("control.one", "fcr", "view_history", "allowed", None, hartlepool),
        ("sam.jones", "officer", "view_history", "refused", None, hartlepool),
        ("sam.jones", "officer", "complete_task", "refused", domestic, hartlepool),
        ("priya.shah", "officer", "complete_task", "allowed", domestic, hartlepool),
        ("admin.one", "admin", "agree_frequency", "refused", burglary, middlesbrough),
        ("sam.jones", "officer", "agree_frequency", "allowed", burglary, middlesbrough),
    ]
    assert got[3].incident_id is not None and got[3].incident_id == got[4].incident_id  # the incident looked at
    assert got[6].detail == f"task {task_id}: phone"
    assert got[8].detail.endswith(": every 14 days")
    assert all(e.at is not None for e in got)
    # A refusal leaves no trace but the audit entry: the task is still open for the officer in charge.
    assert got[5].detail == f"task {task_id}"


def test_no_personal_data_is_in_the_audit_log(db_url):
    now = load(db_url)
    urn = set_incident_open(db_url, DOMESTIC, True)
    task_id = open_task_on(db_url, DOMESTIC)
    with session_scope(db_url) as s:
        for who in (PRIYA_SHAH, SAM_JONES, CONTROL_ROOM, ADMIN):
            case_detail(s, who, DOMESTIC, now)
            case_detail(s, who, BURGLARY, now)
            history(s, who, urn)
        case_detail(s, SAM_JONES, "Amina Khan 07700900123", now)  # something typed where a number goes
    JourneyService(db_url, now=lambda: now).complete_task(PRIYA_SHAH, task_id, how_told="phone", note=TYPED_NOTE)
    private = ["Amina", "07700900123", "7700900123", "Acacia", TYPED_NOTE]
    with session_scope(db_url) as s:
        for v in s.exec(select(Victim)):
            private += [x for x in (v.name, v.phone, v.email, v.postal_address, v.contact_notes) if x]
            if v.phone:
                private.append(v.phone[-10:])
    stored = json.dumps([e.model_dump(mode="json") for e in entries(db_url)], ensure_ascii=False)
    assert len(entries(db_url)) == 14
    for detail in private:
        assert detail not in stored, detail


def test_the_product_can_only_add_entries(db_url):
    with session_scope(db_url) as s:
        record(s, SAM_JONES, AuditAction.VIEW_CASE, AuditOutcome.ALLOWED, detail="case page")
    with pytest.raises(PermissionError, match="append-only"):
        with session_scope(db_url) as s:
            row = s.exec(select(AuditEvent)).one()
            row.outcome = "refused"
    with pytest.raises(PermissionError, match="append-only"):
        with session_scope(db_url) as s:
            s.delete(s.exec(select(AuditEvent)).one())
    assert [summary(e) for e in entries(db_url)] == [("sam.jones", "officer", "view_case", "allowed", None, None)]
    import inspect

    import rxapp.audit.service as audit_service

    own = [name for name, f in inspect.getmembers(audit_service, inspect.isfunction)
           if f.__module__ == audit_service.__name__]
    assert "record" in own
    assert [name for name in own if name.startswith(("update", "delete", "remove", "change", "edit"))] == \
        ["delete_expired"]  # the retention job's, and nothing else


def test_retention_deletes_only_the_entries_older_than_the_setting(db_url, monkeypatch):
    now = datetime.now(UTC)
    ages = [0, 1, 2554, 2556, 2556, 4000, 9000]
    with session_scope(db_url) as s:
        for days in ages:
            record(s, SAM_JONES, AuditAction.VIEW_CASE, AuditOutcome.ALLOWED, detail=f"{days} days old",
                   at=now - timedelta(days=days))
    assert delete_expired(now, retention_days=2555, db_url=db_url, batch=2) == 4  # in batches of two
    assert sorted(e.detail for e in entries(db_url)) == ["0 days old", "1 days old", "2554 days old"]
    assert delete_expired(now, retention_days=2555, db_url=db_url) == 0

    # The job the runner registers reads AUDIT_RETENTION_DAYS (default 2555).
    assert config.load_settings({}).audit_retention_days == 2555
    assert any("AUDIT_RETENTION_DAYS" in p for p in config.check({"AUDIT_RETENTION_DAYS": "0"}, production=False))
    monkeypatch.setenv("AUDIT_RETENTION_DAYS", "1")
    config.reset_settings()
    (job,) = audit_scheduled.jobs(config.settings())
    assert job.id == "audit-retention" and audit_scheduled.loops(config.settings()) == []
    with session_scope(db_url) as s:
        record(s, SAM_JONES, AuditAction.VIEW_CASE, AuditOutcome.ALLOWED, detail="just now")
        record(s, SAM_JONES, AuditAction.VIEW_CASE, AuditOutcome.ALLOWED, detail="two days ago",
               at=datetime.now(UTC) - timedelta(days=2))
    assert asyncio.run(job.run()) == 3  # two days, 2554 days and one day (and a moment) old
    assert sorted(e.detail for e in entries(db_url)) == ["0 days old", "just now"]


def test_supervisors_read_their_teams_entries_and_administrators_all(db_url):
    now = load(db_url)
    with session_scope(db_url) as s:
        case_detail(s, PRIYA_SHAH, DOMESTIC, now)
        case_detail(s, SAM_JONES, DOMESTIC, now)  # an attempt on Hartlepool's case, by a Middlesbrough officer
        case_detail(s, SAM_JONES, BURGLARY, now)
        case_detail(s, SAM_JONES, MISSING, now)
    with session_scope(db_url) as s:
        hartlepool = audit_rows(s, HARTLEPOOL_SUPERVISOR)
        middlesbrough = audit_rows(s, TEESSIDE_SUPERVISOR)
        everything = audit_rows(s, ADMIN)
        assert audit_rows(s, SAM_JONES) is None and audit_rows(s, CONTROL_ROOM) is None
        nobody = audit_rows(s, StaffIdentity(30, "sgt.none", "Sgt None", "supervisor"))
        one_case = audit_rows(s, ADMIN, occurrence_number=DOMESTIC)
    assert [(r["who"], r["case"], r["outcome"]) for r in hartlepool] == [
        ("sam.jones", DOMESTIC, "refused"), ("priya.shah", DOMESTIC, "allowed")]  # newest first
    assert [(r["who"], r["case"], r["outcome"]) for r in middlesbrough] == [("sam.jones", BURGLARY, "allowed")]
    assert len(everything) == 4 and everything[0]["case"] == "" and everything[0]["outcome_label"] == "Refused"
    assert nobody == []
    assert {r["case"] for r in one_case} == {DOMESTIC}
    assert all(isinstance(v, str) for r in everything for v in r.values())
    assert everything[-1]["what"] == "Opened a case" and everything[-1]["team"] == "Hartlepool Safeguarding"
