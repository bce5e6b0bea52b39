import zlib

import pytest

from geecache import Ring

PEERS = ["http://127.0.0.1:8001", "http://127.0.0.1:8002", "http://127.0.0.1:8003"]
# Owners printed by golang/groupcache's consistenthash (tests/geecache/go/ringowners) for these peers, 50 replicas.
GOLDEN = {
    "a": PEERS[2],
    "b": PEERS[0],
    "hello world": PEERS[2],
    "key/with/slash": PEERS[0],
    "": PEERS[0],
    "ünïcode": PEERS[0],
}


def test_owners_match_golang_groupcache():
    ring = Ring(50, peers=PEERS)
    assert {key: ring.get(key) for key in GOLDEN} == GOLDEN


def test_virtual_nodes_use_groupcaches_hash_recipe():
    ring = Ring(3, hash_fn=lambda data: int(data.decode().rsplit("|", 1)[-1]) if b"|" in data else zlib.crc32(data))
    ring.add("|10", "|20")  # virtual node i of peer p is hashed from str(i) + p
    assert sorted(ring._points) == [10, 10, 10, 20, 20, 20]


def test_empty_ring_owns_nothing():
    assert Ring().get("k") is None


def test_add_and_remove_move_only_some_keys():
    ring = Ring(50, peers=PEERS)
    keys = [f"key-{i}" for i in range(2000)]
    before = {k: ring.get(k) for k in keys}
    ring.add("http://127.0.0.1:8004")
    moved = [k for k in keys if ring.get(k) != before[k]]
    assert all(ring.get(k) == "http://127.0.0.1:8004" for k in moved)  # keys only move to the newcomer
    assert 0.1 < len(moved) / len(keys) < 0.45  # about 1/4, never a reshuffle
    ring.remove("http://127.0.0.1:8004")
    assert {k: ring.get(k) for k in keys} == before


def test_bad_replicas():
    with pytest.raises(ValueError, match="replicas"):
        Ring(0)
