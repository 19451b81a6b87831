"""A StormSimulator in its own process, serving a prepared list of frames: the benchmarks' stand-in for a
force's gateway, so the client and the sink under test do not share a process (or a GIL) with the sender.

    python bench/simserve.py FRAMES.jsonl [--token T]

Every line of FRAMES.jsonl is appended as an event (the simulator numbers them from seq 1, in file order) and
released at once. The first line printed is `URL ws://127.0.0.1:PORT/feed`; the server stops when its
standard input closes (so it never outlives the benchmark that started it) or on SIGTERM.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from integrations.storm.simulator import StormSimulator  # noqa: E402


async def serve(path: Path, token: str | None) -> None:
    sim = StormSimulator([], token=token, heartbeat_interval=5.0)
    await sim.start("127.0.0.1", 0)
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                sim.append_event(json.loads(line))
    print(f"URL {sim.url}", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def _stdin_closed() -> None:
        if not sys.stdin.buffer.read1(4096):
            loop.remove_reader(sys.stdin.fileno())
            stop.set()

    loop.add_reader(sys.stdin.fileno(), _stdin_closed)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("frames", type=Path)
    parser.add_argument("--token", default=None)
    args = parser.parse_args()
    asyncio.run(serve(args.frames, args.token))


if __name__ == "__main__":
    main()
