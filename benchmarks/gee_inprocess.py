"""gee's own CPU cost per request, measured in-process with no server and no sockets.

The ASGI app is called directly with a prepared scope and no-op receive/send, the
way uvicorn calls it, for a plain-text route and a JSON route with one path param.
A hand-written bare ASGI app doing the same work is the floor; the difference is
what the framework adds per request (routing, the Context, the chain, the response).

    python benchmarks/gee_inprocess.py [--rounds 7] [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import gee
from common import header, interleaved, median

PLAIN = b"Hello, World!"


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    path = scope["path"]
    if path == "/plaintext":
        body, content_type = PLAIN, b"text/plain; charset=utf-8"
    elif path.startswith("/users/"):
        body = json.dumps({"id": path[7:], "name": "gee"}, separators=(",", ":")).encode()
        content_type = b"application/json"
    else:
        body, content_type = b"not found", b"text/plain"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def gee_app() -> gee.Engine:
    r = gee.Engine()

    async def plaintext(c: gee.Context) -> None:
        c.string(200, "Hello, World!")

    async def user(c: gee.Context) -> None:
        c.json(200, {"id": c.param("id"), "name": "gee"})

    r.get("/plaintext", plaintext)
    r.get("/users/:id", user)
    return r


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
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    engine = gee_app()
    print(header(["uvloop"]))
    print()
    print("| route | bare ASGI µs/request | gee µs/request | gee's own cost µs/request |")
    print("|---|---|---|---|")
    for label, path in (("plain text", "/plaintext"), ("JSON, one path param", "/users/42")):
        results = interleaved(
            {
                "bare": lambda p=path: measure(bare_app, p, args.requests, loop),
                "gee": lambda p=path: measure(engine, p, args.requests, loop),
            },
            args.rounds,
        )
        bare, framework = median(results["bare"]), median(results["gee"])
        print(f"| {label} | {bare:.2f} | {framework:.2f} | {framework - bare:.2f} |")


if __name__ == "__main__":
    main()
