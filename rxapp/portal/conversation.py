"""The conversation between a victim (of one case) and the officer in charge: messages, "ask for an update",
the automatic answer, and the officer's reply from the staff case page.

Victim side: every function takes the signed-in `VictimIdentity` and acts only on that victim's own case; the
identity's session is checked again here (ended, idle, another case: `PortalRefusal("not_allowed")`, the same
answer whatever the reason). Staff side: `officer_reply` takes the `Actor` and asks
`rxapp.staff.permissions.may` on the case itself. What a victim or officer writes is stored exactly as written
(only the whitespace around it goes) and escaped by whatever shows it; no message text goes into a log, a task
or a message sent out.

A victim's message opens (or refreshes) ONE task for the officer in charge, due by the reply deadline the
automatic answer promised; the officer's reply closes it and queues `portal_reply_waiting` (no content, only
the link to sign in). Functions given a `session` open nothing and commit nothing: the caller's transaction
commits, and the live pages are told once it has (`live.changed_after_commit`); `reply_now` opens its own for the
staff case page.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from sqlmodel import Session, func, select

from rxapp.audit.service import AuditAction, AuditOutcome, record
from rxapp.domain import conversation as rules
from rxapp.domain.safety import MessageKind
from rxapp.domain.statuses import HowTold, TaskKind, TaskStatus
from rxapp.investigation.duties import add_to_timeline, code, told
from rxapp.investigation.models import CaseVictim, Occurrence
from rxapp.investigation.views import case_facts
from rxapp.languages import resolve_language, text
from rxapp.messaging.outbox import PORTAL_LINK_PREFIX, enqueue
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.portal import live
from rxapp.portal.identity import PortalRefusal, VictimIdentity
from rxapp.portal.invitations import live_invite
from rxapp.portal.models import PortalMessage, PortalSession
from rxapp.staff.permissions import Actor, Permission, may
from rxapp.tasks.models import Task
from rxapp.tasks.service import open_task
from rxapp.victims.models import Victim

MAX_MESSAGE_CHARS = rules.MAX_MESSAGE_CHARS
LONDON = ZoneInfo("Europe/London")
REPLY_TEMPLATE = "portal_reply_waiting"
MESSAGE_TASK_TITLE = "Reply to the victim's message"
UPDATE_TASK_TITLE = "Victim asked for an update"
# Tasks an officer's reply answers.
ANSWERED_BY_REPLY = (TaskKind.PORTAL_MESSAGE, TaskKind.UPDATE_REQUESTED)


# ---- who is asking ------------------------------------------------------------------------------------------

def victim_case(session: Session, who: VictimIdentity, now: datetime) -> tuple[CaseVictim, Occurrence]:
    """The signed-in victim's own case, from the server's record of the session; refused (always with the
    same key) when the session has ended, gone idle, or does not belong to that case victim."""
    if not isinstance(who, VictimIdentity):
        raise PortalRefusal("not_allowed")
    held = session.get(PortalSession, who.session_hash) if who.session_hash else None
    idle = timedelta(minutes=settings().portal.idle_minutes)
    if (held is None or held.ended_at is not None or held.case_victim_id != who.case_victim_id
            or now - held.last_seen_at > idle):
        raise PortalRefusal("not_allowed")
    case_victim = session.get(CaseVictim, who.case_victim_id)
    if case_victim is None or case_victim.victim_id != who.victim_id or case_victim.occurrence_id != who.occurrence_id:
        raise PortalRefusal("not_allowed")
    occurrence = session.get(Occurrence, case_victim.occurrence_id)
    if occurrence is None:
        raise PortalRefusal("not_allowed")
    return case_victim, occurrence


def language_of(session: Session, who: VictimIdentity) -> str:
    """The victim's language as stored now (a change of preference shows at once), else the identity's."""
    victim = session.get(Victim, who.victim_id)
    return resolve_language((victim.language if victim else None) or who.language)


# ---- words and times ---------------------------------------------------------------------------------------

def when_words(at: datetime, lang: str = "en") -> str:
    """'Tue 1 Dec, 14:05' in London time, in the reader's language."""
    return format_datetime(at.astimezone(LONDON), "EEE d MMM, HH:mm", locale=_babel_locale(lang))


def day_words(at: datetime, lang: str = "en") -> str:
    """'Thursday 3 December' (the London day), in the reader's language."""
    return format_date(at.astimezone(LONDON).date(), "EEEE d MMMM", locale=_babel_locale(lang))


