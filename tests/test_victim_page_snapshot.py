"""The victim's page without JavaScript (rxapp/attendance/track_html.py): the HTML answered for GET /track/<link>
carries the page at the moment of the request, escaped, in the victim's language; every link that does not open
an attendance gets one and the same answer; the link never reaches the log."""
from __future__ import annotations

import asyncio
import gzip
import json
import logging
import re
from datetime import timedelta

from sqlmodel import select

from rxapp.attendance.models import Incident
from rxapp.attendance.service import AttendanceService
from rxapp.attendance.track_html import TrackSnapshot, insert_snapshot, render_view
from rxapp.attendance.track_state import ENDED_VIEW
from rxapp.plumbing.db import session_scope
from rxapp.plumbing.links import derive_token
from rxapp.victims.models import Victim

from .helpers import parsed, scenario_lines

SPA = (b'<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8"/></head>'
       b'<body><section aria-label="Notifications"></section><div class="root"></div>'
       b'<script type="module">import("/assets/entry.js")</script></body></html>')


class StaticApp:
    """Stands where Reflex's static files are: the same SPA page for every route, with validators."""

    def __init__(self, body: bytes = SPA, status: int = 200, kind: bytes = b"text/html; charset=utf-8"):
        self.body, self.status, self.kind, self.requests = body, status, kind, []

    async def __call__(self, scope, receive, send):
        self.requests.append(scope)
        await send({"type": "http.response.start", "status": self.status, "headers": [
            (b"content-type", self.kind), (b"content-length", str(len(self.body)).encode()),
            (b"etag", b'"abc"'), (b"last-modified", b"Tue, 01 Dec 2026 10:00:00 GMT")]})
        await send({"type": "http.response.body", "body": self.body[:40], "more_body": True})
        await send({"type": "http.response.body", "body": self.body[40:], "more_body": False})


def get(app, path: str, headers: list[tuple[bytes, bytes]] = (), method: str = "GET") -> tuple[dict, bytes]:
    scope = {"type": "http", "method": method, "path": path, "headers": list(headers), "query_string": b""}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return {k.decode(): v.decode() for k, v in start["headers"]} | {":status": start["status"]}, body


def opened_link(db_url, lang: str = "en", lines: int = 8) -> str:
    AttendanceService(db_url).apply_sync(parsed(scenario_lines("burglary-priority")[:lines]))
    with session_scope(db_url) as s:
        incident = s.exec(select(Incident)).one()
        s.get(Victim, incident.victim_id).language = lang
        incident.link_expires_at = None
        return derive_token(incident.link_nonce)


def test_the_page_carries_its_status_window_and_calls_in_the_victims_language(db_url):
    token = opened_link(db_url, "pl")
    with session_scope(db_url) as s:  # the scenario's times are in the past: a window that is still ahead
        incident = s.exec(select(Incident)).one()
        from rxapp.plumbing.columns import utcnow

        now = utcnow()
        incident.eta_earliest, incident.eta_point = now + timedelta(minutes=6), now + timedelta(minutes=9)
        incident.eta_latest, incident.eta_computed_at = now + timedelta(minutes=12), now
    inner = StaticApp()
    answer, body = get(TrackSnapshot(inner), f"/track/{token}", [(b"if-none-match", b'"abc"'),
                                                                 (b"accept-encoding", b"gzip, br")])
    html = gzip.decompress(body).decode()
    assert answer[":status"] == 200 and answer["content-encoding"] == "gzip"
    assert answer["cache-control"] == "no-store" and "etag" not in answer and "last-modified" not in answer
    assert int(answer["content-length"]) == len(body)
    # The browser's validators and encodings are not passed on: the page is made afresh, then compressed here.
    assert not {k for k, _ in inner.requests[0]["headers"]} & {b"if-none-match", b"accept-encoding"}
    assert html.startswith('<!DOCTYPE html><html lang="pl" dir="ltr">')
    assert html.index("<vj-snapshot") == html.index("<body>") + len("<body>")
    assert '<meta charset="utf-8"/><title>Wizyta policji</title></head>' in html  # the app sets its own later
    assert '<h1 id="snapshot-status">Policjant jest w drodze</h1>' in html
    # Near midnight the window ends on the next day and names it ("między 00:05 a 00:15, 2 grudnia (środa)").
    assert re.search(r'id="snapshot-window">między \d\d:\d\d a \d\d:\d\d(, [^<]+)?<', html)
    assert re.search(r"<p>(w ciągu \d+ min|za \d+–\d+ min)</p>", html)
    assert 'href="tel:999"' in html and 'href="tel:101"' in html
    assert "Prosimy nie dotykać" in html  # the advice for a burglary
    assert '<div class="root"></div>' in html  # the app itself is all still there
    for private in ("Amina", "07700", "example.org", "CE21", "54.5", token):
        assert private not in html, private


