"""A STORM gateway for the fault tests: the product's `StormSimulator` in its own process on a given port,
serving a prepared stream (one contract event a line, numbered from seq 1 in file order).

    python tests/faults/feedserver.py FRAMES.jsonl --port P [--pace N]

With `--pace 0` every frame is released at once (a backlog); with `--pace N`, N frames a second, so a test can
act while the feed is still flowing. Started again with the same file and port it serves the same stream, as a
gateway that keeps its sequence numbers does after a restart: how far it had released is kept beside the file
(`FRAMES.jsonl.high`), and a restarted server releases that much at once, then paces the rest. Prints `URL ws://...` when listening; stops when its standard input closes or on SIGTERM.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from integrations.storm.simulator import StormSimulator  # noqa: E402


async def serve(path: Path, port: int, pace: float) -> None:
    sim = StormSimulator([], heartbeat_interval=1.0)
    await sim.start("127.0.0.1", port)
    frames = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def _stdin_closed() -> None:
        if not sys.stdin.buffer.read1(4096):
            loop.remove_reader(sys.stdin.fileno())
            stop.set()

    loop.add_reader(sys.stdin.fileno(), _stdin_closed)
    print(f"URL {sim.url}", flush=True)

    high_file = path.with_name(path.name + ".high")
    already = int(high_file.read_text()) if high_file.exists() else 0

    async def release() -> None:
        for frame in frames[:already]:
            sim.append_event(frame)
        step = max(1, int(pace / 20)) if pace > 0 else len(frames)
        for start in range(already, len(frames), step):
            for frame in frames[start:start + step]:
                sim.append_event(frame)
            high_file.write_text(str(sim.seq_high))
            if pace > 0:
                await asyncio.sleep(step / pace)

    feeding = asyncio.create_task(release())
    try:
        await stop.wait()
    finally:
        feeding.cancel()
        await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("frames", type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pace", type=float, default=0.0, help="frames a second (0: all at once)")
    args = parser.parse_args()
    asyncio.run(serve(args.frames, args.port, args.pace))


if __name__ == "__main__":
    main()
