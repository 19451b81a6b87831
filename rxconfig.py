"""Reflex configuration. Everything a force sets is an environment variable (see README)."""
import os

import reflex as rx

_origin = os.environ.get("PUBLIC_BASE_URL", "http://localhost:3000").rstrip("/")

config = rx.Config(
    app_name="rxapp",
    telemetry_enabled=False,
    # Pitfall 3: accept websocket events only from the product's own address.
    cors_allowed_origins=[o for o in dict.fromkeys([_origin, os.environ.get("EXTRA_ORIGIN", "")]) if o],
    redis_url=os.environ.get("REDIS_URL") or None,
    show_built_with_reflex=False,
    default_color_mode="light",
    disable_plugins=[rx.plugins.SitemapPlugin],
)
