"""Per-case access through the real socket (issue 9, point 3): an officer of another team, signed in, opens a
case page, calls its handlers with a task of that case, and lists the cases, as a script would, against the
running product. Every attempt is refused, the refusal is the very same state a case that does not exist
gets, nothing about the case or its victim reaches the socket, nothing changes, and the attempts are in the
audit log."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import pytest_asyncio
from sqlmodel import select

from tests.browser.test_cases_page import records_now
from tests.security.conftest import RawSocket

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]

DOMESTIC = "26CL0041915"  # DC 2210, Hartlepool Safeguarding: domestic abuse, contact notes on file
VICTIM_WORDS = ("CL/26/041915", "Call only between 10:00 and 12:00", "voicemail", "Priya Shah", "domestic abuse",
                "Hartlepool")


class PageSocket(RawSocket):
    """A raw socket whose hydrate carries the page's query (`/case?occ=…`), as the frontend's router does."""

    def boot_event(self, path: str) -> dict:
        event = super().boot_event(path)
        event["router_data"]["query"] = dict(parse_qsl(urlsplit(path).query))
        return event


@pytest.fixture(scope="module")
def case_numbers(live_app):
    """The records sample applied to the running product's database, with fresh occurrence numbers."""
    from integrations.niche.protocol import parse_change
    from rxapp.investigation.service import JourneyService

    changes, numbers = records_now()
    for raw in changes:
        change = parse_change(raw, decoded=True)
        clock = change.occurred_at + timedelta(minutes=1)
        assert JourneyService(live_app["db_url"], now=lambda: clock).apply_page([change], None).dead_letters == 0
    return numbers


@pytest_asyncio.fixture
async def page_socket(live_app, compiled):
    opened = []

    async def _open(path: str, cookie: str) -> PageSocket:
        client = PageSocket(live_app["base"], compiled, cookie=cookie, origin=live_app["base"])
        opened.append(client)
        assert await client.open(path) == "connected"
        return client

    yield _open
    for client in opened:
        await client.close()


def _case_state_name() -> str:
    from rxapp.investigation.case_state import CaseDetail

    return CaseDetail.get_full_name()


async def settled(client: PageSocket, state: str, key: str, value, timeout: float = 15) -> dict:
    """The state's values once its `key` is `value` (the page's load has run: it sets `occ`, say)."""
    assert await client.wait_for(lambda: client.values(state).get(key) == value, timeout), client.text()[:2000]
    return client.values(state)


def case_deltas(client: PageSocket, state: str) -> list[dict]:
    """What each push said of the case page's state, the occurrence number asked for left out."""
    return [without_occ({k.removesuffix("_rx_state_"): v for k, v in d[state].items()})
            for d in client.deltas() if state in d]


def without_occ(values: dict) -> dict:
    return {k: v for k, v in values.items() if k != "occ"}


def audit_entries(db_url: str, username: str) -> list[tuple]:
    from rxapp.audit.models import AuditEvent
    from rxapp.plumbing.db import session_scope

    with session_scope(db_url, readonly=True) as s:
        return [(e.action, e.outcome, e.occurrence_id) for e in
                s.exec(select(AuditEvent).where(AuditEvent.actor == username).order_by(AuditEvent.id))]


def case_row(db_url: str, number: str):
    from rxapp.investigation.models import Occurrence
    from rxapp.plumbing.db import session_scope
    from rxapp.tasks.models import Task

    with session_scope(db_url, readonly=True) as s:
        occ = s.exec(select(Occurrence).where(Occurrence.occurrence_number == number)).one()
        tasks = s.exec(select(Task).where(Task.occurrence_id == occ.id, Task.status == "open")).all()
        return occ, tasks


async def test_another_teams_officer_reads_nothing_and_is_answered_as_for_no_case(live_app, staff, page_socket,
                                                                                  case_numbers):
    domestic = case_numbers[DOMESTIC]
    missing = f"26CL9999999-{domestic[-6:]}"
    owner = staff("officer")
    owner.update_user(collar_number="DC 2210", team="Hartlepool Safeguarding")
    stranger = staff("officer")
    stranger.update_user(collar_number="PC 9001", team="Redcar CID")
    state = _case_state_name()

    # The officer in charge sees the case: the socket carries it.
    own = await page_socket(f"/case?occ={domestic}", owner.token)
    values = await settled(own, state, "occ", domestic)
    assert values["found"] is True and values["header"]["crime_reference"] == "CL/26/041915"

    # Another team's officer: refused, with exactly what a case that does not exist gets.
    forbidden = await page_socket(f"/case?occ={domestic}", stranger.token)
    nonexistent = await page_socket(f"/case?occ={missing}", stranger.token)
    refused = await settled(forbidden, state, "occ", domestic)
    absent = await settled(nonexistent, state, "occ", missing)
    assert refused["found"] is False and refused["header"] == {} and refused["victims"] == []
    assert without_occ(refused) == without_occ(absent)
    text = forbidden.text()
    assert not [w for w in VICTIM_WORDS if w in text], [w for w in VICTIM_WORDS if w in text]
    assert case_deltas(forbidden, state) == case_deltas(nonexistent, state)

    occ, _ = case_row(live_app["db_url"], domestic)
    # The two pages opened together (on either worker when scaled out): their entries in either order.
    assert sorted(audit_entries(live_app["db_url"], stranger.username), key=repr) == sorted(
        [("view_case", "refused", occ.id), ("view_case", "refused", None)], key=repr)
    assert audit_entries(live_app["db_url"], owner.username) == [("view_case", "allowed", occ.id)]


