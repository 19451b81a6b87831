"""Who may see what (issue 9, point 3): the one table of roles to permissions in rxapp/staff/permissions.py,
asked for every role and every relation a case can have to the person asking; then the services and read
models that show or change a case, against a real database: each asks that table for the acting identity
and the case, and answers a case it refuses exactly as a case that does not exist (same value, same
exception and words, the same database statements)."""
from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from integrations.niche.protocol import RecordsChange, parse_change
from rxapp.attendance.models import Incident
from rxapp.attendance.service import AttendanceService
from rxapp.domain.statuses import StaffRole
from rxapp.investigation.models import Occurrence
from rxapp.investigation.service import JourneyService
from rxapp.investigation.views import case_detail, case_list_rows
from rxapp.messaging.views import history
from rxapp.plumbing.db import engine, session_scope
from rxapp.staff.accounts import StaffIdentity
from rxapp.staff.permissions import PERMISSIONS, CaseFacts, Permission, Reach, holds, may
from rxapp.tasks.models import Task

from .helpers import parsed, renumbered

ROOT = Path(__file__).resolve().parent.parent
P = Permission

# ---- the table itself ---------------------------------------------------------------------------------------

# Written out by hand from the issue: what each role may do at all.
EXPECTED_HOLDS = {
    "fcr": {P.READ_BOARD, P.READ_CASE, P.HOLD_TEXTS},
    "officer": {P.READ_CASE, P.RECORD_CONTACT, P.AGREE_FREQUENCY},
    "supervisor": {P.READ_CASE, P.RECORD_CONTACT, P.AGREE_FREQUENCY, P.READ_AUDIT, P.READ_BOARD, P.READ_FEEDS,
                   P.HOLD_TEXTS, P.READ_COMPLIANCE, P.REASSIGN_WORK},
    "admin": {P.MANAGE_ACCOUNTS, P.READ_FEEDS, P.READ_AUDIT, P.READ_COMPLIANCE},
    "pcc": {P.READ_COMPLIANCE},
}


def person(role: str, collar: str = "", team: str = "") -> StaffIdentity:
    return StaffIdentity(7, f"{role}.someone", f"{role.title()} Someone", role, collar_number=collar, team=team)


def test_every_role_holds_exactly_the_permissions_in_the_table():
    assert set(PERMISSIONS) == set(StaffRole)
    for role in StaffRole:
        assert {p for p in Permission if holds(person(role), p)} == EXPECTED_HOLDS[role.value], role


# The relations a case can have to the person asking. The person is PC 4127 of Middlesbrough CID.
ME, MY_TEAM = "PC 4127", "Middlesbrough CID"
RELATIONS = {
    "in charge of it": CaseFacts(oic_collar="PC 4127", oic_team="Stockton CID"),
    "in charge of it (written differently)": CaseFacts(oic_collar="pc4127", oic_team=None),
    "their team's": CaseFacts(oic_collar="DC 9001", oic_team="Middlesbrough CID"),
    "their team's (written differently)": CaseFacts(oic_collar="DC 9001", oic_team="  middlesbrough   cid "),
    "another team's": CaseFacts(oic_collar="DC 2210", oic_team="Hartlepool Safeguarding"),
    "another team's, live": CaseFacts(oic_collar="DC 2210", oic_team="Hartlepool Safeguarding", incident_open=True),
    "nobody's yet, live": CaseFacts(incident_open=True),
    "nobody's yet": CaseFacts(),
}
CASE_PERMISSIONS = (P.READ_CASE, P.RECORD_CONTACT, P.AGREE_FREQUENCY)
OWN = {"in charge of it", "in charge of it (written differently)"}
TEAM = {"their team's", "their team's (written differently)"}
LIVE = {"another team's, live", "nobody's yet, live"}
# role -> permission -> the relations it is allowed on; anything not listed is refused.
EXPECTED_ON_CASES = {
    "officer": {P.READ_CASE: OWN | TEAM, P.RECORD_CONTACT: OWN | TEAM, P.AGREE_FREQUENCY: OWN | TEAM},
    "supervisor": {P.READ_CASE: TEAM, P.RECORD_CONTACT: TEAM, P.AGREE_FREQUENCY: TEAM},
    "fcr": {P.READ_CASE: LIVE},
    "admin": {},
    "pcc": {},
}


