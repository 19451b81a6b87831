"""Small helpers shared by the adapters."""
from __future__ import annotations

from urllib.parse import urlsplit


def redacted_url(url: str) -> str:
    """Scheme, host, port and path only, for logs: a URL may carry credentials in its user-info or query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"
    except ValueError:
        return "(unparseable URL)"
