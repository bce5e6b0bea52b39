"""LRU speed and hit ratio on a skewed stream, beside peer caches.

A Zipf(1.0) stream of 1,000,000 operations over 100,000 keys, capacity 10,000
entries, read-through: each request is a get, and a miss inserts the key. Every
cache sees the same stream; rounds are interleaved and medians reported, with the
cyclic garbage collector off during the runs (as timeit does).

- geecache ``LRUCache`` (an ``OrderedDict``, as groupcache's ``container/list``, with its
  byte bound, hit/miss/eviction counters and TTL side map; without its lock)
- ``cachetools.LRUCache``, a bare inline ``OrderedDict`` LRU (no method calls, no
  counters, no byte count: the floor of the structure), the same behind ``get``/``add``
  methods only (the floor of any cache object), ``functools.lru_cache``
- geecache ``S3FIFOCache`` (the admission/eviction policy beyond LRU) beside
  theine's W-TinyLFU, for hit ratio and time per operation.

    python benchmarks/geecache_lru.py [--ops 1000000] [--keys 100000] [--capacity 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import functools
import gc
import itertools
import random
import time
from collections import OrderedDict
from collections.abc import Callable

from geecache import LRUCache
from geecache.s3fifo import S3FIFOCache

from common import header, interleaved, median

VALUE = b"v" * 16


def zipf_stream(ops: int, keys: int, s: float = 1.0, seed: int = 7) -> list[str]:
    weights = [1 / (rank**s) for rank in range(1, keys + 1)]
    cumulative = list(itertools.accumulate(weights))
    names = [f"key:{i}" for i in range(keys)]
    rng = random.Random(seed)
    return [names[i] for i in rng.choices(range(keys), cum_weights=cumulative, k=ops)]


# Each runner replays the stream read-through and returns (seconds, hit ratio).
Runner = Callable[[list[str], int], tuple[float, float]]


def run_geecache(policy: type[LRUCache[bytes]] | type[S3FIFOCache[bytes]]) -> Runner:
    def run(stream: list[str], capacity: int) -> tuple[float, float]:
        cache = policy(max_entries=capacity)
        get, add = cache.get, cache.add
        start = time.perf_counter()
        for key in stream:
            if get(key) is None:
                add(key, VALUE)
        return time.perf_counter() - start, cache.hits / cache.gets

    return run


def run_cachetools(stream: list[str], capacity: int) -> tuple[float, float]:
    import cachetools

    cache: cachetools.LRUCache[str, bytes] = cachetools.LRUCache(maxsize=capacity)
    get = cache.get
    hits = 0
    start = time.perf_counter()
    for key in stream:
        if get(key) is None:
            cache[key] = VALUE
        else:
            hits += 1
    return time.perf_counter() - start, hits / len(stream)


def run_ordereddict(stream: list[str], capacity: int) -> tuple[float, float]:
    cache: OrderedDict[str, bytes] = OrderedDict()
    hits = 0
    start = time.perf_counter()
    for key in stream:
        if key in cache:
            cache.move_to_end(key)
            hits += 1
        else:
            cache[key] = VALUE
            if len(cache) > capacity:
                cache.popitem(last=False)
    return time.perf_counter() - start, hits / len(stream)


class MethodsOnly:
    """An OrderedDict LRU behind ``get``/``add`` methods and nothing else: the price of the method calls alone,
    which any cache object pays (no counters, no byte count, no TTL)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.entries: OrderedDict[str, bytes] = OrderedDict()
        self.lookup = self.entries.get
        self.touch = self.entries.move_to_end

    def get(self, key: str) -> bytes | None:
        value = self.lookup(key)
        if value is not None:
            self.touch(key)
        return value

    def add(self, key: str, value: bytes) -> None:
        self.entries[key] = value
        if len(self.entries) > self.capacity:
            self.entries.popitem(last=False)


def run_methods_only(stream: list[str], capacity: int) -> tuple[float, float]:
    cache = MethodsOnly(capacity)
    get, add = cache.get, cache.add
    hits = 0
    start = time.perf_counter()
    for key in stream:
        if get(key) is None:
            add(key, VALUE)
        else:
            hits += 1
    return time.perf_counter() - start, hits / len(stream)


def run_lru_cache(stream: list[str], capacity: int) -> tuple[float, float]:
    @functools.lru_cache(maxsize=capacity)
    def load(key: str) -> bytes:
        return VALUE

    start = time.perf_counter()
    for key in stream:
        load(key)
    elapsed = time.perf_counter() - start
    info = load.cache_info()
    return elapsed, info.hits / (info.hits + info.misses)


def run_theine(stream: list[str], capacity: int) -> tuple[float, float]:
    from theine import Cache

    cache = Cache(capacity)
    get, set_ = cache.get, cache.set
    hits = 0
    start = time.perf_counter()
    for key in stream:
        _value, found = get(key)
        if found:
            hits += 1
        else:
            set_(key, VALUE)
    return time.perf_counter() - start, hits / len(stream)


RUNNERS: dict[str, Runner] = {
    "geecache LRUCache": run_geecache(LRUCache),
    "cachetools.LRUCache": run_cachetools,
    "OrderedDict LRU": run_ordereddict,
    "OrderedDict LRU, methods only": run_methods_only,
    "functools.lru_cache": run_lru_cache,
    "geecache S3FIFOCache": run_geecache(S3FIFOCache),
    "theine W-TinyLFU": run_theine,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--capacity", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    stream = zipf_stream(args.ops, args.keys)
    # As timeit does: the cyclic collector would otherwise bill whichever cache runs when it wakes.
    gc.collect()
    gc.disable()
    print(header(["cachetools", "theine"]))
    print(f"stream: Zipf(1.0), {args.ops:,} operations over {args.keys:,} keys, capacity {args.capacity:,}\n")
    ratios: dict[str, float] = {}

    def timed(runner: Runner, name: str) -> Callable[[], float]:
        def run() -> float:
            elapsed, ratio = runner(stream, args.capacity)
            ratios[name] = ratio
            return elapsed

        return run

    results = interleaved({name: timed(runner, name) for name, runner in RUNNERS.items()}, args.rounds)
    seconds = {name: median(values) for name, values in results.items()}
    base = seconds["cachetools.LRUCache"]
    print("| cache | M ops/s | ns/op | hit ratio | speed vs cachetools |")
    print("|---|---|---|---|---|")
    for name, elapsed in seconds.items():
        print(
            f"| {name} | {args.ops / elapsed / 1e6:.2f} | {elapsed / args.ops * 1e9:.0f} | "
            f"{ratios[name]:.3f} | {base / elapsed:.2f}x |"
        )


if __name__ == "__main__":
    main()
