"""The board's hold-texts action attacked through the real socket (issue 10, the board): a client with no session,
and signed-in roles the permission table does not give `hold_texts` (an officer, an administrator), call the
board's hold and release handlers with the id of a real open incident (and of one whose texts a controller
holds) and with an id no incident has. Each gets the very same answer for both, nothing changes (no hold made,
none released, the incident untouched), and a signed-in attempt is in the audit log. A controller doing the
same through the same socket does hold and release, so the refusals are the permission's, not a broken handler.
"""
from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

# Imported while the module is collected, not inside a test's event loop: Reflex registers a state class in a
# context variable, and a state first imported inside one test's task would leave later tests' imports without it.
from rxapp.attendance.board_state import BoardActions
from tests.security.conftest import wait_incident

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]

QUIET = 1.5  # how long to listen for anything more after an answer


def _state() -> str:
    return BoardActions.get_full_name()


def _z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def open_incident(live_app) -> tuple[str, int]:
    """A new open attendance through the real feed (a URN of the contract's shape), with an officer assigned."""
    now = datetime.now(timezone.utc)
    urn = f"CLE-{now:%Y%m%d}-{random.randint(100000, 999999)}"
    live_app["feed"].send({"seq": 0, "event_id": str(uuid.uuid4()), "type": "incident.opened",
                           "occurred_at": _z(now - timedelta(minutes=5)), "incident": {
                               "urn": urn, "grade": "PRIORITY", "category": "BURGLARY_DWELLING",
                               "location": {"easting": 447835, "northing": 517445,
                                            "description": "Acklam Road, Middlesbrough"},
                               "caller": {"name": "Test Caller", "phone": "07700900321", "email": None,
                                          "sms_consent": True, "language": "en"},
                               "flags": []}})
    live_app["feed"].send({"seq": 0, "event_id": str(uuid.uuid4()), "type": "resource.assigned",
                           "occurred_at": _z(now - timedelta(minutes=4)),
                           "assignment": {"urn": urn, "callsign": "CE21", "resource_type": "car"}})
    incident = wait_incident(live_app["db_url"], urn)
    from rxapp.attendance.models import Incident
    from rxapp.plumbing.db import session_scope

    for _ in range(200):  # and the officer's assignment applied, so nothing of the feed changes it later
        with session_scope(live_app["db_url"], readonly=True) as s:
            if s.get(Incident, incident.id).status == "assigned":
                return urn, incident.id
        time.sleep(0.1)
    raise AssertionError(f"{urn} was never assigned")


def snapshot(db_url: str, *incident_ids: int) -> list[tuple]:
    """What a hold or a release would change: the holds, and each incident's version."""
    from rxapp.attendance.models import Incident, TextHold
    from rxapp.plumbing.db import session_scope

    with session_scope(db_url, readonly=True) as s:
        holds = [(h.incident_id, h.held_by, h.released_at) for h in
                 s.exec(select(TextHold).where(TextHold.incident_id.in_(incident_ids)).order_by(TextHold.id))]
        versions = [(i, s.get(Incident, i).version) for i in incident_ids]
    return holds + versions


def audit_of(db_url: str, username: str) -> list[tuple]:
    from rxapp.audit.models import AuditEvent
    from rxapp.plumbing.db import session_scope

    with session_scope(db_url, readonly=True) as s:
        return [(e.action, e.outcome, e.incident_id) for e in
                s.exec(select(AuditEvent).where(AuditEvent.actor == username).order_by(AuditEvent.id))]


def _answer(client, since: int) -> str:
    """What the socket received after `since`, with its own ids and clock times masked."""
    text = "\n".join(client.frames[since:])
    for own in (client.sid, client.token):
        if own:
            text = text.replace(own, "<own>")
    return re.sub(r"\d{2}:\d{2}", "<time>", text)


async def _call(client, handler: str, payload: dict) -> str:
    since = len(client.frames)
    assert await client.emit(f"{_state()}.{handler}", payload, path="/board")
    assert await client.wait_for(lambda: len(client.frames) > since, 15), f"no answer to {handler}"
    await asyncio.sleep(QUIET)
    return _answer(client, since)


async def _board_socket(raw_socket, live_app, cookie):
    client = await raw_socket(path="/board", cookie=cookie, origin=live_app["base"])
    assert client.outcome == "connected"
    await asyncio.sleep(QUIET)  # the board's own on-load (a redirect, for these callers) has answered
    return client


