"""A victim's contact preferences, read and changed in the portal, over the very fields the journey already
honours, so a change applies to the next update at once:

- channel: `Victim.preferred_channel` (and `sms_consent`, as the records feed sets it): the outbox's channel
  choice (`rxapp/victims/contact.py`) and the journey's plan (`rxapp/domain/journey.py plan_contact`: a phone
  call or a letter is a task for a person);
- language: `Victim.language`, which every message queued from then on is written in;
- how often to hear when nothing has changed: `CaseVictim.routine_every_days`; the routine update still to come
  moves at once (`rxapp/investigation/duties.py reschedule_routine`);
- opting out of all automated updates, or of texts, or of emails: `VictimContactState` (the journey hands an
  opted-out victim's updates to a person; a victim out of texts gets email).

Each change is a `PreferenceChange` row (old, new, by whom) that the officer sees on the staff case page.
Values are checked against the choices offered; anything else is `PortalRefusal("bad_choice")` and changes
nothing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Session, select

from rxapp.domain import conversation as rules
from rxapp.investigation.duties import add_to_timeline, code, reschedule_routine
from rxapp.investigation.models import CaseVictim, Occurrence
from rxapp.languages import LANGUAGES, meta, resolve_language
from rxapp.plumbing.columns import utcnow
from rxapp.portal import live
from rxapp.portal.conversation import victim_case, when_words
from rxapp.portal.identity import PortalRefusal, VictimIdentity
from rxapp.portal.models import PreferenceChange
from rxapp.victims.contact import contact_state
from rxapp.victims.models import Victim, VictimContactState

SETTINGS = ("channel", "language", "routine_every_days", "opt_out_all", "opt_out_sms", "opt_out_email")
_OPT_OUT_FIELDS = {"opt_out_all": "opted_out_all", "opt_out_sms": "opted_out_sms", "opt_out_email": "opted_out_email"}
SETTING_WORDS = {"channel": "Channel", "language": "Language", "routine_every_days": "Routine updates (days)",
                 "opt_out_all": "Opted out of all automated updates", "opt_out_sms": "Opted out of texts",
                 "opt_out_email": "Opted out of emails"}


def _channel(victim: Victim, state: VictimContactState) -> str:
    """The channel the victim hears on now, as the portal names it ("sms", "email", "phone", "letter"): what they
    asked for, unless they then opted out of it (the outbox then uses the other)."""
    wanted = (victim.preferred_channel or "").lower()
    if wanted in ("phone", "letter"):
        return wanted
    texts = bool(victim.phone and victim.sms_consent and not state.opted_out_sms)
    emails = bool(victim.email and not state.opted_out_email)
    if wanted == "email" and emails:
        return "email"
    if texts:
        return "sms"
    return "email" if emails else ""


def _available(victim: Victim) -> list[str]:
    return [c.lower() for c in rules.channels_available(victim.phone, victim.email, victim.postal_address)]


def _current(victim: Victim, state: VictimContactState, case_victim: CaseVictim) -> dict:
    return {
        "channel": _channel(victim, state),
        "language": resolve_language(victim.language),
        "routine_every_days": case_victim.routine_every_days or code().routine_updates.then_every_calendar_days,
        "opt_out_all": state.opted_out_all,
        "opt_out_sms": state.opted_out_sms,
        "opt_out_email": state.opted_out_email,
    }


def preferences(session: Session, who: VictimIdentity, now: Optional[datetime] = None) -> dict:
    """The victim's preferences and the choices they may make."""
    case_victim, _ = victim_case(session, who, now or utcnow())
    victim = session.get(Victim, case_victim.victim_id)
    return {**_current(victim, contact_state(session, victim.id), case_victim),
            "channels_available": _available(victim),
            "languages": [(lang, meta(lang)["name"]) for lang in LANGUAGES],
            "frequencies": list(rules.FREQUENCIES)}


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "on", "off", "yes", "no", "1", "0"):
        return value.strip().lower() in ("true", "on", "yes", "1")
    raise PortalRefusal("bad_choice")


