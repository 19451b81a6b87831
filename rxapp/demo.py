"""`make demo`: the product with demo data on a SQLite file, fed by the STORM simulator over a real
WebSocket, and by the NICHE records simulator serving eight simulated investigations over HTTP (what
happened before today at once, the rest one simulated day every `--day-seconds`). Prints the addresses to open.

The STORM simulator loops: the sample scenarios and the demo's own (one misses its target) start one after
another, `DEMO_STAGGER` of simulated time apart, again and again under fresh references, for as long as the
demo runs. Its clock runs `--speed` times faster than real time from the moment the demo starts, and the
product judges live attendance on that same clock (DEMO_SPEED and DEMO_EPOCH, see
rxapp/attendance/targets.py): targets, windows and the board's times are the real rules, in simulated time.
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from integrations.govuk_notify.simulator import (
    DEFAULT_EMAIL_TEMPLATE_ID,
    DEFAULT_SMS_TEMPLATE_ID,
    DEMO_API_KEY,
)
from rxapp.plumbing.portal_settings import DEFAULT_CRIME_TYPES

ROOT = Path(__file__).resolve().parent.parent
DEMO_STAGGER = timedelta(minutes=8)  # simulated time between one scenario's start and the next's
# The incidents the simulated investigations continue (integrations/niche/investigations.py).
CONTINUED_URNS = {"CLE-20261120-0142", "CLE-20261120-0203", "CLE-20261120-0230"}
DEMO_TEAMS = ("Middlesbrough CID", "Stockton Neighbourhood Policing Team", "Redcar Investigation Hub",
              "Middlesbrough Response Team C", "Hartlepool Safeguarding", "Stockton CID",
              "Redcar Neighbourhood Policing Team")


@lru_cache(maxsize=1)
def _portal_code_patterns() -> list[re.Pattern]:
    """The portal code message in every language, with the code as a group, to pick codes out of the texts."""
    from rxapp.domain.templates import load_templates

    body = load_templates()["portal_code"].body
    return [re.compile(re.escape(text).replace(re.escape("((code))"), r"(\d{6})")) for text in body.values()]


def _print_new_texts(port: int, shown: set[str]) -> set[str]:
    """Show each text the local Notify server 'sent', so the demo's texts can be read in the terminal, and a
    portal sign-in code on a line of its own."""
    import httpx

    try:
        sent = httpx.get(f"http://127.0.0.1:{port}/_control/notifications", timeout=2).json()
    except Exception:
        return shown
    items = sent.get("notifications", sent) if isinstance(sent, dict) else sent
    for n in items:
        if n.get("id") not in shown:
            shown.add(n.get("id"))
            print(f"  Text to {n.get('to')}: {n.get('body')}", flush=True)
            code = next((m.group(1) for p in _portal_code_patterns() if (m := p.search(n.get("body") or ""))), None)
            if code:
                print(f"Portal code: {code}", flush=True)
    return shown


def _print_new_invitations(base: str, shown: set[int]) -> set[int]:
    """Each live portal invitation's link, once, with its case's crime reference (for the demo only: a real
    deployment never shows or logs a link)."""
    from sqlmodel import select

    from rxapp.investigation.models import CaseVictim, Occurrence
    from rxapp.plumbing.db import session_scope
    from rxapp.plumbing.links import derive_portal_token
    from rxapp.portal.models import PortalInvite

    try:
        with session_scope(readonly=True) as session:
            rows = session.exec(select(PortalInvite.id, PortalInvite.link_nonce, Occurrence.crime_reference)
                                .join(CaseVictim, CaseVictim.id == PortalInvite.case_victim_id)
                                .join(Occurrence, Occurrence.id == CaseVictim.occurrence_id)
                                .where(PortalInvite.revoked_at == None)).all()  # noqa: E711
    except Exception:
        return shown
    for invite_id, nonce, reference in rows:
        if invite_id not in shown:
            shown.add(invite_id)
            print(f"Portal invitation for {reference or 'a case'}: {base}/portal/start/{derive_portal_token(nonce)}",
                  flush=True)
    return shown


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Victim Journey demo")
    parser.add_argument("--speed", type=float, default=10.0, help="simulated minutes per real minute")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--feed-port", type=int, default=8765)
    parser.add_argument("--notify-port", type=int, default=8766)
    parser.add_argument("--records-port", type=int, default=8767)
    parser.add_argument("--day-seconds", type=float, default=20.0,
                        help="real seconds per simulated day of the investigations")
    parser.add_argument("--seed", type=int, help="the same dispatch feed every run")
    parser.add_argument("--database-url", help="an empty PostgreSQL database instead of the SQLite file "
                        "(scripts/scale.sh: several workers, with REDIS_URL)")
    args = parser.parse_args(argv)
    if not 0.1 <= args.speed <= 1000:
        parser.error("--speed must be between 0.1 and 1000")
    if args.day_seconds <= 0:
        parser.error("--day-seconds must be above 0")
    for port in (args.port, args.feed_port, args.notify_port, args.records_port):
        if not _free(port):
            parser.error(f"port {port} is in use: stop what uses it or pass another port")

    data = ROOT / "data" / "demo"
    data.mkdir(parents=True, exist_ok=True)
    db = data / "demo.db"
    for leftover in data.glob("demo.db*"):
        leftover.unlink()
    base = f"http://localhost:{args.port}"
    epoch = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    env = dict(os.environ)
    env.update({
        # The demo's clock, shared by the STORM simulator and the product.
        "DEMO_SPEED": f"{args.speed:g}", "DEMO_EPOCH": epoch,
        "DATABASE_URL": args.database_url or f"sqlite:///{db}",
        "VJ_DATA_DIR": str(data),
        "PUBLIC_BASE_URL": base,
        "STORM_FEED_URL": f"ws://127.0.0.1:{args.feed_port}/feed",
        "STORM_FEED_TOKEN": secrets.token_urlsafe(24),
        "REFLEX_USE_SYSTEM_BUN": "1", "TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false",
        # Texts go to the local Notify-compatible server, which answers and sends receipts like Notify.
        "NOTIFY_API_KEY": DEMO_API_KEY, "NOTIFY_BASE_URL": f"http://127.0.0.1:{args.notify_port}",
        "NOTIFY_SMS_TEMPLATE_ID": DEFAULT_SMS_TEMPLATE_ID, "NOTIFY_EMAIL_TEMPLATE_ID": DEFAULT_EMAIL_TEMPLATE_ID,
        "NOTIFY_CALLBACK_TOKEN": secrets.token_urlsafe(24),
        "NICHE_FEED_URL": f"http://127.0.0.1:{args.records_port}",
        "NICHE_FEED_TOKEN": secrets.token_urlsafe(24),
        "NICHE_POLL_SECONDS": "5", "DEADLINE_SWEEP_SECONDS": "10",
        # The demo's force offers the portal for the default crime types and violence against the person (8...),
        # so the assault and domestic abuse victims are invited too (the latter once safe contact is confirmed).
        "PORTAL_CRIME_TYPES": ",".join(DEFAULT_CRIME_TYPES + ("8",)),
    })
    os.environ.update(env)

    from rxapp.plumbing.db import migrate, session_scope
    from rxapp.staff.accounts import create_user

    migrate()
    password = secrets.token_urlsafe(12)
    with session_scope() as session:
        create_user(session, "fcr.demo", password, "fcr", "Demo controller")
        officer = create_user(session, "oic.demo", password, "officer", "Demo officer")
        # Access is per case: the officer in charge of the burglary, and a supervisor over every team the
        # simulated investigations belong to.
        officer.collar_number, officer.team = "PC 4127", "Middlesbrough CID"
        supervisor = create_user(session, "supervisor.demo", password, "supervisor", "Demo supervisor")
        supervisor.team = "; ".join(DEMO_TEAMS)

    notify = subprocess.Popen([sys.executable, "-m", "integrations.govuk_notify.simulator", "--port",
                               str(args.notify_port), "--api-key", DEMO_API_KEY,
                               "--callback-url", f"{base}/notify/delivery-receipts",
                               "--received-text-callback-url", f"{base}/notify/received-texts",
                               "--callback-token", env["NOTIFY_CALLBACK_TOKEN"]], env=env, cwd=ROOT)
    sim_cmd = [sys.executable, "-m", "integrations.storm.simulator", "--port", str(args.feed_port),
               "--speed", f"{args.speed:g}", "--token", env["STORM_FEED_TOKEN"], "--loop", "--epoch", epoch,
               "--stagger", str(DEMO_STAGGER.total_seconds())]
    sim = subprocess.Popen(sim_cmd + (["--seed", str(args.seed)] if args.seed is not None else []), env=env, cwd=ROOT)
    records_cmd = [sys.executable, "-m", "integrations.niche.simulator", "--port", str(args.records_port),
                   "--token", env["NICHE_FEED_TOKEN"], "--investigations", "--time-scale",
                   str(86400 / args.day_seconds)]
    records = None  # started once the attendances exist, so the crimes that continue them find them
    web = subprocess.Popen(["reflex", "run", "--env", "prod", "--single-port", "--backend-port", str(args.port)],
                           env=env, cwd=ROOT)

    def stop(*_):
        running = [p for p in (web, sim, notify, records) if p is not None]
        for proc in running:
            if proc.poll() is None:
                proc.terminate()
        for proc in running:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    from sqlmodel import select

    from rxapp.attendance.models import Incident
    from rxapp.attendance.targets import attendance_now
    from rxapp.domain.attendance import london_time
    from rxapp.plumbing.links import derive_token

    printed: set[str] = set()
    shown_texts: set[str] = set()
    shown_invites: set[int] = set()
    print(f"\nStarting… the board will be at {base}/board (sign in as fcr.demo, password {password})"
          f"\nInvestigations: {base}/cases (sign in as oic.demo or supervisor.demo, same password)"
          f"\nThe dispatch feed never runs out: a new incident every {DEMO_STAGGER.seconds // 60} minutes of the "
          f"demo's clock, which runs {args.speed:g} times faster than real time (the board and victims' pages "
          f"show its time, {london_time(attendance_now())} now)\n", flush=True)
    while True:
        if any(p is not None and p.poll() is not None for p in (web, sim, notify, records)):
            print("a demo process stopped; shutting down", file=sys.stderr)
            stop()
        try:
            with session_scope() as session:
                rows = session.exec(select(Incident.urn, Incident.link_nonce, Incident.category)).all()
        except Exception:
            rows = []
        if records is None and CONTINUED_URNS <= {urn for urn, _, _ in rows}:
            print("Starting the simulated investigations (records feed)…", flush=True)
            records = subprocess.Popen(records_cmd, env=env, cwd=ROOT)
        for urn, nonce, category in rows:
            if urn not in printed:
                printed.add(urn)
                print(f"Victim page for {urn} ({category.replace('_', ' ').lower()}): "
                      f"{base}/track/{derive_token(nonce)}", flush=True)
        shown_texts = _print_new_texts(args.notify_port, shown_texts)
        shown_invites = _print_new_invitations(base, shown_invites)
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
