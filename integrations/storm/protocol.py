"""The STORM dispatch feed's wire format: one JSON object per WebSocket frame, parsed and validated into
the domain's own `DispatchEvent`s (see /contracts/dispatch-feed.md).

`parse_frame` never raises. Every frame becomes exactly one of:

- `Heartbeat`: the gateway's keep-alive, which only updates the client's status;
- `DispatchEvent`: a valid event, with timestamps as aware UTC datetimes and the caller's phone in E.164;
- `BadFrame`: anything else, with a short reason for the dead-letter table. Reasons name the field and
  the problem, never the value of a personal field, because they are logged and shown to administrators.

Validation is strict where a mistake would mislead a victim or the control room: every reference, code,
call sign, coordinate and time is checked against the contract's shapes (`shapes.py`), and given the moment
the frame was received (`received_at`, which the client always passes), times too far in the past or the
future are refused (`FrameRules`: 72 hours back, 5 minutes ahead, appointments up to 90 days ahead by
default). It is lenient where losing the incident would be worse: an unusable phone number or email address
is dropped, and a missing or unknown language becomes English. Fields the contract does not name are
ignored, so a gateway can add fields before the product uses them.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional, Union

from integrations.storm import shapes
from integrations.storm.shapes import CONTRACT, FrameRules
from integrations.validation import (
    Invalid,
    code,
    codes,
    payload_parser,
    timestamp,
)
from integrations.validation import join as _join
from integrations.validation import normalise_phone as normalise_phone
from integrations.validation import obj as _object
from integrations.validation import parse_timestamp as parse_timestamp
from integrations.validation import required as _required
from integrations.validation import string as _string
from rxapp.domain.events import (
    DISPOSITIONS,
    FLAGS,
    GRADES,
    RESOURCE_TYPES,
    UNASSIGN_REASONS,
    AppointmentBooked,
    Caller,
    DispatchEvent,
    DispatchPayload,
    IncidentClosed,
    IncidentOpened,
    IncidentUpdated,
    Location,
    ResourceAssigned,
    ResourcePosition,
    ResourceStatus,
    ResourceUnassigned,
)

MAX_FRAME_BYTES = 64 * 1024

# British National Grid (EPSG:27700) extent, in metres.
BNG_EASTING_MAX = 700_000
BNG_NORTHING_MAX = 1_300_000

DEFAULT_LANGUAGE = "en"

# Longest identifiers the contract allows. Anything longer is a gateway fault, and rejecting it here keeps
# it out of the sink, where a too-long value would fail the whole batch's transaction on every replay.
MAX_EVENT_ID = 100
MAX_SEQ = 2**63 - 1  # a signed 64-bit column; JSON integers have no limit of their own
MAX_URN = 64
MAX_CALLSIGN = 20
MAX_CATEGORY = 80
MAX_CRIME_REFERENCE = 40
# Free text is cut rather than rejected: a long description is no reason to lose an incident.
MAX_DESCRIPTION = 300
MAX_NAME = 200
MAX_EMAIL = 320

# ISO 639-1, as published by the Library of Congress (the deprecated "sh" left out).
ISO_639_1 = frozenset(
    "aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz "
    "ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii "
    "ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi "
    "mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw "
    "sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk "
    "ur uz ve vi vo wa wo xh yi yo za zh zu".split()
)

# Only values shaped like the contract's own codes are quoted back in a reason, so a mis-mapped field
# holding a name or a phone number can never reach a log line.
_QUOTABLE_CODE = re.compile(r"^(?:[A-Z0-9_]{1,40}|[a-z]{1,20})$")
_UPRN = re.compile(r"^[0-9]{1,12}$")



@dataclass(frozen=True)
class Heartbeat:
    """The gateway's keep-alive: `seq_high` is the highest seq it has published."""

    seq_high: int
    at: datetime  # aware, UTC


@dataclass(frozen=True)
class BadFrame:
    """A frame that could not be turned into an event; kept whole for the dead-letter table.

    `seq` and `event_id` are filled in when the frame was a JSON object carrying them, so the
    dead letter can be matched with the gateway's own records."""

    raw: str
    reason: str
    seq: Optional[int] = None
    event_id: Optional[str] = None


ParsedFrame = Union[Heartbeat, DispatchEvent, BadFrame]


# Raised inside the validators; becomes a BadFrame with its reason.
_Invalid = Invalid


# ---- public API ----------------------------------------------------------------------------------


