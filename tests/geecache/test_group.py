import asyncio

import pytest

from geecache import BloomFilter, ByteView, Group, KeyNotFound

DB = {"Tom": b"630", "Jack": b"589", "Sam": b"567"}


def counting_getter(calls: list[str]):
    def getter(key: str) -> bytes:
        calls.append(key)
        if key not in DB:
            raise KeyNotFound("scores", key)
        return DB[key]

    return getter


def test_read_through_then_cached():
    calls: list[str] = []
    group = Group("scores", 1 << 20, counting_getter(calls))

    async def main() -> None:
        assert await group.get("Tom") == b"630"
        assert await group.get("Tom") == b"630"

    asyncio.run(main())
    assert calls == ["Tom"]
    assert (group.stats.gets, group.stats.cache_hits, group.stats.local_loads) == (2, 1, 1)


def test_async_getter_and_get_sync():
    async def getter(key: str) -> bytes:
        await asyncio.sleep(0)
        return key.upper().encode()

    group = Group("upper", 1 << 20, getter)
    assert group.get_sync("abc") == ByteView(b"ABC")


def test_concurrent_gets_for_one_cold_key_load_once():
    calls: list[str] = []
    release = asyncio.Event

    async def main() -> list[ByteView]:
        gate = release()

        async def slow(key: str) -> bytes:
            calls.append(key)
            await gate.wait()
            return b"value"

        group = Group("slow", 1 << 20, slow)
        tasks = [asyncio.ensure_future(group.get("cold")) for _ in range(10_000)]
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(*tasks)

    values = asyncio.run(main())
    assert calls == ["cold"] and len(values) == 10_000


def test_not_found_is_cached_briefly_and_not_reloaded():
    calls: list[str] = []
    group = Group("scores", 1 << 20, counting_getter(calls), negative_ttl=30)

    async def main() -> None:
        for _ in range(100):
            with pytest.raises(KeyNotFound, match="'Nobody' not found"):
                await group.get("Nobody")

    asyncio.run(main())
    assert calls == ["Nobody"]
    assert group.stats.negative_hits == 99


def test_bloom_filter_refuses_impossible_keys_without_a_load():
    calls: list[str] = []
    group = Group("scores", 1 << 20, counting_getter(calls), bloom=BloomFilter(100, keys=DB))

    async def main() -> None:
        assert await group.get("Sam") == b"567"
        with pytest.raises(KeyNotFound, match="Bloom"):
            await group.get("attacker-key-123")

    asyncio.run(main())
    assert calls == ["Sam"]
    group.add_known_keys(["late-arrival"])
    assert "late-arrival" in group.bloom  # type: ignore[operator]
    with pytest.raises(RuntimeError, match="no Bloom filter"):
        Group("plain", 1, bytes).add_known_keys(["x"])


def test_a_getter_returning_something_else_than_bytes_is_a_clear_type_error():
    group = Group("bad", 1 << 20, lambda key: "a string")

    with pytest.raises(TypeError, match=r"returned str for key 'k'; it must return bytes"):
        group.get_sync("k")
    assert group.stats.local_load_errs == 1


def test_getter_errors_reach_the_caller_and_are_not_cached():
    attempts = []

    def flaky(key: str) -> bytes:
        attempts.append(key)
        if len(attempts) == 1:
            raise ConnectionError("database down")
        return b"ok"

    group = Group("flaky", 1 << 20, flaky)
    with pytest.raises(ConnectionError):
        group.get_sync("k")
    assert group.get_sync("k") == b"ok"


def test_cache_bytes_holds_after_100000_inserts():
    async def triple(key: str) -> bytes:
        return key.encode() * 3

    group = Group("bounded", 100_000, triple)

    async def main() -> None:
        for i in range(100_000):
            await group.get(f"key-{i}")

    asyncio.run(main())
    assert group.main_cache.nbytes + group.hot_cache.nbytes <= 100_000
    assert group.main_cache.stats().evictions > 0


def test_ttl_with_jitter_expires_values(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("geecache.lru.time.monotonic", lambda: now[0])
    calls: list[str] = []
    group = Group("ttl", 1 << 20, counting_getter(calls), ttl=10, ttl_jitter=0.5)
    group.get_sync("Tom")
    now[0] += 9.9
    group.get_sync("Tom")
    assert calls == ["Tom"]
    now[0] += 5.2  # past ttl * (1 + jitter) at most
    group.get_sync("Tom")
    assert calls == ["Tom", "Tom"]


def test_set_and_remove_locally():
    group = Group("local", 1 << 20, lambda key: b"from getter")
    asyncio.run(group.set("k", b"set value"))
    assert group.get_sync("k") == b"set value"
    asyncio.run(group.remove("k"))
    assert group.get_sync("k") == b"from getter"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("", 1, bytes), "non-empty"),
        (("a/b", 1, bytes), "no '/'"),
        (("g", -1, bytes), "cache_bytes"),
        (("g", 1, "not callable"), "getter must be"),
    ],
)
def test_bad_group_arguments(args, error):
    with pytest.raises((ValueError, TypeError), match=error):
        Group(*args)


def test_the_negative_cache_is_bounded_by_bytes_not_only_by_count() -> None:
    """Missing keys come from clients: long ones must not fill memory under the entry count."""
    import asyncio
    import contextlib

    from geecache.group import NEGATIVE_CACHE_BYTES

    def missing(key: str) -> bytes:
        raise KeyNotFound("g", key)

    group = Group("long-missing", 1 << 20, missing)

    async def ask_many() -> None:
        for i in range(200):
            with contextlib.suppress(KeyNotFound):
                await group.get(f"{i:04d}" + "x" * 100_000)

    asyncio.run(ask_many())
    assert 0 < group.negative_cache.nbytes <= NEGATIVE_CACHE_BYTES
    assert len(group.negative_cache) < 200  # the oldest were evicted by bytes


def test_get_sync_runs_on_one_long_lived_loop_from_any_thread() -> None:
    import threading

    from geecache import syncloop

    loops: list[object] = []

    async def getter(key: str) -> bytes:
        loops.append(asyncio.get_running_loop())
        return key.encode()

    group = Group("sync", 1 << 20, getter)
    assert group.get_sync("main-thread") == b"main-thread"
    thread = threading.Thread(target=lambda: group.get_sync("other-thread"))
    thread.start()
    thread.join(10)
    assert loops == [syncloop.loop(), syncloop.loop()]

    async def on_that_loop() -> ByteView:
        return group.get_sync("x")  # would wait for itself

    with pytest.raises(RuntimeError, match="would wait for itself"):
        syncloop.run(on_that_loop())
