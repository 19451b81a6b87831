"""A poor man's sampling profiler for the app under benchmark (bench/live.py --sample-app).

Put on the app's PYTHONPATH, Python imports it at start-up in every process of the app. When
VJ_BENCH_SAMPLE_DIR is set, a daemon thread samples every thread's stack every few milliseconds and writes
the counts of collapsed stacks to VJ_BENCH_SAMPLE_DIR/samples-<pid>.json every few seconds. Read by
bench/live.py; it never changes what the app does, only slows it a little.
"""
import collections
import json
import os
import sys
import threading
import time

_OUT = os.environ.get("VJ_BENCH_SAMPLE_DIR")


def _short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1] if "/" in path else path


def _sample() -> None:
    interval = float(os.environ.get("VJ_BENCH_SAMPLE_INTERVAL", "0.005"))
    counts: collections.Counter = collections.Counter()
    me = threading.get_ident()
    path = os.path.join(_OUT, f"samples-{os.getpid()}.json")
    last = time.monotonic()
    while True:
        time.sleep(interval)
        names = {t.ident: t.name for t in threading.enumerate()}
        for ident, frame in sys._current_frames().items():
            if ident == me:
                continue
            stack = []
            while frame is not None and len(stack) < 80:
                code = frame.f_code
                stack.append(f"{_short(code.co_filename)}:{code.co_name}")
                frame = frame.f_back
            counts[names.get(ident, "?") + "|" + ";".join(reversed(stack))] += 1
        if time.monotonic() - last > 3:
            last = time.monotonic()
            tmp = path + ".tmp"
            with open(tmp, "w") as handle:
                json.dump(counts, handle)
            os.replace(tmp, path)


def _start() -> None:
    threading.Thread(target=_sample, name="vj-bench-sampler", daemon=True).start()


if _OUT:
    _start()
    # The app's server may fork its worker: threads do not survive a fork, so start one in the child too.
    os.register_at_fork(after_in_child=_start)
