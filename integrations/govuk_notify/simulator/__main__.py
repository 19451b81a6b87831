"""The command line: `python -m integrations.govuk_notify.simulator --port 8766 [--api-key K]
[--callback-url U --callback-token T] [--received-text-callback-url U] [--templates FILE]`. Serves until
SIGINT or SIGTERM."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from typing import Optional
from urllib.parse import urlsplit

from .models import DEMO_API_KEY
from .server import NotifyServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m integrations.govuk_notify.simulator",
                                     description="A local GOV.UK Notify-compatible server for the demo and tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--api-key", default=os.environ.get("NOTIFY_API_KEY") or None,
                        help="the API key clients use (default: $NOTIFY_API_KEY, else the built-in demo key)")
    parser.add_argument("--callback-url", default=None, help="where to POST delivery receipts")
    parser.add_argument("--callback-token", default=os.environ.get("NOTIFY_CALLBACK_TOKEN") or None,
                        help="bearer token sent with callbacks (default: $NOTIFY_CALLBACK_TOKEN)")
    parser.add_argument("--received-text-callback-url", default=None, help="where to POST received texts")
    parser.add_argument("--templates", metavar="FILE", default=None,
                        help="JSON templates to add to the two default ones")
    parser.add_argument("--receipt-delay", type=float, default=0.2, help="seconds from send to receipt")
    parser.add_argument("--rate-limit", type=int, default=3000, help="sends a minute per API key")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds every API request takes, as the real Notify across the internet (default 0)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    server = NotifyServer(args.api_key or DEMO_API_KEY, callback_url=args.callback_url,
                          callback_token=args.callback_token,
                          received_text_callback_url=args.received_text_callback_url,
                          receipt_delay=args.receipt_delay, rate_limit_per_minute=args.rate_limit)
    if args.templates:
        server.load_templates(args.templates)
    if args.latency:
        server.set_latency(args.latency)
    server.start(args.host, args.port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    key = ("the key given" if args.api_key
           else "the built-in demo key (integrations.govuk_notify.simulator.DEMO_API_KEY)")
    print(f"GOV.UK Notify local server: {server.url} (service {server.primary_service_id}, {key}; "
          f"templates: {', '.join(f'{t.id} ({t.type})' for t in server.templates)}; "
          f"delivery receipts to {_redacted(server.callback_url)}, "
          f"received texts to {_redacted(server.received_text_callback_url)})", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()


def _redacted(url: Optional[str]) -> str:
    if not url:
        return "none"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


if __name__ == "__main__":
    main()
