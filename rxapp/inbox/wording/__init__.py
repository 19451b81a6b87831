"""The force's reusable reply wording (format in README.md beside this file): loaded, checked, and filled in.

`load_wording(path)` returns the wordings or raises `WordingError` naming the file, the wording and the fault;
nothing is half-loaded. `wording_for_force(force_name)` picks the force's file (or default.toml).
`fill(wording, values)` puts the placeholders' values in.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLACEHOLDERS = ("victim_name", "officer", "crime_reference", "reply_by")
MAX_TITLE = 80
MAX_TEXT = 1500
MAX_WORDINGS = 100
_KEY = re.compile(r"^[a-z0-9_]{1,40}$")
_FIELD = re.compile(r"\{([^{}]*)\}")


class WordingError(ValueError):
    """A wording file the inbox cannot use; the message says which file, which wording and why."""


@dataclass(frozen=True)
class Wording:
    key: str
    title: str
    text: str


def _check(where: str, number: int, entry: object, seen: set[str]) -> Wording:
    label = f"{where}: wording {number}"
    if not isinstance(entry, dict):
        raise WordingError(f"{label} is not a table: write it as [[wording]] with key, title and text")
    unknown = sorted(set(entry) - {"key", "title", "text"})
    if unknown:
        raise WordingError(f"{label} has fields the inbox does not know: {', '.join(unknown)}")
    key, title, text = entry.get("key"), entry.get("title"), entry.get("text")
    if not isinstance(key, str) or not _KEY.match(key):
        raise WordingError(f"{label}: key must be 1-40 lower-case letters, digits or _ (got {key!r})")
    label = f"{where}: wording '{key}'"
    if key in seen:
        raise WordingError(f"{label} appears twice: each key once")
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > MAX_TITLE:
        raise WordingError(f"{label}: title must be text of 1-{MAX_TITLE} characters")
    if not isinstance(text, str) or not text.strip() or len(text.strip()) > MAX_TEXT:
        raise WordingError(f"{label}: text must be text of 1-{MAX_TEXT:,} characters")
    for name in _FIELD.findall(text):
        if name not in PLACEHOLDERS:
            raise WordingError(f"{label}: unknown placeholder {{{name}}}; use only "
                               + ", ".join("{" + p + "}" for p in PLACEHOLDERS))
    if text.count("{") != text.count("}"):
        raise WordingError(f"{label}: a brace is not closed; placeholders are written like {{victim_name}}")
    seen.add(key)
    return Wording(key=key, title=" ".join(title.split()), text=text.strip())


def load_wording(path: Path | str) -> tuple[Wording, ...]:
    """The wordings of one file, checked whole; `WordingError` otherwise."""
    path = Path(path)
    where = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WordingError(f"{where}: no such wording file") from None
    except UnicodeDecodeError:
        raise WordingError(f"{where}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise WordingError(f"{where}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"wording"})
    if unknown:
        raise WordingError(f"{where}: unknown top-level entries {', '.join(unknown)}; write [[wording]] tables")
    entries = data.get("wording")
    if not isinstance(entries, list) or not entries:
        raise WordingError(f"{where}: no [[wording]] tables")
    if len(entries) > MAX_WORDINGS:
        raise WordingError(f"{where}: {len(entries)} wordings; at most {MAX_WORDINGS}")
    seen: set[str] = set()
    return tuple(_check(where, n, entry, seen) for n, entry in enumerate(entries, start=1))


def force_file(force_name: str, folder: Path = HERE) -> Path:
    """The force's own file if there is one, else default.toml."""
    slug = re.sub(r"[^a-z0-9]+", "-", (force_name or "").lower()).strip("-")
    own = folder / f"{slug}.toml"
    return own if slug and own.is_file() else folder / "default.toml"


@lru_cache(maxsize=4)
def wording_for_force(force_name: str) -> tuple[Wording, ...]:
    return load_wording(force_file(force_name))


def fill(wording: Wording, values: dict[str, str]) -> str:
    """The wording with its placeholders filled ("" for a value not known)."""
    return _FIELD.sub(lambda m: str(values.get(m.group(1), "") or ""), wording.text)

