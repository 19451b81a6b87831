"""The control-room board on a busy night, in Chromium against the running product: forty incidents through the
real feed (missed targets, at risk, nobody assigned, visits booked for later, officers on the way) fit in two
screens at 1280 px; the counts at the top match the rows and filter them; a visit booked hours away says
"Booked for …", not "Nobody assigned"; a breach that happens while the board is open is highlighted and
announced once in an aria-live region ("New breach: <urn> <grade>"), not again on later pushes; texts are held
(with a reason) and released from the board; axe-core finds no WCAG 2.2 AA violation; screenshots at 1280 and
360 px."""
from __future__ import annotations

import random
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from .conftest import submit_sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
SCREEN = {"width": 1280, "height": 720}
PHONE = {"width": 360, "height": 740}
CATEGORIES = ["BURGLARY_DWELLING", "THEFT_FROM_VEHICLE", "CRIMINAL_DAMAGE", "ASSAULT", "ANTI_SOCIAL_BEHAVIOUR",
              "SHOPLIFTING", "BURGLARY_BUSINESS", "HARASSMENT"]
PLACES = ["Acklam Road, Middlesbrough", "Linthorpe Road, Middlesbrough", "Marton Road, Middlesbrough",
          "Yarm Lane, Stockton-on-Tees", "Coatham Road, Redcar", "Stockton Road, Hartlepool",
          "High Street, Guisborough", "Norton Road, Stockton-on-Tees", "Borough Road, Middlesbrough"]


def _z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class Night:
    """Incidents sent through the real feed, each with a fresh URN of the contract's shape."""

    def __init__(self, live_app):
        self.feed = live_app["feed"]
        self.db_url = live_app["db_url"]
        self.day = datetime.now(timezone.utc).strftime("%Y%m%d")
        self.serial = random.randint(100000, 899999)
        self.urns: dict[str, str] = {}  # urn -> what it should show (breached, at_risk, ...)

    def _event(self, kind: str, at: datetime, **body) -> None:
        self.feed.send({"seq": 0, "event_id": str(uuid.uuid4()), "type": kind, "occurred_at": _z(at), **body})

    def opened(self, grade: str, minutes_ago: float, expect_risk: str) -> str:
        self.serial += 1
        urn = f"CLE-{self.day}-{self.serial}"
        n = len(self.urns)
        self._event("incident.opened", datetime.now(timezone.utc) - timedelta(minutes=minutes_ago), incident={
            "urn": urn, "grade": grade, "category": CATEGORIES[n % len(CATEGORIES)],
            "location": {"easting": 447835 + 37 * n, "northing": 517445 - 29 * n,
                         "description": f"{10 + n} {PLACES[n % len(PLACES)]}"},
            "caller": {"name": "Test Caller", "phone": f"07700900{100 + n:03d}", "email": None, "sms_consent": True,
                       "language": "en"},
            "flags": []})
        self.urns[urn] = expect_risk
        return urn

    def assigned(self, urn: str, callsign: str, minutes_ago: float, en_route: bool = True) -> None:
        at = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
        self._event("resource.assigned", at, assignment={"urn": urn, "callsign": callsign, "resource_type": "car"})
        if en_route:
            self._event("resource.status", at + timedelta(seconds=20),
                        resource={"callsign": callsign, "urn": urn, "status_code": "5"})

    def booked(self, urn: str, hours_ahead: float) -> tuple[datetime, datetime]:
        start = (datetime.now(timezone.utc) + timedelta(hours=hours_ahead)).replace(minute=0, second=0, microsecond=0)
        end = start + timedelta(hours=2)
        self._event("incident.appointment", datetime.now(timezone.utc) - timedelta(minutes=50),
                    appointment={"urn": urn, "window_start": _z(start), "window_end": _z(end)})
        return start, end

    def wait_applied(self, timeout: float = 30) -> None:
        from rxapp.attendance.models import Incident
        from rxapp.plumbing.db import session_scope

        deadline = time.time() + timeout
        while time.time() < deadline:
            with session_scope(self.db_url, readonly=True) as s:
                found = s.exec(select(Incident.urn).where(Incident.urn.in_(list(self.urns)))).all()
            if len(found) == len(self.urns):
                return
            time.sleep(0.2)
        raise AssertionError(f"only {len(found)} of {len(self.urns)} incidents reached the product")


