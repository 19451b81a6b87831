"""Drive times from an OSRM server (Open Source Routing Machine), as a `rxapp.domain.eta.Router`.

Uses OSRM's HTTP route service: `GET {base}/route/v1/driving/{lon},{lat};{lon},{lat}?overview=false`,
reading `routes[0].duration` (seconds) and `routes[0].distance` (metres). Any failure (timeout, refused
connection, HTTP error, unexpected JSON, no route) returns None so that the caller falls back to the
straight-line model: a routing engine may make the window better, never make it missing.

Officers' positions are operationally sensitive (forces withhold them under FOI s.31), so nothing here
logs coordinates or the request URL, and httpx's own INFO line for each request (which carries the URL)
is filtered out for route requests.

OSRM's car profile assumes ordinary driving within speed limits, so for emergency (blue-light) journeys
its durations run long; that errs towards a later window, which is the safer mistake.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Optional

import httpx

from rxapp.domain.eta import RouteResult
from rxapp.domain.geo import LatLon

log = logging.getLogger(__name__)

_ROUTE_PATH = "/route/v1/"


class _DropRouteUrls(logging.Filter):
    """Drops httpx's per-request log line for OSRM route calls: its URL holds a vehicle's position."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        return not any(_ROUTE_PATH in str(a) for a in args) and _ROUTE_PATH not in str(record.msg)


_httpx_filter_installed = False


def _install_httpx_filter() -> None:
    global _httpx_filter_installed
    if not _httpx_filter_installed:
        logging.getLogger("httpx").addFilter(_DropRouteUrls())
        _httpx_filter_installed = True


class OsrmRouter:
    """`Router` backed by an OSRM server at `base_url` (e.g. "http://osrm.force.local:5000").

    Pass `client` to share an `httpx.AsyncClient` (it is then yours to close); otherwise one is created on
    first use and closed by `aclose()` or `async with`.
    """

    # At most one failure warning per this many seconds: with the engine down, every fix would fail.
    LOG_EVERY_S = 60.0

    def __init__(self, base_url: str, timeout: float = 2.0, client: Optional[httpx.AsyncClient] = None,
                 profile: str = "driving"):
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ValueError("ROUTING_URL must be an http:// or https:// address of an OSRM server")
        if not timeout > 0:
            raise ValueError("the OSRM timeout must be a positive number of seconds")
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self.profile = profile
        self._client = client
        self._owns_client = client is None
        self._last_warning = -math.inf
        self._suppressed = 0
        _install_httpx_filter()

    async def __aenter__(self) -> "OsrmRouter":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        return self._client

    async def travel_time(self, origin: LatLon, dest: LatLon) -> Optional[RouteResult]:
        """Drive time and distance from origin to dest, both (latitude, longitude); None on any failure."""
        try:
            coords = ";".join(f"{float(lon):.6f},{float(lat):.6f}" for lat, lon in (origin, dest))
        except (TypeError, ValueError):
            self._warn("coordinates are not numbers")
            return None
        url = f"{self.base_url}{_ROUTE_PATH}{self.profile}/{coords}"
        try:
            # httpx's timeout applies per phase (connect, each read); this bounds the whole exchange.
            async with asyncio.timeout(self.timeout):
                response = await self._http().get(url, params={"overview": "false"}, timeout=self.timeout)
        except (TimeoutError, httpx.TimeoutException):
            self._warn("timed out")
            return None
        except httpx.HTTPError as exc:
            # The exception's text can contain the URL, so log only its kind.
            self._warn(type(exc).__name__)
            return None
        if response.status_code != 200:
            self._warn(f"HTTP {response.status_code}")
            return None
        try:
            data = response.json()
        except ValueError:
            self._warn("response is not JSON")
            return None
        return self._parse(data)

    def _parse(self, data: object) -> Optional[RouteResult]:
        if not isinstance(data, dict):
            self._warn("response is not a JSON object")
            return None
        if data.get("code") != "Ok":
            # NoRoute / NoSegment are normal for a position off the road network; still worth counting.
            self._warn(f"OSRM code {str(data.get('code'))[:40]}")
            return None
        routes = data.get("routes")
        if not isinstance(routes, list) or not routes or not isinstance(routes[0], dict):
            self._warn("no routes in response")
            return None
        seconds, metres = routes[0].get("duration"), routes[0].get("distance")
        for value in (seconds, metres):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                self._warn("route has no usable duration or distance")
                return None
        return RouteResult(seconds=float(seconds), metres=float(metres))

    def _warn(self, reason: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= self.LOG_EVERY_S:
            extra = f" ({self._suppressed} similar failures not logged)" if self._suppressed else ""
            log.warning("OSRM route unavailable, using the straight-line estimate: %s%s", reason, extra)
            self._last_warning, self._suppressed = now, 0
        else:
            self._suppressed += 1