def parse_frame(text: str | bytes, *, received_at: Optional[datetime] = None,
                rules: FrameRules = CONTRACT) -> ParsedFrame:
    """Parse one feed frame. Never raises: whatever goes wrong becomes a `BadFrame`. `received_at` (aware) is
    when the frame arrived: times are then checked against it with `rules`; without it (a recorded frame
    read back in a test or a tool) only their form is checked."""
    try:
        return _parse(text, _Context(received_at, rules))
    except Exception:  # noqa: BLE001 - the feed must go on whatever a frame contains
        return BadFrame(raw=_raw_text(text), reason="frame could not be parsed")


def encode_event(event: dict) -> str:
    """Serialise an event (or any frame) the way the gateway sends it: compact JSON, UTF-8 text."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def format_timestamp(value: datetime) -> str:
    """An aware datetime as the feed writes it: ISO 8601 in UTC with a trailing Z."""
    text = value.astimezone(timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def normalise_language(value: Any) -> str:
    """Lower-case ISO 639-1; a regional tag such as `pl-PL` keeps its language; anything else is English."""
    if not isinstance(value, str):
        return DEFAULT_LANGUAGE
    primary = re.split(r"[-_]", value.strip(), maxsplit=1)[0].lower()
    return primary if primary in ISO_639_1 else DEFAULT_LANGUAGE


# ---- frame and envelope --------------------------------------------------------------------------


def _raw_text(text: str | bytes) -> str:
    if isinstance(text, (bytes, bytearray, memoryview)):
        raw = bytes(text).decode("utf-8", errors="replace")
    else:
        raw = str(text)
    # A dead letter keeps at most one frame's worth; anything longer is already known to be bad.
    return raw[:MAX_FRAME_BYTES]


@dataclass(frozen=True)
class _Context:
    received_at: Optional[datetime]
    rules: FrameRules

    def recent(self, moment: datetime, path: str, key: str) -> datetime:
        return shapes.recent(moment, path, key, self.received_at, self.rules)

    def bookable(self, moment: datetime, path: str, key: str) -> datetime:
        return shapes.bookable(moment, path, key, self.received_at, self.rules)


def _parse(text: str | bytes, ctx: _Context) -> ParsedFrame:
    if isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
        size = len(data)
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError:
            return BadFrame(raw=_raw_text(data), reason="frame is not valid UTF-8")
    elif isinstance(text, str):
        decoded = text
        size = len(text.encode("utf-8", errors="surrogatepass"))
    else:
        return BadFrame(raw=_raw_text(repr(text)), reason="frame is neither text nor bytes")

    try:
        obj = json.loads(decoded)
    except (ValueError, RecursionError):
        obj = _NOT_JSON

    if size > MAX_FRAME_BYTES:
        seq, event_id = _identity(obj)
        return BadFrame(raw=_raw_text(decoded), reason="frame exceeds 64 KiB", seq=seq, event_id=event_id)
    if obj is _NOT_JSON:
        return BadFrame(raw=decoded, reason="not JSON")
    if not isinstance(obj, dict):
        return BadFrame(raw=decoded, reason="not a JSON object")

    seq, event_id = _identity(obj)
    try:
        if obj.get("type") == "heartbeat":
            return Heartbeat(seq_high=_integer(obj, "seq_high", "", minimum=0),
                             at=_timestamp(obj, "at", ""))
        return dataclasses.replace(_event(obj, ctx), raw=decoded)
    except _Invalid as invalid:
        return BadFrame(raw=decoded, reason=str(invalid), seq=seq, event_id=event_id)


_NOT_JSON = object()


def _identity(obj: Any) -> tuple[Optional[int], Optional[str]]:
    """The seq and event_id of a frame, where they are usable, for dead letters."""
    if not isinstance(obj, dict):
        return None, None
    seq = obj.get("seq")
    event_id = obj.get("event_id")
    return (
        seq if _is_int(seq) and 0 <= seq <= MAX_SEQ else None,
        event_id if isinstance(event_id, str) and 0 < len(event_id) <= MAX_EVENT_ID else None,
    )


def _event(obj: dict, ctx: _Context) -> DispatchEvent:
    kind, parser = payload_parser(obj, _PAYLOADS)
    seq = _integer(obj, "seq", "", minimum=1)
    event_id = _string(obj, "event_id", "", max_length=MAX_EVENT_ID)
    occurred_at = ctx.recent(_timestamp(obj, "occurred_at", ""), "", "occurred_at")
    key, build = parser
    body = _object(obj, key, "")
    return DispatchEvent(seq=seq, event_id=event_id, type=kind, occurred_at=occurred_at,
                         payload=build(body, key, ctx))


# ---- payloads ------------------------------------------------------------------------------------


def _incident_opened(body: dict, path: str, ctx: _Context) -> IncidentOpened:
    return IncidentOpened(
        urn=_urn(body, path),
        grade=_code(body, "grade", path, GRADES),
        category=shapes.shaped(_string(body, "category", path, max_length=MAX_CATEGORY), shapes.CATEGORY, path,
                               "category", "an incident category code"),
        location=_location(_object(body, "location", path), f"{path}.location"),
        caller=_caller(_object(body, "caller", path), f"{path}.caller"),
        # Required, not defaulted: a missing DO_NOT_CONTACT must not read as "no restrictions".
        flags=_flags(body, "flags", path),
    )


def _incident_updated(body: dict, path: str, ctx: _Context) -> IncidentUpdated:
    changes = {}
    if "grade" in body:
        changes["grade"] = _code(body, "grade", path, GRADES)
    if "flags" in body:
        changes["flags"] = _flags(body, "flags", path)
    if "caller" in body:
        changes["caller"] = _caller(_object(body, "caller", path), f"{path}.caller")
    if "location" in body:
        changes["location"] = _location(_object(body, "location", path), f"{path}.location")
    if not changes:
        raise _Invalid(f"{path}: changes none of grade, flags, caller, location")
    return IncidentUpdated(urn=_urn(body, path), **changes)


def _resource_assigned(body: dict, path: str, ctx: _Context) -> ResourceAssigned:
    return ResourceAssigned(
        urn=_urn(body, path),
        callsign=_callsign(body, path),
        resource_type=_code(body, "resource_type", path, RESOURCE_TYPES),
    )


def _resource_unassigned(body: dict, path: str, ctx: _Context) -> ResourceUnassigned:
    return ResourceUnassigned(
        urn=_urn(body, path),
        callsign=_callsign(body, path),
        reason=_code(body, "reason", path, UNASSIGN_REASONS),
    )


def _resource_status(body: dict, path: str, ctx: _Context) -> ResourceStatus:
    status_code = shapes.shaped(_string(body, "status_code", path), shapes.STATUS_CODE, path, "status_code",
                                "a status code")
    # A resource that clears (codes 1-3) belongs to no incident, so the urn may be null.
    urn = _string(body, "urn", path, nullable=True, optional=True, max_length=MAX_URN)
    return ResourceStatus(
        urn=None if urn is None else shapes.urn(urn, path),
        callsign=_callsign(body, path),
        status_code=status_code,
    )


def _resource_position(body: dict, path: str, ctx: _Context) -> ResourcePosition:
    speed = _number(body, "speed_mps", path, nullable=True, optional=True)
    if speed is not None and speed < 0:
        raise _Invalid(f"{path}.speed_mps: negative")
    heading = _number(body, "heading", path, nullable=True, optional=True)
    if heading is not None and not 0 <= heading <= 360:
        raise _Invalid(f"{path}.heading: out of range")
    lat, lon = _ranged(body, "lat", path, -90, 90), _ranged(body, "lon", path, -180, 180)
    shapes.in_gb(lat, lon, path)
    return ResourcePosition(
        callsign=_callsign(body, path),
        lat=lat,
        lon=lon,
        fix_at=ctx.recent(_timestamp(body, "fix_at", path), path, "fix_at"),
        speed_mps=speed,
        heading=heading,
    )


def _appointment(body: dict, path: str, ctx: _Context) -> AppointmentBooked:
    start = ctx.bookable(_timestamp(body, "window_start", path), path, "window_start")
    end = ctx.bookable(_timestamp(body, "window_end", path), path, "window_end")
    if end <= start:
        raise _Invalid(f"{path}: window ends before it starts")
    return AppointmentBooked(urn=_urn(body, path), window_start=start, window_end=end)


def _incident_closed(body: dict, path: str, ctx: _Context) -> IncidentClosed:
    return IncidentClosed(
        urn=_urn(body, path),
        disposition=_code(body, "disposition", path, DISPOSITIONS),
        crime_reference=_crime_reference(body, path),
    )


# type -> (key holding the payload, builder)
_PAYLOADS: dict[str, tuple[str, Callable[[dict, str, _Context], DispatchPayload]]] = {
    "incident.opened": ("incident", _incident_opened),
    "incident.updated": ("incident", _incident_updated),
    "resource.assigned": ("assignment", _resource_assigned),
    "resource.unassigned": ("assignment", _resource_unassigned),
    "resource.status": ("resource", _resource_status),
    "resource.position": ("resource", _resource_position),
    "incident.appointment": ("appointment", _appointment),
    "incident.closed": ("incident", _incident_closed),
}

EVENT_TYPES = tuple(_PAYLOADS)


def _location(body: dict, path: str) -> Location:
    easting = _number(body, "easting", path)
    northing = _number(body, "northing", path)
    if not 0 <= easting <= BNG_EASTING_MAX:
        raise _Invalid(f"{path}.easting: outside the British National Grid")
    if not 0 <= northing <= BNG_NORTHING_MAX:
        raise _Invalid(f"{path}.northing: outside the British National Grid")
    uprn = body.get("uprn")
    if uprn is not None:
        # UPRNs are numbers of up to 12 digits; gateways send them as JSON numbers or strings.
        uprn = str(uprn).strip() if _is_int(uprn) or isinstance(uprn, str) else ""
        if not _UPRN.match(uprn):
            raise _Invalid(f"{path}.uprn: not a UPRN")
    description = _string(body, "description", path, allow_empty=True, max_length=None)
    return Location(easting=easting, northing=northing, description=description[:MAX_DESCRIPTION], uprn=uprn)


def _caller(body: dict, path: str) -> Caller:
    sms_consent = _required(body, "sms_consent", path)
    if not isinstance(sms_consent, bool):
        raise _Invalid(f"{path}.sms_consent: expected true or false")
    phone = _string(body, "phone", path, nullable=True, optional=True, allow_empty=True, max_length=None)
    email = _string(body, "email", path, nullable=True, optional=True, allow_empty=True, max_length=None)
    # Like the phone, an unusable address is dropped rather than losing the incident.
    if email is not None and ("@" not in email or len(email) > MAX_EMAIL or any(c.isspace() for c in email)):
        email = None
    name = _string(body, "name", path, nullable=True, optional=True, allow_empty=True, max_length=None)
    return Caller(
        name=name[:MAX_NAME] if name else None,
        phone=normalise_phone(phone),
        email=email or None,
        sms_consent=sms_consent,
        language=normalise_language(body.get("language")),
    )


def _flags(body: dict, key: str, path: str) -> tuple[str, ...]:
    return codes(body, key, path, FLAGS, _QUOTABLE_CODE, noun="flag")


# ---- field helpers -------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    # bool is an int in Python, but `true` is not a number on the wire.
    return isinstance(value, int) and not isinstance(value, bool)


def _urn(body: dict, path: str) -> str:
    return shapes.urn(_string(body, "urn", path, max_length=MAX_URN), path)


def _callsign(body: dict, path: str) -> str:
    return shapes.shaped(_string(body, "callsign", path, max_length=MAX_CALLSIGN), shapes.CALLSIGN, path, "callsign",
                         "a call sign")


def _crime_reference(body: dict, path: str) -> Optional[str]:
    value = _string(body, "crime_reference", path, nullable=True, optional=True, max_length=MAX_CRIME_REFERENCE)
    return None if value is None else shapes.shaped(value, shapes.CRIME_REFERENCE, path, "crime_reference",
                                                    "a crime reference")


def _code(body: dict, key: str, path: str, allowed: tuple[str, ...]) -> str:
    return code(body, key, path, allowed, _QUOTABLE_CODE)


def _integer(body: dict, key: str, path: str, *, minimum: int) -> int:
    value = _required(body, key, path)
    if not _is_int(value):
        raise _Invalid(f"{_join(path, key)}: expected an integer")
    if value < minimum:
        raise _Invalid(f"{_join(path, key)}: must be at least {minimum}")
    if value > MAX_SEQ:
        raise _Invalid(f"{_join(path, key)}: too large")
    return value


def _number(body: dict, key: str, path: str, *, nullable: bool = False, optional: bool = False) -> Any:
    if optional and key not in body:
        return None
    value = _required(body, key, path)
    if value is None and nullable:
        return None
    if not (isinstance(value, (int, float)) and not isinstance(value, bool)):
        raise _Invalid(f"{_join(path, key)}: expected a number")
    if not math.isfinite(value):
        raise _Invalid(f"{_join(path, key)}: not a finite number")
    return float(value)


def _ranged(body: dict, key: str, path: str, low: float, high: float) -> float:
    value = _number(body, key, path)
    if not low <= value <= high:
        raise _Invalid(f"{_join(path, key)}: out of range")
    return value


def _timestamp(body: dict, key: str, path: str) -> datetime:
    return timestamp(body, key, path)
