"""What the portal's pages ask of the services, each in its own transaction: plain functions, no Reflex, so the
Reflex states (rxapp/portal/states.py) call them through `asyncio.to_thread` and never touch the database.

Every function takes the `VictimIdentity` the state has just resolved from the socket's session cookie, and
acts only for that victim; a refusal is a `PortalRefusal` whose key names the words the page shows. What comes
back is only what the victim may see, as plain strings (Reflex sends it to the browser as it is).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.plumbing.db import session_scope
from rxapp.portal import conversation as talk
from rxapp.portal import feedback, live
from rxapp.portal import preferences as prefs
from rxapp.portal.access import identity_from_cookie_header
from rxapp.portal.identity import PortalRefusal, VictimIdentity
from rxapp.portal.views import load_case_view

MESSAGE_KEYS = ("author", "label", "body", "when")
PREFERENCE_KEYS = ("channel", "language", "routine_every_days", "opt_out_all", "opt_out_sms", "opt_out_email")


def who_is_signed_in(cookie_header: str) -> Optional[VictimIdentity]:
    """The victim whose live session the Cookie header carries, or None (every reason looks the same)."""
    return identity_from_cookie_header(cookie_header or None)


def _message(item: dict) -> dict[str, str]:
    """One message as the page shows it: who wrote it, when, and the text as written (no ids)."""
    return {key: str(item.get(key) or "") for key in MESSAGE_KEYS}


def _preferences(raw: dict) -> dict[str, Any]:
    """The victim's preferences as the form shows them: every value a string, the choices as lists."""
    return {
        "channel": str(raw.get("channel") or ""),
        "language": str(raw.get("language") or ""),
        "routine_every_days": str(raw.get("routine_every_days") or ""),
        "opt_out_all": bool(raw.get("opt_out_all")),
        "opt_out_sms": bool(raw.get("opt_out_sms")),
        "opt_out_email": bool(raw.get("opt_out_email")),
        "channels": [str(c) for c in raw.get("channels_available") or []],
        "languages": [{"code": str(code), "name": str(name)} for code, name in raw.get("languages") or []],
        "frequencies": [str(days) for days in raw.get("frequencies") or []],
    }


def _survey(offer: Optional[dict]) -> str:
    """What the page needs of a survey offer: its kind ("attendance" or "case"), or "" for none. The subject
    itself stays on the server: answering looks it up again."""
    return str(offer.get("kind") or "") if offer else ""


def load_page(who: VictimIdentity, now: Optional[datetime] = None) -> Optional[dict]:
    """Everything the case page shows, or None when the victim's case is no longer there."""
    now = now or utcnow()
    view = load_case_view(who, now)
    if view is None:
        return None
    with session_scope() as session:  # reading the conversation marks the officer's messages read
        messages = [_message(m) for m in talk.conversation(session, who, now)]
        preferences = _preferences(prefs.preferences(session, who))
        survey = _survey(feedback.survey_offer(session, who, now))
    return {"view": view, "messages": messages, "preferences": preferences, "survey": survey}


def load_messages(who: VictimIdentity, now: Optional[datetime] = None) -> list[dict[str, str]]:
    with session_scope() as session:
        return [_message(m) for m in talk.conversation(session, who, now or utcnow())]


def send_message(who: VictimIdentity, text: str, now: Optional[datetime] = None) -> list[dict[str, str]]:
    """Sends the victim's message (and stores the automatic answer); the conversation as it now stands."""
    now = now or utcnow()
    with session_scope() as session:
        talk.send_from_victim(session, who, text, now)  # tells open pages once it commits
    return load_messages(who, now)


def ask_for_update(who: VictimIdentity, now: Optional[datetime] = None) -> list[dict[str, str]]:
    now = now or utcnow()
    with session_scope() as session:
        talk.ask_for_update(session, who, now)
    return load_messages(who, now)


def save_preferences(who: VictimIdentity, changes: dict, now: Optional[datetime] = None) -> dict[str, Any]:
    """Stores the victim's changed preferences (each change recorded by the service); the preferences now."""
    unknown = set(changes) - set(PREFERENCE_KEYS)
    if unknown:
        raise PortalRefusal("bad_choice")
    with session_scope() as session:
        return _preferences(prefs.change_preferences(session, who, changes, now or utcnow()))


def answer_survey(who: VictimIdentity, informed: int, overall: int, comment: str,
                  now: Optional[datetime] = None) -> None:
    """Answers the survey the victim is offered now (looked up here, never named by the page)."""
    now = now or utcnow()
    with session_scope() as session:
        offer = feedback.survey_offer(session, who, now)
        if offer is None:
            raise PortalRefusal("already_answered")
        feedback.answer_survey(session, who, offer["subject"], informed, overall, comment, now)


def decline_survey(who: VictimIdentity, now: Optional[datetime] = None) -> None:
    now = now or utcnow()
    with session_scope() as session:
        offer = feedback.survey_offer(session, who, now)
        if offer is None:
            raise PortalRefusal("already_answered")
        feedback.decline_survey(session, who, offer["subject"], now)


def live_recheck_seconds() -> float:
    """How long a page's live wait lasts before it re-reads anyway (PORTAL_LIVE_RECHECK)."""
    return float(settings().portal.live_recheck_seconds)


async def wait_for_change(case_victim_id: int, timeout: float) -> bool:
    """Until the victim's portal changes (in this process, or on another worker through Redis when REDIS_URL is
    set), or `timeout` seconds (rxapp/portal/live.py)."""
    return await live.wait_for_change(case_victim_id, timeout)
