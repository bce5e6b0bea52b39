"""A write wins over every load that began before it: on the owner, on the peers that mirror it, and in every
structure derived from the data (main, hot and negative cache, Bloom filter)."""

from __future__ import annotations

import asyncio

import pytest

from geecache import BloomFilter, Group, KeyNotFound

from tests.geecache.inprocess import connect

WAIT = 5  # seconds: every wait in these tests is bounded


class SlowDatabase:
    """A getter whose first load reads the database, then stalls until ``release``: a load in flight that will
    answer the value it read, however the data changes meanwhile."""

    def __init__(self, data: dict[str, bytes]):
        self.data = data
        self.calls: list[str] = []
        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    async def get(self, key: str) -> bytes:
        self.calls.append(key)
        value = self.data.get(key)
        if len(self.calls) == 1:
            self.started.set()
            await self.gate.wait()
        if value is None:
            raise KeyNotFound("g", key)
        return value


async def write(group: Group, how: str, key: str, value: bytes) -> None:
    """Change the data: ``set`` stores the new value through the cache; ``remove`` invalidates after the database
    was written (the cache-aside pattern)."""
    if how == "set":
        await group.set(key, value)
    else:
        await group.remove(key)


@pytest.mark.parametrize("policy", ["lru", "s3fifo"])
@pytest.mark.parametrize("how", ["set", "remove"])
def test_a_write_during_a_load_wins_on_the_owner(how: str, policy: str) -> None:
    async def scenario() -> None:
        db = SlowDatabase({"k": b"v1"})
        group = Group("g", 1 << 20, db.get, policy=policy)
        in_flight = asyncio.create_task(group.get("k"))
        await asyncio.wait_for(db.started.wait(), WAIT)
        db.data["k"] = b"v2"
        await write(group, how, "k", b"v2")
        # A get after the write does not join the load that began before it.
        assert await asyncio.wait_for(group.get("k"), WAIT) == b"v2"
        db.gate.set()
        assert await asyncio.wait_for(in_flight, WAIT) == b"v1"  # it began before the write: it may answer v1
        assert group.main_cache.get("k") == b"v2"  # but it kept nothing
        assert [await group.get("k") for _ in range(3)] == [b"v2"] * 3
        assert db.calls == (["k"] if how == "set" else ["k", "k"])

    asyncio.run(scenario())


@pytest.mark.parametrize("how", ["set", "remove"])
def test_a_write_during_a_not_found_load_is_not_remembered_as_missing(how: str) -> None:
    async def scenario() -> None:
        db = SlowDatabase({})
        group = Group("g", 1 << 20, db.get, negative_ttl=3600)
        in_flight = asyncio.create_task(group.get("k"))
        await asyncio.wait_for(db.started.wait(), WAIT)
        db.data["k"] = b"created"
        await write(group, how, "k", b"created")
        db.gate.set()
        with pytest.raises(KeyNotFound):
            await asyncio.wait_for(in_flight, WAIT)
        assert group.negative_cache.get("k") is None
        assert await group.get("k") == b"created"

    asyncio.run(scenario())


@pytest.mark.parametrize("how", ["set", "remove"])
def test_a_write_teaches_the_bloom_filter(how: str) -> None:
    db = {"old": b"1"}

    async def getter(key: str) -> bytes:
        if key not in db:
            raise KeyNotFound("g", key)
        return db[key]

    async def scenario() -> None:
        group = Group("g", 1 << 20, getter, bloom=BloomFilter(100, keys=db))
        with pytest.raises(KeyNotFound, match="Bloom"):
            await group.get("new")
        db["new"] = b"2"
        await write(group, how, "new", b"2")
        assert await group.get("new") == b"2"

    asyncio.run(scenario())


def three_nodes(db: SlowDatabase, **options: object) -> dict[str, Group]:
    """``b`` owns every key; ``a`` keeps every value it fetches in its hot cache; ``c`` writes."""
    nodes = {name: Group("g", 1 << 20, db.get, hot_cache_ratio=1, **options) for name in "abc"}  # type: ignore[arg-type]
    connect(nodes, lambda key: "b")
    return nodes


@pytest.mark.parametrize("policy", ["lru", "s3fifo"])
@pytest.mark.parametrize("how", ["set", "remove"])
def test_a_write_during_a_peer_load_leaves_no_stale_copy_on_the_mirror(how: str, policy: str) -> None:
    async def scenario() -> None:
        db = SlowDatabase({"k": b"v1"})
        nodes = three_nodes(db, policy=policy)
        mirror, owner, writer = nodes["a"], nodes["b"], nodes["c"]
        in_flight = asyncio.create_task(mirror.get("k"))  # a asks b, whose getter stalls
        await asyncio.wait_for(db.started.wait(), WAIT)
        db.data["k"] = b"v2"
        await write(writer, how, "k", b"v2")
        assert await asyncio.wait_for(mirror.get("k"), WAIT) == b"v2"  # not joined to the stale load
        db.gate.set()
        assert await asyncio.wait_for(in_flight, WAIT) == b"v1"
        for node in nodes.values():
            assert await node.get("k") == b"v2"
        assert mirror.hot_cache.get("k") == b"v2" and owner.main_cache.get("k") == b"v2"

    asyncio.run(scenario())


def test_a_set_reaches_the_negative_cache_and_bloom_filter_of_every_node() -> None:
    async def scenario() -> None:
        db = SlowDatabase({})
        db.gate.set()
        nodes = three_nodes(db, bloom=BloomFilter(100), negative_ttl=3600)
        nodes["b"].bloom.add("k")  # type: ignore[union-attr]  # the owner thought it existed, and found it missing
        with pytest.raises(KeyNotFound):
            await nodes["b"].get("k")
        assert nodes["b"].negative_cache.get("k") is not None
        await nodes["c"].set("k", b"now it does")
        for node in nodes.values():
            assert await node.get("k") == b"now it does"

    asyncio.run(scenario())
