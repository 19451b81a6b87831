"""Field validators shared by the feed adapters' parsers. Each raises `Invalid` with a short reason that
names the field (never its value), which the parser turns into a dead-letter reason."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Optional

import phonenumbers


class Invalid(Exception):
    """A field that breaks the contract; the message is the reason kept with the dead letter."""


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def required(body: dict, key: str, path: str) -> Any:
    if key not in body:
        raise Invalid(f"missing field {join(path, key)}")
    return body[key]


def obj(body: dict, key: str, path: str) -> dict:
    value = required(body, key, path)
    if not isinstance(value, dict):
        raise Invalid(f"{join(path, key)}: expected an object")
    return value


def string(body: dict, key: str, path: str, *, nullable: bool = False, optional: bool = False,
           allow_empty: bool = False, max_length: Optional[int] = None, empty_as_null: bool = False) -> Any:
    """A trimmed string. `empty_as_null`: a blank value of a nullable field reads as null, not an error."""
    if optional and key not in body:
        return None
    value = required(body, key, path)
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{join(path, key)}: expected a string")
    value = value.strip()
    if not value and not allow_empty:
        if nullable and empty_as_null:
            return None
        raise Invalid(f"{join(path, key)}: empty")
    if max_length is not None and len(value) > max_length:
        raise Invalid(f"{join(path, key)}: too long")
    return value


def code(body: dict, key: str, path: str, allowed: tuple[str, ...], quotable: re.Pattern) -> str:
    """One of the contract's codes. An unknown value is quoted in the reason only when it has the shape of a
    code (`quotable`), so a personal detail sent in the wrong field never reaches a log."""
    value = required(body, key, path)
    if not isinstance(value, str):
        raise Invalid(f"{join(path, key)}: expected a string")
    if value not in allowed:
        shown = f" '{value}'" if quotable.match(value) else ""
        raise Invalid(f"{join(path, key)}: unknown value{shown}")
    return value



def codes(body: dict, key: str, path: str, allowed: tuple[str, ...], quotable: re.Pattern,
          noun: str = "value") -> tuple[str, ...]:
    """A list of the contract's codes, repeats dropped in the sender's order; unknown values quoted as `code`
    does."""
    value = required(body, key, path)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Invalid(f"{join(path, key)}: expected a list of strings")
    for item in value:
        if item not in allowed:
            shown = f" '{item}'" if quotable.match(item) else ""
            raise Invalid(f"{join(path, key)}: unknown {noun}{shown}")
    return tuple(dict.fromkeys(value))


# An unknown message type is quoted back only when it has the shape of one.
QUOTABLE_TYPE = re.compile(r"^[a-z0-9_.]{1,40}$")


def payload_parser(obj: dict, parsers: dict):
    """The parser for a frame's `type`, from a feed's table of types."""
    if "type" not in obj:
        raise Invalid("missing field type")
    kind = obj["type"]
    if not isinstance(kind, str):
        raise Invalid("type: expected a string")
    parser = parsers.get(kind)
    if parser is None:
        shown = f" '{kind}'" if QUOTABLE_TYPE.match(kind) else ""
        raise Invalid(f"unknown type{shown}")
    return kind, parser

# Ofcom reserves these ranges for drama and examples, so they are never a real person's number;
# `phonenumbers` calls them invalid, but the samples and the demo use them.
_OFCOM_DRAMA_PREFIXES = ("+447700900", "+441632960")


def normalise_phone(value: Optional[str]) -> Optional[str]:
    """A UK (or international) phone number in E.164, or None when it cannot be a reachable number."""
    if value is None or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, "GB")
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.is_valid_number(number):
        return e164
    # A text to a wrong number would tell a stranger about a crime, so only exact drama numbers pass.
    if len(e164) == 13 and e164.startswith(_OFCOM_DRAMA_PREFIXES):
        return e164
    return None


_MAX_TIMESTAMP_CHARS = 64


def parse_timestamp(value: Any) -> datetime:
    """An ISO 8601 timestamp that carries an offset, as an aware UTC datetime; ValueError otherwise."""
    if not isinstance(value, str) or len(value) > _MAX_TIMESTAMP_CHARS:
        raise ValueError("not a timestamp string")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamp has no UTC offset")
    return moment.astimezone(timezone.utc)


def timestamp(body: dict, key: str, path: str, *, nullable: bool = False) -> Optional[datetime]:
    """A field holding an ISO 8601 timestamp with its offset, as an aware UTC datetime."""
    value = required(body, key, path)
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{join(path, key)}: expected an ISO 8601 timestamp")
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        detail = "no UTC offset" if "offset" in str(exc) else "not an ISO 8601 timestamp"
        raise Invalid(f"{join(path, key)}: {detail}") from None
