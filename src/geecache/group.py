"""Group: a cache namespace, the user's entry point, and the read-through flow.

``await group.get(key)`` looks in the main cache (keys this node owns), then the
hot cache (popular keys owned by others), and on a miss loads the value once per
key across concurrent callers (singleflight): from the owning peer over HTTP, or
with the local getter when this node owns the key or the peer fails. A peer that
answers "not found" is believed, not retried locally: that is what keeps a flood
of queries for missing data off the database (cache penetration), together with
negative caching on the owner and an optional Bloom filter of keys that exist.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from geecache.bloom import BloomFilter
from geecache.byteview import ByteView
from geecache.errors import KeyNotFound, PeerError
from geecache.lru import LockedLRUCache
from geecache.peers import PeerPicker
from geecache.s3fifo import LockedS3FIFOCache
from geecache.singleflight import SingleFlight

Getter = Callable[[str], "bytes | Awaitable[bytes]"]
Cache = LockedLRUCache[ByteView] | LockedS3FIFOCache[ByteView]
POLICIES: dict[str, Callable[[], Cache]] = {"lru": LockedLRUCache, "s3fifo": LockedS3FIFOCache}


NEGATIVE_CACHE_BYTES = 8 << 20
"""Bytes of "not found" keys a group remembers: keys come from clients, so a count alone would not bound them."""


@dataclass
class Stats:
    """groupcache's per-group counters."""

    gets: int = 0  # every get, hits included
    cache_hits: int = 0  # answered from the main or hot cache
    peer_loads: int = 0  # values fetched from a peer
    peer_errors: int = 0  # peer fetches that failed (then loaded locally)
    loads: int = 0  # gets that missed the caches
    loads_deduped: int = 0  # loads that ran after singleflight merged concurrent ones
    local_loads: int = 0  # values the local getter produced
    local_load_errs: int = 0  # getter failures (not-found excluded)
    not_found: int = 0  # keys found not to exist, locally or by the owner
    negative_hits: int = 0  # gets answered "not found" from the negative cache
    bloom_rejects: int = 0  # gets refused by the Bloom filter without a load
    server_requests: int = 0  # requests served to peers


