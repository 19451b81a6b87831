"""Runs the real product for browser tests: a STORM simulator (a real WebSocket server, driven step by step
from the tests), `reflex run --env prod --single-port` on a temporary SQLite file, and Debian's Chromium
through Playwright. One app is built and shared by the whole module, as a build takes a while.

TEST_SCALE_OUT=1 runs the same app scaled out, as scripts/scale.sh does: on a PostgreSQL database of its own
(TEST_SCALE_PG_URL, default postgresql://postgres@127.0.0.1:5432/vj_scale_test, dropped and recreated), with
Redis (TEST_SCALE_REDIS_URL, default redis://127.0.0.1:6379/9, emptied first) and two backend workers on one
port: a page's socket lands on either worker, and the feed, the sender and the sweeps run in the one elected."""
from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.oidc.provider import Provider

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "integrations" / "storm" / "scenarios"
ARTIFACTS = ROOT / "test-artifacts"
SECRET = "browser-test-secret-0123456789abcdef012345"
STAFF_PASSWORD = "correct-horse-battery-staple"
SCALE_OUT = os.environ.get("TEST_SCALE_OUT") == "1"
SCALE_OUT_WORKERS = 2


def submit_sign_in(page, username: str, password: str = STAFF_PASSWORD) -> None:
    """Fill in and submit the sign-in form on the page now showing it, once the form is ready.

    The form is not ready when it first shows: its button stays disabled until the socket delivers the
    browser's form token, the username field is re-created (it is keyed on the remembered name) when that
    delivery lands, and the hidden `next` field (which page to go back to) is filled from the address only
    when the page's state arrives. After a redirect to /login?next=admin the token may already be there from
    the page before, so the button is enabled while `next` is still empty: a click then signs in and lands on
    the role's home page instead (test_administrators_see_dead_letters timed out waiting for /admin/feed).
    So wait for the button, and for `next` to say what the address says, then type, check what was typed
    is still there, and click."""
    from urllib.parse import parse_qs, urlsplit

    from playwright.sync_api import expect

    form = page.locator("form[action='/staff/login']")
    button = form.locator("button[type=submit]")
    expect(button).to_be_enabled(timeout=15000)
    wanted = parse_qs(urlsplit(page.url).query).get("next", [""])[0]
    if wanted:
        expect(form.locator("input[name=next]")).to_have_value(wanted, timeout=15000)
    page.fill("#username", username)
    page.fill("#password", password)
    expect(page.locator("#username")).to_have_value(username)
    expect(page.locator("#password")).to_have_value(password)
    button.click()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shifted_events(name: str, start: datetime) -> list[dict]:
    """A sample scenario with every time moved so that it begins at `start`."""
    lines = [json.loads(x) for x in (SCENARIOS / f"{name}.jsonl").read_text().splitlines() if x.strip()]
    t0 = datetime.fromisoformat(lines[0]["occurred_at"].replace("Z", "+00:00"))
    delta = start - t0

    def shift(value):
        if isinstance(value, dict):
            return {k: (_shift_time(v, delta) if k in ("occurred_at", "fix_at", "window_start", "window_end") and v
                        else shift(v)) for k, v in value.items()}
        return value

    return [shift(e) for e in lines]


