"""A byte-bounded LRU cache on ``collections.OrderedDict``, as groupcache's lru is on Go's ``container/list``.

groupcache keeps a map from key to an element of a doubly linked list, ordered from the most to the least
recently used. CPython's ``OrderedDict`` is that same structure written in C: a hash map whose entries are
threaded on a doubly linked list, with O(1) ``move_to_end`` (a hit) and ``popitem(last=False)`` (evict the
oldest). Here the front is the least recently used entry. A hand-written list costs six attribute stores per
hit in Python and ran 1.2x ``cachetools.LRUCache``; on the OrderedDict a hit is two C calls and a counter
(``benchmarks/geecache_lru.py``, docs/benchmarks.md).

Size is counted as groupcache does, ``len(key) + len(value)``, and the on-evicted callback also fires when a key
is replaced, so that a caller keeping its own byte count never drifts. Deadlines live in a side map that only
entries with a ``ttl`` enter, so a cache without expiry pays one empty-dict test per hit for it.

``LRUCache`` is safe under asyncio (no method awaits, so none is interrupted) but not under threads, like
groupcache's lru; ``LockedLRUCache`` puts every operation behind a lock for threaded use.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from geecache.bounded import BoundedCache, Locked, V, check_ttl


class LRUCache(BoundedCache[V]):
    """Evicts the least recently used entry first."""

    __slots__ = ("_expires", "_lookup", "_touch")  # attributes in slots: a hit reads three of them

    def __init__(
        self,
        max_bytes: int = 0,
        max_entries: int = 0,
        on_evicted: Callable[[str, V], None] | None = None,
    ):
        super().__init__(max_bytes, max_entries, on_evicted)
        self._map: OrderedDict[str, V] = OrderedDict()
        self._expires: dict[str, float] = {}  # time.monotonic() deadlines of the entries added with a ttl
        # Bound once: the hit path is these two C calls and a counter.
        self._lookup = self._map.get
        self._touch = self._map.move_to_end

    def get(self, key: str) -> V | None:
        """The value, moved to the back as most recently used; None if absent or expired."""
        value = self._lookup(key)
        if value is None or (self._expires and self._expired(key)):
            self.misses += 1
            return None
        self._touch(key)
        self.hits += 1
        return value

    def add(self, key: str, value: V, ttl: float | None = None) -> None:
        """Insert or replace ``key``; evicts from the front until the bounds hold."""
        entries = self._map
        if key in entries:
            self._drop(key)
        if ttl is not None:
            self._expires[key] = time.monotonic() + check_ttl(ttl)
        entries[key] = value
        self._bytes += len(key) + len(value)
        max_bytes, max_entries = self.max_bytes, self.max_entries
        while (max_bytes and self._bytes > max_bytes) or (max_entries and len(entries) > max_entries):
            # remove_oldest, inlined: a full cache runs this on every miss, and a call costs a tenth of an add
            key, value = entries.popitem(last=False)
            self.evictions += 1
            self._bytes -= len(key) + len(value)
            if self._expires or self.on_evicted is not None:
                self._left(key, value)

    def remove(self, key: str) -> bool:
        if key not in self._map:
            return False
        self._drop(key)
        return True

    def remove_oldest(self) -> bool:
        """Evict the least recently used entry (what a shared byte budget uses)."""
        if not self._map:
            return False
        key, value = self._map.popitem(last=False)
        self.evictions += 1
        self._bytes -= len(key) + len(value)
        self._left(key, value)
        return True

    def clear(self) -> None:
        while self._map:
            self._drop(next(iter(self._map)))

    def ordered_keys(self) -> list[str]:
        """Keys from least to most recently used."""
        return list(self._map)

    def _expired(self, key: str) -> bool:
        deadline = self._expires.get(key)
        if deadline is None or deadline > time.monotonic():
            return False
        self._drop(key)
        return True

    def _drop(self, key: str) -> None:
        value = self._map.pop(key)
        self._bytes -= len(key) + len(value)
        self._left(key, value)

    def _left(self, key: str, value: V) -> None:
        """An entry left the map (its bytes are already off the count): forget its deadline, tell the callback."""
        if self._expires:
            self._expires.pop(key, None)
        if self.on_evicted is not None:
            self.on_evicted(key, value)


class LockedLRUCache(Locked[V], LRUCache[V]):
    """An LRUCache that threads can share."""
