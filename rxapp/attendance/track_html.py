"""The victim's page without JavaScript: the HTML answered for GET `/track/<link>` carries the page as it is at the
moment of the request (status, window, what to do, history), rendered here on the server, escaped, in the
victim's language. It is visible before the app's JavaScript has arrived (on a slow phone line that takes
seconds) and is all there is without JavaScript.

How: an ASGI middleware (installed in rxapp/rxapp.py inside the edge guard, so the guard's policy and script
hashes are worked out on the page as sent) asks the app for the plain page, puts the snapshot in as the first
thing in <body>, and compresses the result itself when the browser accepts gzip. The snapshot is a custom
element (`<vj-snapshot>`), which React never renders, so hydration skips it and leaves it in place; a rule in its
own <style> hides it, and hides the app's frame until then, as soon as the live page is in the document
(`#track-live` or `#track-invalid`, rxapp/attendance/track_page.py). The answer is never cached (`no-store`): it
is this moment's status, and the browser's conditional headers are not passed on, so no stale copy is revived.

A link that is malformed, unknown or expired gets one and the same answer (in English, since it cannot know
whose language), after the same look-up the live page does. The link is never written to the log.
"""
from __future__ import annotations

import asyncio
import gzip
import logging
import re
from html import escape
from typing import Callable, Optional

from rxapp import languages
from rxapp.attendance import track_words as words
from rxapp.attendance.targets import attendance_now
from rxapp.attendance.views import victim_view_for_link
from rxapp.compliance.counter import TRACKING_VISIT, count_today
from rxapp.domain.attendance import london_time
from rxapp.plumbing.config import settings

log = logging.getLogger(__name__)

PATH = re.compile(r"^/track/([^/]*)/?$")
_BODY = re.compile(rb"<body[^>]*>", re.I)
_HTML_LANG = re.compile(rb'<html lang="[^"]*"', re.I)
DROPPED_REQUEST_HEADERS = (b"accept-encoding", b"if-none-match", b"if-modified-since", b"range")
DROPPED_ANSWER_HEADERS = (b"content-length", b"content-encoding", b"etag", b"last-modified", b"cache-control",
                          b"accept-ranges", b"vary")
MAX_PAGE = 1024 * 1024

STYLE = """
body:has(#vj-snapshot):not(:has(#track-live,#track-invalid))>:not(#vj-snapshot){display:none}
body:has(#track-live,#track-invalid) #vj-snapshot{display:none}
#vj-snapshot{display:block;font-family:system-ui,-apple-system,'Segoe UI',Arial,sans-serif;line-height:1.5;
 color:#0b0c0c;background:#fff}
#vj-snapshot .vjs-head{background:PRIMARY;color:#fff;padding:0.75rem 1rem;border-bottom:6px solid ACCENT}
#vj-snapshot .vjs-brand{display:flex;align-items:center;gap:0.6rem;font-weight:700}
#vj-snapshot .vjs-crest{height:2.5rem;width:auto}
#vj-snapshot .vjs-head p{margin:0.2rem 0 0;font-size:0.95rem}
#vj-snapshot main{max-width:40rem;margin:0 auto;padding:1rem}
#vj-snapshot h1{font-size:1.75rem;margin:0.25rem 0 0.5rem;line-height:1.2}
#vj-snapshot h2{font-size:1.2rem;margin:1.25rem 0 0.25rem}
#vj-snapshot .vjs-window{border:3px solid ACCENT;padding:0.75rem 1rem;margin:1rem 0}
#vj-snapshot .vjs-window .vjs-clock{font-size:1.6rem;font-weight:700;margin:0.1rem 0}
#vj-snapshot .vjs-muted{color:#484949;margin:0}
#vj-snapshot .vjs-box{border:2px solid #0b0c0c;padding:0.75rem 1rem;margin:1rem 0}
#vj-snapshot .vjs-danger{border-inline-start:6px solid #d4351c;padding:0.75rem 1rem;background:#fdf2f0;margin:1.25rem 0}
#vj-snapshot .vjs-call{display:inline-block;font-weight:700;font-size:1.15rem;padding:0.5rem 0.9rem;margin:0.25rem 0;
 border:2px solid currentColor;border-radius:4px;text-decoration:none}
#vj-snapshot ol{list-style:none;padding:0;margin:0}
#vj-snapshot ol li{padding:0.45rem 0;border-bottom:1px solid #b1b4b6;display:flex;gap:0 0.75rem;flex-wrap:wrap}
#vj-snapshot ol li>span{flex:1 1 12rem;min-width:0}
#vj-snapshot ul{padding-inline-start:1.25rem}
#vj-snapshot li{margin:0.3rem 0}
#vj-snapshot ul.vjs-plain{list-style:none;padding:0}
#vj-snapshot[lang=ur]{font-family:'Noto Nastaliq Urdu','Noto Naskh Arabic','Urdu Typesetting',system-ui,sans-serif;
 line-height:1.9}
#vj-snapshot[lang=ar]{font-family:'Noto Naskh Arabic','Geeza Pro','Arabic Typesetting',system-ui,sans-serif}
""".strip()


