"""What keeps a victim's first visit light (bench/page_weight.py measures it): no page pulls in Radix Themes, scripts
and styles are built with brotli copies, and pages still go out in an encoding the edge guard can hash."""
from __future__ import annotations

import asyncio

from rxapp.plumbing.edges import EdgeGuard


def test_no_page_uses_radix_themes():
    """One Radix Themes component on any page makes Reflex send its whole stylesheet (83 KB compressed) and its
    layout scripts with every page; the frame and the pages use plain elements (rxapp/ui/layout.py)."""
    from rxapp.rxapp import app

    offenders = {}
    for route, unevaluated in app._unevaluated_pages.items():
        libraries = unevaluated.component()._get_all_imports()
        radix = sorted(lib for lib in libraries if "@radix-ui/themes" in lib)
        if radix:
            offenders[route] = radix
    assert len(app._unevaluated_pages) >= 9
    assert offenders == {}, f"pages that pull in Radix Themes (use rx.el.*, layout.row/spacer): {offenders}"


def test_scripts_and_styles_are_built_brotli_and_gzip():
    import rxconfig

    assert rxconfig.config.frontend_compression_formats == ["brotli", "gzip"]


def _encoding_seen(path: str, accept: bytes) -> bytes | None:
    seen = {}

    async def app(scope, receive, send):
        seen["accept"] = dict(scope["headers"]).get(b"accept-encoding")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    scope = {"type": "http", "method": "GET", "path": path, "headers": [
        (b"host", b"localhost"), (b"accept-encoding", accept)], "extensions": {}}
    asyncio.run(EdgeGuard(app)(scope, receive, send))
    return seen["accept"]


def test_pages_are_asked_for_gzip_at_most_and_files_as_the_browser_asked():
    # A page's inline scripts are hashed into its policy: the guard can undo gzip, not brotli or zstd.
    assert _encoding_seen("/track/abc", b"gzip, deflate, br, zstd") == b"gzip"
    assert _encoding_seen("/login", b"br;q=1.0, gzip;q=0.8") == b"gzip;q=0.8"
    assert _encoding_seen("/board", b"br") is None
    assert _encoding_seen("/assets/entry.client-x.js", b"gzip, deflate, br, zstd") == b"gzip, deflate, br, zstd"
