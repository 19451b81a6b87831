"""The victim portal's case page through the real socket, as an attacker's script would call it (issue 11): every
public handler of its state without a session, with another victim's identifiers as arguments, with a 1 MB
message, with script and markup, after sign-out and after the session went idle. All refused or harmless:
nothing stored for anyone else, nothing of another case sent, markup stored exactly as written (the browser
test checks it is shown as text), and the refusal the same whether the thing named exists."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import pytest_asyncio
from sqlmodel import func, select

from rxapp import languages
from rxapp.portal.states import PortalCase  # at collection, as the app registers it (not inside a running test)
from tests.browser.portal_helpers import Victim, burglary_for, case_victim_id, victim_session
from tests.security.conftest import RawSocket

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]

PORTAL_COOKIE = "vj_victim"
MARKUP = '<script>alert(1)</script><img src=x onerror=alert(2)><b>bold</b> & "quoted" \u202e'


class VictimSocket(RawSocket):
    """A raw socket whose Cookie header carries a victim's session (RawSocket writes `vj_staff=<cookie>`, so the
    portal's cookie follows it in the same header, as a browser holding both would send)."""

    def __init__(self, *args, victim_token: str | None = None, **kwargs):
        super().__init__(*args, cookie=f"-; {PORTAL_COOKIE}={victim_token}" if victim_token else None, **kwargs)


def state_name() -> str:
    return PortalCase.get_full_name()


@pytest.fixture(scope="module")
def victims(live_app) -> dict[str, tuple[Victim, str]]:
    """Two burglary victims of two cases, each with a live session (their cookie's token)."""
    out = {}
    for name in ("alice", "bilal"):
        victim = burglary_for(live_app["db_url"], "en")
        out[name] = (victim, victim_session(live_app["db_url"], victim))
    return out


@pytest_asyncio.fixture
async def socket_for(live_app, compiled):
    opened: list[VictimSocket] = []

    async def _open(token: str | None) -> VictimSocket:
        client = VictimSocket(live_app["base"], compiled, victim_token=token, origin=live_app["base"])
        opened.append(client)
        assert await client.open("/portal/case") == "connected"
        state = state_name()
        assert await client.wait_for(lambda: client.values(state).get("checked") is True, 20), client.text()[:2000]
        return client

    yield _open
    for client in opened:
        await client.close()


def counts(db_url: str, cv: int) -> dict[str, int]:
    """How many messages, preference changes and survey rows the case victim has."""
    from rxapp.investigation.models import CaseVictim
    from rxapp.plumbing.db import session_scope
    from rxapp.portal.models import Feedback, PortalMessage, PreferenceChange

    with session_scope(db_url, readonly=True) as s:
        victim_id = s.get(CaseVictim, cv).victim_id
        return {
            "messages": s.exec(select(func.count()).select_from(PortalMessage)
                               .where(PortalMessage.case_victim_id == cv)).one(),
            "preferences": s.exec(select(func.count()).select_from(PreferenceChange)
                                  .where(PreferenceChange.victim_id == victim_id)).one(),
            "feedback": s.exec(select(func.count()).select_from(Feedback)
                               .where(Feedback.victim_id == victim_id)).one(),
        }


def reference_of(victim: Victim) -> str:
    return f"CL/26/{victim.occurrence_number.rsplit('-', 1)[-1]}"


PREFERENCES = {"channel": "email", "language": "pl", "every": "7", "optout_all": "on"}
SURVEY = {"informed": "1", "overall": "1", "comment": "x"}


async def every_handler(client: VictimSocket, extra: dict | None = None) -> None:
    """Each public handler of the case page once, with `extra` (another victim's identifiers) in every form."""
    state, extra = state_name(), extra or {}
    calls = [
        ("send_message", {"form_data": {"text": "Let me in", **extra}}),
        ("ask_update", {}),
        ("save_preferences", {"form_data": {**PREFERENCES, **extra}}),
        ("answer_survey", {"form_data": {**SURVEY, **extra}}),
        ("decline_survey", {}),
        ("count_draft", {"value": "abc"}),
        ("watch_for_replies", {}),
        ("open_page", {}),
    ]
    for name, payload in calls:
        assert await client.emit(f"{state}.{name}", payload, path="/portal/case")
    await asyncio.sleep(2)


async def test_without_a_session_every_handler_is_refused_and_the_same_for_an_unknown_or_ended_one(
        live_app, victims, socket_for):
    db = live_app["db_url"]
    alice, alice_token = victims["alice"]
    cv = case_victim_id(db, alice)
    before = counts(db, cv)
    ended = victim_session(db, alice)
    _end_session(db, ended)
    answers = []
    for token in (None, "A" * 43, ended):
        client = await socket_for(token)
        await every_handler(client)
        values = client.values(state_name())
        assert values["signed_in"] is False and values["reference"] == "" and values["messages"] == []
        assert reference_of(alice) not in client.text()
        answers.append({k: v for k, v in values.items() if k != "draft_count"})
    assert answers[0] == answers[1] == answers[2]  # no session, an unknown one, an ended one: the same
    assert counts(db, cv) == before