def _babel_locale(lang: str) -> str:
    # Arabic with Western digits, as the product's Arabic texts are written.
    return "ar@numbers=latn" if lang == "ar" else lang


def item(message: PortalMessage, lang: str) -> dict:
    """One message as the pages show it (every value text, to be escaped by the page)."""
    if message.author == "officer":
        label = message.author_label or text(lang, "portal_conversation.officer")
    elif message.author == "auto":
        label = text(lang, "portal_conversation.auto")
    else:
        label = text(lang, "portal_conversation.you")
    body = message.body
    if message.asks_for_update and not body:
        body = text(lang, "portal_conversation.asked_for_update")
    return {"id": str(message.id), "author": message.author, "label": label, "body": body,
            "when": when_words(message.created_at, lang), "via": message.via}


# ---- the victim's side -------------------------------------------------------------------------------------

def conversation(session: Session, who: VictimIdentity, now: Optional[datetime] = None) -> list[dict]:
    """The victim's conversation, oldest first; the officer's messages are marked read by the victim."""
    now = now or utcnow()
    case_victim, _ = victim_case(session, who, now)
    lang = language_of(session, who)
    messages = session.exec(select(PortalMessage).where(PortalMessage.case_victim_id == case_victim.id)
                            .order_by(PortalMessage.created_at, PortalMessage.id)).all()
    for message in messages:
        if message.author == "officer" and message.read_by_victim_at is None:
            message.read_by_victim_at = now
    return [item(m, lang) for m in messages]


def send_from_victim(session: Session, who: VictimIdentity, text_: str, now: Optional[datetime] = None) -> dict:
    """Store the victim's message and the automatic answer after it; open or refresh the officer's task.
    Refused: `empty`, `too_long` (before any work, however large), `too_many` (PORTAL_MESSAGES_PER_HOUR),
    `not_allowed`. Returns the message's item with the automatic answer's item under "auto"."""
    refusal = rules.message_refusal(text_)
    if refusal:
        raise PortalRefusal(refusal)
    now = now or utcnow()
    case_victim, occurrence = victim_case(session, who, now)
    recent = session.exec(select(func.count()).select_from(PortalMessage).where(
        PortalMessage.case_victim_id == case_victim.id, PortalMessage.author == "victim",
        PortalMessage.created_at > now - timedelta(hours=1))).one()
    if rules.too_many(recent, settings().portal.messages_per_hour):
        raise PortalRefusal("too_many")
    message = PortalMessage(case_victim_id=case_victim.id, author="victim", body=rules.clean_message(text_),
                            via="portal", created_at=now)
    session.add(message)
    session.flush()
    task = message_task(session, case_victim, occurrence, now)
    message.task_id = task.id
    lang = language_of(session, who)
    auto = _auto_answer(session, case_victim, text(lang, "portal_conversation.reply_by",
                                                   date=day_words(task.due_at, lang)), now)
    live.changed_after_commit(session, case_victim.id)
    return {**item(message, lang), "auto": item(auto, lang)}


def ask_for_update(session: Session, who: VictimIdentity, now: Optional[datetime] = None) -> dict:
    """The victim asks for an update: a task for the officer in charge with a deadline (sooner for enhanced
    rights), an entry in the conversation and an automatic answer. Refused `already_asked` while one is open."""
    now = now or utcnow()
    case_victim, occurrence = victim_case(session, who, now)
    if _open_tasks(session, case_victim, occurrence, (TaskKind.UPDATE_REQUESTED,)):
        raise PortalRefusal("already_asked")
    rules_code = code()
    due = rules.update_request_due(rules_code, now, case_victim.enhanced, settings().portal.reply_working_days,
                                   rules_code.calendar())
    task = open_task(session, kind=TaskKind.UPDATE_REQUESTED, title=UPDATE_TASK_TITLE,
                     detail="The victim pressed 'ask for an update' in the portal. Tell them where the case stands "
                            "(reply on this page, or phone them), then mark this task done."
                            + (" Enhanced rights: their deadline is shorter." if case_victim.enhanced else ""),
                     incident_id=occurrence.incident_id, victim_id=case_victim.victim_id, due_at=due,
                     occurrence_id=occurrence.id)
    message = PortalMessage(case_victim_id=case_victim.id, author="victim", body="", via="portal",
                            asks_for_update=True, task_id=task.id, created_at=now)
    session.add(message)
    session.flush()
    add_to_timeline(session, occurrence, now, "update_requested", "",
                    "The victim asked for an update through the portal", None, public=False)
    lang = language_of(session, who)
    auto = _auto_answer(session, case_victim, text(lang, "portal_conversation.update_by",
                                                   date=day_words(due, lang)), now)
    live.changed_after_commit(session, case_victim.id)
    return {**item(message, lang), "auto": item(auto, lang)}


