"""Updates that fall due together go as one message.

When the sender finds several routine investigation updates for the same victim about the same case, on the
same channel and address and in the same language, due in the same pass (released together at 08:00 after
quiet hours, or written by one records batch), it sends one message listing them in the order they were
written, instead of one text each. The safety rules have already decided every message on its own; only
those cleared to go now are offered here. Attendance texts, service answers and anything not tied to a case
are never combined, nor is an update whose template has no `line` (its words cannot be shortened).

`group` decides which messages go together; `fit` writes the list within the length a provider accepts,
naming the first few and saying how many more there are when they do not all fit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

from .safety import MessageKind


@dataclass(frozen=True)
class Candidate:
    """One message cleared to go now, as far as combining it is concerned."""

    message_id: int
    kind: str  # a MessageKind
    victim_id: Optional[int]
    case_id: Optional[int]  # the occurrence (crime) the update is about
    channel: str
    destination: str
    language: str
    has_line: bool  # its template says how it reads in a list


def _key(c: Candidate) -> Optional[tuple]:
    if c.kind != MessageKind.ROUTINE or not c.has_line or c.victim_id is None or c.case_id is None:
        return None
    return c.victim_id, c.case_id, c.channel, c.destination, c.language


def group(candidates: Iterable[Candidate]) -> list[tuple[int, ...]]:
    """The messages as they are to be sent: each tuple one provider message, its ids in the order the updates
    were written (the first is the one whose reference the provider sees). Groups keep the position of their
    first member; a message that may not be combined is a group of its own."""
    groups: list[list[int]] = []
    open_groups: dict[tuple, list[int]] = {}
    for c in candidates:
        key = _key(c)
        if key is None:
            groups.append([c.message_id])
        elif key in open_groups:
            open_groups[key].append(c.message_id)
        else:
            open_groups[key] = [c.message_id]
            groups.append(open_groups[key])
    return [tuple(sorted(g)) for g in groups]


@dataclass(frozen=True)
class Fitted:
    body: str
    listed: int  # how many updates are named; the rest are counted in the last line


def numbered(lines: Sequence[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


def fit(lines: Sequence[str], whole: Callable[[str], str], more: Callable[[int], str],
        limit: Optional[int]) -> Fitted:
    """The message listing `lines`, numbered in order, as `whole(list_text)` writes it: all of them when they
    fit in `limit` characters (None: no limit, as for an email), otherwise as many as fit followed by
    `more(how_many_left)`. Raises ValueError when not even the message without any update fits."""
    if not lines:
        raise ValueError("nothing to list")
    for shown in range(len(lines), -1, -1):
        parts = [numbered(lines[:shown])] if shown else []
        if shown < len(lines):
            parts.append(more(len(lines) - shown))
        body = whole("\n".join(parts))
        if limit is None or len(body) <= limit:
            return Fitted(body, shown)
    raise ValueError(f"the message does not fit in {limit} characters even without its updates")
