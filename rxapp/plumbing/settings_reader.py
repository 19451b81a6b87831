"""Reads configuration variables from one mapping (the process environment, handed over by
`rxapp/plumbing/config.py`, the only module that reads it), each checked, collecting every problem instead of
stopping at the first. Standard library only: rxconfig.py loads this before Reflex starts."""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

class SettingsReader:
    """Reads variables from one environment, collecting problems instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.problems: list[str] = []
        self.malformed: set[str] = set()  # variables already reported, so no rule reports them twice

    def problem(self, message: str) -> None:
        """`message` starts with the variable's name."""
        self.problems.append(message)
        self.malformed.add(re.match(r"[A-Z_]*", message).group(0))

    def given(self, name: str) -> bool:
        return bool((self.env.get(name) or "").strip())

    def text(self, name: str, default: Optional[str] = None) -> Optional[str]:
        raw = (self.env.get(name) or "").strip()
        return raw or default

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        self.problem(f"{name} must be true or false, not {raw[:20]!r}")
        return default

    def number(self, name: str, default: float, low: float, high: float, *, whole: bool = False) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        kind = "a whole number" if whole else "a number"
        try:
            value = int(raw) if whole else float(raw)
        except ValueError:
            self.problem(f"{name} must be {kind} between {low:g} and {high:g}, not {raw[:20]!r}")
            return default
        if not math.isfinite(value) or not low <= value <= high:
            self.problem(f"{name} must be {kind} between {low:g} and {high:g}, not {raw[:20]}")
            return default
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = self.text(name, default)
        if raw not in allowed:
            self.problem(f"{name} must be one of {', '.join(allowed)}, not {raw[:30]!r}")
            return default
        return raw

    def url(self, name: str, schemes: tuple[str, ...], example: str, default: Optional[str] = None, *,
            origin: bool = False) -> Optional[str]:
        """A URL with one of `schemes` and a host (`origin`: nothing after the host and port). The value is
        never quoted: URLs may carry credentials."""
        raw = self.text(name)
        if raw is None:
            return default
        expected = f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}" + (
            ", with nothing after the host and port" if origin else "") + f", e.g. {example}"
        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            self.problem(expected)
            return default
        if parts.scheme.lower() not in schemes or not parts.hostname:
            self.problem(expected)
            return default
        if origin and (parts.path not in ("", "/") or parts.query or parts.fragment or parts.username
                       or parts.password):
            self.problem(expected)
            return default
        return raw.rstrip("/") if origin else raw

    def parsed(self, name: str, parse: Callable[[str], Any]) -> Any:
        """A value checked by the parser its consumer uses; its ValueError becomes a problem."""
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return parse(raw)
        except ValueError as exc:
            message = str(exc)
            self.problem(message if message.startswith(name) else f"{name}: {message}")
            return None