def _shift_time(value: str, delta: timedelta) -> str:
    t = datetime.fromisoformat(value.replace("Z", "+00:00")) + delta
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class CuttableProxy:
    """A TCP proxy in front of the app, so a test can cut every browser connection as a network would."""

    def __init__(self, loop, target_port: int):
        self.loop, self.target_port = loop, target_port
        self.writers: set = set()
        self.port = None

    async def start(self):
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self.server = server

    async def _handle(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()
                self.writers.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> int:
        cut = 0
        for w in list(self.writers):
            w.transport.abort()
            cut += 1
        self.writers.clear()
        return cut


class Feed:
    """The simulator on its own event loop in a thread, so synchronous Playwright tests can drive it."""

    def __init__(self):
        from integrations.storm.simulator import StormSimulator

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sim = StormSimulator([], heartbeat_interval=5.0, token="browser-feed-token")
        self._call(self.sim.start("127.0.0.1", 0))

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def send(self, event: dict) -> int:
        async def _append():
            return self.sim.append_event(dict(event))

        return self._call(_append())

    def raw(self, text: str) -> None:
        async def _append():
            self.sim.append_raw(text)

        self._call(_append())

    def close(self):
        self._call(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)


def scale_out_environment() -> dict[str, str]:
    """TEST_SCALE_OUT=1: a fresh PostgreSQL database, an empty Redis database and two workers (module doc)."""
    import psycopg
    import redis
    from sqlalchemy.engine import make_url

    pg_url = os.environ.get("TEST_SCALE_PG_URL", "postgresql://postgres@127.0.0.1:5432/vj_scale_test")
    redis_url = os.environ.get("TEST_SCALE_REDIS_URL", "redis://127.0.0.1:6379/9")
    url = make_url(pg_url)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, connect_timeout=5, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{url.database}"')
    redis.Redis.from_url(redis_url, socket_connect_timeout=5).flushdb()
    return {"DATABASE_URL": pg_url, "REDIS_URL": redis_url, "GRANIAN_WORKERS": str(SCALE_OUT_WORKERS)}


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    from integrations.govuk_notify.simulator import (
        DEFAULT_EMAIL_TEMPLATE_ID,
        DEFAULT_SMS_TEMPLATE_ID,
        DEMO_API_KEY,
        NotifyServer,
    )

    data = tmp_path_factory.mktemp("app")
    port = _free_port()
    feed = Feed()
    callback_token = "browser-callback-token-0123456789"
    notify = NotifyServer(receipt_delay=0.1).start()
    proxy = CuttableProxy(feed.loop, port)
    feed._call(proxy.start())
    # Browsers reach the app through the proxy; only that address is an allowed websocket origin.
    base = f"http://localhost:{proxy.port}"
    # Staff may also sign in through a real OpenID provider (tests/oidc/provider.mjs; tests/browser/test_sso.py).
    oidc_provider = Provider([f"{base}/staff/oidc/callback"])
    env = dict(os.environ, **oidc_provider.env())
    env.update({
        "DATABASE_URL": f"sqlite:///{data / 'app.db'}", "VJ_DATA_DIR": str(data), "SECRET_KEY": SECRET,
        "PUBLIC_BASE_URL": base, "STORM_FEED_URL": feed.sim.url, "STORM_FEED_TOKEN": "browser-feed-token",
        # The tests play a scenario's hour in seconds, so its later events arrive stamped ahead of the wall clock:
        # the feed would refuse them as from the future (tests/test_feed_integrity.py covers that refusal).
        "STORM_CLOCK_SKEW_MINUTES": "1440",
        # The portal's tests read investigation updates and invitations (routine messages) from the local Notify
        # server, so they must not wait for 08:00 when CI runs at night; quiet hours are tested without a browser
        # (tests/test_domain_safety.py, tests/test_journey_service.py).
        "QUIET_HOURS": "off",
        "REFLEX_USE_SYSTEM_BUN": "1", "TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false",
        "PYTHONPATH": str(ROOT),
        "NOTIFY_API_KEY": DEMO_API_KEY, "NOTIFY_BASE_URL": notify.url, "NOTIFY_CALLBACK_TOKEN": callback_token,
        "NOTIFY_SMS_TEMPLATE_ID": DEFAULT_SMS_TEMPLATE_ID, "NOTIFY_EMAIL_TEMPLATE_ID": DEFAULT_EMAIL_TEMPLATE_ID,
    })
    if SCALE_OUT:
        env.update(scale_out_environment())
    # The account is made, and so the schema migrated, once, before any worker starts.
    subprocess.run([sys.executable, "-m", "rxapp.cli", "create-user", "control.one", "--role", "fcr",
                    "--name", "Control One", "--password-stdin"], input=STAFF_PASSWORD + "\n", text=True,
                   env=env, cwd=ROOT, check=True, capture_output=True)
    log = open(data / "reflex.log", "w")
    proc = subprocess.Popen(["reflex", "run", "--env", "prod", "--single-port", "--backend-port", str(port),
                             "--backend-host", "127.0.0.1"],
                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the app stopped while starting:\n" + (data / "reflex.log").read_text()[-4000:])
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200 and \
                    httpx.get(f"{base}/login", timeout=5, follow_redirects=True).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(1)
    else:
        raise RuntimeError("the app did not start in time:\n" + (data / "reflex.log").read_text()[-4000:])
    os.environ["DATABASE_URL"] = env["DATABASE_URL"]
    os.environ["SECRET_KEY"] = SECRET
    os.environ["VJ_DATA_DIR"] = str(data)
    from rxapp.plumbing import config, db

    config.reset_settings()
    db.dispose_all()
    notify.set_callbacks(delivery_url=f"http://127.0.0.1:{port}/notify/delivery-receipts",
                         received_text_url=f"http://127.0.0.1:{port}/notify/received-texts", token=callback_token)
    yield {"base": base, "feed": feed, "db_url": env["DATABASE_URL"], "log": data / "reflex.log",
           "cut": lambda: feed._call(proxy.cut()), "notify": notify, "oidc": oidc_provider}
    os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
    feed.close()
    notify.stop()
    oidc_provider.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


COUNTDOWN_TEST = "test_countdown.py"


def pytest_collection_modifyitems(session, config, items):
    """The countdown test last: its page is armed before every other browser test (`countdown`) and waits for the
    clock's next five-minute mark while they run."""
    items.sort(key=lambda item: item.nodeid.split("::")[0].endswith(COUNTDOWN_TEST))


@pytest.fixture(scope="session", autouse=True)
def countdown(request):
    """The countdown test's open page (tests/browser/test_countdown.py `arm_countdown`), armed by the session's
    first browser test when the countdown test is one of those collected; None otherwise."""
    if not any(item.nodeid.split("::")[0].endswith(COUNTDOWN_TEST) for item in request.session.items):
        return None
    from tests.browser.test_countdown import arm_countdown

    return arm_countdown(request.getfixturevalue("live_app"), request.getfixturevalue("browser"))


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
