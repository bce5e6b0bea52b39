"""A cache node: the peer server, and optionally the client API, in one process.

    python -m geecache node --self http://127.0.0.1:8001 \\
        --peers http://127.0.0.1:8001,http://127.0.0.1:8002,http://127.0.0.1:8003 \\
        --group scores --cache-bytes 67108864 --getter scores:get_score --api 127.0.0.1:9999
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import uvicorn

import gee
from gee.serving import SERVERS, embedded_granian, guarded_protocol
from geecache import metrics
from geecache.auth import SECRET_ENV, PeerAuth, load_secret
from geecache.bounded import check_ttl
from geecache.errors import KeyNotFound
from geecache.group import Group
from geecache.http import DEFAULT_BASE_PATH, HTTPPool

log = logging.getLogger("geecache.node")


def load_callable(spec: str, option: str, hint: str = "") -> Callable[..., Any]:
    """Import the ``package.module:function`` a command-line option names; every failure says what to fix."""
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise SystemExit(f"{option} must look like package.module:function, not {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"{option} {spec!r}: cannot import {module_name} ({exc}){hint}") from exc
    found = getattr(module, attribute, None)
    if not callable(found):
        raise SystemExit(f"{option} {spec!r}: {module_name} has no function {attribute}")
    return found  # type: ignore[no-any-return]


def load_getter(spec: str) -> Callable[[str], Any]:
    return load_callable(spec, "--getter", "; check --app-dir")


def api_engine(group: Group, pool: HTTPPool) -> gee.Engine:
    """The client API of the notes' demo: ``GET /api?key=K`` answers the value's bytes."""
    api = gee.Engine()
    api.use(gee.recovery())

    @api.get("/api")
    async def get_value(c: gee.Context) -> None:
        key = c.query("key")
        if key is None:
            c.json(400, {"error": "pass the key as ?key=..."})
            return
        try:
            value = await group.get(key)
        except KeyNotFound as exc:
            c.json(404, {"error": str(exc)})
            return
        c.data(200, "application/octet-stream", value.bytes())

    api.get("/api/stats", lambda c: c.json(200, {"self": pool.self_url, "group": metrics.snapshot(group)}))
    return api


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound before the server starts: once it exists clients may connect, so a node can say
    "ready" truthfully (uvicorn then serves on it)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from exc
    sock.listen(2048)
    return sock


async def serve(args: argparse.Namespace) -> None:
    getter = load_getter(args.getter)
    group = Group(args.group, args.cache_bytes, getter, ttl=args.ttl, negative_ttl=args.negative_ttl)
    pool = HTTPPool(
        args.self_url,
        args.base_path,
        args.replicas,
        timeout=args.timeout,
        auth=peer_auth(args.secret_file, args.trusted_network),
        trusted_network=args.trusted_network,
    )
    try:
        pool.set_peers(*args.peers)
    except ValueError as exc:
        raise SystemExit(f"geecache: {exc}") from exc
    pool.register(group)
    address = urlsplit(args.self_url)
    listeners = [(pool.engine(), address.hostname or "127.0.0.1", address.port or 80)]
    if args.api:
        host, _, port = args.api.rpartition(":")
        listeners.append((api_engine(group, pool), host or "127.0.0.1", int(port)))
    if args.server == "granian":
        await serve_granian(listeners, args)
    else:
        await serve_uvicorn(listeners, args)


def ready(args: argparse.Namespace) -> None:
    """The sockets listen, so clients may connect from now on: say so, for scripts and tests."""
    print(f"geecache node {args.self_url} ready", flush=True)
    log.info("group %r; peers %s; server %s", args.group, ", ".join(args.peers), args.server)


async def serve_uvicorn(listeners: list[tuple[gee.Engine, str, int]], args: argparse.Namespace) -> None:
    sockets = [listen(host, port) for _, host, port in listeners]
    protocol = guarded_protocol()  # deadlines for headers and bodies, a budget for bodies in flight
    servers = [
        uvicorn.Server(uvicorn.Config(app, http=protocol, log_level="warning", access_log=False, lifespan="on"))
        for app, _, _ in listeners
    ]
    ready(args)
    await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in zip(servers, sockets, strict=True)))


async def serve_granian(listeners: list[tuple[gee.Engine, str, int]], args: argparse.Namespace) -> None:
    """granian's embedded servers in this loop: both listeners share this process's group."""
    servers = [embedded_granian(app, host, port) for app, host, port in listeners]
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    await asyncio.sleep(0)  # each server binds its port before its first suspension
    failed = [task for task in tasks if task.done() and task.exception() is not None]
    if failed:
        reason = str(failed[0].exception()).splitlines()[0]  # granian's error carries a Rust backtrace after it
        raise SystemExit(f"cannot listen: {reason}; pick another --port")
    ready(args)
    try:
        await asyncio.gather(*tasks)
    finally:
        for server in servers:
            server.stop()  # type: ignore[no-untyped-call]


def peer_auth(secret_file: str | None, trusted_network: bool) -> PeerAuth | None:
    """The cluster's ``PeerAuth`` from ``--secret-file`` or ``$GEECACHE_SECRET``; ``None`` in trusted-network mode
    (an error to give both) or when neither is set (then only a single node starts)."""
    try:
        secret = load_secret(secret_file)
        if secret is not None and trusted_network:
            raise ValueError("--trusted-network serves unsigned requests; leave out the cluster secret, or the flag")
        return PeerAuth(secret) if secret is not None else None
    except ValueError as exc:
        raise SystemExit(f"geecache: {exc}") from exc


def add_trust_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--secret-file`` and ``--trusted-network``: the flags of every command that runs a node."""
    parser.add_argument(
        "--secret-file",
        help=f"file holding the cluster secret (else ${SECRET_ENV}); every peer request and answer is signed with it",
    )
    parser.add_argument(
        "--trusted-network",
        action="store_true",
        help="no secret: serve and send only unsigned, read-only groupcache GETs (for Go peers on a trusted network)",
    )


