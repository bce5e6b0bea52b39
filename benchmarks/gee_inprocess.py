"""gee's own CPU cost per request, measured in-process with no server and no sockets.

The ASGI app is called directly with a prepared scope and no-op receive/send, the
way uvicorn calls it, for a plain-text route and a JSON route with one path param.
The apps are those of the end-to-end benchmark (``http_apps/``): the hand-written
bare ASGI app is the floor, and the difference is what the framework adds per
request (routing, the Context, the chain, the response).

Rounds are interleaved and the fastest of each is reported (noise only adds time).

    python benchmarks/gee_inprocess.py [--rounds 15] [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from common import header, interleaved
from http_apps import bare_app, gee_app


def scope_for(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def measure(app: Any, path: str, requests: int, loop: asyncio.AbstractEventLoop) -> float:
    """Microseconds per request; every response is checked once for its status."""
    scope = scope_for(path)
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def run() -> float:
        start = time.perf_counter()
        for _ in range(requests):
            await app(scope, _receive, send)
        return (time.perf_counter() - start) / requests * 1e6

    elapsed = loop.run_until_complete(run())
    if set(statuses) != {200}:
        raise SystemExit(f"{path} answered {sorted(set(statuses))}, not 200: the benchmark would measure errors")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    print(header(["uvloop"]))
    print()
    print("| route | bare ASGI µs/request | gee µs/request | gee's own cost µs/request |")
    print("|---|---|---|---|")
    for label, path in (("plain text", "/plaintext"), ("JSON, one path param", "/users/42")):
        results = interleaved(
            {
                "bare": lambda p=path: measure(bare_app.app, p, args.requests, loop),
                "gee": lambda p=path: measure(gee_app.app, p, args.requests, loop),
            },
            args.rounds,
        )
        # The fastest round is the cost itself: on a noisy machine, noise only adds time.
        bare, framework = min(results["bare"]), min(results["gee"])
        print(f"| {label} | {bare:.2f} | {framework:.2f} | {framework - bare:.2f} |")


if __name__ == "__main__":
    main()
