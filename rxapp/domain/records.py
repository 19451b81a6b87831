"""The domain's own records-system changes, translated from the NICHE change feed by
`integrations/niche/protocol.py` (as `events.py` is for the dispatch feed). Services apply these; nothing
here knows the wire format."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Mapping, Optional, Union


@dataclass(frozen=True)
class Classification:
    code: str  # Home Office offence code, e.g. "28/1"
    text: str


@dataclass(frozen=True)
class Oic:
    """The officer in the case."""

    collar_number: str
    name: Optional[str]
    email: Optional[str]
    team: Optional[str]


@dataclass(frozen=True)
class OccurrenceRecorded:
    occurrence_number: str
    crime_reference: Optional[str]
    classification: Classification
    reported_at: datetime  # aware, UTC
    recorded_at: datetime  # aware, UTC
    incident_urn: Optional[str]  # the STORM incident it came from, when there was one
    oic: Optional[Oic]
    flags: tuple[str, ...]


@dataclass(frozen=True)
class PersonName:
    given: Optional[str] = None
    family: Optional[str] = None


@dataclass(frozen=True)
class Contact:
    """In a `PersonUpdated`, fields the update did not carry are None; see its `changed`."""

    mobile: Optional[str] = None  # E.164, or None when not a usable number
    email: Optional[str] = None
    postal_address: Optional[str] = None
    preferred_channel: Optional[str] = None
    language: Optional[str] = None  # ISO 639-1
    safe_to_contact: Optional[bool] = None  # None: not yet asked
    contact_notes: Optional[str] = None


@dataclass(frozen=True)
class Needs:
    vulnerable: Optional[tuple[str, ...]] = None
    intimidated: Optional[bool] = None
    persistently_targeted: Optional[bool] = None
    interpreter: Optional[bool] = None
    accessibility: Optional[str] = None


@dataclass(frozen=True)
class Consent:
    updates: Optional[bool] = None
    support_referral: Optional[bool] = None


@dataclass(frozen=True)
class PersonLinked:
    person_id: str
    role: str  # only VICTIM matters to the product; the sink ignores the others
    name: PersonName
    date_of_birth: Optional[date]
    contact: Contact
    needs: Needs
    consent: Consent


@dataclass(frozen=True)
class PersonUpdated:
    """Only changed fields. `changed` holds the dotted paths the update carried (e.g. `contact.mobile`,
    `needs.vulnerable`), so a None that was sent (`contact.email` cleared) is told apart from one that was
    not sent."""

    person_id: str
    changed: frozenset[str]
    role: Optional[str] = None
    name: Optional[PersonName] = None
    date_of_birth: Optional[date] = None
    contact: Optional[Contact] = None
    needs: Optional[Needs] = None
    consent: Optional[Consent] = None


@dataclass(frozen=True)
class OicChanged:
    occurrence_number: str
    oic: Oic


@dataclass(frozen=True)
class InvestigationEvent:
    occurrence_number: str
    event: str
    # Validated where the contract names them (and required for the events that need them).
    reason: Optional[str] = None  # NOT_INVESTIGATED, RELEASED_NFA
    conditions: tuple[str, ...] = ()  # RELEASED_ON_BAIL
    bail_date: Optional[date] = None  # RELEASED_ON_BAIL
    charges: tuple[str, ...] = ()  # CHARGED
    first_hearing: Optional[datetime] = None  # CHARGED
    kind: Optional[str] = None  # OUT_OF_COURT_DISPOSAL
    # The whole detail object as sent, read-only, for the fields the contract leaves open.
    detail: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class OccurrenceFinalised:
    occurrence_number: str
    result: str


RecordsPayload = Union[
    OccurrenceRecorded, PersonLinked, PersonUpdated, OicChanged, InvestigationEvent, OccurrenceFinalised
]


@dataclass(frozen=True)
class RecordsChange:
    change_id: str
    type: str
    occurred_at: datetime  # aware, UTC
    occurrence_number: str
    payload: RecordsPayload


@dataclass(frozen=True)
class BadChange:
    """A change that could not be parsed; kept whole for the dead-letter table. `change_id` is filled in
    when the change was an object carrying a usable one."""

    raw: str
    reason: str
    change_id: Optional[str] = None


ParsedChange = Union[RecordsChange, BadChange]
