"""HTTPPool over real HTTP: in-process nodes, each a uvicorn server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import gee
from geecache import Group, HTTPPool, KeyNotFound, PeerError
from geecache.auth import PeerAuth
from geecache.groupcache_pb2 import GetResponse

from tests.conftest import listening_socket, running_server, url_of

SECRET = b"test-cluster-secret-0123456789abcdef"
TRUSTED = {"trusted_network": True}  # Go groupcache's unsigned read-only protocol, for raw wire checks
SPECIAL_KEYS = ["plain", "with/slash", "with space", "a+b", "100%", "%2F", "ünï©ødé", "", "a?b#c&d=e"]
# Keys that a URL library would normalise: dot segments, empty segments, a trailing slash, query and fragment marks.
URL_NORMALISED_KEYS = [".", "..", "%2e", "%2E%2E", "./k", "a/../b", "a/./b", "k/.", "k/..", "//", "a//b", "a/", "/"]
URL_NORMALISED_KEYS += ["?", "#", "?x=1", "#top", ";x", "\\..\\"]


def value_for(key: str) -> bytes:
    if key.startswith("missing"):
        raise KeyNotFound("kv", key)
    if key.startswith("fail"):
        raise RuntimeError(f"getter broke on {key}")
    return f"value of {key}".encode()


class Node:
    def __init__(self, sock: socket.socket, peers: list[str], hot_cache_ratio: float = 0, **pool_options):
        self.url = url_of(sock)
        self.loads: list[str] = []
        self.loading = threading.Event()  # set by every load
        self.gate = threading.Event()  # loads wait for it (10 s at most); open unless a test closes it
        self.gate.set()

        def getter(key: str) -> bytes:
            self.loads.append(key)
            value = value_for(key)  # read before the wait: a slow load answers what it read
            self.loading.set()
            self.gate.wait(10)
            return value

        self.group = Group("kv", 1 << 20, getter, hot_cache_ratio=hot_cache_ratio)
        self.pool = HTTPPool(self.url, **pool_options)
        self.pool.set_peers(*peers)
        self.pool.register(self.group)
        self.sock = sock

    def get(self, key: str) -> bytes:
        """Ask this node for a key from a thread other than its server's (as a client would)."""
        return asyncio.run(self._get(key))

    async def _get(self, key: str) -> bytes:
        try:
            return (await self.group.get(key)).bytes()
        finally:
            await self.pool.client().close()  # this loop's client; other threads' loops keep theirs

    def run(self, coroutine) -> None:  # type: ignore[no-untyped-def]
        """Run a coroutine of this node's group (a write) on a loop of its own, as a client thread would."""

        async def main() -> None:
            try:
                await coroutine
            finally:
                await self.pool.client().close()

        asyncio.run(main())


