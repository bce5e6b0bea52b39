import itertools
import random

from geecache import Group, LockedS3FIFOCache, LRUCache, S3FIFOCache


def zipf_keys(count: int, distinct: int, seed: int = 1) -> list[str]:
    weights = list(itertools.accumulate(1 / rank for rank in range(1, distinct + 1)))
    rng = random.Random(seed)
    return [f"k{i}" for i in rng.choices(range(distinct), cum_weights=weights, k=count)]


def hit_ratio(cache, keys: list[str]) -> float:
    for key in keys:
        if cache.get(key) is None:
            cache.add(key, b"v")
    return cache.hits / cache.gets


def test_beats_lru_hit_ratio_on_a_skewed_stream():
    keys = zipf_keys(100_000, 10_000)
    lru = hit_ratio(LRUCache(max_entries=1000), keys)
    s3 = hit_ratio(S3FIFOCache(max_entries=1000), keys)
    assert s3 > lru + 0.02


def test_a_scan_of_one_hit_keys_does_not_flush_the_hot_set():
    cache: S3FIFOCache[bytes] = S3FIFOCache(max_entries=100)
    hot = [f"hot{i}" for i in range(50)]
    for _ in range(3):
        for key in hot:
            if cache.get(key) is None:
                cache.add(key, b"v")
    for i in range(1000):  # a scan: each key once
        cache.add(f"scan{i}", b"v")
    assert sum(cache.get(key) is not None for key in hot) == len(hot)


def test_bounds_replace_remove_and_callbacks():
    evicted: list[str] = []
    cache: S3FIFOCache[bytes] = S3FIFOCache(max_bytes=100, on_evicted=lambda k, v: evicted.append(k))
    for i in range(50):
        cache.add(f"key{i:02d}", b"12345")  # 10 bytes each
        assert cache.nbytes <= 100
    assert len(cache) == 10 and len(evicted) == 40
    cache.add("key49", b"1")  # a replacement reports the old value too
    assert evicted[-1] == "key49" and cache.nbytes == sum(len(k) + 5 for k in cache.ordered_keys()) - 4
    assert cache.remove("key49") and not cache.remove("key49")
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


def test_ghost_keys_come_back_into_the_main_queue():
    cache: S3FIFOCache[bytes] = S3FIFOCache(max_entries=10)
    cache.add("returning", b"v")
    for i in range(12):
        cache.add(f"filler{i}", b"v")
    assert "returning" not in cache
    cache.add("returning", b"v")  # remembered by the ghost list: straight into the main queue
    for i in range(12, 30):
        cache.add(f"filler{i}", b"v")
    assert "returning" in cache


def test_locked_variant_and_group_policy():
    cache: LockedS3FIFOCache[bytes] = LockedS3FIFOCache(max_entries=2)
    cache.add("a", b"1")
    assert cache.get("a") == b"1"
    group = Group("s3", 1 << 20, lambda key: key.encode(), policy="s3fifo")
    assert group.get_sync("x") == b"x" and group.get_sync("x") == b"x"
    assert group.main_cache.stats().hits == 1
