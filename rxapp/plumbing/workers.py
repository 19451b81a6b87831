"""Backend workers that die are replaced, not the whole server stopped.

`reflex run --env prod` serves the backend with Granian, GRANIAN_WORKERS processes on one port, and builds
Granian's server itself without `respawn_failed_workers`, Granian's switch for replacing a worker that exits
unexpectedly. Without it one worker killed (the kernel's OOM killer, a crash in a native library, SIGKILL) makes
Granian stop every other worker and exit ("Unexpected exit from worker-1"): every page of the deployment goes
dark, where the other workers could have served them. Measured by bench/faults.py (a worker killed while 500
viewers watch).

`respawn_failed_workers()` makes that switch Granian's default for this process, before Reflex builds its server:
a worker that dies is forked again at once (Granian still exits on a crash loop: the same worker dying again
within 5.5 s of its respawn). Called from rxconfig.py, which Reflex imports in the supervisor first. A caller
naming `respawn_failed_workers` itself keeps its value.
"""
from __future__ import annotations

import functools

_MARK = "_vj_respawns_failed_workers"


def respawn_failed_workers() -> bool:
    """Make Granian servers built in this process replace a worker that dies. False if Granian is absent."""
    try:
        from granian.server import common
    except ImportError:  # served by another ASGI server (uvicorn): nothing to change
        return False
    original = common.AbstractServer.__init__
    if getattr(original, _MARK, False):
        return True

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("respawn_failed_workers", True)
        original(self, *args, **kwargs)

    setattr(__init__, _MARK, True)
    common.AbstractServer.__init__ = __init__
    return True
