"""Group: a cache namespace, the user's entry point, and the read-through flow.

``await group.get(key)`` looks in the main cache (keys this node owns), then the
hot cache (popular keys owned by others), and on a miss loads the value once per
key across concurrent callers (singleflight): from the owning peer over HTTP, or
with the local getter when this node owns the key or the peer fails. A peer that
answers "not found" is believed, not retried locally: that is what keeps a flood
of queries for missing data off the database (cache penetration), together with
negative caching on the owner and an optional Bloom filter of keys that exist.

Writes win over loads. groupcache is read-only; its forks that added ``Set`` and
``Remove`` let a load that began before a write finish after it and cache the old
value for good (mailgun/groupcache and golang/groupcache issues on stale values
after ``Set``). Here every load in flight is registered under its key, and a
write of the key on a node (``set_local``, ``remove_local``, so also a peer's
invalidation) marks the loads in flight there stale, drops the key from the
singleflight so that later gets load afresh, and clears every copy derived from
the data: main, hot and negative cache, and the Bloom filter learns the key (it
may exist now). A stale load still answers the callers that were waiting for it,
but keeps nothing. ``set`` and ``remove`` write to the owner first and only then
drop the other nodes' copies, so a node that reloads meanwhile gets the new value.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import random
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from geecache import syncloop
from geecache.bloom import BloomFilter
from geecache.bounded import check_ttl
from geecache.byteview import ByteView
from geecache.errors import KeyNotFound
from geecache.lru import LockedLRUCache
from geecache.peers import PeerGetter, PeerPicker
from geecache.s3fifo import LockedS3FIFOCache
from geecache.singleflight import SingleFlight

log = logging.getLogger("geecache.group")

Getter = Callable[[str], "bytes | Awaitable[bytes]"]
Cache = LockedLRUCache[ByteView] | LockedS3FIFOCache[ByteView]
POLICIES: dict[str, Callable[[], Cache]] = {"lru": LockedLRUCache, "s3fifo": LockedS3FIFOCache}


NEGATIVE_CACHE_BYTES = 8 << 20
"""Bytes of "not found" keys a group remembers: keys come from clients, so a count alone would not bound them."""


def _counter(help: str) -> Any:
    return field(default=0, metadata={"help": help})


@dataclass
class Stats:
    """groupcache's per-group counters (``Group.Stats``); the help texts are also the Prometheus ones."""

    gets: int = _counter("every get, hits included")
    cache_hits: int = _counter("gets answered from the main or hot cache")
    peer_loads: int = _counter("values fetched from a peer")
    peer_errors: int = _counter("peer fetches that failed (then loaded locally)")
    loads: int = _counter("gets that missed the caches")
    loads_deduped: int = _counter("loads that ran after singleflight merged concurrent ones")
    local_loads: int = _counter("values the local getter produced")
    local_load_errs: int = _counter("getter failures (not-found excluded)")
    not_found: int = _counter("keys found not to exist, locally or by the owner")
    negative_hits: int = _counter('gets answered "not found" from the negative cache')
    bloom_rejects: int = _counter("gets refused by the Bloom filter without a load")
    server_requests: int = _counter("requests served to peers")


class _Load:
    """One load in flight. A write of its key marks it stale: it still answers its waiters, but keeps nothing."""

    __slots__ = ("stale",)

    def __init__(self) -> None:
        self.stale = False


