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

import gee
from geecache import Group, HTTPPool, KeyNotFound, PeerError
from geecache.auth import PeerAuth
from geecache.groupcache_pb2 import GetResponse

from tests.conftest import listening_socket, running_server, url_of

SECRET = b"test-cluster-secret-0123456789abcdef"
TRUSTED = {"trusted_network": True}  # Go groupcache's unsigned read-only protocol, for raw wire checks
SPECIAL_KEYS = ["plain", "with/slash", "with space", "a+b", "100%", "%2F", "ünï©ødé", "", "a?b#c&d=e"]


def value_for(key: str) -> bytes:
    if key.startswith("missing"):
        raise KeyNotFound("kv", key)
    if key.startswith("fail"):
        raise RuntimeError(f"getter broke on {key}")
    return f"value of {key}".encode()


class Node:
    def __init__(self, sock: socket.socket, peers: list[str], **pool_options):
        self.url = url_of(sock)
        self.loads: list[str] = []

        def getter(key: str) -> bytes:
            self.loads.append(key)
            return value_for(key)

        self.group = Group("kv", 1 << 20, getter, hot_cache_ratio=0)
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
            await self.pool.close()


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
        assert node.group.stats()["counters"]["server_requests"] == 3  # Tom, missing-1, fail-1


def test_go_clients_query_escaping_is_decoded():
    with cluster(1, **TRUSTED) as (node,), httpx.Client(base_url=node.url) as client:
        # Go's url.QueryEscape: space -> '+', '+' -> %2B, '/' -> %2F
        message = GetResponse()
        message.ParseFromString(client.get("/_groupcache/kv/a+b%2Bc%2Fd").content)
        assert message.value == b"value of a b+c/d"


@pytest.mark.parametrize("key", SPECIAL_KEYS)
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
            assert node.group.stats()["counters"]["peer_errors"] == 1
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
        nodes[0].get("plain")
        stats = client.get("/_geecache/stats", headers=signed(auth, "GET", "/_geecache/stats")).json()
        assert stats["self"] == nodes[0].url and stats["groups"][0]["group"] == "kv"
        assert stats["groups"][0]["counters"]["gets"] == 1
        metrics = client.get("/metrics").text
        assert "# TYPE geecache_gets_total counter" in metrics and 'geecache_gets_total{group="kv"} 1' in metrics
        assert 'geecache_cache_bytes{group="kv",cache="main"}' in metrics

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