async def test_another_teams_officer_changes_nothing_and_is_answered_as_for_no_task(live_app, staff, page_socket,
                                                                                   case_numbers):
    domestic = case_numbers[DOMESTIC]
    missing = f"26CL9999999-{domestic[-6:]}"
    stranger = staff("officer")
    stranger.update_user(collar_number="PC 9002", team="Redcar CID")
    state = _case_state_name()
    occ, tasks = case_row(live_app["db_url"], domestic)
    assert tasks, "the sample's domestic abuse case has tasks for a person"
    task = tasks[0]

    forbidden = await page_socket(f"/case?occ={domestic}", stranger.token)
    nonexistent = await page_socket(f"/case?occ={missing}", stranger.token)
    for client, number in ((forbidden, domestic), (nonexistent, missing)):
        await settled(client, state, "occ", number)
        client.frames.clear()
    # Mark the case's task done and change the agreed frequency, through the page's own handlers.
    for client, task_id in ((forbidden, task.id), (nonexistent, 10 ** 9)):
        assert await client.emit(f"{state}.complete_task", {"form_data": {"task_id": str(task_id),
                                                                          "how_told": "phone"}}, path="/case")
        assert await client.wait_for(lambda c=client: "error" in c.values(state), 15), client.text()[:2000]
    refused_task, absent_task = forbidden.values(state), nonexistent.values(state)
    assert refused_task["error"] == absent_task["error"] == "That task is not on this case. Reload the page and try again."
    assert without_occ(refused_task) == without_occ(absent_task)
    for client in (forbidden, nonexistent):
        client.frames.clear()
        assert await client.emit(f"{state}.agree_frequency", {"form_data": {"every_days": "3"}}, path="/case")
        assert await client.wait_for(lambda c=client: "error" in c.values(state), 15), client.text()[:2000]
    refused_frequency, absent_frequency = forbidden.values(state), nonexistent.values(state)
    assert refused_frequency["error"] == absent_frequency["error"] == \
        "The agreed frequency could not be saved: no such case."
    assert without_occ(refused_frequency) == without_occ(absent_frequency)

    # Nothing changed, and every attempt is in the audit log against the case it was on.
    after, still_open = case_row(live_app["db_url"], domestic)
    assert task.id in {t.id for t in still_open}
    assert after.updated_at == occ.updated_at
    entries = audit_entries(live_app["db_url"], stranger.username)
    assert ("complete_task", "refused", occ.id) in entries and ("complete_task", "refused", None) in entries
    assert ("agree_frequency", "refused", occ.id) in entries and ("agree_frequency", "refused", None) in entries
    assert not [e for e in entries if e[1] == "allowed"]


async def test_the_case_list_holds_only_the_officers_own_and_teams_cases(live_app, staff, page_socket,
                                                                          case_numbers):
    from rxapp.investigation.case_state import CaseList

    stranger = staff("officer")
    stranger.update_user(collar_number="PC 9003", team="Redcar CID")
    colleague = staff("officer")
    colleague.update_user(collar_number="PC 1234", team="Hartlepool Safeguarding")
    state = CaseList.get_full_name()
    # An officer's list opens on their own cases (none here: the colleague is in charge of none)...
    own = await page_socket("/cases", colleague.token)
    assert await own.wait_for(lambda: own.values(state).get("loaded") is True, 15), own.text()[:2000]
    assert own.values(state)["show"] == "mine" and own.values(state)["rows"] == []
    # ...and their team's are one link away.
    theirs = await page_socket("/cases?show=team", colleague.token)
    assert await theirs.wait_for(lambda: theirs.values(state).get("loaded") is True, 15), theirs.text()[:2000]
    rows = theirs.values(state)["rows"]
    assert case_numbers[DOMESTIC] in {r["occurrence_number"] for r in rows}
    assert case_numbers["26CL0041877"] not in {r["occurrence_number"] for r in rows}  # Middlesbrough CID's
    nothing = await page_socket("/cases?show=team", stranger.token)
    assert await nothing.wait_for(lambda: nothing.values(state).get("loaded") is True, 15), nothing.text()[:2000]
    assert nothing.values(state)["rows"] == []
    assert case_numbers[DOMESTIC] not in nothing.text()