def busy_night(live_app) -> tuple[Night, dict]:
    night = Night(live_app)
    extra = {}
    for i in range(6):  # priority calls past their hour with nobody assigned
        night.opened("PRIORITY", 62 + 5 * i, "breached")
    for i in range(8):  # more than half their hour gone, nobody assigned
        night.opened("PRIORITY", 34 + 3 * i, "at_risk")
    for i in range(8):  # fresh, nobody assigned yet
        night.opened("PRIORITY", 2 + 3 * i, "unassigned")
    for i in range(6):  # booked visits hours away
        urn = night.opened("SCHEDULED", 60, "booked")
        extra.setdefault("booked", []).append((urn, *night.booked(urn, 2 + i)))
    for i in range(12):  # officers on the way in good time
        urn = night.opened("PRIORITY", 5 + i, "ok")
        night.assigned(urn, f"CE{40 + i}", 4 + i * 0.5)
    night.wait_applied()
    return night, extra


def sign_in(page, base: str, username: str = "control.one") -> None:
    page.goto(f"{base}/login")
    submit_sign_in(page, username)
    page.wait_for_url(re.compile(r"/board/?$"))


def axe_violations(page) -> list[dict]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}));
    }""")
    return result


def test_forty_incidents_on_a_busy_night(live_app, browser, artifacts):
    from rxapp.attendance.models import Incident, TextHold
    from rxapp.domain.attendance import london_time
    from rxapp.plumbing.db import session_scope

    night, extra = busy_night(live_app)
    shots = Path("/tmp/hboard/shots")
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=SCREEN)
    page = context.new_page()
    sign_in(page, live_app["base"])
    mine = " , ".join(f"tr[data-urn='{urn}']" for urn in night.urns)
    expect(page.locator(mine)).to_have_count(40, timeout=20000)
    page.evaluate("""() => {  // count every change of the breach announcement from now on
        window.__announced = [];
        const region = document.getElementById('breach-announcement');
        new MutationObserver(() => window.__announced.push(region.textContent))
            .observe(region, {childList: true, subtree: true, characterData: true});
    }""")

    page.screenshot(path=str(shots / "board-40-1280-first-screen.png"))
    # 1. Compact: the page down to the last of the forty rows fits in two screens at 1280 px.
    sizes = page.evaluate("""(urns) => {
        const rows = urns.map(u => document.querySelector(`tr[data-urn='${u}']`));
        const body = document.querySelector('.board-table tbody').getBoundingClientRect().top + window.scrollY;
        const heights = rows.map(r => r.getBoundingClientRect().height);
        return {top: body, rows: heights.reduce((a, b) => a + b, 0), tallest: Math.max(...heights),
                line: parseFloat(getComputedStyle(rows[0]).lineHeight)};
    }""", list(night.urns))
    assert sizes["top"] + sizes["rows"] <= 2 * SCREEN["height"], sizes
    assert sizes["tallest"] < 2 * sizes["line"], f"a row wrapped onto a second line: {sizes}"

    # 2. The counts are the rows', and each filters the board.
    counts = {key: int(page.locator(f"#count-{key} strong").inner_text()) for key in
              ("breached", "at_risk", "unassigned", "booked", "held")}
    shown = {risk: page.locator(f"tr[data-risk='{risk}']").count() for risk in ("breached", "at_risk", "unassigned",
                                                                                 "booked")}
    assert {k: counts[k] for k in shown} == shown
    for urn, risk in night.urns.items():
        assert page.locator(f"tr[data-urn='{urn}']").get_attribute("data-risk") == risk, urn
    page.click("#count-breached")
    expect(page.locator("#count-breached")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("tr[data-urn]")).to_have_count(counts["breached"])
    assert {page.locator("tr[data-urn]").nth(i).get_attribute("data-risk")
            for i in range(counts["breached"])} == {"breached"}
    page.select_option("#risk-filter", "ACTION")
    expect(page.locator("tr[data-urn]")).to_have_count(counts["breached"] + counts["at_risk"] + counts["unassigned"])
    page.select_option("#risk-filter", "booked")
    expect(page.locator("tr[data-urn]")).to_have_count(counts["booked"])
    page.select_option("#risk-filter", "ALL")

    # 3. A visit booked hours away is booked, not "Nobody assigned".
    urn, start, end = extra["booked"][0]
    row = page.locator(f"tr[data-urn='{urn}']")
    expect(row).to_contain_text("Booked for")
    # An end on the next day carries its weekday ("22:00–Wed 00:00"), as rxapp/domain/grades.py says.
    expect(row).to_contain_text(re.compile(re.escape(london_time(start)) + r"–(\w{3} )?" + re.escape(london_time(end))))
    expect(row).not_to_contain_text("Nobody assigned")

    page.screenshot(path=str(artifacts / "board-40-1280.png"), full_page=True)
    page.screenshot(path=str(shots / "board-40-1280.png"), full_page=True)
    violations = axe_violations(page)
    assert violations == [], violations

    # 4. A breach while the board is open: highlighted, announced once.
    breaching = night.opened("EMERGENCY", 14.75, "breached")  # its 15 minutes end in about 15 s
    expect(page.locator(f"tr[data-urn='{breaching}']")).to_have_attribute("data-risk", "at_risk", timeout=15000)
    announcement = page.locator("#breach-announcement")
    expect(announcement).to_have_text(f"New breach: {breaching} Emergency", timeout=60000)
    expect(announcement).to_have_attribute("aria-live", "assertive")
    row = page.locator(f"tr[data-urn='{breaching}']")
    expect(row).to_have_class(re.compile(r"new-breach"))
    expect(row).to_contain_text("New")
    page.screenshot(path=str(shots / "board-new-breach-1280.png"))
    # Later pushes (a car assigned elsewhere, the clock) change the rows but announce nothing again.
    quiet = next(u for u, r in night.urns.items() if r == "unassigned")
    night.assigned(quiet, "CE99", 0.1)
    expect(page.locator(f"tr[data-urn='{quiet}']")).to_contain_text("CE99", timeout=15000)
    time.sleep(2)
    assert page.evaluate("window.__announced") == [f"New breach: {breaching} Emergency"]

    # 5. Holding texts: a reason is required, the hold shows on the row and in the counts, and is released.
    target = next(u for u, r in night.urns.items() if r == "ok")
    page.click(f"button[aria-label='Hold texts for {target}']")
    form = page.locator("#hold-form")
    expect(form).to_contain_text(f"Hold texts for {target}")
    expect(page.locator("#hold-reason")).to_be_focused()
    page.screenshot(path=str(shots / "board-hold-form-1280.png"))
    page.click("#hold-submit")
    expect(page.locator("#board-notice")).to_contain_text("Choose why the texts are held.")
    page.select_option("#hold-reason", "caller_safety")
    page.click("#hold-submit")
    expect(page.locator("#board-notice")).to_contain_text(f"Texts held for {target}")
    row = page.locator(f"tr[data-urn='{target}']")
    expect(row).to_contain_text("Held", timeout=10000)
    expect(row).to_contain_text("Texts held by Control One")
    expect(row).to_contain_text("the caller may not be safe to text")
    expect(page.locator("#count-held strong")).to_have_text(str(counts["held"] + 1))
    with session_scope(live_app["db_url"], readonly=True) as s:
        incident = s.exec(select(Incident).where(Incident.urn == target)).one()
        hold = s.exec(select(TextHold).where(TextHold.incident_id == incident.id)).one()
        assert (hold.held_by, hold.reason, hold.released_at) == ("control.one", "caller_safety", None)
    page.screenshot(path=str(shots / "board-held-1280.png"))
    page.click(f"button[aria-label='Release texts for {target}']")
    expect(page.locator("#board-notice")).to_contain_text(f"Texts released for {target}")
    expect(page.locator(f"button[aria-label='Hold texts for {target}']")).to_be_visible(timeout=10000)
    violations = axe_violations(page)
    assert violations == [], violations

    # 6. On a phone each row is a card with its labels.
    phone = browser.new_context(viewport=PHONE)
    small = phone.new_page()
    sign_in(small, live_app["base"])
    expect(small.locator(mine)).to_have_count(40, timeout=20000)
    first = small.locator(f"tr[data-urn='{next(iter(night.urns))}']")
    expect(first).to_be_visible()
    small.screenshot(path=str(artifacts / "board-40-360.png"), full_page=True)
    small.screenshot(path=str(shots / "board-40-360-first-screen.png"))
    small.locator(f"tr[data-urn='{breaching}']").scroll_into_view_if_needed()
    small.screenshot(path=str(shots / "board-new-breach-360.png"))
    wide = small.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)""")
    assert small.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], wide
    cut = small.evaluate("""() => [...document.querySelectorAll('.board-table td > div')]
        .filter(d => d.scrollWidth > d.clientWidth + 1).length""")
    assert cut == 0, f"{cut} cells are wider than the phone's card"
    violations = axe_violations(small)
    assert violations == [], violations
    phone.close()
    context.close()
