import threading

import pytest

from geecache import CacheStats, LockedLRUCache, LRUCache


def test_get_add_and_recency_order():
    cache: LRUCache[bytes] = LRUCache()
    cache.add("a", b"1")
    cache.add("b", b"2")
    cache.add("c", b"3")
    assert cache.get("a") == b"1"
    assert cache.ordered_keys() == ["b", "c", "a"]  # least to most recently used
    assert cache.get("zzz") is None
    assert cache.stats() == CacheStats(bytes=6, items=3, gets=2, hits=1, evictions=0)
    assert (cache.hits, cache.misses) == (1, 1)


def test_evicts_least_recently_used_to_stay_within_bytes():
    evicted: list[str] = []
    cache: LRUCache[bytes] = LRUCache(max_bytes=10, on_evicted=lambda k, v: evicted.append(k))
    cache.add("k1", b"123")  # 5 bytes
    cache.add("k2", b"123")  # 10 bytes
    cache.get("k1")
    cache.add("k3", b"123")  # 15 > 10: k2 goes
    assert evicted == ["k2"] and cache.ordered_keys() == ["k1", "k3"] and cache.nbytes == 10
    assert cache.stats().evictions == 1


def test_max_entries():
    cache: LRUCache[bytes] = LRUCache(max_entries=2)
    for key in "abc":
        cache.add(key, b"")
    assert cache.ordered_keys() == ["b", "c"]


def test_replacing_a_key_fires_on_evicted_so_the_byte_count_never_drifts():
    seen: list[tuple[str, bytes]] = []
    cache: LRUCache[bytes] = LRUCache(on_evicted=lambda k, v: seen.append((k, v)))
    cache.add("k", b"old value")
    cache.add("k", b"new")
    assert seen == [("k", b"old value")]
    assert cache.nbytes == len("k") + len("new") and len(cache) == 1


def test_remove_and_remove_oldest_and_clear():
    cache: LRUCache[bytes] = LRUCache()
    cache.add("a", b"1")
    cache.add("b", b"2")
    assert cache.remove("a") and not cache.remove("a")
    assert cache.remove_oldest() and not cache.remove_oldest()
    cache.add("c", b"3")
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


def test_ttl_expires_entries(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("geecache.lru.time.monotonic", lambda: now[0])
    cache: LRUCache[bytes] = LRUCache()
    cache.add("k", b"v", ttl=5)
    assert cache.get("k") == b"v"
    now[0] += 5.01
    assert cache.get("k") is None and len(cache) == 0 and cache.nbytes == 0


def test_negative_bounds_are_refused():
    with pytest.raises(ValueError, match=">= 0"):
        LRUCache(max_bytes=-1)


def test_byte_bound_holds_after_100000_inserts_from_threads():
    cache: LockedLRUCache[bytes] = LockedLRUCache(max_bytes=50_000)

    def writer(offset: int) -> None:
        for i in range(25_000):
            cache.add(f"key-{offset}-{i}", b"v" * (i % 50))
            cache.get(f"key-{offset}-{i // 2}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.nbytes <= 50_000
    assert cache.nbytes == sum(len(k) + len(cache.get(k) or b"") for k in cache.ordered_keys())
    assert len(cache.ordered_keys()) == len(cache)
