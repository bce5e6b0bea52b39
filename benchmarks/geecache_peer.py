"""Peer serving: a Python geecache node beside a real Go groupcache node.

1. Throughput: wrk against ``GET /_groupcache/{group}/{key}`` for a cached key,
   one node at a time, each server pinned to CPU 0 and wrk to CPU 1, rounds
   interleaved, medians; the figure is Python's requests per second over Go's,
   for a node on uvicorn (``geecache node``'s default) and on granian
   (``--server granian``). A "floor" app (a prebuilt answer on the same uvicorn)
   shows that server's own ceiling, which no Python node on uvicorn can pass.
2. Client round trip: a cached key fetched from each node one request at a time,
   by geecache's peer client (``HTTPPeer.get`` on ``geecache.client``) and, for
   comparison, the same GET and protobuf decode through aiohttp and httpx
   (keep-alive sessions), interleaved in rounds: median and p99 in microseconds.

Needs wrk, taskset, and the Go toolchain with golang/groupcache from Debian
(``apt-get install wrk golang-go golang-github-golang-groupcache-dev``).

    python benchmarks/geecache_peer.py [--rounds 5] [--duration 5] [--connections 64] [--round-trips 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import httpx

from geecache import HTTPPeer, HTTPPool
from geecache.auth import PeerAuth
from geecache.groupcache_pb2 import GetResponse
from geecache.http import DEFAULT_BASE_PATH

from common import header, interleaved, median

ROOT = Path(__file__).resolve().parents[1]
GO_PEER = ROOT / "tests" / "geecache" / "go" / "peer"
GETTER_DIR = ROOT / "tests" / "geecache"
KEY = "hot-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_go_peer() -> Path:
    for tool in ("go", "wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install wrk golang-go golang-github-golang-groupcache-dev")
    out = ROOT / ".bench" / "gopeer"
    out.parent.mkdir(exist_ok=True)
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOPROXY": "off"}
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=GO_PEER, env=env, check=True)
    return out


SECRET = "benchmark-cluster-secret-0123456789abcdef"


@contextmanager
def node(kind: str, go_binary: Path) -> Iterator[str]:
    """Start a one-node cluster of ``kind`` pinned to CPU 0; yields its URL. "python" serves Go's unsigned protocol
    (``--trusted-network``, as Go peers need), "python-granian" the same on granian, "python-signed" checks the
    cluster secret on every request."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if kind == "go":
        command = [str(go_binary), "-self", url, "-peers", url, "-addr", f"127.0.0.1:{port}", "-group", "scores"]
    elif kind == "floor":
        command = [
            sys.executable, "-m", "uvicorn", "http_apps.groupcache_floor:app", "--app-dir", str(ROOT / "benchmarks"),
            "--port", str(port), "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    else:
        command = [
            sys.executable, "-m", "geecache", "node", "--self", url, "--peers", url, "--group", "scores",
            "--getter", "cluster_getter:get_value", "--app-dir", str(GETTER_DIR),
            *(["--trusted-network"] if kind != "python-signed" else []),
            *(["--server", "granian"] if kind == "python-granian" else []),
        ]  # fmt: skip
    env = {**os.environ, "GEECACHE_SECRET": SECRET} if kind == "python-signed" else None
    process = subprocess.Popen(
        ["taskset", "-c", "0", *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    path = f"/_groupcache/scores/{KEY}"
    try:
        deadline = time.monotonic() + 20
        while True:  # wait until it answers the key (this also caches it)
            headers = PeerAuth(SECRET.encode()).sign_request("GET", path, b"") if kind == "python-signed" else {}
            try:
                if httpx.get(f"{url}{path}", headers=headers, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"{kind} node did not start: {process.stderr.read() if process.stderr else ''}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def wrk(url: str, duration: int, connections: int) -> float:
    result = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", url],
        capture_output=True,
        text=True,
        check=True,
    )
    if "Non-2xx" in result.stdout or "Socket errors" in result.stdout:
        raise SystemExit(f"wrk saw errors against {url}:\n{result.stdout}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{result.stdout}")
    return float(match.group(1))


async def timed(get: Callable[[], Awaitable[bytes]], count: int) -> list[float]:
    """Seconds of ``count`` sequential ``get()`` calls, after 200 unmeasured ones; each must answer the value."""
    for _ in range(200):
        value = await get()
        if KEY.encode() not in value:
            raise SystemExit(f"the node answered {value!r} for {KEY}")
    times = []
    for _ in range(count):
        start = time.perf_counter()
        await get()
        times.append(time.perf_counter() - start)
    return times


async def client_round_trips(url: str, count: int, rounds: int, auth: PeerAuth | None) -> dict[str, list[float]]:
    """Round trips to ``url`` with geecache's client, aiohttp and httpx, ``rounds`` interleaved rounds of
    ``count // rounds`` each."""
    path = f"{DEFAULT_BASE_PATH}scores/{KEY}"
    pool = HTTPPool("http://127.0.0.1:1")  # only its per-loop peer client is used
    peer = HTTPPeer(url, DEFAULT_BASE_PATH, pool.client, auth)

    def decode(body: bytes) -> bytes:
        message = GetResponse()
        message.ParseFromString(body)
        return message.value

    async with aiohttp.ClientSession() as session, httpx.AsyncClient() as client:

        async def with_aiohttp() -> bytes:
            headers = auth.sign_request("GET", path, b"") if auth else {}
            async with session.get(url + path, headers=headers) as response:
                return decode(await response.read())

        async def with_httpx() -> bytes:
            headers = auth.sign_request("GET", path, b"") if auth else {}
            return decode((await client.get(url + path, headers=headers)).content)

        gets = {"geecache": lambda: peer.get("scores", KEY), "aiohttp": with_aiohttp, "httpx": with_httpx}
        times: dict[str, list[float]] = {name: [] for name in gets}
        for _ in range(rounds):
            for name, get in gets.items():
                times[name] += await timed(get, count // rounds)
    await pool.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--round-trips", type=int, default=5000, help="per client and node, over --rounds rounds")
    args = parser.parse_args()
    go_binary = build_go_peer()
    print(header(["uvicorn", "granian", "httptools", "aiohttp", "httpx", "protobuf"]))
    print(f"go: {subprocess.run(['go', 'version'], capture_output=True, text=True).stdout.strip()}\n")
    with (
        node("python", go_binary) as python_url,
        node("python-granian", go_binary) as granian_url,
        node("python-signed", go_binary) as signed_url,
        node("go", go_binary) as go_url,
        node("floor", go_binary) as floor,
    ):
        urls = {"python": python_url, "python on granian": granian_url, "go": go_url, "floor": floor}
        target = {name: f"{url}/_groupcache/scores/{KEY}" for name, url in urls.items()}
        rps = interleaved({name: lambda u=u: wrk(u, args.duration, args.connections) for name, u in target.items()},
                          args.rounds)  # fmt: skip
        print("| node | median req/s | min | max |")
        print("|---|---|---|---|")
        for name, values in rps.items():
            print(f"| {name} | {median(values):,.0f} | {min(values):,.0f} | {max(values):,.0f} |")
        python, go, floor_rps = median(rps["python"]), median(rps["go"]), median(rps["floor"])
        on_granian = median(rps["python on granian"])
        print(f"\nPython / Go requests per second: {python / go:.2f} on uvicorn, {on_granian / go:.2f} on granian; ")
        print(f"floor / Go: {floor_rps / go:.2f}; Python / floor: {python / floor_rps:.2f}\n")
        try:
            import uvloop

            run = uvloop.run
        except ImportError:
            run = asyncio.run
        print("| round trip to | client | median µs | p99 µs |")
        print("|---|---|---|---|")
        clients = {f"{name} node": (url, None) for name, url in urls.items()}
        clients["python node, signed (cluster secret)"] = (signed_url, PeerAuth(SECRET.encode()))
        medians = {}
        for name, (url, auth) in clients.items():
            for client, values in run(client_round_trips(url, args.round_trips, args.rounds, auth)).items():
                times = sorted(values)
                medians[name, client] = statistics.median(times)
                p99 = times[int(len(times) * 0.99) - 1]
                print(f"| {name} | {client} | {medians[name, client] * 1e6:.0f} | {p99 * 1e6:.0f} |")
        signing = medians["python node, signed (cluster secret)", "geecache"] - medians["python node", "geecache"]
        print(
            f"\nthe cluster secret's cost per round trip (signed - unsigned median, geecache): {signing * 1e6:.0f} µs"
        )


if __name__ == "__main__":
    main()
