"""The NICHE records feed's wire format: one change of a `/changes` page, parsed and validated into frozen
dataclasses (see /contracts/records-feed.md).

`parse_change` never raises. Every change becomes exactly one of:

- `RecordsChange`: the envelope (`change_id`, `type`, `occurred_at` as aware UTC, `occurrence_number`)
  with a typed `payload` (`OccurrenceRecorded`, `PersonLinked`, `PersonUpdated`, `OicChanged`,
  `InvestigationEvent`, `OccurrenceFinalised`);
- `BadChange`: anything else, kept whole with a short reason for the dead-letter table. Reasons name the
  field and the problem, never the value of a personal field, because they are logged and shown to
  administrators.

Validation is strict where a mistake would mislead a victim (flags, needs, consent, channel, safe to
contact, the investigation events and the details the Victims' Code hangs deadlines on, timestamps) and
lenient where a value is only a way to reach someone: an unusable phone number or email becomes None and
an unknown language becomes English, as in the dispatch feed. Fields the contract does not name are
ignored, so an adapter can add fields before the product uses them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Callable, Optional

from integrations.niche.fields import (
    _QUOTABLE_CODE,
    MAX_LONG_TEXT,
    _code,
    _codes,
    _date,
    _email,
    _identifier,
    _nullable_object,
    _string,
    _texts,
    _timestamp,
)
from integrations.storm.protocol import format_timestamp, normalise_language
from integrations.validation import (
    Invalid,
    normalise_phone,
    parse_timestamp,
    payload_parser,
)
from integrations.validation import join as _join
from integrations.validation import obj as _object
from integrations.validation import required as _required
from rxapp.domain.records import (
    BadChange,
    Classification,
    Consent,
    Contact,
    InvestigationEvent,
    Needs,
    OccurrenceFinalised,
    OccurrenceRecorded,
    Oic,
    OicChanged,
    ParsedChange,
    PersonLinked,
    PersonName,
    PersonUpdated,
    RecordsChange,
    RecordsPayload,
)

__all__ = [
    "BadChange", "Classification", "Consent", "Contact", "InvestigationEvent", "Needs", "Oic",
    "OccurrenceFinalised", "OccurrenceRecorded", "OicChanged", "PersonLinked", "PersonName",
    "PersonUpdated", "RecordsChange", "CHANGE_TYPES", "EVENTS", "FLAGS", "parse_change",
    "format_timestamp", "parse_timestamp",
]

MAX_CHANGE_BYTES = 64 * 1024
MAX_CHANGE_ID = 100
MAX_OCCURRENCE_NUMBER = 40
MAX_CRIME_REFERENCE = 40
MAX_URN = 64
MAX_PERSON_ID = 64
MAX_CODE = 20
MAX_SHORT_TEXT = 200

FLAGS = (
    "DOMESTIC_ABUSE", "HATE_CRIME", "SEXUAL_OFFENCE", "TERRORISM", "HUMAN_TRAFFICKING",
    "ATTEMPTED_MURDER", "KIDNAP", "FALSE_IMPRISONMENT", "ARSON_ENDANGERING_LIFE",
    "WOUNDING_WITH_INTENT", "BEREAVED",
)
CHANNELS = ("SMS", "EMAIL", "LETTER", "PHONE")
VULNERABILITIES = ("MENTAL_DISORDER", "LEARNING_DISABILITY", "PHYSICAL_DISABILITY")
EVENTS = (
    "NOT_INVESTIGATED", "SUSPECT_ARRESTED", "SUSPECT_INTERVIEWED", "RELEASED_NFA", "RELEASED_ON_BAIL",
    "RELEASED_UNDER_INVESTIGATION", "BAIL_CONDITIONS_CHANGED", "BAIL_CANCELLED", "CHARGED",
    "OUT_OF_COURT_DISPOSAL", "COURT_HEARING_SCHEDULED", "CASE_OUTCOME", "PROPERTY_READY_FOR_RETURN",
    "NEEDS_ASSESSMENT_COMPLETED", "SUPPORT_REFERRAL_MADE", "VPS_OFFERED", "VPS_TAKEN",
    "FILED_PENDING_INFORMATION",
)

# Only values shaped like the contract's own codes are quoted back in a reason.


# Raised inside the validators; becomes a BadChange with its reason.
_Invalid = Invalid


# ---- public API ----------------------------------------------------------------------------------


def parse_change(value: Any, *, decoded: bool = False) -> ParsedChange:
    """Parse one change: its JSON text (str or bytes), or, with `decoded=True` or any non-text value, an
    element of a page's `changes` list as decoded (so a JSON string element is "not a JSON object").
    Never raises: whatever goes wrong becomes a `BadChange`."""
    try:
        return _parse(value, decoded)
    except Exception:  # noqa: BLE001 - the feed must go on whatever a change contains
        return BadChange(raw=_raw_text(value), reason="change could not be parsed")


def encode_change(change: Any) -> str:
    """Compact JSON, as the raw text of a dead letter."""
    return json.dumps(change, ensure_ascii=False, separators=(",", ":"))


# ---- envelope ------------------------------------------------------------------------------------


_NOT_JSON = object()


def _raw_text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value).decode("utf-8", errors="replace")
    elif isinstance(value, str):
        raw = value
    else:
        try:
            raw = encode_change(value)
        except (TypeError, ValueError, RecursionError):
            raw = repr(value)
    return raw[:MAX_CHANGE_BYTES]


def _parse(value: Any, decoded: bool) -> ParsedChange:
    if not decoded and isinstance(value, (bytes, bytearray, memoryview)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return BadChange(raw=_raw_text(value), reason="change is not valid UTF-8")
    if not decoded and isinstance(value, str):
        raw = value
        try:
            obj = json.loads(value)
        except (ValueError, RecursionError):
            obj = _NOT_JSON
    else:
        obj = value
        try:
            raw = encode_change(value)
        except (TypeError, ValueError, RecursionError):
            raw = repr(value)

    if len(raw.encode("utf-8", errors="surrogatepass")) > MAX_CHANGE_BYTES:
        return BadChange(raw=raw[:MAX_CHANGE_BYTES], reason="change exceeds 64 KiB", change_id=_change_id(obj))
    if obj is _NOT_JSON:
        return BadChange(raw=raw, reason="not JSON")
    if not isinstance(obj, dict):
        return BadChange(raw=raw, reason="not a JSON object")
    try:
        return _change(obj)
    except _Invalid as invalid:
        return BadChange(raw=raw, reason=str(invalid), change_id=_change_id(obj))


def _change_id(obj: Any) -> Optional[str]:
    if not isinstance(obj, dict):
        return None
    change_id = obj.get("change_id")
    if isinstance(change_id, str) and 0 < len(change_id.strip()) <= MAX_CHANGE_ID:
        return change_id.strip()
    return None


def _change(obj: dict) -> RecordsChange:
    kind, build = payload_parser(obj, _PAYLOADS)
    change_id = _identifier(obj, "change_id", "", MAX_CHANGE_ID)
    occurred_at = _timestamp(obj, "occurred_at", "")
    occurrence_number = _identifier(obj, "occurrence_number", "", MAX_OCCURRENCE_NUMBER)
    payload = build(obj, occurrence_number)
    return RecordsChange(change_id=change_id, type=kind, occurred_at=occurred_at,
                         occurrence_number=occurrence_number, payload=payload)


# ---- payload builders (each gets the whole change and the envelope's occurrence number) -----------


def _occurrence_recorded(obj: dict, occurrence_number: str) -> OccurrenceRecorded:
    path = "occurrence"
    body = _object(obj, path, "")
    own = _identifier(body, "occurrence_number", path, MAX_OCCURRENCE_NUMBER)
    if own != occurrence_number:
        raise _Invalid(f"{path}.occurrence_number: does not match the change's occurrence_number")
    classification = _object(body, "classification", path)
    oic = _nullable_object(body, "oic", path)
    return OccurrenceRecorded(
        occurrence_number=own,
        crime_reference=_string(body, "crime_reference", path, nullable=True, optional=True,
                                max_length=MAX_CRIME_REFERENCE),
        classification=Classification(
            code=_string(classification, "code", f"{path}.classification", max_length=MAX_CODE),
            text=_string(classification, "text", f"{path}.classification", max_length=MAX_SHORT_TEXT),
        ),
        reported_at=_timestamp(body, "reported_at", path),
        recorded_at=_timestamp(body, "recorded_at", path),
        incident_urn=_string(body, "incident_urn", path, nullable=True, optional=True, max_length=MAX_URN),
        oic=_oic(oic, f"{path}.oic") if oic is not None else None,
        # Required, not defaulted: a missing DOMESTIC_ABUSE must not read as "not most serious crime".
        flags=_codes(body, "flags", path, FLAGS),
    )


def _person_linked(obj: dict, occurrence_number: str) -> PersonLinked:
    body = _object(obj, "person", "")
    values, _ = _fields(body, "person", _PERSON_FIELDS, partial=False)
    return PersonLinked(**values)


def _person_updated(obj: dict, occurrence_number: str) -> PersonUpdated:
    body = _object(obj, "person", "")
    person_id = _identifier(body, "person_id", "person", MAX_PERSON_ID)
    rest = {key: spec for key, spec in _PERSON_FIELDS.items() if key != "person_id"}
    values, changed = _fields(body, "person", rest, partial=True)
    if not changed:
        raise _Invalid("person: changes none of the person's fields")
    return PersonUpdated(person_id=person_id, changed=frozenset(changed), **values)


def _oic_changed(obj: dict, occurrence_number: str) -> OicChanged:
    return OicChanged(occurrence_number=occurrence_number, oic=_oic(_object(obj, "oic", ""), "oic"))


def _investigation_event(obj: dict, occurrence_number: str) -> InvestigationEvent:
    event = _code(obj, "event", "", EVENTS)
    detail = _object(obj, "detail", "")
    path = "detail"
    extra: dict[str, Any] = {}
    if event in ("NOT_INVESTIGATED", "RELEASED_NFA"):
        # The reason is what the victim is told (and, after NFA, what a Right to Review starts from).
        extra["reason"] = _string(detail, "reason", path, max_length=MAX_LONG_TEXT)
    if event == "RELEASED_ON_BAIL":
        extra["conditions"] = _texts(detail, "conditions", path)
        extra["bail_date"] = _date(detail, "bail_date", path)
    if event == "CHARGED":
        extra["charges"] = _texts(detail, "charges", path, allow_empty=False)
        extra["first_hearing"] = _timestamp(detail, "first_hearing", path, nullable=True)
    if event == "OUT_OF_COURT_DISPOSAL":
        extra["kind"] = _string(detail, "kind", path, max_length=MAX_SHORT_TEXT)
    return InvestigationEvent(occurrence_number=occurrence_number, event=event,
                              detail=MappingProxyType(dict(detail)), **extra)


def _occurrence_finalised(obj: dict, occurrence_number: str) -> OccurrenceFinalised:
    return OccurrenceFinalised(occurrence_number=occurrence_number,
                               result=_string(obj, "result", "", max_length=MAX_SHORT_TEXT))


_PAYLOADS: dict[str, Callable[[dict, str], RecordsPayload]] = {
    "occurrence.recorded": _occurrence_recorded,
    "person.linked": _person_linked,
    "person.updated": _person_updated,
    "oic.changed": _oic_changed,
    "investigation.event": _investigation_event,
    "occurrence.finalised": _occurrence_finalised,
}

CHANGE_TYPES = tuple(_PAYLOADS)


# ---- people --------------------------------------------------------------------------------------

# key -> (parser(body, key, path, partial), optional in a full record)
_Spec = dict[str, tuple[Callable[[dict, str, str, bool], Any], bool]]


def _fields(body: dict, path: str, spec: _Spec, *, partial: bool) -> tuple[dict[str, Any], list[str]]:
    """Parse the keys of `spec` from `body`. In a partial record every key is optional and the result
    also lists the dotted paths that were present."""
    values: dict[str, Any] = {}
    changed: list[str] = []
    for key, (parse, optional) in spec.items():
        if key not in body and (partial or optional):
            continue
        value = parse(body, key, path, partial)
        values[key] = value
        if partial and isinstance(value, _Partial):
            values[key] = value.value
            changed.extend(f"{key}.{sub}" for sub in value.changed)
        else:
            changed.append(key)
    return values, changed


@dataclass(frozen=True)
class _Partial:
    value: Any
    changed: tuple[str, ...]


def _nested(cls: type, spec: _Spec) -> Callable[[dict, str, str, bool], Any]:
    def parse(body: dict, key: str, path: str, partial: bool) -> Any:
        inner = _object(body, key, path)
        values, changed = _fields(inner, _join(path, key), spec, partial=partial)
        if partial:
            if not changed:
                raise _Invalid(f"{_join(path, key)}: changes none of its fields")
            return _Partial(cls(**values), tuple(changed))
        return cls(**values)
    return parse


def _p_string(max_length: int, *, nullable: bool = True) -> Callable[[dict, str, str, bool], Any]:
    def parse(body: dict, key: str, path: str, partial: bool) -> Any:
        return _string(body, key, path, nullable=nullable, max_length=max_length)
    return parse


def _p_bool(*, nullable: bool = False) -> Callable[[dict, str, str, bool], Any]:
    def parse(body: dict, key: str, path: str, partial: bool) -> Any:
        value = _required(body, key, path)
        if value is None and nullable:
            return None
        if not isinstance(value, bool):
            raise _Invalid(f"{_join(path, key)}: expected true or false" + (" or null" if nullable else ""))
        return value
    return parse


def _p_mobile(body: dict, key: str, path: str, partial: bool) -> Optional[str]:
    # Lenient, as in the dispatch feed: an unusable number is dropped, never texted.
    value = _string(body, key, path, nullable=True, allow_empty=True, max_length=None)
    return normalise_phone(value) if value else None


def _p_email(body: dict, key: str, path: str, partial: bool) -> Optional[str]:
    return _email(body, key, path)


def _p_language(body: dict, key: str, path: str, partial: bool) -> str:
    return normalise_language(body.get(key))


def _p_channel(body: dict, key: str, path: str, partial: bool) -> str:
    return _code(body, key, path, CHANNELS)


def _p_vulnerable(body: dict, key: str, path: str, partial: bool) -> tuple[str, ...]:
    return _codes(body, key, path, VULNERABILITIES)


def _p_address(body: dict, key: str, path: str, partial: bool) -> Optional[str]:
    """The contract leaves the shape open: a string, or an object of address lines, kept as one line."""
    value = _required(body, key, path)
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, dict) and all(v is None or isinstance(v, str) for v in value.values()):
        text = ", ".join(v.strip() for v in value.values() if v and v.strip())
    else:
        raise _Invalid(f"{_join(path, key)}: expected a string or an object of strings")
    if len(text) > MAX_LONG_TEXT:
        raise _Invalid(f"{_join(path, key)}: too long")
    return text or None


def _p_date(body: dict, key: str, path: str, partial: bool) -> Optional[date]:
    return _date(body, key, path, nullable=True)


def _p_person_id(body: dict, key: str, path: str, partial: bool) -> str:
    return _identifier(body, key, path, MAX_PERSON_ID)


def _p_role(body: dict, key: str, path: str, partial: bool) -> str:
    value = _string(body, key, path, max_length=40)
    if not _QUOTABLE_CODE.match(value):
        raise _Invalid(f"{_join(path, key)}: not a role code")
    return value


def _p_name(body: dict, key: str, path: str, partial: bool) -> PersonName:
    value = _required(body, key, path)
    if value is None:
        return PersonName()
    inner = _join(path, key)
    if not isinstance(value, dict):
        raise _Invalid(f"{inner}: expected an object")
    return PersonName(
        given=_string(value, "given", inner, nullable=True, optional=True, max_length=MAX_SHORT_TEXT),
        family=_string(value, "family", inner, nullable=True, optional=True, max_length=MAX_SHORT_TEXT),
    )


_CONTACT_FIELDS: _Spec = {
    "mobile": (_p_mobile, True),
    "email": (_p_email, True),
    "postal_address": (_p_address, True),
    "preferred_channel": (_p_channel, False),
    "language": (_p_language, False),  # missing or unknown: English
    # Required even though it may be null: a missing key must not be read as "safe".
    "safe_to_contact": (_p_bool(nullable=True), False),
    "contact_notes": (_p_string(MAX_LONG_TEXT), True),
}
_NEEDS_FIELDS: _Spec = {
    "vulnerable": (_p_vulnerable, False),
    "intimidated": (_p_bool(), False),
    "persistently_targeted": (_p_bool(), False),
    "interpreter": (_p_bool(), False),
    "accessibility": (_p_string(MAX_LONG_TEXT), True),
}
_CONSENT_FIELDS: _Spec = {
    "updates": (_p_bool(), False),
    "support_referral": (_p_bool(), False),
}
_PERSON_FIELDS: _Spec = {
    "person_id": (_p_person_id, False),
    "role": (_p_role, False),
    "name": (_p_name, False),
    "date_of_birth": (_p_date, False),
    "contact": (_nested(Contact, _CONTACT_FIELDS), False),
    "needs": (_nested(Needs, _NEEDS_FIELDS), False),
    "consent": (_nested(Consent, _CONSENT_FIELDS), False),
}


def _oic(body: dict, path: str) -> Oic:
    return Oic(
        collar_number=_string(body, "collar_number", path, max_length=MAX_CODE),
        name=_string(body, "name", path, nullable=True, optional=True, max_length=MAX_SHORT_TEXT),
        email=_email(body, "email", path, optional=True),
        team=_string(body, "team", path, nullable=True, optional=True, max_length=MAX_SHORT_TEXT),
    )