def _p(text: str, cls: str = "", id_: str = "") -> str:
    attrs = (f' class="{cls}"' if cls else "") + (f' id="{id_}"' if id_ else "")
    return f"<p{attrs}>{escape(text)}</p>"


def _style() -> str:
    """The snapshot's stylesheet in the force's colours (checked in rxapp/plumbing/branding.py)."""
    cfg = settings()
    return STYLE.replace("PRIMARY", cfg.force_primary_colour).replace("ACCENT", cfg.force_accent_colour)


def _frame(lang: str, direction: str, title: str, inner: str, snapshot_id: str = "vj-snapshot",
           style: str = "") -> str:
    cfg = settings()
    crest = f'<img class="vjs-crest" src="/{escape(cfg.force_crest)}" alt="">' if cfg.force_crest else ""
    head = (f'<div class="vjs-head"><div class="vjs-brand">{crest}<span>{escape(cfg.force_name)}</span></div>'
            f'<p>{escape(title)}</p></div>')
    return (f'<vj-snapshot id="{snapshot_id}" lang="{escape(lang)}" dir="{escape(direction)}">'
            f'<style>{style or _style()}</style>'
            f"{head}<main>{inner}</main></vj-snapshot>")


def support_list(contacts: list[dict], web_label: str) -> str:
    """Support services as a list: name, what they do, tap-to-call and their website (every value escaped).
    Shared with the portal's case page (rxapp/portal/case_html.py)."""
    items = []
    for contact in contacts:
        links = ""
        if contact["tel"]:
            links += f'<a href="{escape(contact["tel"])}">{escape(contact["call"])}</a> '
        if contact["url"]:
            links += f'<a href="{escape(contact["url"])}" rel="noopener">{escape(web_label)}</a>'
        items.append(f"<li><strong>{escape(contact['name'])}</strong>"
                     + (_p(contact["about"]) if contact["about"] else "") + links + "</li>")
    return '<ul class="vjs-plain">' + "".join(items) + "</ul>"


def render_invalid() -> str:
    """The one answer to every link that does not open an attendance, whatever the reason."""
    en = languages.texts("en")
    inner = (f'<h1 id="snapshot-status">{escape(en["page.invalid_heading"])}</h1>'
             + _p(en["page.invalid_ttl"]) + _p(en["page.invalid_help"]))
    return _frame("en", "ltr", en["page.title"], inner)


def render_view(view: dict, now_clock: str) -> str:
    """The page as `views.victim_view` says it, as static HTML (every value escaped)."""
    label = view["labels"]
    parts = [f'<h1 id="snapshot-status">{escape(view["status_label"])}</h1>']
    parts += [_p(line) for line in view["explain"]]
    if view["eta_text"]:
        parts.append('<div class="vjs-window">' + _p(label["page.expected_arrival"], "vjs-muted")
                     + _p(view["eta_clock"], "vjs-clock", "snapshot-window") + _p(view["eta_text"])
                     + (_p(label["page.stale_window"], "vjs-muted") if view["eta_stale"] else "") + "</div>")
    if view["crime_reference"]:
        parts.append('<div class="vjs-box">' + _p(label["page.crime_reference"], "vjs-muted")
                     + f'<p style="font-size:1.4rem;font-weight:700;margin:0"><bdi>{escape(view["crime_reference"])}'
                     + "</bdi></p>" + _p(label["page.keep_reference"]) + "</div>")
    parts.append(_p(words.say(view["lang"], "page.snapshot", time=now_clock), "vjs-muted", "snapshot-note"))
    parts.append(f'<div class="vjs-danger"><h2>{escape(label["danger.heading"])}</h2>'
                 f'<a class="vjs-call" style="color:#942514" href="tel:999">{escape(label["danger.call"])}</a>'
                 + _p(label["danger.silent"]) + _p(label["danger.text"]) + "</div>")
    if view["advice"]:
        parts.append(f'<h2>{escape(label["advice.heading"])}</h2><ul>'
                     + "".join(f"<li>{escape(item)}</li>" for item in view["advice"]) + "</ul>")
    if view["after"]:
        parts.append(f'<h2>{escape(label["after.heading"])}</h2>' + "".join(_p(item) for item in view["after"]))
    if view.get("portal_url"):
        parts.append('<div class="vjs-window" id="snapshot-portal-offer">' + _p(label["after.portal_text"])
                     + f'<a class="vjs-call" href="{escape(view["portal_url"])}">{escape(label["after.portal_open"])}'
                     + "</a></div>")
    if view["support"]:
        parts.append(f'<h2>{escape(label["after.support_heading"])}</h2>' + _p(label["after.support_intro"])
                     + support_list(view["support"], label["after.support_web"]))
    parts.append(f'<h2>{escape(label["page.history"])}</h2><ol>' + "".join(
        f'<li><strong>{"" if step["today"] else escape(step["day"]) + " "}<bdi>{escape(step["time"])}</bdi></strong>'
        f'<span>{escape(step["text"])}</span></li>' for step in view["steps"]) + "</ol>")
    parts.append(f'<h2>{escape(label["contact.heading"])}</h2>' + _p(label["contact.text"])
                 + f'<a class="vjs-call" href="tel:101">{escape(label["contact.call"])}</a>'
                 + _p(label["page.privacy"], "vjs-muted"))
    return _frame(view["lang"], view["dir"], label["page.title"], "".join(parts))


