"""Every eviction path ends with the bound held: each policy on its own, and a Group's main and hot caches
together under ``cache_bytes`` (property tests over random operation sequences, and the reported cases)."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geecache import Group, LRUCache, S3FIFOCache

from tests.geecache.inprocess import connect

POLICIES = [LRUCache, S3FIFOCache]
KEYS = st.sampled_from([f"k{i}" for i in range(8)])
SIZES = st.one_of(st.sampled_from([8, 18]), st.integers(0, 60))  # equal sizes fill a bound exactly
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), KEYS, SIZES),
        st.tuples(st.just("get"), KEYS, st.just(0)),
        st.tuples(st.just("remove"), KEYS, st.just(0)),
        st.tuples(st.just("remove_oldest"), st.just(""), st.just(0)),
    ),
    max_size=100,
)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.__name__)
@settings(max_examples=500, deadline=None)
@given(max_bytes=st.integers(0, 150), max_entries=st.integers(0, 8), operations=OPERATIONS)
def test_every_operation_ends_within_the_bounds(
    policy: type[LRUCache[bytearray]], max_bytes: int, max_entries: int, operations: list[tuple[str, str, int]]
) -> None:
    held: dict[str, bytearray] = {}  # what the cache holds, told by its own callback

    def evicted(key: str, value: bytearray) -> None:
        if held.get(key) is value:  # not a value it replaced
            del held[key]

    cache = policy(max_bytes=max_bytes, max_entries=max_entries, on_evicted=evicted)
    for operation, key, size in operations:
        if operation == "add":
            held[key] = bytearray(size)  # a distinct object each time
            cache.add(key, held[key])
        elif operation == "get":
            assert cache.get(key) == held.get(key)
        elif operation == "remove":
            expected = key in held
            assert cache.remove(key) == expected and key not in held
        else:
            expected = bool(held)
            assert cache.remove_oldest() == expected
        assert not max_bytes or cache.nbytes <= max_bytes
        assert not max_entries or len(cache) <= max_entries
        assert cache.nbytes == sum(len(k) + len(v) for k, v in held.items())
        assert sorted(cache.ordered_keys()) == sorted(held) and len(cache) == len(held)


def ten_byte_entries(cache: S3FIFOCache[bytes]) -> None:
    """The reported case: a key comes back from the ghost list while every small-queue entry has been read."""
    for i in range(11):
        cache.add(f"k{i:02d}", b"1234567")  # 10 bytes each; k00 leaves for the ghost list
    for i in range(1, 11):
        assert cache.get(f"k{i:02d}") == b"1234567"


def test_s3fifo_holds_100_bytes_when_a_ghost_returns_and_every_small_entry_was_read() -> None:
    cache: S3FIFOCache[bytes] = S3FIFOCache(max_bytes=100)
    ten_byte_entries(cache)
    cache.add("k00", b"1234567")
    assert cache.nbytes == 100 and len(cache) == 10


def test_s3fifo_memory_follows_its_bound_under_replacements() -> None:
    """Replaced entries leave their queue lazily: their values must not stay behind, nor their slots pile up."""
    cache: S3FIFOCache[bytes] = S3FIFOCache(max_bytes=1 << 20)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(20_000):
            cache.add("same", bytes(1000) + i.to_bytes(4, "big"))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.nbytes == len("same") + 1004 and len(cache) == 1
    assert grown < 1 << 20  # 20 MB of old values, or 3 MB of dead slots, before


@pytest.mark.parametrize("policy", ["lru", "s3fifo"])
def test_a_group_of_100_bytes_holds_100_after_the_reported_sequence(policy: str) -> None:
    group = Group("g", 100, lambda key: b"1234567", policy=policy)  # key k<nn> + 7 bytes = 10 bytes
    for key in [f"k{i:02d}" for i in range(11)] + [f"k{i:02d}" for i in range(1, 11)] + ["k00"]:
        assert group.get_sync(key) == b"1234567"
        assert group.main_cache.nbytes + group.hot_cache.nbytes <= 100


GROUP_OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["get", "get", "get", "set", "remove"]), st.integers(0, 15), st.integers(0, 70)),
    max_size=80,
)


@pytest.mark.parametrize("policy", ["lru", "s3fifo"])
@settings(max_examples=300, deadline=None)
@given(cache_bytes=st.integers(0, 200), operations=GROUP_OPERATIONS)
def test_main_and_hot_caches_share_cache_bytes(
    policy: str, cache_bytes: int, operations: list[tuple[str, int, int]]
) -> None:
    """Two nodes: even keys are this node's (main cache), odd keys the peer's (every fetched value kept hot)."""

    async def value(key: str) -> bytes:
        return b"v" * (8 if int(key[1:]) < 12 else 40)

    async def scenario() -> None:
        nodes = {name: Group("g", cache_bytes, value, policy=policy, hot_cache_ratio=1, ttl_jitter=0) for name in "ab"}
        connect(nodes, lambda key: "a" if int(key[1:]) % 2 == 0 else "b")
        me = nodes["a"]
        for operation, number, size in operations:
            key = f"k{number}"
            if operation == "get":
                await me.get(key)
            elif operation == "set":
                await me.set(key, b"s" * size)
            else:
                await me.remove(key)
            for node in nodes.values():
                assert node.main_cache.nbytes + node.hot_cache.nbytes <= cache_bytes

    asyncio.run(scenario())
