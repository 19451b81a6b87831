"""The supervisor view on the real database: the team's queue (escalated first, then overdue, then by deadline;
another team's tasks never), the notice an escalation sends to the team's supervisors (and to the team when it
has no supervisor account), reassigning a task or a case within the team (refused and audited outside it, the
same whether the task or case exists), what NICHE does next, and who is over their load."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from rxapp.audit.models import AuditEvent
from rxapp.domain.statuses import StaffRole
from rxapp.inbox import views as inbox_views
from rxapp.investigation.models import Occurrence, OccurrenceEvent
from rxapp.investigation.service import JourneyService
from rxapp.plumbing import config
from rxapp.plumbing.db import session_scope
from rxapp.staff.accounts import StaffIdentity
from rxapp.staff.models import StaffUser
from rxapp.staff.permissions import PERMISSIONS, Permission, Reach, roles_with
from rxapp.supervision import notices, service
from rxapp.supervision.models import Reassignment, StaffNotice
from rxapp.tasks.models import Task

from .portal_cases import AT, OFFICER, record_case, sign_in
from .test_inbox import change_oic, other_team_case, write

OURS, THEIRS = "26CL0090001", "26CL0090002"


def account(db_url, username, role, collar, team, active=True) -> StaffIdentity:
    with session_scope(db_url) as s:
        user = StaffUser(username=username, display_name=f"{collar} {username.title()}".strip(), password_hash="x",
                         role=role, collar_number=collar or None, team=team, active=active)
        s.add(user)
        s.flush()
        return StaffIdentity(user.id, user.username, user.display_name, user.role, collar_number=collar, team=team)


def occurrence(db_url, number) -> Occurrence:
    with session_scope(db_url, readonly=True) as s:
        return s.exec(select(Occurrence).where(Occurrence.occurrence_number == number)).one()


def add_task(db_url, number, title, due, assignee="PC 1234", escalated=None, victim=True) -> int:
    occ = occurrence(db_url, number)
    with session_scope(db_url) as s:
        from rxapp.investigation.models import CaseVictim
        cv = s.exec(select(CaseVictim).where(CaseVictim.occurrence_id == occ.id)).first()
        task = Task(kind="contact_victim", title=title, occurrence_id=occ.id, due_at=due, assignee=assignee,
                    victim_id=cv.victim_id if victim and cv else None, escalated_at=escalated, created_at=AT)
        s.add(task)
        s.flush()
        return task.id


def refusals(db_url, username) -> list[tuple]:
    with session_scope(db_url, readonly=True) as s:
        return [(e.action, e.outcome, e.occurrence_id) for e in s.exec(
            select(AuditEvent).where(AuditEvent.actor == username).order_by(AuditEvent.id))]


@pytest.fixture
def team(db_url):
    """Our team's case (PC 1234, Test Team) and another team's (PC 9999, Another Team), with accounts: two
    supervisors of the team (one spelling it differently, among two teams), an inactive one, another team's
    supervisor, a teammate and the officer in charge."""
    record_case(db_url)
    other_team_case(db_url)
    people = {
        "sergeant": account(db_url, "sergeant", "supervisor", "PS 77", "Test Team"),
        "inspector": account(db_url, "inspector", "supervisor", "PS 78", "Redcar CID;  test   TEAM"),
        "retired": account(db_url, "retired", "supervisor", "PS 79", "Test Team", active=False),
        "stranger": account(db_url, "stranger", "supervisor", "PS 80", "Another Team"),
        "mate": account(db_url, "mate", "officer", "PC 5555", "Test Team"),
        "oic": account(db_url, "oic", "officer", "PC 1234", "Test Team"),
        "fcr": account(db_url, "controller", "fcr", "", ""),
    }
    return people


# ---- the permission --------------------------------------------------------------------------------------------

def test_only_supervisors_reassign_and_only_within_their_team():
    assert roles_with(Permission.REASSIGN_WORK) == (StaffRole.SUPERVISOR,)
    assert PERMISSIONS[StaffRole.SUPERVISOR][Permission.REASSIGN_WORK] is Reach.TEAM


# ---- the queue ---------------------------------------------------------------------------------------------------

def test_queue_holds_the_teams_tasks_escalated_then_overdue_then_by_deadline(db_url, team):
    add_task(db_url, OURS, "Later", AT + timedelta(days=3))
    add_task(db_url, OURS, "Undated", None, assignee="PC 5555")
    add_task(db_url, OURS, "Overdue", AT - timedelta(days=1))
    add_task(db_url, OURS, "Escalated", AT - timedelta(hours=2), escalated=AT - timedelta(hours=1))
    add_task(db_url, OURS, "Sooner", AT + timedelta(hours=2), assignee="PC 5555")
    add_task(db_url, THEIRS, "Not ours", AT - timedelta(days=9), assignee="PC 9999")
    page = service.load_team(team["sergeant"], now=AT, db_url=db_url)
    titles = [r["title"] for r in page["queue"]]
    mine = [t for t in titles if t in ("Later", "Undated", "Overdue", "Escalated", "Sooner")]
    assert mine == ["Escalated", "Overdue", "Sooner", "Later", "Undated"]
    assert "Not ours" not in titles and all(r["occurrence_number"] == OURS for r in page["queue"])
    first = page["queue"][0]
    assert first["escalated"].startswith("Escalated ") and first["tone"] == "bad"
    assert first["victim_name"] == "Test Victim" and first["officer"] == "PC 1234 Test Officer"
    assert first["due"].startswith("Overdue: was due ") and first["case"] == "CL/26/090001"
    # Filtered by officer: only the teammate's.
    only = service.load_team(team["sergeant"], officer="pc5555", now=AT, db_url=db_url)
    assert [r["title"] for r in only["queue"]] == ["Sooner", "Undated"] and only["officer"] == "PC5555"
    # A name not of the team shows everyone's, not nobody's.
    assert len(service.load_team(team["sergeant"], officer="PC 9999", now=AT, db_url=db_url)["queue"]) == \
        len(page["queue"])
    # The other team's supervisor sees their own team's work only.
    theirs = service.load_team(team["stranger"], now=AT, db_url=db_url)
    assert {r["occurrence_number"] for r in theirs["queue"]} == {THEIRS}
    assert {o["key"] for o in theirs["officers"]} == {"PC9999", "PS80"}  # their officer, and themselves


def test_an_officer_fcr_or_admin_may_not_load_the_team_page(db_url, team):
    for who in (team["mate"], team["fcr"], StaffIdentity(99, "admin", "Admin", "admin")):
        with pytest.raises(service.views.NotAllowed):
            service.load_team(who, now=AT, db_url=db_url)


# ---- notices -------------------------------------------------------------------------------------------------

def _escalate(db_url, number, title="Ring the victim") -> tuple[int, list[StaffNotice]]:
    task_id = add_task(db_url, number, title, AT - timedelta(hours=1))
    with session_scope(db_url) as s:
        task = s.get(Task, task_id)
        task.escalated_at = AT
        made = notices.notify_escalation(s, task, s.get(Occurrence, task.occurrence_id), AT)
        again = notices.notify_escalation(s, task, s.get(Occurrence, task.occurrence_id), AT)
        assert again == []  # the same escalation is told once
        return task_id, [(n.staff_user_id, n.team) for n in made]


def test_an_escalation_notifies_each_active_supervisor_of_the_cases_team(db_url, team):
    task_id, made = _escalate(db_url, OURS)
    assert sorted(made) == sorted([(team["sergeant"].user_id, "test team"), (team["inspector"].user_id, "test team")])
    assert [notices_unread(db_url, team[w]) for w in ("sergeant", "inspector", "stranger", "mate")] == [1, 1, 0, 0]
    page = service.load_team(team["sergeant"], now=AT + timedelta(minutes=1), db_url=db_url)
    assert page["counts"]["unread"] == "1"
    [notice] = page["notices"]
    assert notice["new"] == "New" and "Ring the victim" in notice["words"] and notice["case"] == "CL/26/090001"
    assert notice["state"] == "Still open"
    # Seen: read for this supervisor, still unread for the other.
    assert notices_unread(db_url, team["sergeant"]) == 0 and notices_unread(db_url, team["inspector"]) == 1
    again = service.load_team(team["sergeant"], now=AT + timedelta(minutes=2), db_url=db_url)
    assert again["notices"][0]["new"] == "" and again["counts"]["unread"] == "0"


def notices_unread(db_url, who) -> int:
    return service.unread_notices(who, db_url=db_url)


def test_a_team_without_a_supervisor_account_keeps_the_notice_for_its_next_supervisor(db_url, team):
    _, made = _escalate(db_url, THEIRS)
    assert made == [(team["stranger"].user_id, "another team")]
    with session_scope(db_url) as s:  # the other team's only supervisor leaves
        s.get(StaffUser, team["stranger"].user_id).active = False
    _, made = _escalate(db_url, THEIRS, "Second escalation")
    assert made == [(None, "another team")]
    newcomer = account(db_url, "newcomer", "supervisor", "PS 90", "another team")
    assert notices_unread(db_url, newcomer) == 1 and notices_unread(db_url, team["sergeant"]) == 0
    page = service.load_team(newcomer, now=AT + timedelta(minutes=1), db_url=db_url)
    assert [n["words"] for n in page["notices"]] == [
        "Escalated to you: 'Second escalation' was not done by its deadline"]
    with session_scope(db_url, readonly=True) as s:
        team_notice = s.exec(select(StaffNotice).where(StaffNotice.staff_user_id.is_(None))).one()
    assert team_notice.read_by == "newcomer" and team_notice.read_at is not None
    assert notices_unread(db_url, newcomer) == 0


def test_a_task_on_no_case_or_a_case_without_team_notifies_no_one(db_url, team):
    with session_scope(db_url) as s:
        loose = Task(kind="delivery_failed", title="Loose", created_at=AT)
        s.add(loose)
        s.flush()
        assert notices.notify_escalation(s, loose, None, AT) == []
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == OURS)).one()
        occ.oic_team = None
        task = Task(kind="contact_victim", title="No team", occurrence_id=occ.id, created_at=AT)
        s.add(task)
        s.flush()
        assert notices.notify_escalation(s, task, occ, AT) == []


def test_the_deadline_sweep_notifies_the_supervisors(db_url, team):
    add_task(db_url, OURS, "Swept", AT + timedelta(hours=1))
    with session_scope(db_url) as s:
        task = s.exec(select(Task).where(Task.title == "Swept")).one()
        task.escalate_at = task.due_at
    JourneyService(db_url, now=lambda: AT + timedelta(hours=2)).sweep()
    assert notices_unread(db_url, team["sergeant"]) >= 1
    page = service.load_team(team["sergeant"], now=AT + timedelta(hours=2), db_url=db_url)
    assert "Escalated to you: 'Swept' was not done by its deadline" in [n["words"] for n in page["notices"]]
    assert page["queue"][0]["escalated"]


# ---- reassigning a task ---------------------------------------------------------------------------------------

def test_a_task_goes_to_another_officer_of_the_team_and_is_audited(db_url, team):
    task_id = add_task(db_url, OURS, "Ring the victim", AT + timedelta(days=1))
    words = service.reassign_task(team["sergeant"], str(task_id), "pc 5555", now=AT, db_url=db_url)
    assert words == "'Ring the victim' is now with PC 5555 Mate."
    with session_scope(db_url, readonly=True) as s:
        task = s.get(Task, task_id)
        assert task.assignee == "PC 5555" and task.detail.startswith("Given to PC 5555 by PS 77 Sergeant")
        row = s.exec(select(Reassignment)).one()
        assert (row.kind, row.from_collar, row.to_collar, row.by_username) == ("task", "PC 1234", "PC 5555",
                                                                              "sergeant")
    occ = occurrence(db_url, OURS)
    assert refusals(db_url, "sergeant") == [("reassign_task", "allowed", occ.id)]
    page = service.load_team(team["sergeant"], now=AT, db_url=db_url)
    assert [r["officer"] for r in page["queue"] if r["id"] == str(task_id)] == ["PC 5555 Mate"]


def test_a_task_given_to_an_officer_with_no_case_is_in_their_inbox(db_url, team):
    task_id = add_task(db_url, OURS, "Ring the victim", AT + timedelta(days=1))
    service.reassign_task(team["sergeant"], str(task_id), "PC 5555", now=AT, db_url=db_url)
    with session_scope(db_url, readonly=True) as s:
        box = inbox_views.inbox(s, team["mate"], AT)
    assert "Ring the victim" in [t["title"] for t in box["tasks"]]


def test_a_task_refused_outside_the_team_the_same_whether_it_exists(db_url, team):
    ours = add_task(db_url, OURS, "Ours", AT + timedelta(days=1))
    theirs = add_task(db_url, THEIRS, "Theirs", AT + timedelta(days=1), assignee="PC 9999")
    # Another team's supervisor, an officer and the control room: not_allowed, for a real id and a made-up one.
    for who in (team["stranger"], team["mate"], team["fcr"]):
        keys = []
        for wanted in (str(ours), "99999999", "nonsense"):
            with pytest.raises(service.TeamRefusal) as refused:
                service.reassign_task(who, wanted, "PC 5555", now=AT, db_url=db_url)
            keys.append((refused.value.key, refused.value.words))
        assert keys == [("not_allowed", "")] * 3
        assert [a for a, o, _ in refusals(db_url, who.username)] == ["reassign_task"] * 3
        assert all(o == "refused" for _, o, _ in refusals(db_url, who.username))
    # Our supervisor, naming an officer of another team (or no one): refused in words, audited.
    for target in ("PC 9999", "PS 80"):
        with pytest.raises(service.TeamRefusal) as refused:
            service.reassign_task(team["sergeant"], str(ours), target, now=AT, db_url=db_url)
        assert refused.value.key == "not_in_team"
        assert "is not an officer of Test Team, the team that holds this case" in refused.value.words
    with pytest.raises(service.TeamRefusal) as refused:
        service.reassign_task(team["sergeant"], str(ours), " ", now=AT, db_url=db_url)
    assert (refused.value.key, refused.value.words) == ("no_officer", "Choose the officer to give it to.")
    with pytest.raises(service.TeamRefusal) as refused:
        service.reassign_task(team["sergeant"], str(theirs), "PC 9999", now=AT, db_url=db_url)
    assert refused.value.key == "not_allowed"
    with session_scope(db_url, readonly=True) as s:
        assert s.get(Task, ours).assignee == "PC 1234" and s.get(Task, theirs).assignee == "PC 9999"
        assert s.exec(select(Reassignment)).all() == []
    assert [o for _, o, _ in refusals(db_url, "sergeant")] == ["refused"] * 4


def test_a_closed_task_or_the_same_officer_is_said_in_words(db_url, team):
    task_id = add_task(db_url, OURS, "Ring", AT + timedelta(days=1))
    with pytest.raises(service.TeamRefusal) as refused:
        service.reassign_task(team["sergeant"], str(task_id), "PC 1234", now=AT, db_url=db_url)
    assert refused.value.words == "That task is already with PC 1234 Test Officer."
    with session_scope(db_url) as s:
        s.get(Task, task_id).status = "done"
    with pytest.raises(service.TeamRefusal) as refused:
        service.reassign_task(team["sergeant"], str(task_id), "PC 5555", now=AT, db_url=db_url)
    assert refused.value.key == "closed"


# ---- reassigning a case ---------------------------------------------------------------------------------------

def test_a_case_goes_to_another_officer_with_its_tasks_and_conversations(db_url, team):
    who = sign_in(db_url)
    write(db_url, who, "Any news?", AT + timedelta(minutes=1))
    words = service.reassign_case(team["sergeant"], OURS, "PC 5555", now=AT + timedelta(minutes=2), db_url=db_url)
    assert words.startswith("Case CL/26/090001 is now with PC 5555 Mate") and "Make the same change in NICHE" in words
    occ = occurrence(db_url, OURS)
    assert (occ.oic_collar, occ.oic_team) == ("PC 5555", "Test Team")
    with session_scope(db_url, readonly=True) as s:
        open_tasks = s.exec(select(Task).where(Task.occurrence_id == occ.id, Task.status == "open")).all()
        timeline = [e.staff_text for e in s.exec(select(OccurrenceEvent).where(
            OccurrenceEvent.occurrence_id == occ.id).order_by(OccurrenceEvent.id))]
        new_box = inbox_views.inbox(s, team["mate"], AT + timedelta(minutes=3))
        old_box = inbox_views.inbox(s, OFFICER, AT + timedelta(minutes=3))
    assert open_tasks and {t.assignee for t in open_tasks} == {"PC 5555"}
    assert all("Passed on from PC 1234 when PC 5555 took the case." in t.detail for t in open_tasks)
    assert "Officer in charge changed from PC 1234 to PC 5555" in timeline
    assert any(t.startswith("Given to PC 5555 by PS 77 Sergeant (supervisor)") for t in timeline)
    assert [c["occurrence_number"] for c in new_box["conversations"]] == [OURS]
    assert old_box["conversations"] == [] and old_box["tasks"] == []
    assert refusals(db_url, "sergeant") == [("reassign_case", "allowed", occ.id)]
    page = service.load_team(team["sergeant"], now=AT + timedelta(minutes=3), db_url=db_url)
    [moved] = page["reassigned"]
    assert moved["status"] == "Not yet changed in NICHE: make the same change there" and moved["tone"] == "warn"
    assert (moved["from_officer"], moved["to_officer"]) == ("PC 1234 Oic", "PC 5555 Mate")


def test_niche_stays_the_master_of_the_officer_in_charge(db_url, team):
    service.reassign_case(team["sergeant"], OURS, "PC 5555", now=AT, db_url=db_url)
    later = AT + timedelta(days=1)  # after the records changes' own time (2026-03-31 09:00)
    change_oic(db_url, OURS, "PC 5555", "Test Team", change_id="n-same", at=later)
    page = service.load_team(team["sergeant"], now=later, db_url=db_url)
    assert page["reassigned"][0]["status"] == "NICHE shows the same officer in charge"
    # NICHE's next change names the officer the case was taken from: applied as it says.
    change_oic(db_url, OURS, "PC 1234", "Test Team", change_id="n-back", at=later + timedelta(hours=1))
    occ = occurrence(db_url, OURS)
    assert occ.oic_collar == "PC 1234"
    with session_scope(db_url, readonly=True) as s:
        assert {t.assignee for t in s.exec(select(Task).where(Task.occurrence_id == occ.id,
                                                              Task.status == "open"))} == {"PC 1234"}
    page = service.load_team(team["sergeant"], now=later + timedelta(hours=1), db_url=db_url)
    moved = page["reassigned"][0]
    assert moved["tone"] == "bad" and moved["status"].startswith("NICHE has since named PC 1234 New Officer")


def test_a_case_refused_outside_the_team_the_same_whether_it_exists(db_url, team):
    for who in (team["stranger"], team["mate"], team["fcr"]):
        keys = set()
        for wanted in (OURS, "26CL0000000", "", "x" * 80):
            with pytest.raises(service.TeamRefusal) as refused:
                service.reassign_case(who, wanted, "PC 5555", now=AT, db_url=db_url)
            keys.add((refused.value.key, refused.value.words))
        assert keys == {("not_allowed", "")}
        assert refusals(db_url, who.username) == [("reassign_case", "refused", occurrence(db_url, OURS).id)] + \
            [("reassign_case", "refused", None)] * 3
    with pytest.raises(service.TeamRefusal) as refused:
        service.reassign_case(team["sergeant"], OURS, "PC 9999", now=AT, db_url=db_url)
    assert refused.value.key == "not_in_team" and "PC9999 is not an officer of Test Team" in refused.value.words
    assert occurrence(db_url, OURS).oic_collar == "PC 1234"
    assert refusals(db_url, "sergeant") == [("reassign_case", "refused", occurrence(db_url, OURS).id)]


# ---- load ------------------------------------------------------------------------------------------------------

def test_who_is_over_their_load(db_url, team, monkeypatch):
    other_team_case(db_url, number="26CL0090003", collar="PC 1234", team="Test Team", prefix="p", person="P-O3",
                    flags=())
    add_task(db_url, OURS, "Overdue one", AT - timedelta(days=1))
    add_task(db_url, OURS, "Mate's", AT + timedelta(days=1), assignee="PC 5555")
    monkeypatch.setenv("TEAM_CASELOAD_LIMIT", "1")
    config.reset_settings()
    page = service.load_team(team["sergeant"], now=AT, db_url=db_url)
    load = {r["key"]: r for r in page["load"]}
    oic = load["PC1234"]
    assert (oic["cases"], oic["over"], oic["load"]) == ("2", "yes", "Over their load: 2 cases, limit 1")
    assert int(oic["tasks"]) >= 1 and oic["overdue"] == "1"
    assert load["PC5555"]["over"] == "" and load["PC5555"]["cases"] == "0" and load["PC5555"]["tasks"] == "1"
    assert page["load"][0]["key"] == "PC1234"  # the over-loaded first
    assert "PC9999" not in load and page["counts"]["over_load"] == "1" and page["counts"]["limit"] == "1"
    # Supervisors with a collar number of the team are listed too (they may hold cases); another team's not.
    assert "PS77" in load and "PS80" not in load


def test_an_officer_is_named_by_collar_number_then_name():
    from rxapp.supervision.views import Officer

    assert Officer("DS1001", "DS 1001", "DS Ali Supervisor").label == "DS 1001 Ali Supervisor"
    assert Officer("PC7101", "PC 7101", "Team Officer").label == "PC 7101 Team Officer"
    assert Officer("PC7101", "PC 7101", "PC 7101 Sam").label == "PC 7101 Sam"
    assert Officer("PC7101", "PC 7101", "").label == "PC 7101"