def snapshot_for_link(token: str) -> tuple[str, str, str, str]:
    """(snapshot HTML, lang, dir, title) for a link: the attendance's page now, or the one "not valid" answer."""
    _, view = victim_view_for_link(token)
    if view is None:
        return render_invalid(), "en-GB", "ltr", languages.text("en", "page.title")
    count_today(TRACKING_VISIT)  # the compliance view's demand: a number for the day, never the link
    return render_view(view, london_time(attendance_now())), view["lang"], view["dir"], view["labels"]["page.title"]


def insert_snapshot(page: bytes, snapshot: str, lang: str, direction: str, title: str = "") -> bytes:
    """The page with the snapshot as the first thing in its body, its language on <html>, and a <title> when it
    has none (the app sets its own once it runs; before, and without JavaScript, the page still needs one)."""
    found = _BODY.search(page)
    if found is None:
        return page
    page = page[:found.end()] + snapshot.encode() + page[found.end():]
    head_end = page.find(b"</head>")
    if title and head_end >= 0 and b"<title" not in page[:head_end]:
        page = page[:head_end] + f"<title>{escape(title)}</title>".encode() + page[head_end:]
    return _HTML_LANG.sub(f'<html lang="{escape(lang)}" dir="{escape(direction)}"'.encode(), page, count=1)


def _header(headers, name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), "")


class TrackSnapshot:
    """The ASGI middleware described above; everything but GET /track/<link> passes through untouched.
    (rxapp/portal/case_html.py is the same for the portal's case page, with its own `path` and `snapshot`.)"""

    path = PATH

    def __init__(self, app: Callable):
        self.app = app

    def snapshot(self, scope, match: re.Match) -> tuple[str, str, str, str]:
        """(snapshot HTML, lang, dir, title) for this request; run in a worker thread."""
        return snapshot_for_link(match.group(1))

    async def __call__(self, scope, receive, send):
        match = self.path.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        accepts_gzip = "gzip" in _header(scope["headers"], b"accept-encoding").lower()
        inner = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() not in DROPPED_REQUEST_HEADERS],
                 "extensions": {k: v for k, v in (scope.get("extensions") or {}).items()
                                if k != "http.response.pathsend"}}
        start: Optional[dict] = None
        chunks: list[bytes] = []

        async def collect(message):
            nonlocal start
            if message["type"] == "http.response.start":
                start = dict(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(inner, receive, collect)
        if start is None:
            return
        body = b"".join(chunks)
        headers = start.get("headers", [])
        if start["status"] == 200 and _header(headers, b"content-type").startswith("text/html") \
                and not _header(headers, b"content-encoding") and len(body) <= MAX_PAGE:
            try:
                snapshot, lang, direction, title = await asyncio.to_thread(self.snapshot, scope, match)
                body = insert_snapshot(body, snapshot, lang, direction, title)
            except Exception:  # the live page still works; never name the link
                log.exception("the victim page's snapshot could not be made")
            headers = [(k, v) for k, v in headers if k.lower() not in DROPPED_ANSWER_HEADERS]
            headers += [(b"cache-control", b"no-store"), (b"vary", b"Accept-Encoding")]
            if accepts_gzip:
                body = gzip.compress(body, 6)
                headers.append((b"content-encoding", b"gzip"))
            headers.append((b"content-length", str(len(body)).encode()))
            start["headers"] = headers
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})


def track_snapshot(app: Callable) -> TrackSnapshot:
    """The `api_transformer` that adds the snapshot to the victim's page."""
    return TrackSnapshot(app)