def test_without_gzip_the_page_goes_plain_and_head_or_other_paths_pass_untouched(db_url):
    token = opened_link(db_url)
    answer, body = get(TrackSnapshot(StaticApp()), f"/track/{token}")
    assert "content-encoding" not in answer and b'id="snapshot-status"' in body
    answer, body = get(TrackSnapshot(StaticApp()), f"/track/{token}", method="HEAD")
    assert body == SPA and answer["etag"] == '"abc"'
    for path in ("/board", "/track", f"/track/{token}/more", "/trackers/x"):
        answer, body = get(TrackSnapshot(StaticApp()), path)
        assert body == SPA, path
    answer, body = get(TrackSnapshot(StaticApp(b"not found", 404, b"text/plain")), f"/track/{token}")
    assert answer[":status"] == 404 and body == b"not found"


def test_every_link_that_opens_nothing_gets_the_same_answer(db_url):
    expired = opened_link(db_url, lines=len(scenario_lines("burglary-priority")))
    with session_scope(db_url) as s:
        incident = s.exec(select(Incident)).one()
        from rxapp.plumbing.columns import utcnow

        incident.link_expires_at = utcnow() - timedelta(minutes=1)
    bodies = {get(TrackSnapshot(StaticApp()), f"/track/{link}")[1]
              for link in ("not-a-real-link", "A" * 43, expired, "%3Cscript%3E", "")}
    assert len(bodies) == 1
    html = bodies.pop().decode()
    assert "This link has expired or is not valid" in html and '<html lang="en-GB" dir="ltr">' in html
    assert "CL/26/041877" not in html and "Amina" not in html


def test_every_value_is_escaped():
    view = json.loads(json.dumps(ENDED_VIEW))
    view.update({"status_label": "<script>alert(1)</script>", "explain": ["a & b <i>"], "eta_text": "x",
                 "eta_clock": '"><img src=x>', "crime_reference": "<b>CL</b>", "lang": "en", "dir": "ltr",
                 "steps": [{"time": "10:00", "day": "<u>", "today": "", "text": "</li><script>"}],
                 "advice": ["<a href=x>"], "after": ["<zz>"], "support": [
                     {"name": "<n>", "about": "<a>", "phone": "0808", "tel": "tel:0808\"><x", "call": "<c>",
                      "url": "https://x\"onmouseover=1"}],
                 "labels": {k: "<L>" for k in ("page.expected_arrival", "page.stale_window", "page.crime_reference",
                                               "page.keep_reference", "danger.heading", "danger.call",
                                               "danger.silent", "danger.text", "advice.heading", "after.heading",
                                               "after.support_heading", "after.support_intro", "after.support_web",
                                               "page.history", "contact.heading", "contact.text", "contact.call",
                                               "page.privacy", "page.title")}})
    html = render_view(view, "10:05")
    crest = '<img class="vjs-crest" src="/branding/crest.svg" alt="">'  # the force's crest, from configuration
    assert html.count("<img") == 1 and crest in html
    html = html.replace(crest, "")
    for raw in ("<script", "<img", "<b>", "<u>", "<a href=x", "<zz>", "<n>", "<L>", '"onmouseover', '"><x'):
        assert raw not in html, raw


def test_a_page_that_has_a_title_keeps_it():
    page = b"<html><head><title>Your police visit</title></head><body></body></html>"
    assert insert_snapshot(page, "<vj-snapshot></vj-snapshot>", "pl", "ltr", "Wizyta policji").count(b"<title>") == 1


def test_a_page_with_no_body_is_left_alone():
    assert insert_snapshot(b"<html><head></head></html>", "<vj-snapshot></vj-snapshot>", "pl", "ltr") == \
        b"<html><head></head></html>"


def test_the_link_never_reaches_the_log(db_url, caplog, monkeypatch):
    token = opened_link(db_url)
    from rxapp.attendance import track_html

    def broken(link):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(track_html, "snapshot_for_link", broken)
    with caplog.at_level(logging.DEBUG):
        answer, body = get(TrackSnapshot(StaticApp()), f"/track/{token}")
    assert answer[":status"] == 200 and b"snapshot-status" not in body  # the live page still works
    assert "snapshot could not be made" in caplog.text and token not in caplog.text
