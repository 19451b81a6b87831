"""Reflex configuration. Everything a force sets is an environment variable, read and checked by
rxapp.plumbing.config (see the README's "Configuration"); a malformed one stops Reflex here, with every
problem named."""
import reflex as rx
from reflex.constants import StateManagerMode

from rxapp.plumbing.config import settings
from rxapp.plumbing.workers import respawn_failed_workers

_settings = settings()
# A backend worker that dies is replaced; without this Granian stops every worker (rxapp/plumbing/workers.py).
respawn_failed_workers()

config = rx.Config(
    app_name="rxapp",
    telemetry_enabled=False,
    # Pitfall 3: accept websocket events only from the product's own address (and EXTRA_ORIGIN).
    cors_allowed_origins=list(_settings.allowed_origins),
    redis_url=_settings.redis_url,
    # States hold router data (headers, addresses): kept in memory, or in Redis when there are several workers,
    # never pickled into .states/ on disk, which Reflex's default manager does.
    state_manager_mode=StateManagerMode.REDIS if _settings.redis_url else StateManagerMode.MEMORY,
    show_built_with_reflex=False,
    default_color_mode="light",
    disable_plugins=[rx.plugins.SitemapPlugin],
    # Scripts and styles are compressed once at build time, brotli for browsers that take it (a victim's first
    # visit on a slow phone: bench/page_weight.py), gzip for the rest. Pages themselves go out gzip (edges.py).
    frontend_compression_formats=["brotli", "gzip"],
)