def _auto_answer(session: Session, case_victim: CaseVictim, body: str, now: datetime) -> PortalMessage:
    auto = PortalMessage(case_victim_id=case_victim.id, author="auto", body=body, via="portal", created_at=now)
    session.add(auto)
    session.flush()
    return auto


def _open_tasks(session: Session, case_victim: CaseVictim, occurrence: Occurrence, kinds) -> list[Task]:
    return list(session.exec(select(Task).where(
        Task.occurrence_id == occurrence.id, Task.victim_id == case_victim.victim_id,
        Task.kind.in_([str(k) for k in kinds]), Task.status == TaskStatus.OPEN).order_by(Task.id)))


def message_task(session: Session, case_victim: CaseVictim, occurrence: Occurrence, now: datetime) -> Task:
    """The one open "reply to the victim" task for this victim of this case: opened by their first unanswered
    message, due by the reply deadline promised then; later messages only update its words."""
    waiting = session.exec(select(func.count()).select_from(PortalMessage).where(
        PortalMessage.case_victim_id == case_victim.id, PortalMessage.author == "victim",
        PortalMessage.read_by_officer_at.is_(None))).one()
    detail = (f"The victim has written to you ({waiting} message{'s' if waiting != 1 else ''} waiting). Read "
              "the conversation and reply on this case page.")
    existing = _open_tasks(session, case_victim, occurrence, (TaskKind.PORTAL_MESSAGE,))
    if existing:
        existing[0].detail = detail
        return existing[0]
    rules_code = code()
    due = rules.reply_expected_by(now, settings().portal.reply_working_days, rules_code.calendar())
    return open_task(session, kind=TaskKind.PORTAL_MESSAGE, title=MESSAGE_TASK_TITLE, detail=detail,
                     incident_id=occurrence.incident_id, victim_id=case_victim.victim_id, due_at=due,
                     occurrence_id=occurrence.id)


# ---- a text reply joins the conversation (called from rxapp/messaging/replies.py) -------------------------

def newest_open_case(session: Session, victim_ids: list[int]) -> Optional[tuple[CaseVictim, Occurrence]]:
    """The newest open case of any of these victim records, if any."""
    if not victim_ids:
        return None
    row = session.exec(select(CaseVictim, Occurrence).join(Occurrence, Occurrence.id == CaseVictim.occurrence_id)
                       .where(CaseVictim.victim_id.in_(victim_ids), Occurrence.status == "open")
                       .order_by(Occurrence.recorded_at.desc(), CaseVictim.id.desc())).first()
    return (row[0], row[1]) if row else None


def join_text_reply(session: Session, case_victim: CaseVictim, occurrence: Occurrence, body: str,
                    inbound_text_id: int, now: datetime) -> Task:
    """A victim's text reply joins their case's conversation (via "sms") and its one reply task."""
    message = PortalMessage(case_victim_id=case_victim.id, author="victim", body=body, via="sms",
                            inbound_text_id=inbound_text_id, created_at=now)
    session.add(message)
    session.flush()
    task = message_task(session, case_victim, occurrence, now)
    message.task_id = task.id
    live.changed_after_commit(session, case_victim.id)
    return task


# ---- the officer's side ------------------------------------------------------------------------------------

def officer_label(actor: Actor) -> str:
    """How an officer's message is signed: their rank and collar number ("PC 4127"), never their name."""
    return " ".join((getattr(actor, "collar_number", "") or "").split())[:40]


def staff_case(session: Session, actor: Actor, case_victim_id: object,
               permission: Permission) -> tuple[CaseVictim, Occurrence]:
    """The case victim if `actor` may use `permission` on their case; otherwise `PortalRefusal("not_allowed")`,
    the same for a case victim that does not exist, after the same queries."""
    try:
        wanted = int(str(case_victim_id))
    except ValueError:
        wanted = -1
    case_victim = session.get(CaseVictim, wanted) if wanted > 0 else None
    occurrence = session.get(Occurrence, case_victim.occurrence_id) if case_victim else None
    facts = case_facts(session, occurrence)
    if occurrence is None or not may(actor, permission, facts):
        raise PortalRefusal("not_allowed")
    return case_victim, occurrence


