"""Field readers for the records feed's parser (`protocol.py`): each reads one field of a change and raises
`Invalid` with a reason that names the field, never its value."""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Optional

from integrations.validation import Invalid, code, codes, string, timestamp
from integrations.validation import join as _join
from integrations.validation import required as _required

MAX_EMAIL = 320
MAX_LONG_TEXT = 2000
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_IDENTIFIER = re.compile(r"^[^\s\x00-\x1f\x7f]+$")
_QUOTABLE_CODE = re.compile(r"^[A-Z0-9_]{1,40}$")
_Invalid = Invalid




def _nullable_object(body: dict, key: str, path: str) -> Optional[dict]:
    value = _required(body, key, path)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Invalid(f"{_join(path, key)}: expected an object or null")
    return value


def _string(body: dict, key: str, path: str, **kwargs) -> Any:
    # In the records feed a blank optional text (e.g. contact notes) means "none", not a broken change.
    return string(body, key, path, empty_as_null=True, **kwargs)


def _identifier(body: dict, key: str, path: str, max_length: int) -> str:
    value = _string(body, key, path, max_length=max_length)
    if not _IDENTIFIER.match(value):
        raise _Invalid(f"{_join(path, key)}: contains whitespace or control characters")
    return value


def _email(body: dict, key: str, path: str, *, optional: bool = False) -> Optional[str]:
    value = _string(body, key, path, nullable=True, optional=optional, allow_empty=True, max_length=None)
    # An unusable address is dropped rather than losing the change.
    if not value or "@" not in value or len(value) > MAX_EMAIL or any(c.isspace() for c in value):
        return None
    return value


def _code(body: dict, key: str, path: str, allowed: tuple[str, ...]) -> str:
    return code(body, key, path, allowed, _QUOTABLE_CODE)


def _codes(body: dict, key: str, path: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    return codes(body, key, path, allowed, _QUOTABLE_CODE)


def _texts(body: dict, key: str, path: str, *, allow_empty: bool = True) -> tuple[str, ...]:
    value = _required(body, key, path)
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise _Invalid(f"{_join(path, key)}: expected a list of non-empty strings")
    if not value and not allow_empty:
        raise _Invalid(f"{_join(path, key)}: empty")
    if len(value) > 100 or any(len(item) > MAX_LONG_TEXT for item in value):
        raise _Invalid(f"{_join(path, key)}: too long")
    return tuple(item.strip() for item in value)


def _date(body: dict, key: str, path: str, *, nullable: bool = False) -> Optional[date]:
    value = _required(body, key, path)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise _Invalid(f"{_join(path, key)}: expected a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"{_join(path, key)}: not a calendar date") from None


def _timestamp(body: dict, key: str, path: str, *, nullable: bool = False) -> Optional[datetime]:
    return timestamp(body, key, path, nullable=nullable)