async def test_another_victims_identifiers_reach_nothing_of_theirs(live_app, victims, socket_for):
    db = live_app["db_url"]
    (alice, alice_token), (bilal, _) = victims["alice"], victims["bilal"]
    alice_cv, bilal_cv = case_victim_id(db, alice), case_victim_id(db, bilal)
    bilal_before = counts(db, bilal_cv)
    client = await socket_for(alice_token)
    state = state_name()
    assert client.values(state)["signed_in"] is True
    names = {"case_victim_id": str(bilal_cv), "victim_id": str(bilal_cv), "occurrence": bilal.occurrence_number,
             "subject": f"case:{bilal_cv}"}
    await every_handler(client, names)
    # Arguments the handlers do not take are dropped before any handler runs.
    for name in ("send_message", "ask_update", "open_page"):
        assert await client.emit(f"{state}.{name}", {"case_victim_id": bilal_cv, "form_data": {"text": "hi"}},
                                 path="/portal/case")
    await asyncio.sleep(2)
    assert counts(db, bilal_cv) == bilal_before
    assert reference_of(bilal) not in client.text() and bilal.email not in client.text()
    assert reference_of(alice) in client.text()  # her own page, all along
    assert counts(db, alice_cv)["messages"] >= 1


async def test_a_1mb_message_is_refused_in_words_and_never_stored(live_app, victims, socket_for):
    db = live_app["db_url"]
    alice, token = victims["alice"]
    cv = case_victim_id(db, alice)
    before = counts(db, cv)["messages"]
    client = await socket_for(token)
    state = state_name()
    lang = client.values(state)["lang"]  # her language: an earlier test may have changed it, as she may
    too_long, empty = (languages.text(lang, f"portal.refused.{key}") for key in ("too_long", "empty"))
    for size in (2001, 100_000, 900_000):
        assert await client.emit(f"{state}.send_message", {"form_data": {"text": "x" * size}}, path="/portal/case")
        assert await client.wait_for(lambda: client.values(state).get("message_notice") == too_long, 15), \
            (size, client.text()[-1500:])
        await client.emit(f"{state}.send_message", {"form_data": {"text": ""}}, path="/portal/case")
        assert await client.wait_for(
            lambda: client.values(state).get("message_notice") == empty, 15)
    # A frame of a whole megabyte is more than the socket takes (Reflex's 1,000,000-byte buffer): the connection
    # is cut before any handler sees it, and nothing is stored.
    await client.emit(f"{state}.send_message", {"form_data": {"text": "x" * 1_000_000}}, path="/portal/case")
    assert await client.wait_for(lambda: client.closed.is_set(), 15)
    assert counts(db, cv)["messages"] == before


async def test_script_and_markup_are_stored_exactly_as_written(live_app, victims, socket_for):
    from rxapp.plumbing.db import session_scope
    from rxapp.portal.models import PortalMessage

    db = live_app["db_url"]
    alice, token = victims["alice"]
    cv = case_victim_id(db, alice)
    client = await socket_for(token)
    state = state_name()
    assert await client.emit(f"{state}.send_message", {"form_data": {"text": MARKUP}}, path="/portal/case")
    assert await client.wait_for(
        lambda: any(m.get("body") == MARKUP for m in client.values(state).get("messages", [])), 15), client.text()[-2000:]
    with session_scope(db, readonly=True) as s:
        bodies = [m.body for m in s.exec(select(PortalMessage).where(PortalMessage.case_victim_id == cv,
                                                                     PortalMessage.author == "victim"))]
    assert MARKUP in bodies


async def test_replay_after_sign_out_and_after_going_idle_is_refused(live_app, victims, socket_for):
    db = live_app["db_url"]
    alice, _ = victims["alice"]
    cv = case_victim_id(db, alice)
    state = state_name()
    for how in ("signed out", "idle"):
        token = victim_session(db, alice)
        client = await socket_for(token)
        assert client.values(state)["signed_in"] is True
        before = counts(db, cv)
        if how == "signed out":
            _end_session(db, token)
        else:
            _set_last_seen(db, token, timedelta(minutes=31))
        assert await client.emit(f"{state}.send_message", {"form_data": {"text": "After the end"}},
                                 path="/portal/case")
        assert await client.wait_for(lambda c=client: c.values(state).get("signed_in") is False, 15), how
        after = client.values(state)
        assert after["reference"] == "" and after["messages"] == [] and after["timeline"] == []
        assert counts(db, cv) == before
        again = await socket_for(token)
        assert again.values(state)["signed_in"] is False
        assert reference_of(alice) not in again.text()


def _end_session(db_url: str, token: str) -> None:
    """What POST /portal/sign-out does with the session."""
    from rxapp.plumbing.columns import utcnow
    from rxapp.plumbing.db import session_scope
    from rxapp.portal.access import sign_out

    with session_scope(db_url) as s:
        sign_out(s, token, utcnow())


def _set_last_seen(db_url: str, token: str, ago: timedelta) -> None:
    from rxapp.plumbing.columns import utcnow
    from rxapp.plumbing.db import session_scope
    from rxapp.plumbing.links import token_hash
    from rxapp.portal.models import PortalSession

    with session_scope(db_url) as s:
        s.get(PortalSession, token_hash(token)).last_seen_at = utcnow() - ago
