"""The officer inbox on the real database: only the signed-in officer's own work (another team's case never
appears, and a socket-style call with its id is refused and audited), unread counts and reading a conversation,
overdue tasks first, duties falling due, the victim's context beside each row, the reply with the force's
wording, and a new officer in charge inheriting the tasks and the conversation."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from integrations.niche.protocol import parse_change
from rxapp.audit.models import AuditEvent
from rxapp.inbox import service, views
from rxapp.inbox.wording import fill, load_wording
from rxapp.investigation.models import CaseVictim, Occurrence
from rxapp.investigation.service import JourneyService
from rxapp.plumbing.db import session_scope
from rxapp.portal.conversation import send_from_victim
from rxapp.portal.identity import PortalRefusal
from rxapp.portal.models import PortalMessage
from rxapp.staff.accounts import StaffIdentity
from rxapp.tasks.models import Task

from .portal_cases import AT, OFFICER, OTHER_OFFICER, record_case, sign_in

SUPERVISOR = StaffIdentity(9, "test.sergeant", "PS 77 Sergeant", "supervisor", collar_number="PS 77", team="Test Team")
TEAMMATE = StaffIdentity(10, "team.mate", "PC 5555 Mate", "officer", collar_number="PC 5555", team="Test Team")


def other_team_case(db_url, number="26CL0090002", collar="PC 9999", team="Another Team", prefix="o",
                    person="P-O1", mobile="07700900556", flags=("DOMESTIC_ABUSE",), safe=False):
    changes = [parse_change(c, decoded=True) for c in (
        {"change_id": f"{prefix}-1", "type": "occurrence.recorded", "occurred_at": "2026-03-30T10:00:00Z",
         "occurrence_number": number,
         "occurrence": {"occurrence_number": number, "crime_reference": "CL/26/" + number[-6:],
                        "classification": {"code": "49/1", "text": "Theft"}, "reported_at": "2026-03-30T09:00:00Z",
                        "recorded_at": "2026-03-30T10:00:00Z", "incident_urn": None,
                        "oic": {"collar_number": collar, "name": "Other Officer", "email": None, "team": team},
                        "flags": list(flags)}},
        {"change_id": f"{prefix}-2", "type": "person.linked", "occurred_at": "2026-03-30T10:01:00Z",
         "occurrence_number": number,
         "person": {"person_id": person, "role": "VICTIM", "name": {"given": "Olive", "family": "Other"},
                    "date_of_birth": "1980-01-01",
                    "contact": {"mobile": mobile, "email": None, "postal_address": None,
                                "preferred_channel": "PHONE", "language": "pl", "safe_to_contact": safe,
                                "contact_notes": "Call after 6pm only"},
                    "needs": {"vulnerable": [], "intimidated": False, "persistently_targeted": False,
                              "interpreter": False, "accessibility": None},
                    "consent": {"updates": True, "support_referral": True}}})]
    JourneyService(db_url, now=lambda: AT).apply_page(changes, prefix + "-page")


def change_oic(db_url, number, collar, team, change_id="x-oic", at=AT):
    change = parse_change({"change_id": change_id, "type": "oic.changed", "occurred_at": "2026-03-31T09:00:00Z",
                           "occurrence_number": number,
                           "oic": {"collar_number": collar, "name": "New Officer", "email": None, "team": team}},
                          decoded=True)
    JourneyService(db_url, now=lambda: at).apply_page([change], change_id + "-page")


def inbox_for(db_url, actor, now):
    with session_scope(db_url, readonly=True) as s:
        return views.inbox(s, actor, now)


def write(db_url, who, text, at):
    with session_scope(db_url) as s:
        return send_from_victim(s, who, text, at)


@pytest.fixture
def two_cases(db_url):
    record_case(db_url)
    who = sign_in(db_url)
    other_team_case(db_url)
    with session_scope(db_url) as s:
        other = s.exec(select(CaseVictim).join(Occurrence, Occurrence.id == CaseVictim.occurrence_id)
                       .where(Occurrence.occurrence_number == "26CL0090002")).one()
        s.add(PortalMessage(case_victim_id=other.id, author="victim", body="Other team's victim", created_at=AT))
    return who, other.id


# ---- the read model --------------------------------------------------------------------------------------------

def test_only_the_officers_own_work_with_unread_counts(db_url, two_cases):
    who, other_cv = two_cases
    write(db_url, who, "First", AT + timedelta(minutes=1))
    write(db_url, who, "Second", AT + timedelta(minutes=2))
    box = inbox_for(db_url, OFFICER, AT + timedelta(minutes=3))
    assert [c["occurrence_number"] for c in box["conversations"]] == ["26CL0090001"]
    row = box["conversations"][0]
    assert row["unread"] == "2" and row["victim_name"] == "Test Victim" and row["channel"] == "Text message"
    assert row["reply_by"].startswith("Due ") and row["tone"] == "neutral"
    assert box["counts"]["unread"] == "2" and box["counts"]["cases"] == "1"
    every_case = {r["occurrence_number"] for part in ("conversations", "tasks", "duties") for r in box[part]}
    assert "26CL0090002" not in every_case and every_case == {"26CL0090001"}
    # The other officer sees their own case only, with its victim's context beside it.
    theirs = inbox_for(db_url, OTHER_OFFICER, AT + timedelta(minutes=3))
    assert [c["occurrence_number"] for c in theirs["conversations"]] == ["26CL0090002"]
    olive = theirs["conversations"][0]
    assert (olive["language"], olive["channel"], olive["contact_notes"]) == ("Polish", "Phone call",
                                                                             "Call after 6pm only")
    assert olive["safety"] == "Domestic abuse" and olive["safety_tone"] == "bad"
    assert "NOT confirmed" in olive["safe_contact"]


def test_a_teammate_and_an_account_without_collar_see_no_one_elses_work(db_url, two_cases):
    who, _ = two_cases
    write(db_url, who, "Hello", AT + timedelta(minutes=1))
    for actor in (TEAMMATE, StaffIdentity(11, "nocollar", "No Collar", "officer", collar_number="", team="Test Team")):
        box = inbox_for(db_url, actor, AT + timedelta(minutes=2))
        assert box["conversations"] == [] and box["tasks"] == [] and box["duties"] == []


def test_collar_spelling_in_the_records_system_does_not_matter(db_url):
    other_team_case(db_url, collar="pc1234", team="Test Team", flags=())
    box = inbox_for(db_url, OFFICER, AT + timedelta(minutes=1))
    assert box["counts"]["cases"] == "1"


def test_supervisor_sees_own_cases_only_within_their_team(db_url):
    other_team_case(db_url, collar="PS 77", team="Test Team", prefix="a", number="26CL0090003", person="P-A")
    other_team_case(db_url, collar="PS 77", team="Another Team", prefix="b", number="26CL0090004", person="P-B",
                    mobile="07700900557")
    box = inbox_for(db_url, SUPERVISOR, AT)
    assert box["counts"]["cases"] == "1"
    assert {r["occurrence_number"] for r in box["duties"] + box["tasks"]} <= {"26CL0090003"}


def test_tasks_overdue_first_then_by_deadline(db_url, two_cases):
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == "26CL0090001")).one()
        for title, due in (("Later", AT + timedelta(days=3)), ("Undated", None), ("Overdue", AT - timedelta(days=1)),
                           ("Sooner", AT + timedelta(hours=2)), ("Very overdue", AT - timedelta(days=5))):
            s.add(Task(kind="contact_victim", title=title, occurrence_id=occ.id, due_at=due, assignee="PC 1234",
                       created_at=AT))
        s.add(Task(kind="contact_victim", title="Not mine", due_at=AT - timedelta(days=9), assignee="PC 9999"))
        s.add(Task(kind="contact_victim", title="Done already", occurrence_id=occ.id, status="done",
                   due_at=AT - timedelta(days=9), assignee="PC 1234"))
    rows = inbox_for(db_url, OFFICER, AT)["tasks"]
    titles = [r["title"] for r in rows if r["title"] in ("Later", "Undated", "Overdue", "Sooner", "Very overdue",
                                                         "Not mine", "Done already")]
    assert titles == ["Very overdue", "Overdue", "Sooner", "Later", "Undated"]
    assert [r["tone"] for r in rows if r["title"] in ("Very overdue", "Overdue")] == ["bad", "bad"]
    assert all(r["title"] != "Not mine" for r in rows)
    overdue = [r for r in rows if r["tone"] == "bad"]
    assert rows[:len(overdue)] == overdue  # every overdue task before any other


def test_duties_falling_due_are_listed_with_the_victim(db_url, two_cases):
    box = inbox_for(db_url, OFFICER, AT)
    assert box["duties"], "a newly recorded case owes written confirmation within days"
    assert all(d["occurrence_number"] == "26CL0090001" and d["victim_name"] == "Test Victim" for d in box["duties"])
    far = inbox_for(db_url, OFFICER, AT - timedelta(days=60))
    assert len(far["duties"]) <= len(box["duties"])


def test_an_overdue_reply_is_first_and_highlighted(db_url, two_cases):
    who, _ = two_cases
    write(db_url, who, "Any news?", AT)
    late = inbox_for(db_url, OFFICER, AT + timedelta(days=10))["conversations"][0]
    assert late["tone"] == "bad" and late["reply_by"].startswith("Overdue")


# ---- opening a conversation and replying -----------------------------------------------------------------------

def test_opening_marks_read_and_reply_closes_the_task(db_url, two_cases):
    who, _ = two_cases
    write(db_url, who, "Hello officer", AT + timedelta(minutes=1))
    with session_scope(db_url) as s:
        cv_id = who.case_victim_id
        opened = service.conversation_in(s, OFFICER, str(cv_id), AT + timedelta(minutes=2))
    assert [m["body"] for m in opened["messages"] if m["author"] == "victim"] == ["Hello officer"]
    assert opened["_values"]["officer"] == "PC 1234" and opened["_values"]["victim_name"] == "Test"
    box = inbox_for(db_url, OFFICER, AT + timedelta(minutes=3))
    assert box["conversations"][0]["unread"] == "0"  # read, but the reply is still owed
    assert box["conversations"][0]["unread_words"] == "Read, reply still owed"
    text = service.filled_wording("thanks_looking", opened["_values"])
    assert text.startswith("Hello Test, thank you") and "{" not in text and "PC 1234" in text
    service.reply(OFFICER, str(cv_id), text + " Edited.")
    with session_scope(db_url) as s:
        last = s.exec(select(PortalMessage).where(PortalMessage.case_victim_id == cv_id)
                      .order_by(PortalMessage.id.desc())).first()
        assert last.author == "officer" and last.body.endswith("Edited.") and last.author_label == "PC 1234"
    assert inbox_for(db_url, OFFICER, AT + timedelta(minutes=5))["conversations"] == []


def test_another_teams_conversation_is_refused_and_audited(db_url, two_cases):
    who, other_cv = two_cases
    for wanted in (str(other_cv), "999999", "not-a-number", "-1", "1e3"):
        with pytest.raises(PortalRefusal) as refused:
            service.open_conversation(OFFICER, wanted)
        assert refused.value.key == "not_allowed"
    with pytest.raises(PortalRefusal):
        service.reply(OFFICER, str(other_cv), "Let me in")
    with session_scope(db_url) as s:
        refused_rows = s.exec(select(AuditEvent).where(AuditEvent.actor == "test.officer",
                                                       AuditEvent.outcome == "refused")).all()
        unread = s.exec(select(PortalMessage).where(PortalMessage.case_victim_id == other_cv)).all()
    assert len(refused_rows) == 6
    assert all(m.read_by_officer_at is None for m in unread)  # nothing was marked read
    assert all(m.author != "officer" for m in unread)  # and nothing was sent


def test_a_teammate_may_not_open_the_conversation_from_the_inbox(db_url, two_cases):
    who, _ = two_cases
    with pytest.raises(PortalRefusal):
        service.open_conversation(TEAMMATE, str(who.case_victim_id))


# ---- a new officer in charge --------------------------------------------------------------------------------

def test_new_officer_in_charge_inherits_tasks_and_conversation(db_url, two_cases):
    who, _ = two_cases
    write(db_url, who, "Are you there?", AT + timedelta(minutes=1))
    change_oic(db_url, "26CL0090001", "PC 4321", "Test Team", at=AT + timedelta(days=1))
    new = StaffIdentity(12, "new.officer", "PC 4321 New", "officer", collar_number="PC 4321", team="Test Team")
    box = inbox_for(db_url, new, AT + timedelta(days=1, minutes=1))
    assert [c["occurrence_number"] for c in box["conversations"]] == ["26CL0090001"]
    assert box["conversations"][0]["unread"] == "1"
    reply_tasks = [t for t in box["tasks"] if t["title"] == "Reply to the victim's message"]
    assert reply_tasks and all("Passed on from PC 1234 when PC 4321 took the case." in t["detail"]
                               for t in reply_tasks)
    old = inbox_for(db_url, OFFICER, AT + timedelta(days=1, minutes=1))
    assert old["conversations"] == [] and old["tasks"] == [] and old["duties"] == []
    with session_scope(db_url) as s:
        open_tasks = s.exec(select(Task).where(Task.status == "open", Task.occurrence_id == who.occurrence_id)).all()
    assert open_tasks and {t.assignee for t in open_tasks} == {"PC 4321"}
    # The new officer may open it; the old one may not.
    with pytest.raises(PortalRefusal):
        service.open_conversation(OFFICER, str(who.case_victim_id))
    assert service.open_conversation(new, str(who.case_victim_id))["case"] == "CL/26/090001"


# ---- the force's wording --------------------------------------------------------------------------------------

def test_bundled_wording_loads_and_fills():
    from rxapp.inbox.wording import HERE

    words = load_wording(HERE / "default.toml")
    assert service.wordings() == words  # the demo force has no file of its own: the default
    assert len(words) >= 3 and len({w.key for w in words}) == len(words)
    text = fill(words[0], {"victim_name": "Ann", "officer": "PC 1", "crime_reference": "CL/1", "reply_by": "Fri"})
    assert "{" not in text and "Ann" in text


@pytest.mark.parametrize("body, fault", [
    ("not toml [", "not valid TOML"),
    ("", "no [[wording]] tables"),
    ("title = 'x'", "unknown top-level entries title"),
    ("[[wording]]\nkey='Bad Key'\ntitle='t'\ntext='x'", "key must be"),
    ("[[wording]]\nkey='a'\ntitle=''\ntext='x'", "wording 'a': title must be"),
    ("[[wording]]\nkey='a'\ntitle='t'\ntext='Hi {name}'", "unknown placeholder {name}"),
    ("[[wording]]\nkey='a'\ntitle='t'\ntext='Hi {victim_name'", "a brace is not closed"),
    ("[[wording]]\nkey='a'\ntitle='t'\ntext='x'\n[[wording]]\nkey='a'\ntitle='u'\ntext='y'", "appears twice"),
    ("[[wording]]\nkey='a'\ntitle='t'\ntext='" + "x" * 1501 + "'", "1,500 characters"),
    ("[[wording]]\nkey='a'\ntitle='t'\ntext='x'\ncolour='red'", "fields the inbox does not know: colour"),
])
def test_wording_file_errors_name_the_file_and_fault(tmp_path, body, fault):
    from rxapp.inbox.wording import WordingError

    path = tmp_path / "cleveland-police.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(WordingError) as refused:
        load_wording(path)
    assert "cleveland-police.toml" in str(refused.value) and fault in str(refused.value)


def test_the_forces_own_file_is_chosen_by_name(tmp_path):
    from rxapp.inbox.wording import force_file

    (tmp_path / "default.toml").write_text("", encoding="utf-8")
    assert force_file("Cleveland Police", tmp_path).name == "default.toml"
    (tmp_path / "cleveland-police.toml").write_text("", encoding="utf-8")
    assert force_file("Cleveland Police", tmp_path).name == "cleveland-police.toml"
    assert force_file("../../etc", tmp_path).name == "default.toml"


def test_a_tasks_words_name_templates_in_words(db_url, two_cases):
    with session_scope(db_url) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == "26CL0090001")).one()
        s.add(Task(kind="delivery_failed", title="Text not delivered", occurrence_id=occ.id, assignee="PC 1234",
                   detail="The 'update_charged' update could not be delivered.", due_at=AT, created_at=AT))
    (row,) = [r for r in inbox_for(db_url, OFFICER, AT)["tasks"] if r["title"] == "Text not delivered"]
    assert row["detail"] == "The “Update: a suspect was charged” update could not be delivered."
