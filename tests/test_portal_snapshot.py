"""The server-rendered snapshot of the victim's case page (rxapp/portal/case_html.py), through its ASGI middleware
with a real session row in the real database; and the live attendance page's offer of the portal (issue 11 point 6).
"""
from __future__ import annotations

import asyncio
import gzip
import re
import secrets
from datetime import timedelta

import pytest
from sqlmodel import select

from rxapp.attendance import track_html
from rxapp.attendance.models import Incident
from rxapp.attendance.service import AttendanceService
from rxapp.attendance.views import victim_view
from rxapp.investigation.models import CaseVictim, Occurrence
from rxapp.investigation.service import JourneyService
from rxapp.plumbing import links
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.db import session_scope
from rxapp.portal import case_html
from rxapp.portal.access import PORTAL_COOKIE
from rxapp.portal.case_html import CaseSnapshot
from rxapp.portal.invitations import end_invite, live_invite, send_invitation
from rxapp.portal.models import PortalInvite, PortalSession
from rxapp.victims.models import Victim

from .helpers import parsed, renumbered
from .test_journey_service import sample_changes

PLAIN_PAGE = b'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"></head><body><div id="root"></div></body></html>'
SNAPSHOT = re.compile(r"<vj-snapshot .*?</vj-snapshot>", re.S)
HOSTILE = "Burglary <script>alert('x')</script> & \"damage\""


async def plain_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"etag", b'"abc"'),
                            (b"content-length", str(len(PLAIN_PAGE)).encode())]})
    await send({"type": "http.response.body", "body": PLAIN_PAGE})


def get(path: str, cookie: str | None = None, method: str = "GET", gzip_ok: bool = True) -> tuple[int, dict, bytes]:
    headers = [(b"host", b"testserver")]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    if gzip_ok:
        headers.append((b"accept-encoding", b"gzip, br"))
    scope = {"type": "http", "method": method, "path": path, "headers": headers, "query_string": b""}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(CaseSnapshot(plain_app)(scope, receive, send))
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    head = {k.decode(): v.decode() for k, v in start["headers"]}
    if head.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return start["status"], head, body


@pytest.fixture
def case(db_url):
    """The sample burglary recorded from its attendance, its victim linked and invited; the crime's classification
    as a hostile records system might send it."""
    AttendanceService(db_url).apply_sync(parsed(renumbered(["burglary-priority"])))
    recorded, linked = sample_changes()[:2]
    JourneyService(db_url, now=lambda: recorded.occurred_at + timedelta(minutes=2)).apply_page(
        [recorded, linked], linked.change_id)
    with session_scope(db_url) as s:
        occurrence = s.exec(select(Occurrence)).one()
        occurrence.classification_text = HOSTILE
        case_victim = s.exec(select(CaseVictim)).one()
        invite = live_invite(s, case_victim.id) or send_invitation(s, occurrence, case_victim, utcnow())
        return {"case_victim": case_victim.id, "invite": invite.id, "victim": case_victim.victim_id,
                "nonce": invite.link_nonce}


def signed_in(case, **row) -> str:
    """A live session of the case's victim, as sign-in makes one; the cookie that carries it."""
    token = secrets.token_urlsafe(32)
    with session_scope() as s:
        now = utcnow()
        values = {"created_at": now, "last_seen_at": now, **row}
        s.add(PortalSession(token_hash=links.token_hash(token), invite_id=case["invite"],
                            case_victim_id=case["case_victim"], **values))
    return f"vj_form=abc; {PORTAL_COOKIE}={token}"


def snapshot_of(body: bytes) -> str:
    return SNAPSHOT.search(body.decode()).group(0)


