"""The control room holding an incident's texts, against the real database, the real sender and the local Notify
server: recorded (who, when, why), audited, shown on the board, honoured by the safety rules (held while it
stands; on release each message goes through the rules again: sent, or cancelled when it no longer makes
sense), reversible, and refused, the same way after the same queries, to a role without the permission, for
an incident that does not exist, and for a closed one. Also the board's counts and a booked visit on it."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event
from sqlmodel import select

from integrations.govuk_notify.client import NotifyClient
from integrations.govuk_notify.simulator import (
    DEFAULT_EMAIL_TEMPLATE_ID,
    DEFAULT_SMS_TEMPLATE_ID,
    DEMO_API_KEY,
    NotifyServer,
)
from rxapp.attendance.board_views import board_counts, board_rows, breached_urns
from rxapp.attendance.holds import (
    NO_SUCH_INCIDENT,
    hold_texts_now,
    incident_id_from,
    release_texts_now,
)
from rxapp.attendance.models import TextHold
from rxapp.audit.models import AuditEvent
from rxapp.domain.attendance import london_time
from rxapp.domain.grades import GradeTargets
from rxapp.messaging.models import Message, MessageEvent
from rxapp.messaging.providers import notify_providers
from rxapp.messaging.sender import OutboxSender
from rxapp.plumbing import db
from rxapp.plumbing.db import session_scope
from rxapp.staff.accounts import StaffIdentity

from .test_unassigned_sweep import Feed

CONTROL = StaffIdentity(14, "control.one", "Control One", "fcr")
SUPERVISOR = StaffIdentity(15, "super.one", "Super One", "supervisor")
OFFICER = StaffIdentity(16, "pc.one", "PC One", "officer", collar_number="PC 4127", team="Middlesbrough CID")
ADMIN = StaffIdentity(17, "admin.one", "Admin One", "admin")


@pytest.fixture
def notify():
    server = NotifyServer(receipt_delay=0.05).start()
    yield server
    server.stop()


def sender_for(server, db_url) -> OutboxSender:
    client = NotifyClient(DEMO_API_KEY, server.url, timeout=5)
    return OutboxSender(db_url, providers=notify_providers(client, sms_template_id=DEFAULT_SMS_TEMPLATE_ID,
                                                           email_template_id=DEFAULT_EMAIL_TEMPLATE_ID))


class BoardFeed(Feed):
    def at_scene(self, urn: str, callsign: str, at: datetime) -> None:
        self._apply("resource.status", at, resource={"callsign": callsign, "urn": urn, "status_code": "6"})

    def appointment(self, urn: str, start: datetime, end: datetime, at: datetime) -> None:
        self._apply("incident.appointment", at, appointment={
            "urn": urn, "window_start": start.isoformat().replace("+00:00", "Z"),
            "window_end": end.isoformat().replace("+00:00", "Z")})


def messages(db_url, incident_id):
    with session_scope(db_url, readonly=True) as s:
        return s.exec(select(Message).where(Message.incident_id == incident_id).order_by(Message.id)).all()


def audit(db_url):
    with session_scope(db_url, readonly=True) as s:
        return [(e.actor, e.action, e.outcome, e.incident_id, e.detail)
                for e in s.exec(select(AuditEvent).order_by(AuditEvent.id))]


def holds_of(db_url, incident_id):
    with session_scope(db_url, readonly=True) as s:
        return s.exec(select(TextHold).where(TextHold.incident_id == incident_id)).all()


def now() -> datetime:
    return datetime.now(timezone.utc)


def test_a_hold_is_recorded_audited_shown_on_the_board_and_released(db_url):
    feed = BoardFeed(db_url)
    start = now() - timedelta(minutes=5)
    incident = feed.opened("CLE-20261201-9001", "PRIORITY", start)
    other = feed.opened("CLE-20261201-9002", "PRIORITY", start)
    assert hold_texts_now(CONTROL, incident, "caller_safety") == "CLE-20261201-9001"
    [hold] = holds_of(db_url, incident)
    assert (hold.held_by, hold.held_by_name, hold.reason, hold.released_at) == (
        "control.one", "Control One", "caller_safety", None)
    assert abs((hold.held_at - now()).total_seconds()) < 10
    # Holding again changes nothing (a second controller pressing the same button).
    assert hold_texts_now(SUPERVISOR, incident, "other") == "CLE-20261201-9001"
    assert len(holds_of(db_url, incident)) == 1

    with session_scope(db_url, readonly=True) as s:
        rows = {r["urn"]: r for r in board_rows(s, GradeTargets(), now())}
    row = rows["CLE-20261201-9001"]
    assert row["held"] == "yes" and rows["CLE-20261201-9002"]["held"] == ""
    assert row["hold_note"].startswith("Texts held by Control One at ")
    assert row["hold_note"].endswith(": the caller may not be safe to text")
    assert board_counts(list(rows.values()))["held"] == 1

    assert release_texts_now(SUPERVISOR, incident) == ("CLE-20261201-9001", 0)
    [hold] = holds_of(db_url, incident)
    assert (hold.released_by, hold.released_by_name) == ("super.one", "Super One") and hold.released_at
    # Released: nothing more to release, and it can be held again.
    with pytest.raises(LookupError, match=NO_SUCH_INCIDENT):
        release_texts_now(CONTROL, incident)
    hold_texts_now(CONTROL, incident, "details_changing")
    assert [h.released_at is None for h in holds_of(db_url, incident)] == [False, True]

    entries = audit(db_url)
    assert [(a, act, out) for a, act, out, _, _ in entries] == [
        ("control.one", "hold_texts", "allowed"), ("super.one", "hold_texts", "allowed"),
        ("super.one", "release_texts", "allowed"), ("control.one", "release_texts", "refused"),
        ("control.one", "hold_texts", "allowed")]
    assert {i for _, _, _, i, _ in entries} == {incident} and other not in {i for _, _, _, i, _ in entries}
    assert entries[0][4] == f"hold {hold.id}: texts held, reason caller_safety"
    assert entries[1][4] == f"already held since hold {hold.id}"
    assert entries[2][4] == f"hold {hold.id} released: 0 held message(s) due again"


@pytest.mark.asyncio
async def test_the_safety_rules_hold_the_texts_until_release_then_send_them(db_url, notify):
    feed = BoardFeed(db_url)
    sender = sender_for(notify, db_url)
    start = now() - timedelta(minutes=5)
    incident = feed.opened("CLE-20261201-9010", "PRIORITY", start)
    hold_texts_now(CONTROL, incident, "caller_asked")
    feed.assigned("CLE-20261201-9010", "CE21", start + timedelta(minutes=1))  # "an officer has been given your call"
    result = await sender.drain()
    assert (result.sent, result.held) == (0, 1)
    [message] = messages(db_url, incident)
    assert (message.status, message.rule) == ("held", "control_room_flag")
    assert "control room is holding texts" in message.reason
    assert message.due_at > now() + timedelta(minutes=10)  # looked at again only as a fallback
    assert notify.sent == []
    with session_scope(db_url, readonly=True) as s:
        row = {r["urn"]: r for r in board_rows(s, GradeTargets(), now())}["CLE-20261201-9010"]
    assert row["held"] == "yes" and row["texts"] == ""  # the hold says it; no second note

    assert release_texts_now(CONTROL, incident) == ("CLE-20261201-9010", 1)
    [message] = messages(db_url, incident)
    assert message.status == "queued" and message.due_at <= now()
    await sender.drain()
    [message] = messages(db_url, incident)
    assert message.status in ("sent", "delivered")
    assert len(notify.sent) == 1 and "officer has been given your call" in notify.sent[0].body
    with session_scope(db_url, readonly=True) as s:
        steps = [e.status for e in s.exec(select(MessageEvent).where(MessageEvent.message_id == message.id)
                                          .order_by(MessageEvent.id))]
    assert steps[:4] == ["queued", "held", "queued", "sent"]


@pytest.mark.asyncio
async def test_on_release_a_text_that_no_longer_makes_sense_is_cancelled(db_url, notify):
    feed = BoardFeed(db_url)
    sender = sender_for(notify, db_url)
    start = now() - timedelta(minutes=8)
    incident = feed.opened("CLE-20261201-9020", "PRIORITY", start)
    hold_texts_now(CONTROL, incident, "caller_safety")
    feed.assigned("CLE-20261201-9020", "CE22", start + timedelta(minutes=1))
    await sender.drain()
    feed.at_scene("CLE-20261201-9020", "CE22", start + timedelta(minutes=6))  # the officer is there
    assert release_texts_now(CONTROL, incident)[1] >= 1
    await sender.drain()
    assigned = [m for m in messages(db_url, incident) if m.template == "officer_assigned"]
    assert [m.status for m in assigned] == ["cancelled"]
    assert not [n for n in notify.sent if "given your call" in n.body]


REFUSALS = {
    "an officer, on an open incident": (OFFICER, "open"),
    "an administrator, on an open incident": (ADMIN, "open"),
    "the control room, on an incident that does not exist": (CONTROL, "missing"),
    "the control room, on a closed incident": (CONTROL, "closed"),
}


@pytest.mark.parametrize("who,which", list(REFUSALS.values()), ids=list(REFUSALS))
def test_refusals_are_one_answer_and_change_nothing(db_url, who, which):
    feed = BoardFeed(db_url)
    start = now() - timedelta(minutes=30)
    ids = {"open": feed.opened("CLE-20261201-9030", "PRIORITY", start),
           "closed": feed.opened("CLE-20261201-9031", "PRIORITY", start)}
    feed.closed("CLE-20261201-9031", start + timedelta(minutes=10))
    ids["missing"] = max(ids.values()) + 1000
    with pytest.raises(LookupError) as refused:
        hold_texts_now(who, ids[which], "caller_safety")
    assert str(refused.value) == repr(NO_SUCH_INCIDENT) or refused.value.args == (NO_SUCH_INCIDENT,)
    assert holds_of(db_url, ids[which]) == []
    with pytest.raises(LookupError) as again:
        release_texts_now(who, ids[which])
    assert again.value.args == (NO_SUCH_INCIDENT,)
    entries = audit(db_url)
    assert [(a, act, out) for a, act, out, _, _ in entries] == [
        (who.username, "hold_texts", "refused"), (who.username, "release_texts", "refused")]
    # A refusal on an incident that exists names it (its supervisors see it); one that does not, names none.
    assert {i for _, _, _, i, _ in entries} == ({None} if which == "missing" else {ids[which]})


def _statements(db_url, call) -> list[str]:
    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    engine = db.engine(db_url)
    event.listen(engine, "before_cursor_execute", listen)
    try:
        with pytest.raises(LookupError):
            call()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen


def test_a_refusal_sends_the_same_statements_whether_the_incident_exists(db_url):
    feed = BoardFeed(db_url)
    start = now() - timedelta(minutes=30)
    open_one = feed.opened("CLE-20261201-9040", "PRIORITY", start)
    closed = feed.opened("CLE-20261201-9041", "PRIORITY", start)
    feed.closed("CLE-20261201-9041", start + timedelta(minutes=5))
    missing = closed + 1000
    holding = [_statements(db_url, lambda i=i, w=w: hold_texts_now(w, i, "other"))
               for w, i in ((OFFICER, open_one), (CONTROL, closed), (CONTROL, missing))]
    assert holding[0] == holding[1] == holding[2]
    releasing = [_statements(db_url, lambda i=i, w=w: release_texts_now(w, i))
                 for w, i in ((OFFICER, open_one), (CONTROL, open_one), (CONTROL, missing))]
    assert releasing[0] == releasing[1] == releasing[2]


@pytest.mark.parametrize("bad", ["", "caller safety", "CALLER_SAFETY", None, 7, ["other"]])
def test_a_reason_not_on_the_list_is_refused_before_anything_is_looked_up(db_url, bad):
    feed = BoardFeed(db_url)
    incident = feed.opened("CLE-20261201-9050", "PRIORITY", now())
    with pytest.raises(ValueError, match="choose why"):
        hold_texts_now(CONTROL, incident, bad)
    assert holds_of(db_url, incident) == [] and audit(db_url) == []


@pytest.mark.parametrize("value,expected", [
    ("12", 12), (12, 12), (" 12 ", 12), ("0", -1), ("-3", -1), ("1e3", -1), ("12.0", -1), ("", -1),
    (None, -1), (True, -1), ("99999999999", -1), (str(2 ** 31), -1), ({"id": 1}, -1), ("١٢", -1),
])
def test_an_incident_id_from_a_client(value, expected):
    assert incident_id_from(value) == expected


def test_a_closed_incident_whose_texts_are_held_stays_on_the_board_until_released(db_url):
    feed = BoardFeed(db_url)
    start = now() - timedelta(minutes=30)
    incident = feed.opened("CLE-20261201-9060", "PRIORITY", start)
    feed.opened("CLE-20261201-9061", "PRIORITY", start)
    hold_texts_now(CONTROL, incident, "caller_safety")
    feed.closed("CLE-20261201-9060", start + timedelta(minutes=20))
    with session_scope(db_url, readonly=True) as s:
        rows = board_rows(s, GradeTargets(), now())
    assert [r["urn"] for r in rows] == ["CLE-20261201-9061", "CLE-20261201-9060"]  # last, after every open one
    assert (rows[1]["status"], rows[1]["risk"], rows[1]["held"]) == ("closed", "ok", "yes")
    assert rows[1]["risk_reason"] == "Closed; its texts are still held until someone releases them"
    release_texts_now(CONTROL, incident)
    with session_scope(db_url, readonly=True) as s:
        assert [r["urn"] for r in board_rows(s, GradeTargets(), now())] == ["CLE-20261201-9061"]


def test_the_counts_and_a_visit_booked_for_later(db_url):
    feed = BoardFeed(db_url)
    at = now().replace(second=0, microsecond=0)
    t0 = at - timedelta(minutes=70)
    feed.opened("CLE-20261201-0801", "PRIORITY", t0)  # 60 minutes: breached ten minutes ago
    feed.opened("CLE-20261201-0802", "EMERGENCY", t0 + timedelta(minutes=60))  # 10 of 15 minutes: at risk
    feed.opened("CLE-20261201-0803", "EMERGENCY", t0 + timedelta(minutes=66))  # nobody assigned yet
    booked = feed.opened("CLE-20261201-0804", "SCHEDULED", t0)
    start, end = at + timedelta(hours=3), at + timedelta(hours=5)
    feed.appointment("CLE-20261201-0804", start, end, t0 + timedelta(minutes=2))
    feed.opened("CLE-20261201-0805", "PRIORITY", t0 + timedelta(minutes=65))
    feed.assigned("CLE-20261201-0805", "CE30", t0 + timedelta(minutes=66))
    hold_texts_now(CONTROL, booked, "other")
    with session_scope(db_url, readonly=True) as s:
        rows = board_rows(s, GradeTargets(), at)
    assert [(r["urn"], r["risk"]) for r in rows] == [
        ("CLE-20261201-0801", "breached"), ("CLE-20261201-0802", "at_risk"), ("CLE-20261201-0803", "unassigned"),
        ("CLE-20261201-0804", "booked"), ("CLE-20261201-0805", "ok")]
    by_urn = {r["urn"]: r for r in rows}
    visit = by_urn["CLE-20261201-0804"]
    assert re.fullmatch(r"Booked for (\w{3} )?\d\d:\d\d–(\w{3} )?\d\d:\d\d, no officer needed yet",
                        visit["risk_reason"]), visit["risk_reason"]
    assert london_time(start) in visit["risk_reason"] and london_time(end) in visit["risk_reason"]
    assert visit["risk_label"] == "Booked" and visit["resources"] == "None"
    assert by_urn["CLE-20261201-0801"]["new_breach"] == ""  # its target passed ten minutes ago: no longer new...
    with session_scope(db_url, readonly=True) as s:
        earlier = {r["urn"]: r for r in board_rows(s, GradeTargets(), at - timedelta(minutes=1))}
    assert earlier["CLE-20261201-0801"]["new_breach"] == "yes"  # ...but it was a minute before
    assert board_counts(rows) == {"breached": 1, "at_risk": 1, "unassigned": 1, "booked": 1, "held": 1}
    assert breached_urns(rows) == [("CLE-20261201-0801", "Priority")]
