"""The board channel's push (`BoardView._apply_board`): counts worked out with the rows, and each breach announced
once, when it first appears in a push, never on the push that opens the board and never again on later pushes."""
from __future__ import annotations

from types import SimpleNamespace

from rxapp.attendance.board_state import BoardView


def _row(urn: str, risk: str, grade: str = "Priority", held: str = "") -> dict:
    return {"urn": urn, "risk": risk, "grade_label": grade, "held": held}


def _channel() -> SimpleNamespace:
    return SimpleNamespace(rows=[], updated="", counts={}, announcement="", announced_at="")


def push(channel, rows, updated, announce=True) -> None:
    BoardView._apply_board(channel, rows, updated, announce)


def test_breaches_already_there_when_the_board_opens_are_not_news():
    channel = _channel()
    push(channel, [_row("CLE-20261201-0001", "breached")], "10:00", announce=False)
    assert (channel.announcement, channel.announced_at) == ("", "")
    assert channel.counts == {"breached": 1, "at_risk": 0, "unassigned": 0, "booked": 0, "held": 0}
    push(channel, [_row("CLE-20261201-0001", "breached")], "10:01")
    assert channel.announcement == ""


def test_a_new_breach_is_announced_once_and_the_next_one_replaces_it():
    channel = _channel()
    push(channel, [_row("CLE-20261201-0001", "at_risk"), _row("CLE-20261201-0002", "ok", held="yes")], "10:00",
         announce=False)
    push(channel, [_row("CLE-20261201-0001", "breached"), _row("CLE-20261201-0002", "ok", held="yes")], "10:01")
    assert (channel.announcement, channel.announced_at) == ("New breach: CLE-20261201-0001 Priority", "10:01")
    assert channel.counts["breached"] == 1 and channel.counts["held"] == 1
    # Later pushes with the same breach leave the words as they are: a screen reader hears nothing new.
    for minute in ("10:02", "10:03"):
        push(channel, [_row("CLE-20261201-0001", "breached"), _row("CLE-20261201-0002", "at_risk")], minute)
        assert (channel.announcement, channel.announced_at) == ("New breach: CLE-20261201-0001 Priority", "10:01")
    # Two at once are one announcement.
    push(channel, [_row("CLE-20261201-0001", "breached"), _row("CLE-20261201-0002", "breached"),
                   _row("CLE-20261201-0003", "breached", "Emergency")], "10:04")
    assert channel.announcement == "New breach: CLE-20261201-0002 Priority; CLE-20261201-0003 Emergency"
