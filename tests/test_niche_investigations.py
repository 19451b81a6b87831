"""The simulated investigations (integrations/niche/investigations.py) and the simulator playing them as a
timeline: every change is valid, the eight cases carry what the brief and the Victims' Code need, the
personal data is fictional, and the timeline simulator serves the past at once and releases the future
as an injected clock moves, to the real poller exactly once."""
from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional, Sequence
from zoneinfo import ZoneInfo

import httpx
import pytest

from integrations.niche import simulator as simulator_module
from integrations.niche.investigations import investigations
from integrations.niche.poller import NichePoller
from integrations.niche.protocol import BadChange, RecordsChange, parse_change
from integrations.niche.simulator import NicheSimulator, main
from integrations.storm.protocol import normalise_phone, parse_timestamp
from rxapp.domain.working_days import WorkingCalendar

LONDON = ZoneInfo("Europe/London")
STORM = Path(__file__).resolve().parent.parent / "integrations" / "storm" / "scenarios"
NOW = datetime(2026, 11, 29, 4, 59, 40, 123456, tzinfo=timezone.utc)  # a Sunday, before dawn

# A spread of moments to build the timeline at: every 11 hours for a year and a half, so every weekday
# and hour pattern, Christmas, Easter and the May bank holidays all come up.
NOWS = [datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(hours=11 * i) for i in range(1200)]


def letter(change: dict) -> str:
    """The investigation a change belongs to: sim-<letter>-<n>."""
    return change["change_id"].split("-")[1]


def by_case(timeline) -> dict[str, list[tuple[timedelta, RecordsChange]]]:
    cases: dict[str, list] = defaultdict(list)
    for offset, change in timeline:
        parsed = parse_change(change, decoded=True)
        assert isinstance(parsed, RecordsChange), (change["change_id"], getattr(parsed, "reason", None))
        cases[letter(change)].append((offset, parsed))
    return cases


def events(case) -> list[str]:
    return [c.payload.event for _, c in case if c.type == "investigation.event"]


def first(case, kind: str, event: Optional[str] = None) -> tuple[timedelta, RecordsChange]:
    return next((o, c) for o, c in case if c.type == kind and (event is None or c.payload.event == event))


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def storm_caller(scenario: str) -> dict:
    for line in (STORM / f"{scenario}.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "incident.opened":
            return event["incident"]
    raise AssertionError(f"no incident.opened in {scenario}")


# ---- the timeline itself -------------------------------------------------------------------------


def test_every_change_parses_ids_are_unique_and_offsets_match():
    timeline = investigations(NOW)
    assert len(timeline) >= 40
    ids = [c["change_id"] for _, c in timeline]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("sim-") for i in ids)
    offsets = [o for o, _ in timeline]
    assert offsets == sorted(offsets)
    for offset, change in timeline:
        parsed = parse_change(change, decoded=True)
        assert isinstance(parsed, RecordsChange), (change["change_id"], getattr(parsed, "reason", None))
        assert parsed.occurred_at == NOW + offset
        # Round-trips through JSON text too, as it does over HTTP.
        assert isinstance(parse_change(json.dumps(change)), RecordsChange)
    assert {letter(c) for _, c in timeline} == set("abcdefgh")


def test_past_and_future_spread():
    timeline = investigations(NOW)
    past = [o for o, _ in timeline if o <= timedelta(0)]
    ahead = [o for o, _ in timeline if o > timedelta(0)]
    assert len(past) >= 10 and len(ahead) >= 10
    assert timedelta(days=-17) <= min(past) <= timedelta(days=-12)
    assert timedelta(days=33) <= max(ahead) <= timedelta(days=45)


