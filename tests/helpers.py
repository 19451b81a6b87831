"""Test helpers: load sample scenarios as parsed events and take comparable snapshots of the database."""
from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import select

from integrations.storm.protocol import parse_frame
from rxapp.attendance.models import Assignment, Incident, IncidentStep, ResourceFix
from rxapp.feeds.models import DeadLetter, FeedCursor
from rxapp.plumbing.db import session_scope

SCENARIOS = Path(__file__).resolve().parent.parent / "integrations" / "storm" / "scenarios"


def scenario_lines(name: str) -> list[str]:
    return [line for line in (SCENARIOS / f"{name}.jsonl").read_text().splitlines() if line.strip()]


def renumbered(names: list[str]) -> list[str]:
    """Several scenarios as one stream, merged by time and renumbered from seq 1, as a simulator plays them."""
    events = [json.loads(line) for name in names for line in scenario_lines(name)]
    events.sort(key=lambda e: e["occurred_at"])
    for i, e in enumerate(events, start=1):
        e["seq"] = i
    return [json.dumps(e) for e in events]


def parsed(lines: list[str]):
    return [parse_frame(line) for line in lines]


def snapshot(db_url: str) -> dict:
    """Everything a person could see or the feed depends on, minus wall-clock bookkeeping."""
    with session_scope(db_url) as s:
        incidents = [
            {k: v for k, v in i.model_dump().items() if k not in ("updated_at", "id", "victim_id", "link_nonce", "link_token_hash")}
            for i in s.exec(select(Incident).order_by(Incident.urn))
        ]
        assignments = [(a.callsign, a.state, a.active, a.unassign_reason, a.status_code)
                       for a in s.exec(select(Assignment).order_by(Assignment.callsign, Assignment.assigned_at))]
        steps = [(st.kind, st.at, st.text, st.public) for st in s.exec(select(IncidentStep).order_by(IncidentStep.id))]
        fixes = [(f.callsign, f.lat, f.lon, f.fix_at) for f in s.exec(select(ResourceFix).order_by(ResourceFix.callsign))]
        cursor = s.get(FeedCursor, "storm")
        dead = [(d.seq, d.reason) for d in s.exec(select(DeadLetter).order_by(DeadLetter.id))]
    return {"incidents": incidents, "assignments": assignments, "steps": sorted(steps, key=repr), "fixes": fixes,
            "cursor": cursor.last_seq if cursor else 0, "dead": dead}


def shifted(names: list[str], end_at) -> list[str]:
    """Scenarios renumbered as one stream and moved in time so that the last event happens at `end_at`."""
    from datetime import datetime

    events = [json.loads(line) for line in renumbered(names)]
    last = max(datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")) for e in events)
    delta = end_at - last

    def move(value):
        if isinstance(value, dict):
            return {k: (_moved(v, delta) if k in ("occurred_at", "fix_at", "window_start", "window_end") and v
                        else move(v)) for k, v in value.items()}
        return value

    return [json.dumps(move(e)) for e in events]


def _moved(value: str, delta) -> str:
    from datetime import datetime

    return (datetime.fromisoformat(value.replace("Z", "+00:00")) + delta).isoformat()


class AppApiServer:
    """The product's own HTTP routes (callbacks included) served by uvicorn in a thread, for integration tests."""

    def __init__(self):
        import socket
        import threading

        import uvicorn

        from rxapp.plumbing.http import api

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(api, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        import time

        while not self.server.started:
            time.sleep(0.01)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=5)
