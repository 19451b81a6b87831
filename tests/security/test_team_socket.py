"""The supervisor's team page through the real socket, as a script would: another team's supervisor, an officer
of the case's own team and a control-room account, each signed in, call every /team handler with the task and
the occurrence number of another team's domestic abuse case, and with ids no row has. Each gets the very answer
an id that does not exist gets, nothing of the case or its victim reaches the socket, no task or case changes
hands, and every attempt is in the audit log. The case team's own supervisor, for contrast, sees the task in
their queue."""
from __future__ import annotations

import pytest

from rxapp.supervision.state import Team  # at collection, as the app registers it (not inside a running test)
from tests.security import test_case_access as access

DOMESTIC, VICTIM_WORDS, audit_entries = access.DOMESTIC, access.VICTIM_WORDS, access.audit_entries
case_numbers, page_socket = access.case_numbers, access.page_socket  # the fixtures, shared

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]
SENT_AWAY = "/login?error=role"


def _state() -> str:
    return Team.get_full_name()


def snapshot(db_url: str, number: str) -> tuple:
    from sqlmodel import select

    from rxapp.plumbing.db import session_scope
    from rxapp.supervision.models import Reassignment

    occ, tasks = access.case_row(db_url, number)
    with session_scope(db_url, readonly=True) as s:
        moved = s.exec(select(Reassignment).where(Reassignment.occurrence_id == occ.id)).all()
    return (occ.oic_collar, occ.oic_team, occ.updated_at, {t.id: (t.assignee, t.detail) for t in tasks},
            len(moved))


def assert_unchanged(db_url: str, number: str, before: tuple) -> None:
    """Nothing the attempts could touch has changed: the case's officer, team and version, its tasks' owners and
    words, and no reassignment recorded. A task the product's own deadline sweep opened meanwhile (a routine update
    falling due while the test runs) may have appeared, and goes to the case's own officer."""
    after = snapshot(db_url, number)
    assert (after[:3], after[4]) == (before[:3], before[4])
    assert {task_id: after[3].get(task_id) for task_id in before[3]} == before[3]
    assert {assignee for task_id, (assignee, _) in after[3].items() if task_id not in before[3]} <= {before[0]}


async def _answer(client, state: str, name: str, payload: dict) -> dict:
    """Send one event; the state's values once the handler has answered (a result in words)."""
    client.frames.clear()
    assert await client.emit(f"{state}.{name}", payload, path="/team")
    assert await client.wait_for(lambda: client.values(state).get("result"), 15), client.text()[:2000]
    return client.values(state)


async def _sent_away(client, state: str, name: str, payload: dict) -> str:
    client.frames.clear()
    assert await client.emit(f"{state}.{name}", payload, path="/team")
    assert await client.wait_for(lambda: SENT_AWAY in client.text(), 15), client.text()[:2000]
    return client.text()


async def test_every_team_handler_refuses_another_teams_task_and_case(live_app, staff, page_socket, case_numbers):
    db = live_app["db_url"]
    domestic = case_numbers[DOMESTIC]
    missing = f"26CL9999999-{domestic[-6:]}"
    occ, tasks = access.case_row(db, domestic)
    assert tasks, "the sample's domestic abuse case has tasks for a person"
    task = tasks[0]
    before = snapshot(db, domestic)
    state = _state()

    owner = staff("supervisor")
    owner.update_user(collar_number="DS 2201", team="Hartlepool Safeguarding")
    teammate = staff("officer")  # an officer of the case's own team: may read the case, may not reassign
    teammate.update_user(collar_number="DC 2299", team="Hartlepool Safeguarding")
    stranger = staff("supervisor")
    stranger.update_user(collar_number="DS 9101", team="Redcar CID")
    controller = staff("fcr")

    own = await page_socket("/team", owner.token)
    assert await own.wait_for(lambda: own.values(state).get("loaded") is True, 20), own.text()[:2000]
    assert str(task.id) in {r["id"] for r in own.values(state)["queue"]}
    assert "DC2299" in {o["key"] for o in own.values(state)["officers"]}

    # Another team's supervisor: the page opens on their own (empty) team; every handler answers a real id of the
    # other team exactly as it answers an id no row has.
    client = await page_socket("/team", stranger.token)
    assert await client.wait_for(lambda: client.values(state).get("loaded") is True, 20), client.text()[:2000]
    assert client.values(state)["queue"] == [] and client.values(state)["cases"] == []
    answers = {}
    for wanted in (str(task.id), "999999999", "not-a-number"):
        answers[("task", wanted)] = await _answer(client, state, "give_task",
                                                  {"form_data": {"task_id": wanted, "officer": "DC 2299"}})
    for wanted in (domestic, missing):
        answers[("case", wanted)] = await _answer(client, state, "give_case",
                                                  {"form_data": {"case": wanted, "officer": "DC 2299"}})
    refused = answers[("task", "999999999")]
    assert refused["result"].startswith("That could not be changed from your account") and not refused.get("result_ok")
    assert answers[("task", str(task.id))] == refused == answers[("task", "not-a-number")]
    assert answers[("case", domestic)] == answers[("case", missing)]
    assert answers[("case", domestic)]["result"] == refused["result"]
    # Asking for the case's officer's tasks shows nothing of theirs.
    client.frames.clear()
    assert await client.emit(f"{state}.show_officer", {"form_data": {"officer": "DC 2210"}}, path="/team")
    assert await client.wait_for(lambda: "officer" in client.values(state), 15), client.text()[:2000]
    assert client.values(state)["queue"] == [] and client.values(state)["officer"] == ""
    text = client.text()
    assert not [w for w in VICTIM_WORDS if w in text]

    # An officer of the case's own team and the control room: sent away, as on loading the page, whether the task
    # or case exists or not; the page never loads for them.
    for who in (teammate, controller):
        sock = await page_socket("/team", who.token)
        assert await sock.wait_for(lambda s=sock: SENT_AWAY in s.text(), 20), sock.text()[:2000]
        seen = []
        for name, payload in (("give_task", {"task_id": str(task.id), "officer": "DC 2299"}),
                              ("give_task", {"task_id": "999999999", "officer": "DC 2299"}),
                              ("give_case", {"case": domestic, "officer": "DC 2299"}),
                              ("give_case", {"case": missing, "officer": "DC 2299"}),
                              ("show_officer", {"officer": "DC 2210"})):
            seen.append(await _sent_away(sock, state, name, {"form_data": payload}))
        assert not sock.values(state).get("queue") and not sock.values(state).get("loaded")
        assert not [w for w in VICTIM_WORDS if w in sock.text()]

    # Nothing changed hands; every attempt at a task or case is in the audit log (against the case, when it exists).
    assert_unchanged(db, domestic, before)
    for who in (stranger, teammate, controller):
        entries = audit_entries(db, who.username)
        assert entries.count(("reassign_task", "refused", occ.id)) == 1, (who.role, entries)
        assert entries.count(("reassign_case", "refused", occ.id)) == 1, (who.role, entries)
        assert entries.count(("reassign_case", "refused", None)) == 1, (who.role, entries)
        assert entries.count(("reassign_task", "refused", None)) == (2 if who is stranger else 1), (who.role, entries)
        assert not [e for e in entries if e[1] == "allowed" and e[0].startswith("reassign")]