@pytest.mark.parametrize("shift", range(0, 1200, 100))
def test_whatever_the_moment_every_case_is_in_order_and_past_is_past(shift):
    """Built at any hour of any day, each investigation opens with its record and victim, keeps its order,
    and the parts meant to be past (or ahead) are."""
    for now in NOWS[shift:shift + 100]:
        timeline = investigations(now)
        ids = [c["change_id"] for _, c in timeline]
        assert len(ids) == len(set(ids))
        cases = by_case(timeline)
        for name, case in cases.items():
            offsets = [o for o, _ in case]
            assert offsets == sorted(offsets), (now, name)
            assert [c.type for _, c in case[:2]] == ["occurrence.recorded", "person.linked"], (now, name)
            recorded = case[0][1].payload
            assert recorded.reported_at <= recorded.recorded_at
            # Nothing on the start's own London day, so nothing flips between past and ahead.
            assert all((now + o).astimezone(LONDON).date() != now.astimezone(LONDON).date() for o in offsets)
        for name in "abcdegh":
            assert cases[name][0][0] < timedelta(0), (now, name)  # recorded before the product starts
            assert cases[name][-1][0] > timedelta(0), (now, name)  # and something still to come
        assert cases["f"][0][0] > timedelta(0)  # the hate crime is reported while the demo runs
        offsets = [o for o, _ in timeline]
        # About -15 to +40 days; working days stretch over Christmas and Easter.
        assert timedelta(days=-21) <= min(offsets) and max(offsets) <= timedelta(days=48), now
        # (h): no referral before the start, one after it.
        referrals = [o for o, c in cases["h"] if c.type == "investigation.event"
                     and c.payload.event == "SUPPORT_REFERRAL_MADE"]
        assert referrals and all(o > timedelta(0) for o in referrals)


# ---- the eight investigations --------------------------------------------------------------------


@pytest.fixture(scope="module")
def cases():
    return by_case(investigations(NOW))


def victim(case):
    return first(case, "person.linked")[1].payload


def occurrence(case):
    return first(case, "occurrence.recorded")[1].payload


def test_every_case_has_an_oic_and_a_victim_who_agreed_to_updates(cases):
    numbers = set()
    for name, case in cases.items():
        occ = occurrence(case)
        numbers.add(occ.occurrence_number)
        assert re.fullmatch(r"(PC|DC) \d{4}", occ.oic.collar_number), name
        assert occ.oic.name and occ.oic.team
        assert occ.oic.email.endswith("@police.example.org")
        person = victim(case)
        assert person.role == "VICTIM"
        assert person.consent.updates is True
        assert all(c.occurrence_number == occ.occurrence_number for _, c in case)
    assert len(numbers) == 8


def test_standard_victims_have_nothing_that_enhances(cases):
    for name in "abcd":
        occ, person = occurrence(cases[name]), victim(cases[name])
        assert occ.flags == (), name
        assert person.needs.vulnerable == () and not person.needs.intimidated
        assert not person.needs.persistently_targeted
        assert age_on(person.date_of_birth, occ.reported_at.astimezone(LONDON).date()) >= 18


def test_a_burglary_continues_the_storm_incident(cases):
    case = cases["a"]
    occ, person = occurrence(case), victim(case)
    assert occ.incident_urn == "CLE-20261120-0142"
    assert occ.classification.text.startswith("Burglary")
    assert person.contact.preferred_channel == "SMS"
    assert person.consent.support_referral is True
    assert events(case) == ["SUPPORT_REFERRAL_MADE", "SUSPECT_ARRESTED", "SUSPECT_INTERVIEWED",
                            "RELEASED_UNDER_INVESTIGATION", "CHARGED", "VPS_OFFERED"]
    offset, charged = first(case, "investigation.event", "CHARGED")
    assert offset > timedelta(0)
    assert charged.payload.charges and charged.payload.first_hearing > charged.occurred_at
    referral, _ = first(case, "investigation.event", "SUPPORT_REFERRAL_MADE")
    assert referral < timedelta(0)


@pytest.mark.parametrize("name, scenario", [("a", "burglary-priority"), ("c", "scheduled-appointment"),
                                            ("e", "domestic-emergency")])
def test_continuing_cases_have_the_storm_caller(cases, name, scenario):
    incident = storm_caller(scenario)
    caller = incident["caller"]
    occ, person = occurrence(cases[name]), victim(cases[name])
    assert occ.incident_urn == incident["urn"]
    assert person.contact.mobile == normalise_phone(caller["phone"])
    assert person.contact.email == caller["email"]
    assert person.contact.language == caller["language"]
    assert f"{person.name.given} {person.name.family}" == caller["name"] or caller["name"] == "Withheld"
    # The crime reference the control room closed the incident with.
    closed = [json.loads(line) for line in (STORM / f"{scenario}.jsonl").read_text().splitlines()][-1]
    assert closed["incident"]["crime_reference"] == occ.crime_reference
    # Reported when the call came in.
    opened = parse_timestamp(json.loads((STORM / f"{scenario}.jsonl").read_text().splitlines()[0])["occurred_at"])
    assert occ.reported_at.astimezone(LONDON).time() == opened.astimezone(LONDON).time()


