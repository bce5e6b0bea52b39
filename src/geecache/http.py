"""HTTPPool: peers over HTTP in golang/groupcache's wire protocol, served by gee.

Wire protocol (identical to golang/groupcache, so Go and Python peers mix):
``GET {peer}{base_path}{escaped group}/{escaped key}`` answers 200 with
``application/x-protobuf`` carrying ``GetResponse{value, minute_qps}``; 400 for a
path without ``group/key``, 404 for an unknown group, 500 with the error text.

Escaping: Go's client query-escapes (a space travels as ``+``, a plus as ``%2B``).
This server therefore decodes group and key with query-unescaping, and this
client path-escapes everything (a space as ``%20``, never ``+``), which both this
server and Go's (which path-decodes) read back intact. So every key, ``/``, ``+``,
``%``, spaces, unicode and the empty key included, survives both directions.

Beyond groupcache, on the same base path: ``PUT`` stores a value on its owner
(``?ttl=S``: finite seconds above 0, else 400), ``DELETE`` invalidates a key, and a
not-found key answers 404 with a body that starts ``key not found``, which peers
take as an answer rather than a failure. The client never follows a redirect: Go's
``ServeMux`` answers a key with a ``.`` or ``..`` segment (``./k``, ``a/../b``,
``.``) with a redirect to the "cleaned" path, another key, so a redirect is a
peer failure and the key is loaded here, intact.

Clients: peer requests go through ``geecache.client.Client`` (keep-alive HTTP/1.1 on
httptools; why not aiohttp is in that module). A client belongs to the event loop
that made it, so the pool keeps one per loop (a node's server loop, ``get_sync``'s
loop, a caller's own).

Trust (``geecache.auth``): with a cluster secret (``auth=PeerAuth(...)``) every
peer route, reads included, needs a signed request and every answer is signed; a
request without a valid signature answers 401 and changes nothing, an answer
without one is a peer failure. Without a secret a pool talks to no one: peer
routes answer 403 and ``set_peers`` refuses other peers, unless
``trusted_network=True``, the opt-in for Go groupcache peers on a network the
operator trusts, which serves and sends only the unsigned read-only ``GET``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_plus, urlsplit

from google.protobuf.message import DecodeError

import gee
from geecache import metrics
from geecache.auth import AuthError, PeerAuth
from geecache.bounded import check_ttl
from geecache.client import Client, ClientError
from geecache.errors import KeyNotFound, PeerError
from geecache.group import Group
from geecache.groupcache_pb2 import GetResponse
from geecache.ring import HashFn, Ring

if TYPE_CHECKING:
    from geecache.peers import PeerGetter

DEFAULT_BASE_PATH = "/_groupcache/"
PROTOBUF = "application/x-protobuf"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
NOT_FOUND_PREFIX = "key not found"


class _MinuteRate:
    """Requests in the last full minute: the ``minute_qps`` field of GetResponse."""

    def __init__(self) -> None:
        self.minute = int(time.monotonic() // 60)
        self.count = 0
        self.last = 0

    def hit(self) -> float:
        minute = int(time.monotonic() // 60)
        if minute != self.minute:
            self.last = self.count if minute == self.minute + 1 else 0
            self.minute, self.count = minute, 0
        self.count += 1
        return self.last / 60.0


class HTTPPeer:
    """The client side of one peer: keep-alive, pooled connections, timeouts, and signed requests.

    ``client`` gives the running loop's ``Client`` (``HTTPPool.client``)."""

    def __init__(
        self,
        base_url: str,
        base_path: str,
        client: Callable[[], Client],
        auth: PeerAuth | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path + base_path  # the path every request target starts with
        self._client = client
        self.auth = auth

    def target(self, group: str, key: str) -> str:
        """The request target (path) for ``group``/``key``, path-escaped (see the module)."""
        return f"{self.prefix}{quote(group, safe='')}/{quote(key, safe='')}"

    async def _request(self, method: str, target: str, body: bytes | None) -> tuple[int, bytes]:
        """Send exactly ``target`` (never re-encoded, so the signature covers what the server reads), check the
        answer's signature, and return its status and body."""
        headers = self.auth.sign_request(method, target, body or b"") if self.auth else {}
        try:
            answer = await self._client().request(method, self.origin, target, headers, body or b"")
        except ClientError as exc:
            raise PeerError(f"peer {self.base_url} did not answer {method} {target}: {exc}") from exc
        if self.auth is not None:
            try:
                self.auth.verify_answer(headers["x-geecache-nonce"], answer.status, answer.headers, answer.body)
            except AuthError as exc:
                raise PeerError(f"peer {self.base_url}: {exc} ({method} {target} answered {answer.status})") from exc
        return answer.status, answer.body

    async def get(self, group: str, key: str) -> bytes:
        url = self.target(group, key)
        status, body = await self._request("GET", url, None)
        if status == 200:
            message = GetResponse()
            try:
                message.ParseFromString(body)
            except DecodeError as exc:
                raise PeerError(f"peer {self.base_url} sent a body that is not a GetResponse: {body[:64]!r}") from exc
            return message.value
        text = body[:300].decode("utf-8", "replace").strip()
        if status == 404 and text.startswith(NOT_FOUND_PREFIX):
            raise KeyNotFound(group, key, f"the owner {self.base_url} has no such key")
        raise PeerError(f"peer {self.base_url} answered {status} to GET {url}: {text}")

    async def set(self, group: str, key: str, value: bytes, ttl: float | None) -> None:
        url = self.target(group, key) + ("" if ttl is None else f"?ttl={check_ttl(ttl)!r}")
        await self._write("PUT", url, value)

    async def remove(self, group: str, key: str) -> None:
        await self._write("DELETE", self.target(group, key), None)

    async def _write(self, method: str, url: str, body: bytes | None) -> None:
        if self.auth is None:
            raise PeerError(f"{method} {url}: writes between peers need a cluster secret (trusted-network mode reads)")
        status, text = await self._request(method, url, body)
        if status >= 300:
            detail = text[:300].decode("utf-8", "replace")
            raise PeerError(f"peer {self.base_url} answered {status} to {method} {url}: {detail}")


class HTTPPool:
    """This node's view of its peers (a consistent-hash ring) and its HTTP server side.

    ``self_url`` is this node's base URL exactly as the other peers list it. The
    server side mounts on a gee Engine (``pool.mount(engine)``), or ``pool.engine()``
    gives a standalone one; serve it on a listener of its own, apart from any public
    API. Peers can change at run time with ``set_peers``. ``auth`` (a ``PeerAuth``
    with the cluster secret) signs and checks every peer request; without it only a
    single node works, unless ``trusted_network`` opts into unsigned, read-only
    groupcache for Go peers (see the module).
    """

    def __init__(
        self,
        self_url: str,
        base_path: str = DEFAULT_BASE_PATH,
        replicas: int = 50,
        hash_fn: HashFn | None = None,
        *,
        timeout: float = 2.0,
        max_connections: int = 100,
        auth: PeerAuth | None = None,
        trusted_network: bool = False,
    ):
        if not self_url.startswith(("http://", "https://")):
            raise ValueError(f"self_url must be a base URL such as http://127.0.0.1:8001, not {self_url!r}")
        if not base_path.startswith("/") or not base_path.endswith("/"):
            raise ValueError(f"base_path must start and end with '/', not {base_path!r}")
        check_ttl(timeout, "timeout")
        self.self_url = self_url.rstrip("/")
        self.base_path = base_path
        self.replicas = replicas
        self.hash_fn = hash_fn
        self.timeout = timeout
        self.max_connections = max_connections
        self.auth = auth
        self.trusted_network = trusted_network and auth is None
        self.ring = Ring(replicas, hash_fn)
        self._peers: dict[str, HTTPPeer] = {}
        self._clients: dict[asyncio.AbstractEventLoop, Client] = {}
        self._clients_lock = threading.Lock()
        self._rates: dict[str, _MinuteRate] = {}
        # The one group registry (groupcache's GetGroup looks in a process-wide map): a node serves the groups
        # registered with its pool, so several nodes, each with a group of the same name, share a process.
        self.groups: dict[str, Group] = {}

    # ------------------------------------------------------------ membership

    def set_peers(self, *urls: str) -> None:
        """Replace the peer list (this node included, as in groupcache's ``Set``)."""
        cleaned = [u.rstrip("/") for u in urls]
        for url in cleaned:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"peer {url!r} is not a base URL such as http://127.0.0.1:8001")
        others = [u for u in cleaned if u != self.self_url]
        if others and self.auth is None and not self.trusted_network:
            raise ValueError(
                "a cluster of several nodes needs a cluster secret (auth=PeerAuth(secret); nodes read it from "
                "--secret-file or GEECACHE_SECRET), or trusted_network=True for unsigned read-only Go peers"
            )
        ring = Ring(self.replicas, self.hash_fn, cleaned)
        self._peers = {u: HTTPPeer(u, self.base_path, self.client, self.auth) for u in others}
        self.ring = ring

    @property
    def peers(self) -> list[str]:
        return self.ring.peers

    def pick_peer(self, key: str) -> PeerGetter | None:
        owner = self.ring.get(key)
        if owner is None or owner == self.self_url:
            return None
        return self._peers[owner]

    def owner(self, key: str) -> str:
        return self.ring.get(key) or self.self_url

    async def broadcast_remove(self, group: str, key: str) -> None:
        """Invalidate ``key`` on every other peer but its owner, which the writer has already written to."""
        owner = self.ring.get(key)
        targets = [p for url, p in self._peers.items() if url != owner]
        results = await asyncio.gather(*(p.remove(group, key) for p in targets), return_exceptions=True)
        failed = [str(r) for r in results if isinstance(r, BaseException)]
        if failed:
            raise PeerError(f"could not invalidate {key!r} on {len(failed)} peer(s): {'; '.join(failed)}")

    def register(self, *groups: Group) -> None:
        """Serve these groups to peers, and let them fetch from this pool's peers."""
        for group in groups:
            if group.name in self.groups:
                raise ValueError(f"group {group.name!r} is already registered with this pool")
            group.register_peers(self)
            self.groups[group.name] = group

    # ---------------------------------------------------------------- client

    def client(self) -> Client:
        """The running event loop's peer client, made on its first use there."""
        loop = asyncio.get_running_loop()
        with self._clients_lock:
            client = self._clients.get(loop)
            if client is None or client.closed:
                for ended in [other for other in self._clients if other.is_closed()]:
                    del self._clients[ended]  # a closed loop took its connections with it
                client = self._clients[loop] = Client(self.timeout, self.max_connections)
            return client

    async def close(self) -> None:
        """At shutdown: close every client, this loop's here, another running loop's on that loop (waiting
        ``timeout`` at most). A caller done with a loop of its own closes just that loop's client instead:
        ``await pool.client().close()``."""
        here = asyncio.get_running_loop()
        with self._clients_lock:
            clients, self._clients = self._clients, {}
        for loop, client in clients.items():
            if loop is here:
                await client.close()
            elif loop.is_running():
                closing = asyncio.run_coroutine_threadsafe(client.close(), loop)
                await asyncio.wait_for(asyncio.wrap_future(closing), self.timeout)

    # ---------------------------------------------------------------- server

    def mount(self, engine: gee.Engine) -> None:
        """Serve the peer protocol, stats and membership on ``engine``; every route checks the peer credential."""
        pattern = self.base_path + "*rest"
        engine.get(pattern, self._guard(self._serve_get, write=False))
        engine.put(pattern, self._guard(self._serve_put, write=True))
        engine.delete(pattern, self._guard(self._serve_delete, write=True))
        engine.get("/_geecache/stats", self._guard(self._serve_stats, write=False))
        engine.get("/_geecache/peers", self._guard(self._serve_peers, write=False))
        engine.put("/_geecache/peers", self._guard(self._serve_set_peers, write=True))
        engine.on_shutdown(self.close)

    def _guard(self, serve: Callable[[gee.Context, bytes], Any], write: bool) -> Callable[[gee.Context], Any]:
        """``serve`` behind the peer credential: it runs only for a signed request (or, in trusted-network mode,
        an unsigned read), and its answer ``(status, content type, body)`` goes out signed."""

        async def guarded(c: gee.Context) -> None:
            body = await c.body() if write else b""  # reads carry no body: the signature covers b""
            nonce = None
            if self.auth is not None:
                query = c.scope.get("query_string", b"").decode("latin-1")
                target = c.raw_path + (f"?{query}" if query else "")
                try:
                    nonce = self.auth.verify_request(c.method, target, c.headers, body)
                except AuthError as exc:
                    c.string(401, f"peer authentication failed: {exc}")
                    return
            elif write or not self.trusted_network:
                why = "writes and membership need" if self.trusted_network else "this node's peer routes need"
                c.string(403, f"{why} a signed request with the cluster secret")
                return
            try:
                status, content_type, payload = await serve(c, body)
            except gee.HTTPError as error:
                status, content_type, payload = error.status, "text/plain; charset=utf-8", error.message.encode()
            if nonce is not None and self.auth is not None:
                c.header("x-geecache-signature", self.auth.sign_answer(nonce, status, payload))
            c.data(status, content_type, payload)

        return guarded

    def engine(self) -> gee.Engine:
        """A node's peer listener: the protocol (``mount``) and the groups' Prometheus metrics at ``/metrics``."""
        engine = gee.Engine(redirect_trailing_slash=False, max_body_bytes=64 << 20)
        engine.use(gee.recovery())
        self.mount(engine)
        metrics.mount(engine, self.groups.values)
        return engine

    def _group_and_key(self, c: gee.Context) -> tuple[Group, str]:
        raw = c.raw_path[len(self.base_path) :]
        group_part, slash, key_part = raw.partition("/")
        if not slash:
            raise gee.HTTPError(400, f"bad request: expected {self.base_path}<group>/<key>, got {c.raw_path[:100]}")
        try:  # most names need no unescaping: skip the call for them
            name = unquote_plus(group_part, errors="strict") if "%" in group_part or "+" in group_part else group_part
            key = unquote_plus(key_part, errors="strict") if "%" in key_part or "+" in key_part else key_part
        except UnicodeDecodeError as exc:
            raise gee.HTTPError(400, f"bad request: group or key is not percent-encoded UTF-8: {exc}") from exc
        group = self.groups.get(name)
        if group is None:
            raise gee.HTTPError(404, f"no such group: {name[:100]}")
        return group, key

    async def _serve_get(self, c: gee.Context, _: bytes) -> tuple[int, str, bytes]:
        group, key = self._group_and_key(c)
        group.stats.server_requests += 1
        rate = self._rates.get(group.name)
        if rate is None:
            rate = self._rates[group.name] = _MinuteRate()
        try:
            value = await group.get(key)
        except KeyNotFound as exc:
            return 404, TEXT, f"{NOT_FOUND_PREFIX}: {exc}".encode()
        except Exception as exc:  # the getter failed: groupcache answers 500 with the text
            return 500, TEXT, f"{type(exc).__name__}: {exc}".encode()
        return 200, PROTOBUF, GetResponse(value=value.bytes(), minute_qps=rate.hit()).SerializeToString()

    async def _serve_put(self, c: gee.Context, body: bytes) -> tuple[int, str, bytes]:
        group, key = self._group_and_key(c)
        ttl_text = c.query("ttl")
        try:
            ttl = None if ttl_text is None else check_ttl(float(ttl_text))
        except ValueError as exc:
            shown = (ttl_text or "")[:40]
            raise gee.HTTPError(400, f"ttl must be a finite number of seconds above 0, not {shown!r}") from exc
        group.set_local(key, body, ttl)
        return 204, TEXT, b""

    async def _serve_delete(self, c: gee.Context, _: bytes) -> tuple[int, str, bytes]:
        group, key = self._group_and_key(c)
        group.remove_local(key)
        return 204, TEXT, b""

    async def _serve_peers(self, c: gee.Context, _: bytes) -> tuple[int, str, bytes]:
        return 200, JSON, json.dumps({"self": self.self_url, "peers": self.peers}).encode()

    async def _serve_set_peers(self, c: gee.Context, body: bytes) -> tuple[int, str, bytes]:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise gee.HTTPError(400, 'send {"peers": ["http://host:port", ...]} as JSON') from exc
        peers = document.get("peers") if isinstance(document, dict) else None
        if not isinstance(peers, list) or not all(isinstance(p, str) for p in peers):
            raise gee.HTTPError(400, 'send {"peers": ["http://host:port", ...]}')
        try:
            self.set_peers(*peers)
        except ValueError as exc:
            raise gee.HTTPError(400, str(exc)) from exc
        return 200, JSON, json.dumps({"self": self.self_url, "peers": self.peers}).encode()

    async def _serve_stats(self, c: gee.Context, _: bytes) -> tuple[int, str, bytes]:
        groups = [metrics.snapshot(group) for group in self.groups.values()]
        stats = {"self": self.self_url, "peers": self.peers, "groups": groups}
        return 200, JSON, json.dumps(stats).encode()