def peer_list(text: str) -> list[str]:
    """argparse type: comma-separated peer base URLs (shared by every command that runs a node)."""
    peers = [p.strip().rstrip("/") for p in text.split(",") if p.strip()]
    if not peers:
        raise argparse.ArgumentTypeError("give at least one peer URL, e.g. http://127.0.0.1:8001")
    return peers


def seconds(text: str) -> float:
    """argparse type: a duration, finite and above 0 (``check_ttl``)."""
    try:
        return check_ttl(float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds above 0, not {text!r}") from exc


def seconds_or_zero(text: str) -> float:
    """argparse type: ``seconds``, or 0 for "not at all"."""
    try:
        zero = float(text) == 0
    except ValueError:
        zero = False
    return 0.0 if zero else seconds(text)


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {value}")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m geecache", description="geecache commands")
    commands = parser.add_subparsers(dest="command", required=True)
    node = commands.add_parser(
        "node", help="run a cache node", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    node.add_argument("--self", dest="self_url", required=True, help="this node's base URL, as peers list it")
    node.add_argument("--peers", type=peer_list, required=True, help="all peer URLs, this one included")
    node.add_argument("--group", required=True, help="the group's name")
    node.add_argument("--cache-bytes", type=non_negative_int, default=64 << 20, help="bytes for main + hot cache")
    node.add_argument("--getter", required=True, help="package.module:function that loads a key's bytes")
    node.add_argument("--api", help="HOST:PORT for the client API (GET /api?key=K)")
    node.add_argument("--app-dir", default=".", help="folder put first on sys.path to import the getter")
    node.add_argument("--base-path", default=DEFAULT_BASE_PATH)
    node.add_argument("--replicas", type=int, default=50, help="virtual nodes per peer")
    node.add_argument("--ttl", type=seconds, default=None, help="seconds a value lives (default: until evicted)")
    node.add_argument(
        "--negative-ttl", type=seconds_or_zero, default=30.0, help="seconds a not-found is remembered (0: not at all)"
    )
    node.add_argument("--timeout", type=seconds, default=2.0, help="seconds to wait for a peer")
    node.add_argument(
        "--server",
        choices=SERVERS,
        default="uvicorn",
        help="HTTP server: uvicorn with gee's guarded protocol, or granian (faster; see gee.serving)",
    )
    add_trust_arguments(node)
    args = parser.parse_args(argv)
    if args.self_url.rstrip("/") not in args.peers:
        parser.error(f"--self {args.self_url} must be one of --peers ({', '.join(args.peers)})")
    sys.path.insert(0, args.app_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        import uvloop

        uvloop.run(serve(args))
    except KeyboardInterrupt:
        pass
