"""OsrmRouter against a real (tiny) HTTP server speaking OSRM's route JSON."""
from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from integrations.routing import OsrmRouter
from rxapp.domain.eta import Router, RouteResult

ORIGIN = (54.529752, -1.234013)
DEST = (54.550003, -1.261992)

OK_BODY = {"code": "Ok", "routes": [{"duration": 412.3, "distance": 3871.4, "weight": 412.3,
                                     "legs": [{"duration": 412.3, "distance": 3871.4, "steps": []}]}],
           "waypoints": [{"location": [-1.234, 54.5297]}, {"location": [-1.262, 54.55]}]}


class FakeOsrm:
    """An OSRM lookalike on 127.0.0.1: `mode` picks the answer, `requests` records what was asked."""

    def __init__(self):
        self.mode = "ok"
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                fake.requests.append(self.path)
                mode = fake.mode
                if mode == "slow":
                    time.sleep(1.0)
                    return self._send(200, json.dumps(OK_BODY))
                if mode == "500":
                    return self._send(500, "internal error")
                if mode == "not_json":
                    return self._send(200, "<html>gateway</html>", "text/html")
                if mode == "no_route":
                    return self._send(400, json.dumps({"code": "NoRoute", "message": "Impossible route"}))
                if mode == "no_route_200":
                    return self._send(200, json.dumps({"code": "NoRoute", "routes": []}))
                if mode == "empty_routes":
                    return self._send(200, json.dumps({"code": "Ok", "routes": []}))
                if mode == "bad_duration":
                    return self._send(200, json.dumps({"code": "Ok", "routes": [{"duration": -1, "distance": 10}]}))
                if mode == "string_duration":
                    return self._send(200, json.dumps({"code": "Ok", "routes": [{"duration": "412", "distance": 10}]}))
                if mode == "list_body":
                    return self._send(200, "[]")
                return self._send(200, json.dumps(OK_BODY))

            def _send(self, status, body, content_type="application/json"):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def osrm():
    with FakeOsrm() as fake:
        yield fake


def route(router: OsrmRouter, origin=ORIGIN, dest=DEST):
    async def go():
        async with router:
            return await router.travel_time(origin, dest)
    return asyncio.run(go())


def test_is_a_router():
    assert isinstance(OsrmRouter("http://localhost:5000"), Router)


def test_route_ok_and_request_shape(osrm):
    result = route(OsrmRouter(osrm.url + "/"))
    assert result == RouteResult(seconds=412.3, metres=3871.4)
    assert len(osrm.requests) == 1
    parts = urlsplit(osrm.requests[0])
    # OSRM wants longitude first.
    assert parts.path == "/route/v1/driving/-1.234013,54.529752;-1.261992,54.550003"
    assert parse_qs(parts.query) == {"overview": ["false"]}


def test_base_url_with_a_path_prefix(osrm):
    result = route(OsrmRouter(osrm.url + "/osrm"))
    assert result is not None
    assert osrm.requests[0].startswith("/osrm/route/v1/driving/")


@pytest.mark.parametrize("mode", ["500", "not_json", "no_route", "no_route_200", "empty_routes", "bad_duration",
                                  "string_duration", "list_body"])
def test_bad_answers_give_none(osrm, mode, caplog):
    osrm.mode = mode
    with caplog.at_level(logging.DEBUG):
        assert route(OsrmRouter(osrm.url)) is None
    assert "OSRM route unavailable" in caplog.text


def test_timeout_gives_none_quickly(osrm):
    osrm.mode = "slow"
    started = time.perf_counter()
    assert route(OsrmRouter(osrm.url, timeout=0.2)) is None
    assert time.perf_counter() - started < 0.9


def test_connection_refused_gives_none():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on the port now.
    assert route(OsrmRouter(f"http://127.0.0.1:{port}", timeout=1.0)) is None


def test_bad_coordinates_give_none(osrm):
    assert route(OsrmRouter(osrm.url), origin=("north", None)) is None
    assert osrm.requests == []


def test_logs_never_contain_coordinates(osrm, caplog):
    with caplog.at_level(logging.DEBUG):
        assert route(OsrmRouter(osrm.url)) is not None
        osrm.mode = "500"
        assert route(OsrmRouter(osrm.url)) is None
    everything = caplog.text + " ".join(str(r.args) for r in caplog.records)
    for fragment in ("54.529752", "-1.234013", "54.550003", "-1.261992", "/route/v1/"):
        assert fragment not in everything


def test_failures_are_logged_at_most_once_a_minute(osrm, caplog):
    osrm.mode = "500"
    router = OsrmRouter(osrm.url)

    async def go():
        async with router:
            return [await router.travel_time(ORIGIN, DEST) for _ in range(5)]

    with caplog.at_level(logging.WARNING, logger="integrations.routing.osrm"):
        assert asyncio.run(go()) == [None] * 5
    assert sum("OSRM route unavailable" in r.getMessage() for r in caplog.records) == 1


def test_shared_client_is_left_open(osrm):
    async def go():
        async with httpx.AsyncClient() as client:
            router = OsrmRouter(osrm.url, client=client)
            first = await router.travel_time(ORIGIN, DEST)
            await router.aclose()
            assert not client.is_closed
            second = await router.travel_time(ORIGIN, DEST)
            return first, second

    first, second = asyncio.run(go())
    assert first == second == RouteResult(seconds=412.3, metres=3871.4)


@pytest.mark.parametrize("url,timeout", [("", 2.0), ("osrm.local:5000", 2.0), ("http://osrm", 0), ("http://osrm", -1)])
def test_bad_configuration_is_refused(url, timeout):
    with pytest.raises(ValueError):
        OsrmRouter(url, timeout=timeout)
