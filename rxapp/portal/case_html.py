"""The victim's case page before its JavaScript has run: the HTML answered for GET `/portal/case` carries the case as
it is at the moment of the request (reference, status, officer, timeline, what happens next, rights, support...),
rendered here from `views.case_view`, escaped, in the victim's language. On a slow phone line the app's scripts take
seconds to arrive; this is readable at once, and is all there is without JavaScript.

It is the live attendance page's pattern (rxapp/attendance/track_html.py, whose middleware this reuses): an ASGI
middleware asks the app for the plain page, puts the snapshot (`<vj-snapshot id="vj-portal-snapshot">`) first in
<body>, gzips it when the browser accepts gzip, and marks it `no-store`. A rule in the snapshot's own <style> hides
it, and the app's frame until then, once the live page is in the document (`#portal-case`, or
`#portal-signed-out-notice` when the live page finds no valid session).

Who is asking is decided only from the request's own session cookie (rxapp/portal/access.py), as the live page does;
without a live session the answer is one and the same "signed out" snapshot in English, whatever the reason (no
cookie, a forged or ended one, a case gone), so it tells nobody whether anything exists. Nothing is logged about who.
"""
from __future__ import annotations

import re
from html import escape

from rxapp import languages
from rxapp.attendance import track_html
from rxapp.domain.attendance import london_time
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import settings
from rxapp.portal.access import identity_from_cookie_header
from rxapp.portal.views import load_case_view

PATH = re.compile(r"^/portal/case/?$")
SNAPSHOT_ID = "vj-portal-snapshot"
LIVE_IDS = "#portal-case,#portal-signed-out-notice"
STYLE = (track_html.STYLE.replace("#vj-snapshot", f"#{SNAPSHOT_ID}").replace("#track-live,#track-invalid", LIVE_IDS)
         + f"\n#{SNAPSHOT_ID} #snapshot-timeline li{{display:block}}"
         + f"\n#{SNAPSHOT_ID} .vjs-when{{display:block;color:#484949;font-size:0.95rem}}"
         + f"\n#{SNAPSHOT_ID} .vjs-ref{{font-size:1.4rem;font-weight:700;margin:0}}")


def _p(text: str, cls: str = "", id_: str = "") -> str:
    return track_html._p(text, cls, id_)


# Once the live page is in, the snapshot goes from the document, not only from view: a page left open when the
# session ends (staff end access, it goes idle) then holds nothing of the case. Inside the custom element, which
# React never hydrates; allowed by the page's policy through its hash (rxapp/plumbing/edges.py).
REMOVE_WHEN_LIVE = (
    "<script>(function(){var s=document.getElementById('" + SNAPSHOT_ID + "');if(!s)return;"
    "var o=new MutationObserver(function(){if(document.querySelector('" + LIVE_IDS + "')){o.disconnect();"
    "s.remove();}});o.observe(document.body,{childList:true,subtree:true});})();</script>")


def _frame(lang: str, direction: str, title: str, inner: str) -> str:
    """The live page's frame (the force's name and crest), under this page's id and rules."""
    cfg = settings()
    style = STYLE.replace("PRIMARY", cfg.force_primary_colour).replace("ACCENT", cfg.force_accent_colour)
    framed = track_html._frame(lang, direction, title, inner, SNAPSHOT_ID, style)
    return framed[:-len("</vj-snapshot>")] + REMOVE_WHEN_LIVE + "</vj-snapshot>"


def _section(id_: str, heading: str, body: str) -> str:
    return f'<section id="snapshot-{id_}"><h2>{escape(heading)}</h2>{body}</section>'


def _list(items: list[str], cls: str = "") -> str:
    attrs = f' class="{cls}"' if cls else ""
    return f"<ul{attrs}>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"


def render_signed_out() -> str:
    """The one answer without a live session, whatever the reason."""
    en = languages.texts("en")
    inner = (f'<h1 id="snapshot-signed-out">{escape(en["case.signed_out_heading"])}</h1>'
             + _p(en["case.signed_out_text"])
             + f'<div class="vjs-danger"><h2>{escape(en["case.danger_heading"])}</h2>'
             + f'<a class="vjs-call" style="color:#942514" href="tel:999">{escape(en["case.call_999"])}</a>'
             + _p(en["case.danger_text"]) + "</div>"
             + f'<a class="vjs-call" href="tel:101">{escape(en["case.call_101"])}</a>')
    return _frame("en", "ltr", en["case.title"], inner)