def officer_reply(session: Session, actor: Actor, case_victim_id: int, text_: str,
                  now: Optional[datetime] = None) -> dict:
    """The officer's reply to a victim: stored, signed with rank and collar number; the open message and
    update tasks for this victim close; the victim is told by text or email that a reply is waiting (no
    content: only the link to sign in). Only staff who may record contact on that case."""
    refusal = rules.message_refusal(text_)
    if refusal:
        raise PortalRefusal(refusal)
    now = now or utcnow()
    try:
        case_victim, occurrence = staff_case(session, actor, case_victim_id, Permission.RECORD_CONTACT)
    except PortalRefusal:
        record(session, actor, AuditAction.REPLY_TO_VICTIM, AuditOutcome.REFUSED, at=now,
               detail="portal reply: not a case this account may act on")
        raise
    message = PortalMessage(case_victim_id=case_victim.id, author="officer", author_label=officer_label(actor),
                            body=rules.clean_message(text_), via="staff", created_at=now)
    session.add(message)
    for waiting in session.exec(select(PortalMessage).where(PortalMessage.case_victim_id == case_victim.id,
                                                            PortalMessage.author == "victim",
                                                            PortalMessage.read_by_officer_at.is_(None))):
        waiting.read_by_officer_at = now
    by = (getattr(actor, "display_name", "") or getattr(actor, "username", "") or "unknown")[:80]
    answered_update = False
    for task in _open_tasks(session, case_victim, occurrence, ANSWERED_BY_REPLY):
        answered_update = answered_update or task.kind == TaskKind.UPDATE_REQUESTED
        task.status, task.completed_at, task.escalate_at = TaskStatus.DONE, now, None
        task.how_told, task.completed_by, task.outcome = HowTold.PORTAL, by, "Replied through the victim's portal."
    session.flush()
    if answered_update:
        # The update the victim asked for is an update about the case: the routine heartbeat restarts.
        told(session, code(), occurrence, case_victim, now, HowTold.PORTAL, now)
    victim = session.get(Victim, case_victim.victim_id)
    enqueue(session, victim=victim, template=REPLY_TEMPLATE, kind=MessageKind.ROUTINE,
            personalisation={"link": portal_link(session, case_victim)}, incident=None, now=now,
            occurrence_id=occurrence.id)
    record(session, actor, AuditAction.REPLY_TO_VICTIM, AuditOutcome.ALLOWED, at=now, occurrence_id=occurrence.id,
           incident_id=occurrence.incident_id, team=occurrence.oic_team,
           detail=f"portal reply to victim {case_victim.victim_id}")
    live.changed_after_commit(session, case_victim.id)
    return item(message, "en")


def portal_link(session: Session, case_victim: CaseVictim) -> str:
    """Where the victim signs in: a stand-in for the start page of their invitation in force, which the sender
    replaces with the link (derived from the invitation's nonce) only when the message goes, so the link is never
    stored; with no invitation in force, the portal's case page, which sends them to sign in."""
    invite = live_invite(session, case_victim.id)
    if invite is not None:
        return f"{PORTAL_LINK_PREFIX}{invite.id}"
    return f"{settings().public_base_url}/portal/case"


def staff_conversation(session: Session, case_victim_id: int) -> list[dict]:
    """A case victim's conversation for the staff case page (the caller has checked the case may be read);
    the officer reading it does not mark anything read: only a reply does."""
    messages = session.exec(select(PortalMessage).where(PortalMessage.case_victim_id == case_victim_id)
                            .order_by(PortalMessage.created_at, PortalMessage.id)).all()
    rows = []
    for m in messages:
        label = {"victim": "Victim", "auto": "Automatic answer"}.get(m.author, m.author_label or "Officer")
        body = m.body or ("Asked for an update" if m.asks_for_update else "")
        rows.append({"id": str(m.id), "author": m.author, "label": label, "body": body,
                     "when": when_words(m.created_at), "via": {"sms": "by text", "staff": "case page"}.get(
                         m.via, "portal"), "unread": "yes" if m.author == "victim" and not m.read_by_officer_at
                     else ""})
    return rows


# ---- in its own transaction (for the staff case page's state, through asyncio.to_thread) --------------------

def reply_now(actor: Actor, case_victim_id: int, text_: str) -> dict:
    """`officer_reply` in its own transaction: committed (the refusal in the audit log too), then the live
    pages told."""
    refusal = rules.message_refusal(text_)
    if refusal:
        raise PortalRefusal(refusal)
    refused: Optional[PortalRefusal] = None
    with session_scope() as session:
        try:
            return officer_reply(session, actor, case_victim_id, text_, utcnow())
        except PortalRefusal as exc:
            refused = exc  # the audit entry is committed with the transaction
    raise refused