def _days(value: object) -> int:
    if isinstance(value, bool):
        raise PortalRefusal("bad_choice")
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 3:
        value = int(value.strip())
    if not isinstance(value, int) or value not in rules.FREQUENCIES:
        raise PortalRefusal("bad_choice")
    return value


def validated(changes: object, victim: Victim, current: dict) -> dict:
    """The wanted values, each checked against what is offered; the whole request refused if any is not."""
    if not isinstance(changes, dict) or len(changes) > len(SETTINGS) or any(k not in SETTINGS for k in changes):
        raise PortalRefusal("bad_choice")
    wanted = {}
    for key, value in changes.items():
        if key == "channel":
            if not isinstance(value, str) or value not in _available(victim):
                raise PortalRefusal("bad_choice")
            wanted[key] = value
        elif key == "language":
            if not isinstance(value, str) or value not in LANGUAGES:
                raise PortalRefusal("bad_choice")
            wanted[key] = value
        elif key == "routine_every_days":
            wanted[key] = _days(value)
        else:
            wanted[key] = _flag(value)
    after = {**current, **wanted}
    # Choosing texts while opting out of texts (or the same for email) cannot both be meant. Opting out of the
    # channel in use, leaving the channel as it was (a form sends every field), moves the victim to the other one.
    chosen = wanted.get("channel") if wanted.get("channel") != current["channel"] else None
    if (chosen == "sms" and after["opt_out_sms"]) or (chosen == "email" and after["opt_out_email"]):
        raise PortalRefusal("bad_choice")
    return wanted


def change_preferences(session: Session, who: VictimIdentity, changes: dict, now: Optional[datetime] = None,
                       *, by: str = "victim") -> dict:
    """Apply the victim's changes (only what differs), record each, honour them at once; returns
    `preferences` afterwards."""
    now = now or utcnow()
    case_victim, occurrence = victim_case(session, who, now)
    victim = session.get(Victim, case_victim.victim_id)
    state = contact_state(session, victim.id)
    current = _current(victim, state, case_victim)
    wanted = validated(changes, victim, current)
    for key, value in wanted.items():
        if value == current[key]:
            continue
        session.add(PreferenceChange(victim_id=victim.id, case_victim_id=case_victim.id, at=now, setting=key,
                                     old_value=_words(current[key]), new_value=_words(value), changed_by=by[:80]))
        _apply(session, key, value, victim, state, case_victim, occurrence, now)
        add_to_timeline(session, occurrence, now, "preference_changed", "",
                        f"The victim changed a preference through the portal: {SETTING_WORDS[key]} "
                        f"{_words(current[key]) or '-'} to {_words(value)}", None, public=False)
    session.flush()
    live.changed_after_commit(session, case_victim.id)
    return preferences(session, who, now)


def _words(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)[:40]


def _apply(session: Session, key: str, value, victim: Victim, state: VictimContactState, case_victim: CaseVictim,
           occurrence: Occurrence, now: datetime) -> None:
    if key == "channel":
        victim.preferred_channel = value.upper()
        # As the records feed does: texts only where the victim asks for them.
        victim.sms_consent = value == "sms" and bool(victim.phone)
    elif key == "language":
        victim.language = value
    elif key == "routine_every_days":
        case_victim.routine_every_days, case_victim.updated_at = value, now
        reschedule_routine(session, code(), occurrence, case_victim, now)
    else:
        setattr(state, _OPT_OUT_FIELDS[key], value)
        state.updated_at = now
        if key == "opt_out_all" and value:
            state.opted_out_at = now


def staff_preference_changes(session: Session, case_victim_id: int) -> list[dict]:
    """Every change of this victim's preferences on this case, newest first (the caller checked the case)."""
    rows = session.exec(select(PreferenceChange).where(PreferenceChange.case_victim_id == case_victim_id)
                        .order_by(PreferenceChange.at.desc(), PreferenceChange.id.desc())).all()
    return [{"when": when_words(r.at), "setting": SETTING_WORDS.get(r.setting, r.setting), "old": r.old_value or "-",
             "new": r.new_value, "by": "the victim, in the portal" if r.changed_by == "victim" else r.changed_by}
            for r in rows]
