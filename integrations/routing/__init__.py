"""Road routing engines behind the domain's `Router` protocol (`rxapp.domain.eta.Router`).

A router only improves the arrival estimate; without one (no `ROUTING_URL`), or when it fails, the
straight-line model in `rxapp.domain.eta` is used, so nothing here is ever on the critical path.
"""
from .osrm import OsrmRouter

__all__ = ["OsrmRouter"]