def test_burglary_victim_is_amina_hussain(cases):
    person = victim(cases["a"])
    caller = storm_caller("burglary-priority")["caller"]
    assert (person.name.given, person.name.family) == ("Amina", "Hussain") and caller["name"] == "Amina Hussain"
    assert person.contact.mobile == "+447700900123" and person.contact.email == "amina@example.org"


def test_b_criminal_damage_by_email_only(cases):
    case = cases["b"]
    occ, person = occurrence(case), victim(case)
    assert "damage" in occ.classification.text.lower()
    assert person.contact.preferred_channel == "EMAIL"
    assert person.contact.mobile is None and person.contact.email.endswith("@example.org")
    assert events(case)[-1] == "FILED_PENDING_INFORMATION"
    assert case[-1][1].type == "occurrence.finalised" and case[-1][1].payload.result
    # Reported online on a Sunday evening.
    reported = occ.reported_at.astimezone(LONDON)
    assert reported.weekday() == 6 and reported.hour >= 18


def test_c_theft_not_investigated_in_polish(cases):
    case = cases["c"]
    occ, person = occurrence(case), victim(case)
    assert "Theft" in occ.classification.text
    assert person.contact.preferred_channel == "SMS" and person.contact.language == "pl"
    _, decision = first(case, "investigation.event", "NOT_INVESTIGATED")
    assert decision.payload.reason
    assert case[-1][1].type == "occurrence.finalised"


def test_d_assault_bail_new_oic_and_caution(cases):
    case = cases["d"]
    occ, person = occurrence(case), victim(case)
    assert "Assault" in occ.classification.text
    assert person.contact.preferred_channel == "SMS" and person.contact.mobile
    assert events(case)[:5] == ["SUPPORT_REFERRAL_MADE", "SUSPECT_ARRESTED", "SUSPECT_INTERVIEWED",
                                "RELEASED_ON_BAIL", "BAIL_CONDITIONS_CHANGED"]
    _, bail = first(case, "investigation.event", "RELEASED_ON_BAIL")
    assert bail.payload.conditions and bail.payload.bail_date > bail.occurred_at.date()
    _, oocd = first(case, "investigation.event", "OUT_OF_COURT_DISPOSAL")
    assert oocd.payload.kind == "CAUTION"
    kinds = [c.type for _, c in case]
    oic_at = kinds.index("oic.changed")
    assert kinds.index("person.linked") < oic_at < len(kinds) - 2  # midway
    _, changed = first(case, "oic.changed")
    assert changed.payload.oic.collar_number != occ.oic.collar_number
    # The offence was late on a weekend night.
    reported = occ.reported_at.astimezone(LONDON)
    assert reported.weekday() == 5 and reported.hour >= 21


def test_e_domestic_abuse_safe_contact_then_nfa(cases):
    case = cases["e"]
    occ, person = occurrence(case), victim(case)
    assert occ.incident_urn == "CLE-20261120-0203"
    assert occ.flags == ("DOMESTIC_ABUSE",)
    assert person.needs.intimidated is True
    assert person.contact.safe_to_contact is None
    assert person.consent.support_referral is False
    assert person.contact.preferred_channel == "PHONE"
    _, bail = first(case, "investigation.event", "RELEASED_ON_BAIL")
    assert bail.payload.conditions and bail.payload.bail_date
    update_at, update = first(case, "person.updated")
    assert update.payload.person_id == person.person_id
    assert update.payload.changed == {"contact.safe_to_contact", "consent.support_referral"}
    assert update.payload.contact.safe_to_contact is True and update.payload.consent.support_referral is True
    nfa_at, nfa = first(case, "investigation.event", "RELEASED_NFA")
    assert nfa.payload.reason and nfa_at > update_at
    arrests = [o for o, c in case if c.type == "investigation.event" and c.payload.event == "SUSPECT_ARRESTED"]
    assert arrests and arrests[0] < timedelta(0)
    # No referral before consent.
    referral_at, _ = first(case, "investigation.event", "SUPPORT_REFERRAL_MADE")
    assert referral_at > update_at