def test_the_signed_in_victims_case_is_in_the_html_first_thing_in_the_body(case):
    status, head, body = get("/portal/case", signed_in(case))
    assert status == 200 and head["cache-control"] == "no-store" and head["content-encoding"] == "gzip"
    assert "etag" not in head and head["vary"] == "Accept-Encoding"
    html = body.decode()
    assert html.index('<body><vj-snapshot id="vj-portal-snapshot" lang="en" dir="ltr">') >= 0
    assert '<html lang="en" dir="ltr"' in html and "<title>Your case</title>" in html
    snap = snapshot_of(body)
    assert 'id="snapshot-timeline"' in snap and "Your report was recorded as a crime" in snap
    assert "CL/26/041877" in snap and "PC 4127, Middlesbrough CID" in snap
    assert 'href="tel:999"' in snap and 'href="tel:101"' in snap
    # Hidden, with the app's frame shown, once the live page (or its signed-out notice) is in the document.
    assert "body:has(#portal-case,#portal-signed-out-notice) #vj-portal-snapshot{display:none}" in snap
    # The records system's words are shown as text, never as markup: the one script is ours, which takes the
    # snapshot out of the document once the live page is in.
    assert snap.count("<script>") == 1 and case_html.REMOVE_WHEN_LIVE in snap
    assert "Burglary &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;damage&quot;" in snap
    # Nobody's name, number or address in it.
    for personal in ("Amina", "Hussain", "07700900123", "amina@example.org", "Sam Jones"):
        assert personal not in snap
    # Without gzip, the same page uncompressed.
    _, head, plain = get("/portal/case", signed_in(case), gzip_ok=False)
    assert "content-encoding" not in head and snapshot_of(plain).startswith('<vj-snapshot id="vj-portal-snapshot"')


def test_in_urdu_right_to_left(case):
    with session_scope() as s:
        s.get(Victim, case["victim"]).language = "ur"
    _, _, body = get("/portal/case", signed_in(case))
    html = body.decode()
    assert '<html lang="ur" dir="rtl"' in html and '<vj-snapshot id="vj-portal-snapshot" lang="ur" dir="rtl">' in html
    assert "آپ کا کیس" in snapshot_of(body)


def test_no_valid_session_gets_one_and_the_same_answer(case):
    later = utcnow() - timedelta(minutes=45)
    answers = {
        "no cookie": get("/portal/case"),
        "another cookie": get("/portal/case", "vj_form=abc"),
        "malformed": get("/portal/case", f"{PORTAL_COOKIE}=<script>"),
        "unknown": get("/portal/case", f"{PORTAL_COOKIE}={secrets.token_urlsafe(32)}"),
        "ended": get("/portal/case", signed_in(case, ended_at=utcnow(), ended_how="signed_out")),
        "idle": get("/portal/case", signed_in(case, last_seen_at=later)),
    }
    revoked = signed_in(case)
    with session_scope() as s:
        end_invite(s, s.get(PortalInvite, case["invite"]), utcnow(), "PC 4127", "revoked")
    answers["revoked"] = get("/portal/case", revoked)
    snapshots = {why: snapshot_of(body) for why, (_, _, body) in answers.items()}
    assert len(set(snapshots.values())) == 1, {k: v[:200] for k, v in snapshots.items()}
    one = snapshots["no cookie"]
    assert "You are signed out" in one and "use the link in the message" in one and 'lang="en"' in one
    assert "CL/26/041877" not in one and 'id="snapshot-timeline"' not in one
    assert all(head["cache-control"] == "no-store" for _, head, _ in answers.values())


def test_other_requests_pass_through(case):
    cookie = signed_in(case)
    for path, method in (("/portal/case", "POST"), ("/portal/start/x", "GET"), ("/portal/cases", "GET")):
        status, head, body = get(path, cookie, method=method)
        assert body == PLAIN_PAGE and head.get("etag") == '"abc"'


def test_the_attendance_page_offers_the_portal_once_the_crime_is_recorded_and_the_victim_invited(case, db_url):
    expected = links.portal_url(links.derive_portal_token(case["nonce"]))
    with session_scope() as s:
        incident = s.exec(select(Incident).where(Incident.urn == "CLE-20261120-0142")).one()
        view = victim_view(s, incident)
        assert view["portal_url"] == expected and view["labels"]["after.portal_open"] == "Open your case"
        html = track_html.render_view(view, "12:00")
    assert 'id="snapshot-portal-offer"' in html and f'href="{expected}"' in html
    # Revoked by staff (or replaced): no offer.
    with session_scope() as s:
        end_invite(s, s.get(PortalInvite, case["invite"]), utcnow(), "PC 4127", "revoked")
    with session_scope() as s:
        incident = s.exec(select(Incident).where(Incident.urn == "CLE-20261120-0142")).one()
        view = victim_view(s, incident)
        assert view["portal_url"] == "" and "snapshot-portal-offer" not in track_html.render_view(view, "12:00")


def test_no_offer_without_a_recorded_crime(db_url):
    AttendanceService(db_url).apply_sync(parsed(renumbered(["burglary-priority"])))
    with session_scope() as s:
        incident = s.exec(select(Incident).where(Incident.urn == "CLE-20261120-0142")).one()
        assert victim_view(s, incident)["portal_url"] == ""
