"""First visit to the victim portal's case page, signed in, on a slow phone: every byte it costs and how long until
the case's timeline shows.

As bench/page_weight.py (whose helpers this uses: the app in production mode from a throw-away copy of the project,
a counting proxy in front of it, Chromium with an empty cache under "Slow 3G" (400 kbit/s each way, 400 ms round
trip) and a CPU four times slower). The case is the records sample's burglary (integrations/niche/scenarios/
records-changes.json: recorded, referral, arrest, interview, release; the charge dated ahead is held), applied to the
app's database through the journey service; its victim is invited and signed in: a session row as sign-in makes
one, its token in the browser's `vj_victim` cookie.

Printed per run and as the median of --runs: bytes as received by type (compressed), the websocket's messages, the
proxy's totals; the time until the timeline is visible (the server-rendered snapshot's `#snapshot-timeline` or the
live page's `#timeline`, holding the first milestone's words), whether it came with the HTML, and the time until the
live page's `#timeline` shows it. Targets (issue 11): at most 300 KB compressed; timeline visible in under 5 s.

    python bench/portal.py [--runs 3] [--in-place | --git-ref REF] [--no-throttle] [--json out.json] [--keep]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import page_weight as pw  # noqa: E402  (sets the app's environment: SECRET_KEY, VJ_DATA_DIR, DATABASE_URL)

liveapp = pw.liveapp

FIRST_MILESTONE = "Your report was recorded as a crime"
SAMPLE = pw.ROOT / "integrations" / "niche" / "scenarios" / "records-changes.json"
BURGLARY = "26CL0041877"


def seed(db_url: str) -> str:
    """The sample burglary in the app's database, its victim invited and signed in; the session token."""
    from sqlmodel import select

    from integrations.niche.protocol import parse_change
    from rxapp.investigation.models import CaseVictim, Occurrence
    from rxapp.investigation.service import JourneyService
    from rxapp.plumbing import links
    from rxapp.plumbing.columns import utcnow
    from rxapp.plumbing.db import session_scope
    from rxapp.portal.invitations import live_invite, send_invitation
    from rxapp.portal.models import PortalSession

    changes = [parse_change(c, decoded=True) for c in json.loads(SAMPLE.read_text())["changes"]
               if c["occurrence_number"] == BURGLARY]
    for change in sorted(changes, key=lambda c: c.occurred_at):
        at = min(change.occurred_at + timedelta(minutes=1), utcnow())
        JourneyService(db_url, now=lambda at=at: at).apply_page([change], change.change_id)
    token = secrets.token_urlsafe(32)
    with session_scope(db_url) as s:
        occurrence = s.exec(select(Occurrence).where(Occurrence.occurrence_number == BURGLARY)).one()
        case_victim = s.exec(select(CaseVictim).where(CaseVictim.occurrence_id == occurrence.id)).first()
        invite = live_invite(s, case_victim.id) or send_invitation(s, occurrence, case_victim, utcnow())
        s.add(PortalSession(token_hash=links.token_hash(token), invite_id=invite.id, case_victim_id=case_victim.id,
                            created_at=utcnow(), last_seen_at=utcnow()))
    return token


class SignedInBrowser:
    """The browser, each new context of it holding the victim's session cookie (page_weight.one_visit makes one
    context per visit, with an empty cache)."""

    def __init__(self, browser, cookies: list[dict]):
        self.browser = browser
        self.cookies = cookies

    async def new_context(self, **kwargs):
        context = await self.browser.new_context(**kwargs)
        await context.add_cookies(self.cookies)
        return context


async def run(args) -> dict:
    from playwright.async_api import async_playwright

    feed = liveapp.Feed(pw.FEED_TOKEN)
    app = liveapp.LiveApp(pw._TMP, pw.SECRET, feed, pw.FEED_TOKEN, in_place=args.in_place, git_ref=args.git_ref)
    proxy = pw.CountingProxy(app.port)
    app.env["PUBLIC_BASE_URL"] = pw.proxy_base(proxy)
    results: dict = {"runs": []}
    try:
        await proxy.start()
        began = time.time()
        await asyncio.to_thread(app.start)
        print(f"  app started in {time.time() - began:.0f} s", flush=True)
        token = await asyncio.to_thread(seed, app.db_url)
        url = pw.proxy_base(proxy) + "/portal/case"
        cookie = {"name": "vj_victim", "value": token, "domain": liveapp.HOST, "path": "/", "httpOnly": True,
                  "sameSite": "Strict"}
        async with async_playwright() as playwright:
            chromium = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            browser = SignedInBrowser(chromium, [cookie])
            await pw.one_visit(browser, url, proxy, argparse.Namespace(**{**vars(args), "no_throttle": True}))  # warm
            for i in range(args.runs):
                visit = await pw.one_visit(browser, url, proxy, args)
                results["runs"].append(visit)
                print(f"  run {i + 1}: {pw.describe(visit)}".replace("status visible", "timeline visible"),
                      flush=True)
            await chromium.close()
    except BaseException:
        print(app.log_tail(3000), file=sys.stderr)
        raise
    finally:
        app.stop()
        feed.close()
        await proxy.stop()
    runs = results["runs"]
    times = [r["status_s"] for r in runs if r["status_s"] is not None]
    results["median_timeline_s"] = statistics.median(times) if len(times) == len(runs) else None
    lives = [r["live_s"] for r in runs if r["live_s"] is not None]
    results["median_live_s"] = statistics.median(lives) if len(lives) == len(runs) else None
    results["median_received_bytes"] = statistics.median(sum(r["by_type"].values()) for r in runs)
    results["median_everything_bytes"] = statistics.median(pw.everything(r) for r in runs)
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="first visits, each with an empty cache")
    parser.add_argument("--status-selector", default="#snapshot-timeline, #timeline",
                        help="where the timeline shows: the server-rendered snapshot's, the live page's")
    parser.add_argument("--live-selector", default="#timeline", help="the live page's timeline")
    parser.add_argument("--status-text", default=FIRST_MILESTONE)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the timeline")
    parser.add_argument("--no-throttle", action="store_true", help="no network or CPU throttling")
    parser.add_argument("--in-place", action="store_true", help="run the app from the project folder itself")
    parser.add_argument("--git-ref", default=None, help="run a committed version")
    parser.add_argument("--top", type=int, default=8, help="largest requests listed")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (app log, database)")
    args = parser.parse_args(argv)
    try:
        results = asyncio.run(run(args))
    finally:
        if args.keep:
            print(f"  kept {pw._TMP}")
        else:
            shutil.rmtree(pw._TMP, ignore_errors=True)
    last = results["runs"][-1]
    print("  largest requests (last run): " + "; ".join(
        f"{r['url'] or '/'} {r['type']} {pw.kb(r['bytes'])}{' ' + r['encoding'] if r['encoding'] else ''}"
        for r in last["requests"][:args.top]))
    shown, live = results["median_timeline_s"], results["median_live_s"]
    received = results["median_received_bytes"]
    print(f"  median of {len(results['runs'])}: first visit received {pw.kb(received)} "
          f"({'met' if received <= pw.KB_TARGET * 1000 else 'NOT met'}: at most {pw.KB_TARGET} KB); everything both "
          f"ways {pw.kb(results['median_everything_bytes'])}; timeline visible "
          + ("never" if shown is None else f"{shown:.2f} s")
          + f" ({'met' if shown is not None and shown < pw.SECONDS_TARGET else 'NOT met'}: under "
            f"{pw.SECONDS_TARGET:.0f} s); live timeline " + ("never" if live is None else f"{live:.2f} s"))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return results


if __name__ == "__main__":
    main()