def _support(view: dict) -> str:
    label = view["labels"]
    return _p(label["support_intro"]) + track_html.support_list(view["support"], label["support_web"])


def render_case(view: dict, now_clock: str) -> str:
    """The case page as `views.case_view` says it, as static HTML (every value escaped)."""
    label = view["labels"]
    parts = [f'<h1>{escape(label["title"])}</h1>',
             '<div class="vjs-box" id="snapshot-reference">' + _p(label["reference_heading"], "vjs-muted")
             + f'<p class="vjs-ref"><bdi>{escape(view["reference"])}</bdi></p>' + _p(label["reference_keep"])
             + "</div>",
             _p(view["reported"], id_="snapshot-reported"),
             _section("status", label["status_heading"], _p(view["status"], id_="snapshot-status")),
             _section("oic", label["oic_heading"], _p(view["oic"])),
             f'<div class="vjs-danger"><h2>{escape(label["danger_heading"])}</h2>'
             f'<a class="vjs-call" style="color:#942514" href="tel:999">{escape(label["call_999"])}</a>'
             + _p(label["danger_text"]) + "</div>"]
    steps = "".join(f'<li><span class="vjs-when">{escape(item["when"])}</span><strong>{escape(item["title"])}'
                    f"</strong>{_p(item['meaning'])}</li>" for item in view["timeline"])
    parts.append(f'<section id="snapshot-timeline-section"><h2>{escape(label["timeline_heading"])}</h2>'
                 + _p(label["timeline_order"] if view["timeline"] else label["timeline_empty"], "vjs-muted")
                 + f'<ol id="snapshot-timeline">{steps}</ol></section>')
    nexts = "".join(f"<li>{escape(item['text'])}" + (f' <span class="vjs-when">{escape(item["by"])}</span>'
                                                      if item["by"] else "") + "</li>" for item in view["next_steps"])
    parts.append(_section("next-steps", label["next_heading"], f"<ul>{nexts}</ul>" if nexts
                          else _p(label["next_empty"])))
    if view["right_to_review"]:
        parts.append(_section("right-to-review", label["review_heading"],
                              "".join(_p(line) for line in view["right_to_review"])))
    attendance = view["attendance"]
    if attendance:
        link = (f'<a class="vjs-call" href="{escape(attendance["url"])}">{escape(label["attendance_open"])}</a>'
                if attendance["url"] else _p(label["attendance_closed"], "vjs-muted"))
        parts.append(_section("attendance", label["attendance_heading"],
                              _p(attendance["status"]) + _p(attendance["when"], "vjs-muted") + link))
    parts.append(_section("rights", label["rights_heading"], _p(label["rights_intro"]) + _list(view["rights"])))
    if view["support"]:
        parts.append(_section("support", label["support_heading"], _support(view)))
    parts.append(_section("compensation", label["compensation_heading"], _list(view["compensation"])))
    parts.append(_section("complaints", label["complaints_heading"], _list(view["complaints"])))
    parts.append(_section("contact", label["contact_heading"], _p(label["contact_text"])
                          + f'<a class="vjs-call" href="tel:101">{escape(label["call_101"])}</a>'))
    parts.append(_p(track_html.words.say(view["lang"], "case.snapshot_note", time=now_clock), "vjs-muted",
                    "snapshot-note"))
    return _frame(view["lang"], view["dir"], label["title"], "".join(parts))


def snapshot_for_cookie(cookie_header: str) -> tuple[str, str, str, str]:
    """(snapshot HTML, lang, dir, title) for the session this cookie header carries, or the one signed-out answer."""
    who = identity_from_cookie_header(cookie_header or None)
    view = load_case_view(who) if who is not None else None
    if view is None:
        return render_signed_out(), "en-GB", "ltr", languages.text("en", "case.title")
    return render_case(view, london_time(utcnow())), view["lang"], view["dir"], view["labels"]["title"]


class CaseSnapshot(track_html.TrackSnapshot):
    """GET /portal/case with the case's snapshot; everything else passes through untouched."""

    path = PATH

    def snapshot(self, scope, match: re.Match) -> tuple[str, str, str, str]:
        cookies = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"cookie"]
        return snapshot_for_cookie("; ".join(cookies))


def case_snapshot(app) -> CaseSnapshot:
    """The `api_transformer` that adds the snapshot to the portal's case page."""
    return CaseSnapshot(app)
