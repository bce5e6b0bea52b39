"""A byte-bounded LRU cache: a hash map plus a doubly linked list, written by hand.

The list runs from the least recently used entry (front, evicted first) to the
most recently used (back, where inserts and hits move an entry). Every operation
is O(1). Size is counted as groupcache does, ``len(key) + len(value)``, and the
on-evicted callback also fires when a key is replaced, so that a caller keeping
its own byte count never drifts.

``LRUCache`` is safe under asyncio (no method awaits, so none is interrupted) but
not under threads, like groupcache's lru; ``LockedLRUCache`` puts every operation
behind a lock for threaded use. The hit path is kept short on purpose: in Python
each attribute store counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from geecache.bounded import BoundedCache, Locked, V


class _Entry:
    __slots__ = ("expires", "key", "next", "prev", "size", "value")

    def __init__(
        self,
        key: Any = None,
        value: Any = None,
        size: int = 0,
        expires: float = 0.0,
        prev: _Entry | None = None,
        next: _Entry | None = None,
    ):
        self.prev: _Entry = prev or self
        self.next: _Entry = next or self
        self.key = key
        self.value = value
        self.size = size
        self.expires = expires  # time.monotonic() deadline; 0 = never


class LRUCache(BoundedCache[V]):
    """Evicts the least recently used entry first."""

    def __init__(
        self,
        max_bytes: int = 0,
        max_entries: int = 0,
        on_evicted: Callable[[str, V], None] | None = None,
    ):
        super().__init__(max_bytes, max_entries, on_evicted)
        self._map: dict[str, _Entry] = {}
        self._root = _Entry()  # sentinel: root.next is the front (oldest), root.prev the back (newest)

    def get(self, key: str) -> V | None:
        """The value, moved to the back as most recently used; None if absent or expired."""
        entry = self._map.get(key)
        if entry is None:
            self.misses += 1
            return None
        if entry.expires and entry.expires <= time.monotonic():
            self.misses += 1
            self._drop(entry)
            return None
        self.hits += 1
        root = self._root
        last = root.prev
        if entry is not last:  # unlink, then link at the back
            entry.prev.next = entry.next
            entry.next.prev = entry.prev
            last.next = root.prev = entry
            entry.prev = last
            entry.next = root
        return entry.value  # type: ignore[no-any-return]

    def add(self, key: str, value: V, ttl: float | None = None) -> None:
        """Insert or replace ``key``; evicts from the front until the bounds hold."""
        old = self._map.get(key)
        if old is not None:
            self._drop(old)
        root = self._root
        last = root.prev
        entry = _Entry(key, value, len(key) + len(value), time.monotonic() + ttl if ttl else 0.0, last, root)
        last.next = root.prev = self._map[key] = entry
        self._bytes += entry.size
        max_bytes, max_entries = self.max_bytes, self.max_entries
        while (max_bytes and self._bytes > max_bytes) or (max_entries and len(self._map) > max_entries):
            self.evictions += 1
            self._drop(root.next)

    def remove(self, key: str) -> bool:
        entry = self._map.get(key)
        if entry is None:
            return False
        self._drop(entry)
        return True

    def remove_oldest(self) -> bool:
        """Evict the least recently used entry (what a shared byte budget uses)."""
        first = self._root.next
        if first is self._root:
            return False
        self.evictions += 1
        self._drop(first)
        return True

    def clear(self) -> None:
        while self._root.next is not self._root:
            self._drop(self._root.next)

    def ordered_keys(self) -> list[str]:
        """Keys from least to most recently used."""
        out = []
        entry = self._root.next
        while entry is not self._root:
            out.append(entry.key)
            entry = entry.next
        return out

    def _drop(self, entry: _Entry) -> None:
        entry.prev.next = entry.next
        entry.next.prev = entry.prev
        del self._map[entry.key]
        self._bytes -= entry.size
        if self.on_evicted is not None:
            self.on_evicted(entry.key, entry.value)


class LockedLRUCache(Locked[V], LRUCache[V]):
    """An LRUCache that threads can share."""