class Group:
    """A named cache of ``cache_bytes`` (shared by the main and hot caches, as in groupcache).

    ``getter(key)`` (plain or async) returns the value as bytes, or raises
    ``KeyNotFound`` for data that does not exist. Values may expire after ``ttl``
    seconds, each with up to ``ttl_jitter`` of it added at random, so that values
    loaded together do not all expire together. Not-found answers are remembered
    for ``negative_ttl`` seconds. ``policy`` picks the eviction policy of the main
    and hot caches: ``"lru"`` (groupcache's) or ``"s3fifo"`` (a better hit ratio on
    skewed traffic; see docs/benchmarks.md).
    """

    def __init__(
        self,
        name: str,
        cache_bytes: int,
        getter: Getter,
        *,
        ttl: float | None = None,
        ttl_jitter: float = 0.1,
        negative_ttl: float = 30.0,
        bloom: BloomFilter | None = None,
        hot_cache_ratio: float = 0.1,
        policy: str = "lru",
    ):
        if not name or "/" in name:
            raise ValueError(f"group name {name!r} must be non-empty and contain no '/'")
        if cache_bytes < 0:
            raise ValueError(f"cache_bytes must be >= 0, not {cache_bytes}")
        if not callable(getter):
            raise TypeError(f"getter must be a function of the key, not {getter!r}")
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be positive seconds or None, not {ttl}")
        self.name = name
        self.cache_bytes = cache_bytes
        self.getter = getter
        self.ttl = ttl
        self.ttl_jitter = ttl_jitter
        self.negative_ttl = negative_ttl
        self.bloom = bloom
        self.hot_cache_ratio = hot_cache_ratio
        if policy not in POLICIES:
            raise ValueError(f"policy {policy!r} is not one of {', '.join(POLICIES)}")
        # Locked: get_sync may run the flow on other threads' event loops.
        self.main_cache: Cache = POLICIES[policy]()
        self.hot_cache: Cache = POLICIES[policy]()
        # Keys come from clients: bounded by bytes (key lengths) as well as by count.
        self.negative_cache: LockedLRUCache[bytes] = LockedLRUCache(max_bytes=NEGATIVE_CACHE_BYTES, max_entries=100_000)
        self.counters = Stats()
        self.peers: PeerPicker | None = None
        self._flight: SingleFlight[ByteView] = SingleFlight()
        self._budget_lock = threading.Lock()
        self._getter_is_async = inspect.iscoroutinefunction(getter)

    def register_peers(self, peers: PeerPicker) -> None:
        if self.peers is not None:
            raise RuntimeError(f"group {self.name!r} already has peers registered")
        self.peers = peers

    # ------------------------------------------------------------------ reads

    async def get(self, key: str) -> ByteView:
        """The value for ``key``; raises KeyNotFound when the data does not exist."""
        if not isinstance(key, str):
            raise TypeError(f"keys are str, not {type(key).__name__}")
        self.counters.gets += 1
        value = self._cached(key)
        if value is not None:
            return value
        self._refuse_known_missing(key)
        self.counters.loads += 1
        value, _ = await self._flight.do(key, lambda: self._load(key))
        return value

    def get_sync(self, key: str, loop: asyncio.AbstractEventLoop | None = None) -> ByteView:
        """Blocking ``get`` for threaded code: runs on ``loop`` if given (from another thread), else its own."""
        if loop is not None:
            return asyncio.run_coroutine_threadsafe(self.get(key), loop).result()
        return asyncio.run(self.get(key))

    def _cached(self, key: str) -> ByteView | None:
        value: ByteView | None = self.main_cache.get(key)
        if value is None:
            value = self.hot_cache.get(key)
        if value is not None:
            self.counters.cache_hits += 1
        return value

    def _refuse_known_missing(self, key: str) -> None:
        if self.negative_cache.get(key) is not None:
            self.counters.negative_hits += 1
            raise KeyNotFound(self.name, key, "remembered as missing")
        if self.bloom is not None and key not in self.bloom:
            self.counters.bloom_rejects += 1
            raise KeyNotFound(self.name, key, "not in the group's Bloom filter")

    async def _load(self, key: str) -> ByteView:
        self.counters.loads_deduped += 1
        # Another load may have filled the cache while this one waited its turn.
        cached = self._cached(key)
        if cached is not None:
            return cached
        peer = self.peers.pick_peer(key) if self.peers is not None else None
        if peer is not None:
            try:
                value = ByteView(await peer.get(self.name, key))
            except KeyNotFound:
                self.counters.not_found += 1
                raise
            except PeerError:
                self.counters.peer_errors += 1  # fall through: load it here instead
            else:
                self.counters.peer_loads += 1
                if random.random() < self.hot_cache_ratio:
                    self._populate(self.hot_cache, key, value)
                return value
        return await self.load_locally(key)

    async def load_locally(self, key: str) -> ByteView:
        """Run the getter and keep its value in the main cache (this node owns ``key``)."""
        try:
            if self._getter_is_async:
                raw = await self.getter(key)  # type: ignore[misc]
            else:
                raw = await asyncio.to_thread(self.getter, key)
                if inspect.isawaitable(raw):
                    raw = await raw
        except KeyNotFound:
            self.counters.not_found += 1
            self.negative_cache.add(key, b"", ttl=self.negative_ttl)
            raise
        except Exception:
            self.counters.local_load_errs += 1
            raise
        if not isinstance(raw, bytes | bytearray | memoryview):
            self.counters.local_load_errs += 1
            raise TypeError(
                f"the getter of group {self.name!r} returned {type(raw).__name__} for key {key!r}; "
                "it must return bytes (encode strings, e.g. value.encode())"
            )
        value = ByteView(raw)
        self.counters.local_loads += 1
        self._populate(self.main_cache, key, value)
        return value

    # ----------------------------------------------------------------- writes

    def _populate(self, cache: Cache, key: str, value: ByteView, ttl: float | None = None) -> None:
        """Add to ``cache``, then evict until main + hot fit ``cache_bytes`` (groupcache's rule:
        evict from the hot cache while it holds more than 1/8 of the main cache's bytes)."""
        if self.cache_bytes <= 0:
            return
        ttl = ttl if ttl is not None else self.ttl
        if ttl:
            ttl *= 1 + random.uniform(0, self.ttl_jitter)
        cache.add(key, value, ttl=ttl)
        self.negative_cache.remove(key)
        with self._budget_lock:
            while self.main_cache.nbytes + self.hot_cache.nbytes > self.cache_bytes:
                victim = self.hot_cache if self.hot_cache.nbytes > self.main_cache.nbytes // 8 else self.main_cache
                if not victim.remove_oldest():
                    break

    def set_local(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store a value in this node's main cache (what the owner does for ``set``)."""
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"values are bytes, not {type(value).__name__}")
        self.hot_cache.remove(key)
        self._populate(self.main_cache, key, ByteView(value), ttl)

    def remove_local(self, key: str) -> bool:
        """Forget ``key`` here: main, hot and negative caches."""
        removed = self.main_cache.remove(key)
        removed = self.hot_cache.remove(key) or removed
        return self.negative_cache.remove(key) or removed

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value`` on the owner of ``key`` and drop stale copies everywhere else."""
        peer = self.peers.pick_peer(key) if self.peers is not None else None
        if peer is None:
            self.set_local(key, value, ttl)
        else:
            await peer.set(self.name, key, value, ttl)
            self.remove_local(key)
        if self.peers is not None:
            await self.peers.broadcast_remove(self.name, key, skip_owner=True)

    async def remove(self, key: str) -> None:
        """Invalidate ``key`` on every peer (and here)."""
        self.remove_local(key)
        if self.peers is not None:
            await self.peers.broadcast_remove(self.name, key, skip_owner=False)

    def add_known_keys(self, keys: Iterable[str]) -> None:
        """Teach the Bloom filter keys that exist (a group without one gets none)."""
        if self.bloom is None:
            raise RuntimeError(f"group {self.name!r} has no Bloom filter; pass bloom=BloomFilter(...)")
        for key in keys:
            self.bloom.add(key)

    # ------------------------------------------------------------------ stats

    def stats(self) -> dict[str, Any]:
        """groupcache's counters, and bytes, items, gets, hits and evictions per cache."""
        return {
            "group": self.name,
            "cache_bytes": self.cache_bytes,
            "counters": asdict(self.counters),
            "main_cache": self.main_cache.stats(),
            "hot_cache": self.hot_cache.stats(),
            "negative_cache": self.negative_cache.stats(),
            "in_flight": self._flight.in_flight(),
        }


_groups: dict[str, Group] = {}
_groups_lock = threading.Lock()


def new_group(name: str, cache_bytes: int, getter: Getter, **options: Any) -> Group:
    """Create and register a group (groupcache's ``NewGroup``); names are unique per process."""
    with _groups_lock:
        if name in _groups:
            raise ValueError(f"a group named {name!r} already exists; use get_group({name!r})")
        group = _groups[name] = Group(name, cache_bytes, getter, **options)
        return group


def get_group(name: str) -> Group | None:
    return _groups.get(name)


def groups() -> list[Group]:
    return list(_groups.values())


def drop_group(name: str) -> None:
    """Forget a registered group (for tests and for processes that rebuild their groups)."""
    with _groups_lock:
        _groups.pop(name, None)
