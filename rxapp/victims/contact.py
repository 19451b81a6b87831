"""A victim's contact state (opt-outs, safe contact, failed destinations) and the channel they can be reached on."""
from __future__ import annotations

from types import EllipsisType
from typing import Optional

from sqlmodel import Session

from rxapp.domain.contact import Channel, ContactPoints, choose_channel
from rxapp.plumbing.config import settings
from rxapp.victims.models import Victim, VictimContactState


def contact_state(session: Session, victim_id: int) -> VictimContactState:
    """The victim's contact state, created (all clear, nothing confirmed) the first time it is needed."""
    state = session.get(VictimContactState, victim_id)
    if state is None:
        state = VictimContactState(victim_id=victim_id)
        session.add(state)
        session.flush()
    return state


def usable_channel(victim: Victim, state: VictimContactState,
                   offered: Optional[frozenset[str]] | EllipsisType = ...) -> Optional[tuple[Channel, str]]:
    """(channel, address) the victim can be reached on by automation now, or None. Only channels this
    deployment has a provider for are offered (`offered`, by default from the configuration)."""
    if offered is ...:
        offered = settings().offered_channels
    return choose_channel(ContactPoints(
        phone=victim.phone, email=victim.email, sms_consent=victim.sms_consent,
        phone_failed_permanently=state.phone_failed_permanently,
        email_failed_permanently=state.email_failed_permanently,
        opted_out_sms=state.opted_out_sms, opted_out_email=state.opted_out_email), offered)
