"""Several updates sent as one provider message (`rxapp/domain/bundling.py` decides which and writes the list).

Every row of a bundle keeps its own status and history and moves with the others: all are `sending` together,
all take the provider's id when it accepts the message (so each Code duty is met by that one send), and a
failure or a delivery receipt applies to all of them. The provider sees the reference of the first row (the
lead). Every row keeps that reference (`Message.bundled_under`, and its history says so), so that after an
interruption the sender asks the provider about the lead's reference for every row of the bundle, and never sends
any of them twice.
"""
from __future__ import annotations

from typing import Iterable, Optional

from sqlmodel import Session, select

from rxapp.domain import bundling
from rxapp.domain.contact import Channel
from rxapp.domain.templates import NOTIFY_MAX_SMS_CHARACTERS
from rxapp.messaging.models import Message, MessageEvent
from rxapp.messaging.outbox import personalisation_for_send, templates
from rxapp.portal.invitations import live_link_for

BUNDLED = "bundled"  # a MessageEvent entry: the row went out in one message with others
BUNDLE_TEMPLATE = "updates_together"
MORE_TEMPLATE = "updates_together_more"
PORTAL_TEMPLATE = "updates_together_portal"  # the same, ending with the victim's portal link when they have one


def candidate(message: Message) -> bundling.Candidate:
    return bundling.Candidate(
        message_id=message.id, kind=message.kind, victim_id=message.victim_id, case_id=message.occurrence_id,
        channel=message.channel, destination=message.destination, language=message.language,
        has_line=templates()[message.template].line is not None)


def render_bundle(session: Session, rows: list[Message]) -> tuple[Optional[str], str]:
    """(subject, body) of the one message listing `rows` (in order) in the victim's language."""
    lead = rows[0]
    link = live_link_for(session, lead.victim_id, lead.occurrence_id)
    tpl, more = templates()[PORTAL_TEMPLATE if link else BUNDLE_TEMPLATE], templates()[MORE_TEMPLATE]
    language = tpl.resolve_language(lead.language, lead.channel)
    lines = [templates()[row.template].line_in(language) for row in rows]
    values = personalisation_for_send(session, lead)

    def whole(updates: str) -> str:
        return tpl.render(language, {"count": str(len(rows)), "crime_reference": values.get("crime_reference"),
                                     "updates": updates, "link": link}, channel=lead.channel).body

    def and_more(left: int) -> str:
        return more.render(language, {"count": str(left)}).body

    limit = NOTIFY_MAX_SMS_CHARACTERS if lead.channel == Channel.SMS else None
    fitted = bundling.fit(lines, whole, and_more, limit)
    subject = tpl.render(language, {"count": str(len(rows)), "crime_reference": values.get("crime_reference"),
                                    "updates": "", "link": link}, channel=lead.channel).subject
    return subject, fitted.body


def note_bundle(session: Session, rows: list[Message]) -> None:
    """Each row's history says it went in one message with the others, and under which reference."""
    lead = rows[0]
    for row in rows:
        row.bundled_under = lead.reference
        others = len(rows) - 1
        session.add(MessageEvent(message_id=row.id, status=BUNDLED, at=row.updated_at,
                                 detail=f"one message with {others} other update{'s' if others != 1 else ''}, "
                                        f"under {lead.reference}"))


def sent_under(session: Session, message_ids: Iterable[int]) -> dict[int, str]:
    """message id -> the reference the provider knows its latest bundle by (rows never bundled are absent)."""
    ids = list(message_ids)
    if not ids:
        return {}
    q = select(Message.id, Message.bundled_under).where(Message.id.in_(ids), Message.bundled_under != None)  # noqa: E711
    return dict(session.exec(q).all())


def rows_sent_together(session: Session, message: Message) -> list[Message]:
    """The message and every other row the provider accepted as the same message (same provider id)."""
    if not message.provider_id:
        return [message]
    rows = session.exec(select(Message).where(Message.provider_id == message.provider_id)
                        .order_by(Message.id)).all()
    return list(rows) or [message]


__all__ = ["BUNDLED", "candidate", "note_bundle", "render_bundle", "rows_sent_together",
           "sent_under"]