def test_f_hate_crime_in_urdu(cases):
    case = cases["f"]
    occ, person = occurrence(case), victim(case)
    assert "HATE_CRIME" in occ.flags
    assert person.contact.preferred_channel == "SMS" and person.contact.language == "ur"
    assert {"SUSPECT_ARRESTED", "SUSPECT_INTERVIEWED", "CHARGED"} <= set(events(case))
    _, charged = first(case, "investigation.event", "CHARGED")
    assert charged.payload.charges and charged.payload.first_hearing > charged.occurred_at


def test_g_child_victim_contacted_through_a_parent(cases):
    case = cases["g"]
    occ, person = occurrence(case), victim(case)
    assert age_on(person.date_of_birth, occ.reported_at.astimezone(LONDON).date()) == 15
    assert person.contact.preferred_channel == "EMAIL"
    assert person.contact.email.endswith("@example.org") and person.contact.mobile is None
    assert person.contact.contact_notes  # says who to contact
    assert {"SUSPECT_ARRESTED", "RELEASED_UNDER_INVESTIGATION"} <= set(events(case))
    for now in NOWS[::37]:  # 15 on the offence date whenever the timeline is built
        g = by_case(investigations(now))["g"]
        assert age_on(victim(g).date_of_birth, occurrence(g).reported_at.astimezone(LONDON).date()) == 15


def test_h_persistently_targeted_with_a_late_referral(cases):
    case = cases["h"]
    occ, person = occurrence(case), victim(case)
    assert person.needs.persistently_targeted is True
    assert "PHYSICAL_DISABILITY" in person.needs.vulnerable
    assert person.contact.preferred_channel == "LETTER"
    assert person.contact.postal_address and person.contact.mobile
    assert person.consent.support_referral is True
    calendar = WorkingCalendar()
    recorded_day = occ.recorded_at.astimezone(LONDON).date()
    today = NOW.astimezone(LONDON).date()
    working = sum(calendar.is_working_day(recorded_day + timedelta(days=i))
                  for i in range((today - recorded_day).days))
    assert working == 9
    past = [c for o, c in case if o <= timedelta(0)]
    assert not any(c.type == "investigation.event" and c.payload.event == "SUPPORT_REFERRAL_MADE" for c in past)
    # The referral was owed within 2 working days of the report: already late when the product starts.
    assert calendar.add_working_days(occ.reported_at, 2) < NOW
    assert len([o for o, _ in case if o > timedelta(0)]) >= 3


def test_enhanced_cases_are_enhanced(cases):
    assert "DOMESTIC_ABUSE" in occurrence(cases["e"]).flags
    assert "HATE_CRIME" in occurrence(cases["f"]).flags
    g = cases["g"]
    assert age_on(victim(g).date_of_birth, occurrence(g).reported_at.date()) < 18
    assert victim(cases["h"]).needs.persistently_targeted


# ---- personal data -------------------------------------------------------------------------------


def strings(value: Any):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value


_DIGIT_RUNS = re.compile(r"\d+")
_EMAILS = re.compile(r"[^\s@,;<>()]+@([^\s@,;<>()]+)")


def test_only_drama_numbers_and_example_org_emails():
    timeline = investigations(NOW)
    seen_phones = seen_emails = 0
    for _, change in timeline:
        for text in strings(change):
            squashed = re.sub(r"[\s()+]", "", text)
            for run in _DIGIT_RUNS.findall(squashed):
                if len(run) >= 9:
                    seen_phones += 1
                    assert re.fullmatch(r"(0|44)7700900\d{3}", run), f"{change['change_id']}: not a drama number"
            for domain in _EMAILS.findall(text):
                seen_emails += 1
                assert domain == "example.org" or domain.endswith(".example.org"), change["change_id"]
    assert seen_phones >= 6 and seen_emails >= 12


# ---- the timeline simulator ----------------------------------------------------------------------


