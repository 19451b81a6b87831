"""The officer inbox through the real socket, as a script would: an officer of another team, signed in, calls
every inbox handler with the case victim id of another team's domestic abuse case (and its occurrence number,
and an id no row has). Each is refused with the very answer an id that does not exist gets, nothing of the case
or its victim reaches the socket, nothing is marked read or sent, and the attempts are in the audit log. The
officer in charge, for contrast, sees the case in their inbox."""
from __future__ import annotations

import pytest
from sqlmodel import select

from rxapp.inbox.state import Inbox  # at collection, as the app registers it (not inside a running test)
from tests.security import test_case_access as access

DOMESTIC, VICTIM_WORDS, audit_entries = access.DOMESTIC, access.VICTIM_WORDS, access.audit_entries
case_numbers, page_socket = access.case_numbers, access.page_socket  # the fixtures, shared

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]


def _state() -> str:
    return Inbox.get_full_name()


def case_victim_of(db_url: str, number: str):
    from rxapp.investigation.models import CaseVictim, Occurrence
    from rxapp.plumbing.db import session_scope

    with session_scope(db_url, readonly=True) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == number)).one()
        return occ, s.exec(select(CaseVictim).where(CaseVictim.occurrence_id == occ.id)).first()


def conversation_rows(db_url: str, case_victim_id: int) -> list[tuple]:
    from rxapp.plumbing.db import session_scope
    from rxapp.portal.models import PortalMessage

    with session_scope(db_url, readonly=True) as s:
        return [(m.id, m.author, m.read_by_officer_at) for m in
                s.exec(select(PortalMessage).where(PortalMessage.case_victim_id == case_victim_id))]


async def test_every_inbox_handler_refuses_another_teams_case(live_app, staff, page_socket, case_numbers):
    from rxapp.plumbing.db import session_scope
    from rxapp.portal.models import PortalMessage

    db = live_app["db_url"]
    domestic = case_numbers[DOMESTIC]
    occ, cv = case_victim_of(db, domestic)
    with session_scope(db) as s:  # the victim has written: something to read, mark read and answer
        s.add(PortalMessage(case_victim_id=cv.id, author="victim", body="Please only call in the morning"))
    before = conversation_rows(db, cv.id)
    owner = staff("officer")
    owner.update_user(collar_number="DC 2210", team="Hartlepool Safeguarding")
    stranger = staff("officer")
    stranger.update_user(collar_number="PC 9011", team="Redcar CID")
    state = _state()

    own = await page_socket("/inbox", owner.token)
    assert await own.wait_for(lambda: own.values(state).get("loaded") is True, 15), own.text()[:2000]
    assert str(cv.id) in {r["case_victim_id"] for r in own.values(state)["conversations"]}

    client = await page_socket("/inbox", stranger.token)
    assert await client.wait_for(lambda: client.values(state).get("loaded") is True, 15), client.text()[:2000]
    assert client.values(state)["conversations"] == []

    answers = {}
    for wanted in (str(cv.id), domestic, "999999999"):
        client.frames.clear()
        assert await client.emit(f"{state}.open_conversation", {"case_victim_id": wanted}, path="/inbox")
        assert await client.wait_for(lambda: client.values(state).get("error"), 15), client.text()[:2000]
        answers[("open", wanted)] = {k: v for k, v in client.values(state).items()}
        assert client.values(state)["open_id"] == ""
        client.frames.clear()
        assert await client.emit(f"{state}.send_reply", {"form_data": {"case_victim_id": wanted,
                                                                       "text": "Let me in"}}, path="/inbox")
        assert await client.wait_for(lambda: client.values(state).get("error"), 15), client.text()[:2000]
        answers[("reply", wanted)] = {k: v for k, v in client.values(state).items()}
    # Wording with no conversation open (or one the client claims is open) is refused too.
    client.frames.clear()
    assert await client.emit(f"{state}.insert_wording", {"form_data": {"wording": "thanks_looking"}}, path="/inbox")
    assert await client.wait_for(lambda: client.values(state).get("error"), 15), client.text()[:2000]
    assert client.values(state)["error"] == "Open a conversation first."

    assert answers[("open", str(cv.id))] == answers[("open", "999999999")] == answers[("open", domestic)]
    assert answers[("reply", str(cv.id))] == answers[("reply", "999999999")] == answers[("reply", domestic)]
    text = client.text()
    assert not [w for w in VICTIM_WORDS + ("Please only call in the morning",) if w in text]
    assert conversation_rows(db, cv.id) == before  # nothing read, nothing sent
    entries = audit_entries(db, stranger.username)
    assert entries.count(("view_case", "refused", occ.id)) == 1
    assert entries.count(("reply_to_victim", "refused", None)) == 3
    assert entries.count(("view_case", "refused", None)) == 2
    assert not [e for e in entries if e[1] == "allowed"]
