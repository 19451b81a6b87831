"""A backend worker that dies is replaced (rxapp/plumbing/workers.py): Granian servers built once rxconfig has
been imported respawn failed workers, where Granian's own default stops every worker when one dies. The whole
fault (a worker SIGKILLed under 500 viewers) is measured by bench/faults.py."""
from __future__ import annotations

import importlib

from granian.constants import Interfaces
from granian.server import Server

from rxapp.plumbing import workers


def _server(**kwargs) -> Server:
    return Server(target="rxapp.rxapp:app", interface=Interfaces.ASGI, workers=2, **kwargs)


def test_granian_alone_would_stop_every_worker_when_one_dies():
    from granian.server import common

    original = getattr(common.AbstractServer.__init__, "__wrapped__", common.AbstractServer.__init__)
    bare = Server.__new__(Server)
    original(bare, target="rxapp.rxapp:app", interface=Interfaces.ASGI, workers=2)
    assert bare.respawn_failed_workers is False  # what the fix is for


def test_rxconfig_makes_granian_respawn_failed_workers():
    import rxconfig

    importlib.reload(rxconfig)
    assert _server().respawn_failed_workers is True
    assert workers.respawn_failed_workers() is True  # a second call changes nothing
    assert _server().respawn_failed_workers is True


def test_an_explicit_choice_is_kept():
    workers.respawn_failed_workers()
    assert _server(respawn_failed_workers=False).respawn_failed_workers is False