class FakeClock:
    """Wall time in epoch seconds, moved by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


SCALE = 8640.0  # one simulated day every 10 s


@pytest.fixture
def timeline():
    return investigations(NOW)


@pytest.fixture
def clock():
    return FakeClock(NOW)


@pytest.fixture
def tsim(timeline, clock):
    sim = NicheSimulator.from_timeline(timeline, start=NOW, time_scale=SCALE, clock=clock).start()
    yield sim
    sim.stop()


def get(sim, after: Optional[str] = None, limit: int = 500) -> dict:
    params: dict[str, Any] = {"limit": limit}
    if after is not None:
        params["after"] = after
    response = httpx.get(f"{sim.url}/changes", params=params, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_serves_the_past_at_once_and_withholds_the_future(tsim, timeline):
    past = [c for o, c in timeline if o <= timedelta(0)]
    page = get(tsim)
    assert page["changes"] == past  # as they are, with their own past times
    assert page["next_cursor"] == f"pos-{len(past)}"
    assert len(tsim.pending) == len(timeline) - len(past)
    assert get(tsim, page["next_cursor"])["changes"] == []


def test_releases_future_changes_as_the_clock_moves_and_stamps_them(tsim, timeline, clock):
    past = [c for o, c in timeline if o <= timedelta(0)]
    ahead = [(o, c) for o, c in timeline if o > timedelta(0)]
    cursor = get(tsim)["next_cursor"]

    # Not yet: just short of the first one's time.
    clock.advance(ahead[0][0].total_seconds() / SCALE - 0.5)
    assert get(tsim, cursor)["changes"] == []

    # Three simulated days later: everything due by then, in order, after what was already served.
    before = clock.now
    clock.advance(3 * 86400 / SCALE)
    reached = (clock.now - NOW.timestamp()) * SCALE
    due = [(o, c) for o, c in ahead if o.total_seconds() <= reached]
    assert 0 < len(due) < len(ahead)
    page = get(tsim, cursor)
    assert [c["change_id"] for c in page["changes"]] == [c["change_id"] for _, c in due]
    assert page["next_cursor"] == f"pos-{len(past) + len(due)}"
    for (offset, original), served in zip(due, page["changes"]):
        parsed = parse_change(served, decoded=True)
        assert isinstance(parsed, RecordsChange)
        stamp = parsed.occurred_at
        assert stamp == NOW + offset / SCALE  # the wall-clock moment it became due
        assert before - 1 <= stamp.timestamp() <= clock.now
        if parsed.type == "occurrence.recorded":
            assert parsed.payload.recorded_at == stamp
            assert parsed.payload.reported_at <= stamp
            gap = parse_timestamp(original["occurrence"]["recorded_at"]) - parse_timestamp(
                original["occurrence"]["reported_at"])
            assert stamp - parsed.payload.reported_at == gap
        if parsed.type == "investigation.event" and parsed.payload.event == "CHARGED":
            moved = parse_timestamp(original["detail"]["first_hearing"]) - parse_timestamp(original["occurred_at"])
            assert parsed.payload.first_hearing - stamp == moved
        if parsed.type == "investigation.event" and parsed.payload.event == "RELEASED_ON_BAIL":
            assert parsed.payload.bail_date > stamp.date()
        if parsed.type in ("person.linked", "person.updated") and "date_of_birth" in served["person"]:
            assert served["person"]["date_of_birth"] == original["person"]["date_of_birth"]
        # Nothing else about it changed.
        assert {k: v for k, v in served.items() if k not in ("occurred_at", "occurrence", "detail")} == \
            {k: v for k, v in original.items() if k not in ("occurred_at", "occurrence", "detail")}

    # The first page's cursor still reads the same changes from the start.
    again = get(tsim)
    assert [c["change_id"] for c in again["changes"]] == [c["change_id"] for c in past + [c for _, c in due]]
    assert again["changes"][:len(past)] == past

    # Far beyond the last one: everything released, each once.
    clock.advance(60 * 86400 / SCALE)
    rest = get(tsim, page["next_cursor"])["changes"]
    assert [c["change_id"] for c in rest] == [c["change_id"] for _, c in ahead[len(due):]]
    assert tsim.pending == []
    assert [c["change_id"] for c in tsim.changes] == [c["change_id"] for _, c in timeline]
    stamps = [parse_timestamp(c["occurred_at"]) for c in tsim.changes]
    assert stamps == sorted(stamps)


def test_time_scale_one_is_real_time(timeline):
    clock = FakeClock(NOW)
    sim = NicheSimulator.from_timeline(timeline, start=NOW, clock=clock)
    past = sum(1 for o, _ in timeline if o <= timedelta(0))
    first_ahead = next(o for o, _ in timeline if o > timedelta(0))
    assert sim.release_due() == 0 and len(sim.changes) == past
    clock.advance(first_ahead.total_seconds() - 1)
    assert sim.release_due() == 0
    clock.advance(1)
    assert sim.release_due() >= 1
    released = sim.changes[past]
    assert parse_timestamp(released["occurred_at"]) == NOW + first_ahead  # real time: its own planned time
    assert sim.simulated_elapsed == first_ahead


def test_start_defaults_to_the_clock_and_rejects_bad_arguments(timeline):
    clock = FakeClock(NOW + timedelta(minutes=5))
    sim = NicheSimulator.from_timeline(timeline, clock=clock, time_scale=60)
    assert sim.simulated_elapsed == timedelta(0)
    clock.advance(10)
    assert sim.simulated_elapsed == timedelta(minutes=10)
    with pytest.raises(ValueError):
        NicheSimulator.from_timeline(timeline, time_scale=0)
    with pytest.raises(ValueError):
        NicheSimulator.from_timeline(timeline, start=datetime(2026, 11, 29))


class MemorySink:
    """A RecordsSink holding the cursor with the items, as the real one must."""

    def __init__(self) -> None:
        self._cursor: Optional[str] = None
        self.items: list[RecordsChange | BadChange] = []

    async def cursor(self) -> Optional[str]:
        return self._cursor

    async def apply(self, items: Sequence[RecordsChange | BadChange], next_cursor: str) -> None:
        self.items.extend(items)
        self._cursor = next_cursor


@pytest.mark.asyncio
async def test_the_real_poller_reads_every_change_exactly_once_across_releases(timeline, clock):
    sim = NicheSimulator.from_timeline(timeline, start=NOW, time_scale=SCALE, clock=clock,
                                       token="tok-0123456789").start()
    sink = MemorySink()
    poller = NichePoller(sim.url, sink, "tok-0123456789", limit=7, interval=0.01)
    counts: list[int] = []
    try:
        for _ in range(200):
            while True:  # follow full pages, as run() does
                count = await poller.poll_once()
                counts.append(count)
                if count < poller.limit:
                    break
            if not sim.pending:
                break
            clock.advance(1.7 * 86400 / SCALE)  # 1.7 simulated days between polls
    finally:
        await poller.aclose()
        sim.stop()
    assert all(isinstance(i, RecordsChange) for i in sink.items), [getattr(i, "reason", None) for i in sink.items]
    ids = [i.change_id for i in sink.items]
    assert ids == [c["change_id"] for _, c in timeline]
    assert len(ids) == len(set(ids))
    assert sink._cursor == f"pos-{len(timeline)}"
    assert counts.count(0) >= 1  # some polls found nothing new: the future was withheld
    occurred = [i.occurred_at for i in sink.items]
    assert occurred == sorted(occurred)


# ---- command line --------------------------------------------------------------------------------


def test_main_serves_the_investigations(monkeypatch, capsys):
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if seconds >= 3600:  # main's idle loop: stop the server instead
            raise KeyboardInterrupt
        real_sleep(seconds)

    monkeypatch.setattr(simulator_module.time, "sleep", sleep)
    main(["--port", "0", "--investigations", "--time-scale", "8640"])
    out = capsys.readouterr().out
    assert "NICHE records feed simulator on http://127.0.0.1:" in out
    assert "to come over" in out and "time scale 8640" in out


def test_main_options(capsys):
    with pytest.raises(SystemExit):
        main(["--time-scale", "10"])  # only with --investigations
    with pytest.raises(SystemExit):
        main(["--investigations", "--time-scale", "0"])
    assert simulator_module.DEFAULT_PORT == 8767
