"""Peers prove they hold the cluster secret: unsigned, forged, altered, stale and replayed requests change nothing,
and a value is accepted only from an answer signed for the request that asked for it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from geecache import PeerError
from geecache.auth import AuthError, PeerAuth, load_secret

from tests.conftest import listening_socket, running_server, url_of
from tests.geecache.test_http import SECRET, Node, cluster, signed, value_for

PATH = "/_groupcache/kv/victim"


def test_anonymous_forged_altered_stale_and_replayed_writes_change_nothing() -> None:
    auth = PeerAuth(SECRET)
    with cluster(1) as (node,), httpx.Client(base_url=node.url) as client:
        assert client.put(PATH, content=b"poison").status_code == 401
        assert client.delete(PATH).status_code == 401
        assert client.get(PATH).status_code == 401  # reads too: the cache holds patients' data
        members = client.put("/_geecache/peers", json={"peers": [node.url, "http://127.0.0.1:9"]})
        assert members.status_code == 401 and node.pool.peers == [node.url]
        forged = PeerAuth(b"another-secret-0123456789abcdef!")
        assert client.put(PATH, content=b"poison", headers=signed(forged, "PUT", PATH, b"poison")).status_code == 401
        altered = signed(auth, "PUT", PATH, b"good")
        assert client.put(PATH, content=b"poison", headers=altered).status_code == 401  # body swapped in flight
        stale = PeerAuth(SECRET, clock=lambda: 1_000_000.0)
        assert client.put(PATH, content=b"old", headers=signed(stale, "PUT", PATH, b"old")).status_code == 401
        assert node.group.main_cache.get("victim") is None
        good = signed(auth, "PUT", PATH, b"fresh")
        first = client.put(PATH, content=b"fresh", headers=good)
        assert first.status_code == 204 and node.group.main_cache.get("victim") == b"fresh"
        node.group.remove_local("victim")
        replayed = client.put(PATH, content=b"fresh", headers=good)
        assert replayed.status_code == 401 and "replayed" in replayed.text
        assert node.group.main_cache.get("victim") is None
        answer = client.get(PATH, headers=signed(auth, "GET", PATH))
        assert answer.status_code == 200 and answer.headers["x-geecache-signature"]


def test_refusals_never_show_the_secret() -> None:
    with cluster(1) as (node,), httpx.Client(base_url=node.url) as client:
        text = client.put(PATH, content=b"x", headers=signed(PeerAuth(b"z" * 32), "PUT", PATH, b"x")).text
        assert SECRET.decode() not in text and "signature" in text
    assert SECRET.decode() not in repr(PeerAuth(SECRET))


def test_a_peer_with_another_secret_is_not_believed() -> None:
    """A node that asks a peer holding another secret gets a failure, not the peer's value, and loads locally."""
    with cluster(1, auth=PeerAuth(b"the-impostors-secret-0123456789ab")) as (impostor,):
        sock = listening_socket()
        node = Node(sock, [url_of(sock), impostor.url], auth=PeerAuth(SECRET), timeout=1)
        with running_server(node.pool.engine(), sock):
            key = next(f"k{i}" for i in range(200) if node.pool.owner(f"k{i}") == impostor.url)
            peer = node.pool.pick_peer(key)
            assert peer is not None

            async def ask() -> None:
                try:
                    await peer.get("kv", key)
                finally:
                    await node.pool.close()

            with pytest.raises(PeerError, match="signature"):
                asyncio.run(ask())
            assert node.get(key) == value_for(key) and node.loads == [key]


def test_trusted_network_mode_serves_reads_unsigned_and_refuses_writes() -> None:
    with cluster(1, trusted_network=True) as (node,), httpx.Client(base_url=node.url) as client:
        assert client.get(PATH).status_code == 200
        assert client.put(PATH, content=b"poison").status_code == 403
        assert client.put("/_geecache/peers", json={"peers": [node.url]}).status_code == 403
        assert node.group.main_cache.get("victim") == b"value of victim"  # the read's value, not the write's


def test_a_signature_for_another_target_or_none_at_all_is_refused() -> None:
    auth = PeerAuth(SECRET, window=5)
    headers = auth.sign_request("GET", "/p", b"")
    with pytest.raises(AuthError, match="does not match"):
        auth.verify_request("GET", "/other", headers, b"")
    with pytest.raises(AuthError, match="no peer credential"):
        auth.verify_request("GET", "/p", {}, b"")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        PeerAuth(b"short")


def test_load_secret_from_a_private_file_or_the_environment(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "secret"
    path.write_text("  s3cret-value-0123456789\n")
    path.chmod(0o600)
    assert load_secret(path) == b"s3cret-value-0123456789"
    path.chmod(0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        load_secret(path)
    monkeypatch.setenv("GEECACHE_SECRET", "from-the-environment-0123")
    assert load_secret(None) == b"from-the-environment-0123"
    monkeypatch.delenv("GEECACHE_SECRET")
    assert load_secret(None) is None
