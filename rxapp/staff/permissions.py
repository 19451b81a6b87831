"""Who may see and do what: one table of roles to permissions, and the one decision every service asks.

`PERMISSIONS` is the whole access model. Each role holds some permissions, each with a reach:
- `ANYWHERE`: not about one case (the board, the feeds, accounts);
- `OWN_OR_TEAM`: cases where the person is the officer in charge, or that their team holds;
- `TEAM`: cases their team (or one of their teams) holds;
- `LIVE`: live attendances, and the cases behind them while the incident is still open.

`may(identity, permission, case)` answers for one case, described by `CaseFacts` (who is in charge of it,
which team holds it, whether an open incident is behind it); `holds(identity, permission)` says whether a
role has a permission at all (to show a page or a form; the service still decides per case). Plain Python:
the services gather the facts from the database and ask here, so the rule is written once and tested as a
table. A refusal never says whether the case exists: that is the callers' part (see the README, "Who may
see what").
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Optional, Protocol

from rxapp.domain.statuses import StaffRole

TEAM_SEPARATOR = ";"  # an account's team field may name several teams: "Stockton CID; Redcar CID"


class Permission(StrEnum):
    READ_CASE = "read_case"  # a victim's details: a case page, an incident's message history
    RECORD_CONTACT = "record_contact"  # mark a task done, saying how the victim was told
    AGREE_FREQUENCY = "agree_frequency"  # record how often a victim agreed to hear
    READ_AUDIT = "read_audit"  # the audit log (supervisors: their teams' entries)
    MANAGE_ACCOUNTS = "manage_accounts"
    READ_BOARD = "read_board"  # the control-room board of open attendances
    READ_FEEDS = "read_feeds"  # the feeds' health and dead letters
    HOLD_TEXTS = "hold_texts"  # hold (and release) the automated texts of an incident on the board
    READ_COMPLIANCE = "read_compliance"  # the compliance and demand figures (supervisors: their teams' cases)
    REASSIGN_WORK = "reassign_work"  # give a case or a task to another officer of the team (the team page)


class Reach(StrEnum):
    ANYWHERE = "anywhere"
    OWN_OR_TEAM = "own or team"
    TEAM = "team"
    LIVE = "live"


# The access model: role -> permission -> how far it reaches. Nothing else grants access.
PERMISSIONS: dict[StaffRole, dict[Permission, Reach]] = {
    StaffRole.FCR: {
        Permission.READ_BOARD: Reach.ANYWHERE,
        Permission.HOLD_TEXTS: Reach.ANYWHERE,
        Permission.READ_CASE: Reach.LIVE,
    },
    StaffRole.OFFICER: {
        Permission.READ_CASE: Reach.OWN_OR_TEAM,
        Permission.RECORD_CONTACT: Reach.OWN_OR_TEAM,
        Permission.AGREE_FREQUENCY: Reach.OWN_OR_TEAM,
    },
    StaffRole.SUPERVISOR: {
        Permission.READ_CASE: Reach.TEAM,
        Permission.RECORD_CONTACT: Reach.TEAM,
        Permission.AGREE_FREQUENCY: Reach.TEAM,
        Permission.READ_AUDIT: Reach.TEAM,
        Permission.READ_BOARD: Reach.ANYWHERE,
        Permission.READ_FEEDS: Reach.ANYWHERE,
        Permission.HOLD_TEXTS: Reach.ANYWHERE,
        Permission.READ_COMPLIANCE: Reach.TEAM,
        Permission.REASSIGN_WORK: Reach.TEAM,
    },
    # Accounts and feeds, not victims' details: an administrator who also supervises a team has a
    # supervisor's account for that.
    StaffRole.ADMIN: {
        Permission.MANAGE_ACCOUNTS: Reach.ANYWHERE,
        Permission.READ_FEEDS: Reach.ANYWHERE,
        Permission.READ_AUDIT: Reach.ANYWHERE,
        Permission.READ_COMPLIANCE: Reach.ANYWHERE,
    },
    # The Police and Crime Commissioner's office: force-wide figures, never a case or a victim's details.
    StaffRole.PCC: {
        Permission.READ_COMPLIANCE: Reach.ANYWHERE,
    },
}


class Actor(Protocol):
    """What the decision needs to know of a member of staff (a `StaffIdentity` has it)."""

    role: str
    collar_number: str
    team: str


@dataclass(frozen=True)
class CaseFacts:
    """What access to one case (or one incident's history) is decided on."""

    oic_collar: Optional[str] = None  # the officer in charge's collar number, as the records system gives it
    oic_team: Optional[str] = None  # the team that holds the case
    incident_open: bool = False  # an attendance still open is behind it


def normalise_collar(text: Optional[str]) -> str:
    """'pc 4127', 'PC4127 ' and 'PC 4127' are the same officer."""
    return "".join((text or "").split()).upper()[:40]


def normalise_team(text: Optional[str]) -> str:
    """'Hartlepool  Safeguarding' and 'hartlepool safeguarding' are the same team."""
    return " ".join((text or "").split()).casefold()[:200]


def teams_of(actor: Actor) -> frozenset[str]:
    """The actor's teams, normalised; none when the account names none."""
    return frozenset(t for t in (normalise_team(part) for part in (actor.team or "").split(TEAM_SEPARATOR)) if t)


def reach(actor: Optional[Actor], permission: Permission) -> Optional[Reach]:
    """How far the actor's role holds `permission`, or None when it does not."""
    if actor is None:
        return None
    try:
        role = StaffRole(actor.role)
    except ValueError:
        return None
    return PERMISSIONS.get(role, {}).get(permission)


def holds(actor: Optional[Actor], permission: Permission) -> bool:
    """Whether the role has the permission for some case at least (pages and forms ask this; services ask
    `may` for the case itself)."""
    return reach(actor, permission) is not None


def is_own_case(actor: Actor, case: CaseFacts) -> bool:
    collar = normalise_collar(actor.collar_number)
    return bool(collar) and collar == normalise_collar(case.oic_collar)


def is_team_case(actor: Actor, case: CaseFacts) -> bool:
    team = normalise_team(case.oic_team)
    return bool(team) and team in teams_of(actor)


def may(actor: Optional[Actor], permission: Permission, case: Optional[CaseFacts] = None) -> bool:
    """May `actor` use `permission` on `case`? A permission that reaches cases needs the case: asked
    without one, the answer is no."""
    how_far = reach(actor, permission)
    if how_far is None:
        return False
    if how_far is Reach.ANYWHERE:
        return True
    if case is None:
        return False
    if how_far is Reach.OWN_OR_TEAM:
        return is_own_case(actor, case) or is_team_case(actor, case)
    if how_far is Reach.TEAM:
        return is_team_case(actor, case)
    if how_far is Reach.LIVE:
        return case.incident_open
    return False


def may_any(actor: Optional[Actor], permission: Permission, cases: list[CaseFacts]) -> bool:
    """Whether any one of the facts allows it (an incident with a case behind it, say)."""
    return any(may(actor, permission, case) for case in cases)


def roles_with(permission: Permission) -> tuple[StaffRole, ...]:
    """The roles the table gives `permission` to (for checks that have no case: the board, the feeds)."""
    return tuple(role for role, granted in PERMISSIONS.items() if permission in granted)