@pytest.mark.parametrize("role", [r.value for r in StaffRole])
@pytest.mark.parametrize("relation", list(RELATIONS))
def test_each_role_on_each_kind_of_case(role, relation):
    asking = person(role, ME, MY_TEAM)
    for permission in CASE_PERMISSIONS:
        expected = relation in EXPECTED_ON_CASES[role].get(permission, set())
        assert may(asking, permission, RELATIONS[relation]) is expected, (role, relation, permission)


def test_a_case_permission_asked_without_a_case_is_refused_and_the_others_need_none():
    for role in StaffRole:
        for permission in CASE_PERMISSIONS:
            assert may(person(role, ME, MY_TEAM), permission) is False
    assert may(person("fcr"), P.READ_BOARD) and may(person("admin"), P.MANAGE_ACCOUNTS)
    assert not may(person("officer", ME, MY_TEAM), P.READ_BOARD) and not may(person("fcr"), P.READ_FEEDS)


def test_nobody_unknown_and_empty_accounts_get_nothing():
    case = RELATIONS["their team's"]
    assert not may(None, P.READ_CASE, case)
    assert not may(person("janitor", ME, MY_TEAM), P.READ_CASE, case)
    assert not holds(person("janitor"), P.READ_BOARD)
    # An officer with no collar number and no team is in charge of nothing, whatever the case says.
    assert not may(person("officer"), P.READ_CASE, CaseFacts(oic_collar="", oic_team=""))
    assert not may(person("officer"), P.READ_CASE, CaseFacts())


def test_an_account_may_name_several_teams():
    supervisor = person("supervisor", team="Stockton CID; Redcar Safeguarding")
    assert may(supervisor, P.READ_CASE, CaseFacts(oic_team="Redcar Safeguarding"))
    assert may(supervisor, P.READ_CASE, CaseFacts(oic_team="stockton cid"))
    assert not may(supervisor, P.READ_CASE, CaseFacts(oic_team="Stockton"))
    assert not may(supervisor, P.READ_CASE, CaseFacts(oic_team="Stockton CID; Redcar Safeguarding"))