class Group:
    """A named cache of ``cache_bytes`` (shared by the main and hot caches, as in groupcache).

    ``getter(key)`` (plain or async) returns the value as bytes, or raises
    ``KeyNotFound`` for data that does not exist. Values may expire after ``ttl``
    seconds (None: never), each with up to ``ttl_jitter`` of it added at random, so
    that values loaded together do not all expire together. Not-found answers are
    remembered for ``negative_ttl`` seconds (0: not remembered). Durations are
    checked by ``bounded.check_ttl``: 0 never means "forever". ``policy`` picks the
    eviction policy of the main and hot caches: ``"lru"`` (groupcache's) or
    ``"s3fifo"`` (a better hit ratio on skewed traffic; see docs/benchmarks.md).
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
        if not 0 <= ttl_jitter < math.inf:
            raise ValueError(f"ttl_jitter must be a finite fraction of the ttl, >= 0, not {ttl_jitter!r}")
        if negative_ttl != 0:
            check_ttl(negative_ttl, "negative_ttl (0: not-found answers are not remembered)")
        if not 0 <= hot_cache_ratio <= 1:
            raise ValueError(f"hot_cache_ratio must be between 0 and 1, not {hot_cache_ratio!r}")
        if policy not in POLICIES:
            raise ValueError(f"policy {policy!r} is not one of {', '.join(POLICIES)}")
        self.name = name
        self.cache_bytes = cache_bytes
        self.getter = getter
        self.ttl = None if ttl is None else check_ttl(ttl)
        self.ttl_jitter = ttl_jitter
        self.negative_ttl = negative_ttl
        self.bloom = bloom
        self.hot_cache_ratio = hot_cache_ratio
        # Locked: peers' requests, get_sync and writes may reach one group from several threads.
        self.main_cache: Cache = POLICIES[policy]()
        self.hot_cache: Cache = POLICIES[policy]()
        # Keys come from clients: bounded by bytes (key lengths) as well as by count.
        self.negative_cache: LockedLRUCache[bytes] = LockedLRUCache(max_bytes=NEGATIVE_CACHE_BYTES, max_entries=100_000)
        self.stats = Stats()
        self.peers: PeerPicker | None = None
        self.load_group: SingleFlight[ByteView] = SingleFlight()
        self._lock = threading.Lock()  # loads in flight, and every change of the caches' contents
        self._loading: dict[str, list[_Load]] = {}
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
        self.stats.gets += 1
        value = self._lookup_cache(key)
        if value is not None:
            self.stats.cache_hits += 1
            return value
        self._refuse_known_missing(key)
        self.stats.loads += 1
        value, _ = await self.load_group.do(key, lambda: self._load(key))
        return value

    def get_sync(self, key: str) -> ByteView:
        """Blocking ``get``, safe from any thread: it runs on the process's one long-lived loop (``syncloop``)."""
        return syncloop.run(self.get(key))

    def _lookup_cache(self, key: str) -> ByteView | None:
        value: ByteView | None = self.main_cache.get(key)
        if value is None:
            value = self.hot_cache.get(key)
        return value

    def _refuse_known_missing(self, key: str) -> None:
        if self.negative_cache.get(key) is not None:
            self.stats.negative_hits += 1
            raise KeyNotFound(self.name, key, "remembered as missing")
        if self.bloom is not None and key not in self.bloom:
            self.stats.bloom_rejects += 1
            raise KeyNotFound(self.name, key, "not in the group's Bloom filter")

    async def _load(self, key: str) -> ByteView:
        self.stats.loads_deduped += 1
        # Another load may have filled the cache while this one waited its turn.
        value = self._lookup_cache(key)
        if value is not None:
            self.stats.cache_hits += 1
            return value
        load = self._start_load(key)
        try:
            peer = self.peers.pick_peer(key) if self.peers is not None else None
            if peer is not None:
                try:
                    value = ByteView(await peer.get(self.name, key))
                except KeyNotFound:
                    self.stats.not_found += 1
                    raise
                except Exception as exc:  # any failure of the peer, as in groupcache: load it here instead
                    self.stats.peer_errors += 1
                    log.debug("group %s: peer failed for %r, loading locally: %s", self.name, key, exc)
                else:
                    self.stats.peer_loads += 1
                    if random.random() < self.hot_cache_ratio:
                        self._populate(load, self.hot_cache, key, value)
                    return value
            return await self._get_locally(load, key)
        finally:
            self._end_load(key, load)

    async def _get_locally(self, load: _Load, key: str) -> ByteView:
        """Run the getter and keep its value in the main cache (this node owns ``key``, or its owner failed)."""
        try:
            if self._getter_is_async:
                raw = await self.getter(key)  # type: ignore[misc]
            else:
                raw = await asyncio.to_thread(self.getter, key)
                if inspect.isawaitable(raw):
                    raw = await raw
        except KeyNotFound:
            self.stats.not_found += 1
            if self.negative_ttl:
                with self._lock:
                    if not load.stale:
                        self.negative_cache.add(key, b"", ttl=self.negative_ttl)
            raise
        except Exception:
            self.stats.local_load_errs += 1
            raise
        if not isinstance(raw, bytes | bytearray | memoryview):
            self.stats.local_load_errs += 1
            raise TypeError(
                f"the getter of group {self.name!r} returned {type(raw).__name__} for key {key!r}; "
                "it must return bytes (encode strings, e.g. value.encode())"
            )
        value = ByteView(raw)
        self.stats.local_loads += 1
        self._populate(load, self.main_cache, key, value)
        return value

    def _start_load(self, key: str) -> _Load:
        load = _Load()
        with self._lock:
            self._loading.setdefault(key, []).append(load)
        return load

    def _end_load(self, key: str, load: _Load) -> None:
        with self._lock:
            loads = self._loading.get(key)
            if loads is not None and load in loads:
                loads.remove(load)
                if not loads:
                    del self._loading[key]

    def _populate(self, load: _Load, cache: Cache, key: str, value: ByteView) -> None:
        """Keep a loaded value, unless a write of ``key`` came after its load began."""
        with self._lock:
            if not load.stale:
                self._add(cache, key, value, self.ttl)

    def _add(self, cache: Cache, key: str, value: ByteView, ttl: float | None) -> None:
        """Add to ``cache`` (under ``_lock``), then evict until main + hot fit ``cache_bytes`` (groupcache's rule:
        evict from the hot cache while it holds more than 1/8 of the main cache's bytes, else from the main)."""
        if self.cache_bytes <= 0:
            return
        if ttl is not None:
            ttl *= 1 + random.uniform(0, self.ttl_jitter)
        cache.add(key, value, ttl=ttl)
        main, hot = self.main_cache, self.hot_cache
        while main.nbytes + hot.nbytes > self.cache_bytes:
            victim, other = (hot, main) if hot.nbytes > main.nbytes // 8 else (main, hot)
            if not (victim.remove_oldest() or other.remove_oldest()):
                break  # both empty: nothing is held

    # ----------------------------------------------------------------- writes

    def set_local(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store a value in this node's main cache (what the owner does for ``set``); ``ttl`` None: the group's."""
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"values are bytes, not {type(value).__name__}")
        ttl = self.ttl if ttl is None else check_ttl(ttl)
        with self._lock:
            self._invalidate(key)
            self._add(self.main_cache, key, ByteView(value), ttl)

    def remove_local(self, key: str) -> bool:
        """Forget ``key`` here (see ``_invalidate``); True if a cache held it."""
        with self._lock:
            return self._invalidate(key)

    def _invalidate(self, key: str) -> bool:
        """Under ``_lock``: the data of ``key`` changed. Loads in flight here turn stale, later gets load afresh, and
        every structure derived from the data forgets it: main, hot and negative cache; the Bloom filter, which
        cannot forget, learns that the key may exist."""
        for load in self._loading.pop(key, ()):
            load.stale = True
        self.load_group.forget(key)
        removed = self.main_cache.remove(key)
        removed = self.hot_cache.remove(key) or removed
        removed = self.negative_cache.remove(key) or removed
        if self.bloom is not None:
            self.bloom.add(key)
        return removed

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value`` on the owner of ``key``, then drop the copies everywhere else."""
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"values are bytes, not {type(value).__name__}")
        if ttl is not None:
            check_ttl(ttl)
        owner = self.peers.pick_peer(key) if self.peers is not None else None
        if owner is None:
            self.set_local(key, value, ttl)
        else:
            await owner.set(self.name, key, bytes(value), ttl)
        await self._drop_copies(key, owner)

    async def remove(self, key: str) -> None:
        """Invalidate ``key`` on its owner, then on every other peer (and here)."""
        owner = self.peers.pick_peer(key) if self.peers is not None else None
        if owner is None:
            self.remove_local(key)
        else:
            await owner.remove(self.name, key)
        await self._drop_copies(key, owner)

    async def _drop_copies(self, key: str, owner: PeerGetter | None) -> None:
        """After the owner has the write: this node's copies (when it is not the owner), then the other peers'."""
        if owner is not None:
            self.remove_local(key)
        if self.peers is not None:
            await self.peers.broadcast_remove(self.name, key)

    def add_known_keys(self, keys: Iterable[str]) -> None:
        """Teach the Bloom filter keys that exist (a group without one gets none)."""
        if self.bloom is None:
            raise RuntimeError(f"group {self.name!r} has no Bloom filter; pass bloom=BloomFilter(...)")
        for key in keys:
            self.bloom.add(key)