def signed(auth: PeerAuth, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    """The headers a peer holding ``auth``'s secret sends with ``method path``."""
    return auth.sign_request(method, path, body)


@contextmanager
def cluster(size: int, **pool_options) -> Iterator[list[Node]]:
    """``size`` nodes in one process, signing with ``SECRET`` unless the options say otherwise."""
    if "trusted_network" not in pool_options:
        pool_options.setdefault("auth", PeerAuth(SECRET))
    sockets = [listening_socket() for _ in range(size)]
    peers = [url_of(s) for s in sockets]
    nodes = [Node(s, peers, **pool_options) for s in sockets]
    with ExitStack() as stack:
        for node in nodes:
            stack.enter_context(running_server(node.pool.engine(), node.sock))
        yield nodes


def test_wire_protocol_answers_like_groupcache():
    with cluster(1, **TRUSTED) as (node,), httpx.Client(base_url=node.url) as client:
        response = client.get("/_groupcache/kv/Tom")
        assert response.status_code == 200 and response.headers["content-type"] == "application/x-protobuf"
        message = GetResponse()
        message.ParseFromString(response.content)
        assert message.value == b"value of Tom"
        assert client.get("/_groupcache/kv").status_code == 400
        unknown = client.get("/_groupcache/nosuch/Tom")
        assert unknown.status_code == 404 and unknown.text == "no such group: nosuch"
        missing = client.get("/_groupcache/kv/missing-1")
        assert missing.status_code == 404 and missing.text.startswith("key not found")
        broken = client.get("/_groupcache/kv/fail-1")
        assert broken.status_code == 500 and "getter broke on fail-1" in broken.text
        assert client.get("/_groupcache/kv/%ff").status_code == 400
        assert node.group.stats.server_requests == 3  # Tom, missing-1, fail-1


def test_go_clients_query_escaping_is_decoded():
    with cluster(1, **TRUSTED) as (node,), httpx.Client(base_url=node.url) as client:
        # Go's url.QueryEscape: space -> '+', '+' -> %2B, '/' -> %2F
        message = GetResponse()
        message.ParseFromString(client.get("/_groupcache/kv/a+b%2Bc%2Fd").content)
        assert message.value == b"value of a b+c/d"


@pytest.mark.parametrize("key", SPECIAL_KEYS + URL_NORMALISED_KEYS)
def test_special_keys_travel_intact_between_peers(key):
    with cluster(2) as nodes:
        owner = next(n for n in nodes if n.pool.owner(key) == n.url)
        other = next(n for n in nodes if n is not owner)
        assert other.get(key) == value_for(key)
        assert owner.loads == [key] and other.loads == []


def test_not_found_from_the_owner_is_believed_not_loaded_locally():
    with cluster(2) as nodes:
        key = next(f"missing-{i}" for i in range(100) if nodes[0].pool.owner(f"missing-{i}") == nodes[1].url)
        with pytest.raises(KeyNotFound):
            nodes[0].get(key)
        assert nodes[0].loads == [] and nodes[1].loads == [key]


@contextmanager
def fake_peer(answer: bytes | None) -> Iterator[str]:
    """A peer that answers every connection with ``answer``, or never answers (None)."""
    sock = listening_socket()
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            held.append(conn)
            if answer is not None:
                conn.recv(65536)
                conn.sendall(answer)
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield url_of(sock)
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        sock.close()


GARBAGE = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 9\r\n\r\n" + b"\xff" * 9


@pytest.mark.parametrize("answer", [GARBAGE, None, b"not http at all\r\n\r\n"], ids=["garbage", "hangs", "not-http"])
def test_a_broken_peer_makes_the_node_load_locally(answer):
    with fake_peer(answer) as bad_url:
        sock = listening_socket()
        node = Node(sock, [url_of(sock), bad_url], timeout=0.5, **TRUSTED)
        with running_server(node.pool.engine(), sock):
            key = next(f"k{i}" for i in range(200) if node.pool.owner(f"k{i}") == bad_url)
            peer = node.pool.pick_peer(key)
            assert peer is not None
            with pytest.raises(PeerError):
                asyncio.run(_close_after(node.pool, peer.get("kv", key)))
            assert node.get(key) == value_for(key)
            assert node.loads == [key]
            assert node.group.stats.peer_errors == 1
            with httpx.Client(base_url=node.url) as client:  # and the node keeps serving
                assert client.get("/_groupcache/kv/x").status_code == 200


async def _close_after(pool: HTTPPool, coroutine):
    try:
        return await coroutine
    finally:
        await pool.close()


def test_set_and_remove_reach_every_peer():
    with cluster(3) as nodes:
        key = "shared-key"
        owner = next(n for n in nodes if n.pool.owner(key) == n.url)
        asker = next(n for n in nodes if n is not owner)

        async def scenario() -> None:
            try:
                await asker.group.set(key, b"written")
                assert owner.group.main_cache.get(key) == b"written"
                assert (await asker.group.get(key)) == b"written"
                await asker.group.remove(key)
                assert owner.group.main_cache.get(key) is None
            finally:
                await asker.pool.close()

        asyncio.run(scenario())
        assert asker.get(key) == value_for(key)  # loaded afresh by the owner after the removal
        assert owner.loads == [key]


def test_stats_json_prometheus_and_membership_endpoints():
    auth = PeerAuth(SECRET)
    with cluster(2) as nodes, httpx.Client(base_url=nodes[0].url) as client:
        nodes[0].get(next(f"k{i}" for i in range(100) if nodes[0].pool.owner(f"k{i}") == nodes[0].url))
        stats = client.get("/_geecache/stats", headers=signed(auth, "GET", "/_geecache/stats")).json()
        assert stats["self"] == nodes[0].url and stats["groups"][0]["group"] == "kv"
        assert stats["groups"][0]["counters"]["gets"] == 1
        metrics = client.get("/metrics").text
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(metrics)
            for sample in family.samples
        }
        assert "# TYPE geecache_gets_total counter" in metrics
        families = [line.split()[2] for line in metrics.splitlines() if line.startswith("# TYPE")]
        assert len(families) == len(set(families))  # Stats.cache_hits and the caches' hits share one family
        assert samples["geecache_gets_total", (("group", "kv"),)] == 1
        held = nodes[0].group.main_cache.nbytes
        assert held > 0 and samples["geecache_cache_bytes", (("cache", "main"), ("group", "kv"))] == held
        assert samples["geecache_cache_hits_total", (("cache", "hot"), ("group", "kv"))] == 0
        assert samples["geecache_cache_hits_total", (("group", "kv"),)] == 0

        def put_peers(document: bytes) -> httpx.Response:
            headers = signed(auth, "PUT", "/_geecache/peers", document)
            return client.put("/_geecache/peers", content=document, headers=headers)

        only_me = put_peers(json.dumps({"peers": [nodes[0].url]}).encode())
        assert only_me.json()["peers"] == [nodes[0].url]
        assert nodes[0].pool.pick_peer("anything") is None
        assert put_peers(b'{"peers": "nope"}').status_code == 400
        assert put_peers(b'{"peers": ["ftp://x"]}').status_code == 400