def test_the_readme_table_is_the_permission_table():
    """README, "Who may see what": one row per role, one column per permission, each cell the reach."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Who may see what", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| `")]
    header = next(line for line in section.splitlines() if line.startswith("| role |"))
    columns = [c.strip().strip("`") for c in header.strip("|").split("|")][1:]
    assert set(columns) == {p.value for p in Permission}
    words = {Reach.ANYWHERE: "yes", Reach.OWN_OR_TEAM: "own or team's cases", Reach.TEAM: "team's cases",
             Reach.LIVE: "open attendances' cases"}
    table = {}
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        table[cells[0].strip("`")] = dict(zip(columns, cells[1:]))
    assert set(table) == {r.value for r in StaffRole}
    for role, permissions in PERMISSIONS.items():
        for permission in Permission:
            reach = permissions.get(permission)
            assert table[role.value][permission.value] == (words[reach] if reach else "no"), (role, permission)


# ---- the services and read models against a real database ---------------------------------------------------

RECORDS = ROOT / "integrations" / "niche" / "scenarios" / "records-changes.json"
BURGLARY, DOMESTIC = "26CL0041877", "26CL0041915"  # PC 4127 Middlesbrough CID; DC 2210 Hartlepool Safeguarding
MISSING = "26CL0000000"
SAM_JONES = StaffIdentity(11, "sam.jones", "PC 4127 Sam Jones", "officer", collar_number="PC 4127",
                          team="Middlesbrough CID")
PRIYA_SHAH = StaffIdentity(12, "priya.shah", "DC 2210 Priya Shah", "officer", collar_number="DC 2210",
                           team="Hartlepool Safeguarding")
TEESSIDE_SUPERVISOR = StaffIdentity(13, "sgt.ward", "Sgt Ward", "supervisor", team="Middlesbrough CID")
CONTROL_ROOM = StaffIdentity(14, "control.one", "Control One", "fcr")
ADMIN = StaffIdentity(15, "admin.one", "Admin One", "admin")


def load(db_url: str):
    """The STORM samples, then the records sample page change by change; returns the clock after."""
    AttendanceService(db_url).apply_sync(parsed(renumbered(["burglary-priority", "domestic-emergency"])))
    clock = None
    for raw in json.loads(RECORDS.read_text())["changes"]:
        change = parse_change(raw, decoded=True)
        assert isinstance(change, RecordsChange), raw["change_id"]
        clock = change.occurred_at + timedelta(minutes=1)
        assert JourneyService(db_url, now=lambda: clock).apply_page([change], None).dead_letters == 0
    return clock


def open_task_on(db_url: str, number: str) -> int:
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == number)).one()
        return s.exec(select(Task.id).where(Task.occurrence_id == occ.id, Task.status == "open")).first()


def set_incident_open(db_url: str, number: str, is_open: bool) -> str:
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == number)).one()
        incident = s.get(Incident, occ.incident_id)
        incident.is_open = is_open
        return incident.urn


class Statements:
    """The SQL statements a block sends, with their literal values blanked: the same list for a case refused
    and a case that does not exist means the same work, so the same time."""

    def __init__(self, db_url: str):
        self.engine, self.seen = engine(db_url), []

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append(re.sub(r"\s+", " ", statement))

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._record)


def test_the_case_list_holds_only_the_cases_the_identity_may_read(db_url):
    now = load(db_url)
    with session_scope(db_url) as s:
        def numbers(actor, **kw):
            return [r["occurrence_number"] for r in case_list_rows(s, actor, now, **kw)]

        assert numbers(SAM_JONES) == [BURGLARY] and numbers(PRIYA_SHAH) == [DOMESTIC]
        assert numbers(TEESSIDE_SUPERVISOR) == [BURGLARY]
        assert numbers(ADMIN) == [] and numbers(CONTROL_ROOM) == []  # both incidents are closed
        # "Mine" is the signed-in officer's own collar number: a supervisor with none has no cases of their own.
        assert numbers(SAM_JONES, only="mine") == [BURGLARY]
        assert numbers(TEESSIDE_SUPERVISOR, only="mine") == []
        colleague = StaffIdentity(16, "pc.other", "PC Other", "officer", collar_number="PC 1", team="Middlesbrough CID")
        assert numbers(colleague) == [BURGLARY] and numbers(colleague, only="mine") == []
    set_incident_open(db_url, DOMESTIC, True)
    with session_scope(db_url) as s:
        assert [r["occurrence_number"] for r in case_list_rows(s, CONTROL_ROOM, now)] == [DOMESTIC]


def test_a_case_refused_is_answered_as_a_case_that_does_not_exist(db_url):
    now = load(db_url)
    with session_scope(db_url) as s:
        assert case_detail(s, PRIYA_SHAH, DOMESTIC, now)["header"]["crime_reference"] == "CL/26/041915"
        assert case_detail(s, TEESSIDE_SUPERVISOR, BURGLARY, now) is not None
        for refused in (SAM_JONES, TEESSIDE_SUPERVISOR, CONTROL_ROOM, ADMIN):
            assert case_detail(s, refused, DOMESTIC, now) is None, refused.role
            assert case_detail(s, refused, MISSING, now) is None
    # The same statements, in the same order, for a case that exists and one that does not.
    with session_scope(db_url) as s, Statements(db_url) as forbidden:
        case_detail(s, SAM_JONES, DOMESTIC, now)
    with session_scope(db_url) as s, Statements(db_url) as missing:
        case_detail(s, SAM_JONES, MISSING, now)
    assert forbidden.seen == missing.seen and forbidden.seen


def test_the_control_room_reads_a_case_only_while_its_attendance_is_open(db_url):
    now = load(db_url)
    set_incident_open(db_url, DOMESTIC, True)
    with session_scope(db_url) as s:
        case = case_detail(s, CONTROL_ROOM, DOMESTIC, now)
        assert case is not None and case["can_complete"] is False and case["can_agree"] is False
        assert case_detail(s, CONTROL_ROOM, BURGLARY, now) is None
    set_incident_open(db_url, DOMESTIC, False)
    with session_scope(db_url) as s:
        assert case_detail(s, CONTROL_ROOM, DOMESTIC, now) is None


def test_changes_are_refused_in_the_service_with_the_words_of_a_missing_task_or_case(db_url):
    now = load(db_url)
    task_id = open_task_on(db_url, DOMESTIC)
    service = JourneyService(db_url, now=lambda: now)
    answers = {}
    for label, actor, task in (("another officer", SAM_JONES, task_id), ("another team's supervisor",
                               TEESSIDE_SUPERVISOR, task_id), ("control room", CONTROL_ROOM, task_id),
                               ("administrator", ADMIN, task_id), ("no such task", PRIYA_SHAH, 10 ** 9)):
        with pytest.raises(LookupError) as refused:
            service.complete_task(actor, task, how_told="phone")
        answers[label] = (type(refused.value), str(refused.value))
    assert set(answers.values()) == {(LookupError, "no such task")}, answers
    # A task of the right person's, but named on another case, is not on that case.
    with pytest.raises(LookupError, match="^no such task$"):
        service.complete_task(PRIYA_SHAH, task_id, how_told="phone", on_case=BURGLARY)
    answers = set()
    for actor, number in ((SAM_JONES, DOMESTIC), (ADMIN, DOMESTIC), (CONTROL_ROOM, DOMESTIC), (PRIYA_SHAH, MISSING)):
        with pytest.raises(LookupError) as refused:
            service.agree_update_frequency(actor, number, 14)
        answers.add((type(refused.value), str(refused.value)))
    assert answers == {(LookupError, "no such case")}
    with session_scope(db_url) as s:
        task = s.get(Task, task_id)
        assert task.status == "open" and task.completed_by is None  # nothing changed
    # Refused and missing do the same work.
    with Statements(db_url) as forbidden, pytest.raises(LookupError):
        service.complete_task(SAM_JONES, task_id, how_told="phone")
    with Statements(db_url) as missing, pytest.raises(LookupError):
        service.complete_task(SAM_JONES, 10 ** 9, how_told="phone")
    assert forbidden.seen == missing.seen
    with Statements(db_url) as forbidden, pytest.raises(LookupError):
        service.agree_update_frequency(SAM_JONES, DOMESTIC, 14)
    with Statements(db_url) as missing, pytest.raises(LookupError):
        service.agree_update_frequency(SAM_JONES, MISSING, 14)
    assert forbidden.seen == missing.seen
    # The officer in charge can.
    service.complete_task(PRIYA_SHAH, task_id, how_told="phone", on_case=DOMESTIC)
    service.agree_update_frequency(PRIYA_SHAH, DOMESTIC, 14)


def test_an_incidents_message_history_is_refused_as_an_incident_that_does_not_exist(db_url):
    load(db_url)
    urn = set_incident_open(db_url, DOMESTIC, True)
    with session_scope(db_url) as s:
        assert history(s, CONTROL_ROOM, urn)["urn"] == urn  # the attendance is live
        assert history(s, PRIYA_SHAH, urn)["urn"] == urn  # her case came from it
        assert history(s, SAM_JONES, urn) is None and history(s, ADMIN, urn) is None
        assert history(s, SAM_JONES, "CLE-00000000-0000") is None
    with session_scope(db_url) as s, Statements(db_url) as forbidden:
        history(s, SAM_JONES, urn)
    with session_scope(db_url) as s, Statements(db_url) as missing:
        history(s, SAM_JONES, "CLE-00000000-0000")
    assert forbidden.seen == missing.seen
    set_incident_open(db_url, DOMESTIC, False)
    with session_scope(db_url) as s:
        assert history(s, CONTROL_ROOM, urn) is None  # closed: no longer the control room's
        assert history(s, PRIYA_SHAH, urn) is not None


def test_an_account_made_with_collar_and_team_signs_in_as_that_officer(db_url, monkeypatch):
    import io

    from rxapp.cli import main
    from rxapp.staff.accounts import identity_for_token, sign_in

    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-password\n"))
    assert main(["create-user", "pjones", "--role", "officer", "--collar", " PC   4127 ", "--team",
                 "Middlesbrough  CID ;Redcar CID;", "--password-stdin"]) == 0
    with session_scope(db_url) as s:
        token = sign_in(s, "pjones", "a-long-enough-password")
    with session_scope(db_url) as s:
        me = identity_for_token(s, token)
    assert (me.collar_number, me.team) == ("PC 4127", "Middlesbrough CID; Redcar CID")
    assert may(me, P.READ_CASE, CaseFacts(oic_collar="pc4127")) and may(me, P.READ_CASE, CaseFacts(oic_team="Redcar CID"))
    assert main(["create-user", "toolong", "--role", "officer", "--collar", "x" * 41, "--password-stdin"]) == 2
