"""Who is acting in the portal, and the one way the portal says no.

`VictimIdentity` is resolved on the server from the HttpOnly session cookie every time a service needs it
(rxapp/portal/access.py), never from what a client sends. Every portal service takes one and acts only on
that victim's own case: there is no argument by which one victim can name another's case, message or survey.

`PortalRefusal` carries a key of the victim's translation files (`portal.refused.<key>`), so the page can
say why in the victim's language; refusals that could tell whether something exists all use the same key.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VictimIdentity:
    """A signed-in victim: one victim of one case (a `CaseVictim`), through one server-side session."""

    case_victim_id: int
    victim_id: int
    occurrence_id: int
    session_hash: str  # the hash of the session token, as PortalSession keys it
    language: str = "en"


class PortalRefusal(ValueError):
    """A request the portal will not carry out; `key` names the words the victim sees
    (`portal.refused.<key>` in rxapp/languages/locales)."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(detail or key)
        self.key = key