def test_pool_refuses_bad_configuration():
    with pytest.raises(ValueError, match="base URL"):
        HTTPPool("127.0.0.1:8000")
    with pytest.raises(ValueError, match="base_path"):
        HTTPPool("http://127.0.0.1:8000", base_path="/nope")
    pool = HTTPPool("http://127.0.0.1:8000")
    with pytest.raises(ValueError, match="not a base URL"):
        pool.set_peers("localhost:1")
    with pytest.raises(ValueError, match="cluster secret"):
        pool.set_peers("http://127.0.0.1:8000", "http://127.0.0.1:8001")  # several nodes, no secret
    pool.set_peers("http://127.0.0.1:8000")  # a single node needs none
    pool.register(Group("g", 1, bytes))
    with pytest.raises(ValueError, match="already registered"):
        pool.register(Group("g", 1, bytes))


def test_mount_on_an_existing_engine():
    engine = gee.Engine()
    engine.get("/", lambda c: c.string(200, "app"))
    pool = HTTPPool("http://127.0.0.1:1", trusted_network=True)
    pool.register(Group("kv", 1 << 10, value_for))
    pool.mount(engine)
    from gee.testing import TestClient

    with TestClient(engine) as client:
        assert client.get("/").text == "app"
        assert client.get("/_groupcache/kv/x").status_code == 200


def peer_owned(nodes: list[Node], asker: Node, prefix: str = "k") -> str:
    return next(f"{prefix}{i}" for i in range(1000) if asker.pool.owner(f"{prefix}{i}") != asker.url)


def test_get_sync_twice_on_a_key_a_peer_owns_asks_the_peer_both_times():
    with cluster(2) as nodes:
        asker = nodes[0]
        key = peer_owned(nodes, asker)
        assert asker.group.get_sync(key) == value_for(key)
        assert asker.group.get_sync(key) == value_for(key)  # the second call used to meet "Event loop is closed"
        assert (asker.group.stats.peer_loads, asker.group.stats.peer_errors) == (2, 0)
        assert asker.loads == []


def test_get_sync_from_many_threads_and_a_loop_of_their_own_on_one_key():
    with cluster(2) as nodes:
        asker = nodes[0]
        owner = nodes[1]
        key = peer_owned(nodes, asker)
        owner.gate.clear()  # every asker arrives while the owner's load is in flight
        answers: list[bytes] = []
        barrier = threading.Barrier(9, timeout=10)

        def blocking() -> None:
            barrier.wait()
            answers.append(asker.group.get_sync(key).bytes())

        def own_loop() -> None:
            barrier.wait()
            answers.append(asker.get(key))

        threads = [threading.Thread(target=blocking) for _ in range(8)] + [threading.Thread(target=own_loop)]
        for thread in threads:
            thread.start()
        assert owner.loading.wait(10)
        owner.gate.set()
        for thread in threads:
            thread.join(10)
        assert answers == [value_for(key)] * 9  # "attached to a different loop" before
        assert asker.group.stats.peer_errors == 0 and asker.loads == []
        assert owner.loads == [key]  # the owner's singleflight merged every asker's request


def test_a_set_during_a_peer_load_leaves_no_stale_copy_on_the_mirror():
    """Over HTTP: ``a`` keeps every value it fetches hot; while the owner's load of the key is in flight, ``c``
    sets a new value; the old value still answers ``a``'s caller, and no node keeps it."""
    with cluster(3, hot_cache_ratio=1) as nodes:
        key = "contested"
        owner = next(n for n in nodes if n.pool.owner(key) == n.url)
        mirror, writer = (n for n in nodes if n is not owner)
        owner.gate.clear()
        answers: list[bytes] = []
        reader = threading.Thread(target=lambda: answers.append(mirror.group.get_sync(key).bytes()))
        reader.start()
        assert owner.loading.wait(10)
        writer.run(writer.group.set(key, b"new value"))
        owner.gate.set()
        reader.join(10)
        assert answers == [value_for(key)]
        assert mirror.group.hot_cache.get(key) is None and owner.group.main_cache.get(key) == b"new value"
        for node in nodes:
            assert node.get(key) == b"new value"
        assert owner.loads == [key]