async def test_a_controller_holds_and_releases_through_the_same_socket(live_app, raw_socket, staff):
    controller = staff("fcr")
    urn, incident = open_incident(live_app)
    client = await _board_socket(raw_socket, live_app, controller.token)
    assert await client.wait_for(lambda: client.values("staff_state").get("role") == "fcr", 15)
    await _call(client, "hold_texts", {"form_data": {"incident": str(incident), "reason": "caller_safety"}})
    assert client.values(_state()).get("notice", "").startswith(f"Texts held for {urn}")
    [(held_for, held_by, released)] = snapshot(live_app["db_url"], incident)[:-1]
    assert (held_for, held_by, released) == (incident, controller.username, None)
    await _call(client, "release_texts", {"incident_value": str(incident)})
    assert client.values(_state()).get("notice", "").startswith(f"Texts released for {urn}")
    assert snapshot(live_app["db_url"], incident)[0][2] is not None
    assert audit_of(live_app["db_url"], controller.username) == [
        ("hold_texts", "allowed", incident), ("release_texts", "allowed", incident)]


ATTACKERS = {"no session": None, "an officer": "officer", "an administrator": "admin"}


@pytest.mark.parametrize("role", list(ATTACKERS.values()), ids=list(ATTACKERS))
async def test_hold_and_release_are_refused_alike_whether_the_incident_exists(live_app, raw_socket, staff, role):
    from rxapp.attendance.holds import hold_texts_now
    from rxapp.staff.accounts import StaffIdentity

    attacker = staff(role) if role else None
    controller = staff("fcr")
    _, target = open_incident(live_app)
    _, held = open_incident(live_app)
    hold_texts_now(StaffIdentity(0, controller.username, "Security fcr", "fcr"), held, "details_changing",
                   db_url=live_app["db_url"])
    missing = max(target, held) + 10 ** 6
    before = snapshot(live_app["db_url"], target, held)

    cookie = attacker.token if attacker else None
    existing = await _board_socket(raw_socket, live_app, cookie)
    absent = await _board_socket(raw_socket, live_app, cookie)
    answers = {}
    for client, incident, key in ((existing, target, "real"), (absent, missing, "none")):
        answers[("hold", key)] = await _call(client, "hold_texts", {
            "form_data": {"incident": str(incident), "reason": "caller_safety"}})
    for client, incident, key in ((existing, held, "real"), (absent, missing, "none")):
        answers[("release", key)] = await _call(client, "release_texts", {"incident_value": str(incident)})

    assert answers[("hold", "real")] == answers[("hold", "none")]
    assert answers[("release", "real")] == answers[("release", "none")]
    for text in answers.values():
        assert "Texts held" not in text and "Texts released" not in text
    if attacker is None:
        assert all("/login" in text for text in answers.values()), answers
    else:
        assert existing.values(_state()).get("error") == "No open incident with that reference."
        assert absent.values(_state()).get("error") == "No open incident with that reference."
    assert snapshot(live_app["db_url"], target, held) == before  # no hold made, none released, nothing touched
    if attacker is not None:
        assert audit_of(live_app["db_url"], attacker.username) == [
            ("hold_texts", "refused", target), ("hold_texts", "refused", None),
            ("release_texts", "refused", held), ("release_texts", "refused", None)]


@pytest.mark.parametrize("payload", [
    {"form_data": {"incident": "1 OR 1=1", "reason": "caller_safety"}},
    {"form_data": {"incident": "-1", "reason": "caller_safety"}},
    {"form_data": {"incident": "99999999999999999999", "reason": "caller_safety"}},
    {"form_data": {"incident": "1", "reason": "<script>alert(1)</script>"}},
    {"form_data": {"incident": ["1"], "reason": ["caller_safety"]}},
    {"form_data": "not a form"},
], ids=["sql", "negative", "huge", "script reason", "lists", "not a form"])
async def test_a_controller_sending_junk_changes_nothing(live_app, raw_socket, staff, payload):
    controller = staff("fcr")
    _, incident = open_incident(live_app)
    before = snapshot(live_app["db_url"], incident)
    client = await _board_socket(raw_socket, live_app, controller.token)
    since = len(client.frames)
    await client.emit(f"{_state()}.hold_texts", payload, path="/board")
    await asyncio.sleep(QUIET)
    assert snapshot(live_app["db_url"], incident) == before
    assert "<script>" not in _answer(client, since)
    assert not [e for e in audit_of(live_app["db_url"], controller.username) if e[1] == "allowed"]
