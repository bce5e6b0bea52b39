"""A byte-bounded LRU cache: a hash map plus a doubly linked list, written by hand.

The list runs from the least recently used entry (front, evicted first) to the
most recently used (back, where inserts and hits move an entry). Every operation
is O(1). Size is counted as groupcache does, ``len(key) + len(value)``, and the
on-evicted callback also fires when a key is replaced, so that a caller keeping
its own byte count never drifts. A lock makes it safe under threads; asyncio
code calls it directly, since no method awaits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sized
from typing import Any, Generic, TypeVar

V = TypeVar("V", bound=Sized)


class _Entry:
    __slots__ = ("expires", "key", "next", "prev", "size", "value")

    def __init__(self, key: Any = None, value: Any = None, size: int = 0, expires: float = 0.0):
        self.prev: _Entry = self
        self.next: _Entry = self
        self.key = key
        self.value = value
        self.size = size
        self.expires = expires  # time.monotonic() deadline; 0 = never


class LRUCache(Generic[V]):
    """``max_bytes`` (0 = unbounded) and optionally ``max_entries`` bound the cache."""

    def __init__(
        self,
        max_bytes: int = 0,
        max_entries: int = 0,
        on_evicted: Callable[[str, V], None] | None = None,
    ):
        if max_bytes < 0 or max_entries < 0:
            raise ValueError(f"cache bounds must be >= 0 (0 = unbounded), not {max_bytes=} {max_entries=}")
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.on_evicted = on_evicted
        self._map: dict[str, _Entry] = {}
        self._root = _Entry()  # sentinel: root.next is the front (oldest), root.prev the back (newest)
        self._lock = threading.Lock()
        self.nbytes = 0
        self.gets = 0
        self.hits = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, key: str) -> bool:
        return key in self._map

    def get(self, key: str) -> V | None:
        """The value, moved to the back as most recently used; None if absent or expired."""
        with self._lock:
            self.gets += 1
            entry = self._map.get(key)
            if entry is None:
                return None
            if entry.expires and entry.expires <= time.monotonic():
                self._drop(entry)
                return None
            self.hits += 1
            # Unlink, then link at the back.
            entry.prev.next = entry.next
            entry.next.prev = entry.prev
            root = self._root
            last = root.prev
            last.next = root.prev = entry
            entry.prev = last
            entry.next = root
            return entry.value  # type: ignore[no-any-return]

    def add(self, key: str, value: V, ttl: float | None = None) -> None:
        """Insert or replace ``key``; evicts from the front until the bounds hold."""
        size = len(key) + len(value)
        expires = time.monotonic() + ttl if ttl else 0.0
        with self._lock:
            old = self._map.get(key)
            if old is not None:
                self._drop(old)
            root = self._root
            last = root.prev
            entry = _Entry(key, value, size, expires)
            entry.prev = last
            entry.next = root
            last.next = root.prev = entry
            self._map[key] = entry
            self.nbytes += size
            while (self.max_bytes and self.nbytes > self.max_bytes) or (
                self.max_entries and len(self._map) > self.max_entries
            ):
                self.evictions += 1
                self._drop(root.next)

    def remove(self, key: str) -> bool:
        with self._lock:
            entry = self._map.get(key)
            if entry is None:
                return False
            self._drop(entry)
            return True

    def remove_oldest(self) -> bool:
        """Evict the least recently used entry (what a shared byte budget uses)."""
        with self._lock:
            first = self._root.next
            if first is self._root:
                return False
            self.evictions += 1
            self._drop(first)
            return True

    def clear(self) -> None:
        with self._lock:
            while self._root.next is not self._root:
                self._drop(self._root.next)

    def ordered_keys(self) -> list[str]:
        """Keys from least to most recently used."""
        with self._lock:
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
        self.nbytes -= entry.size
        if self.on_evicted is not None:
            self.on_evicted(entry.key, entry.value)

    def stats(self) -> dict[str, int]:
        return {
            "bytes": self.nbytes,
            "items": len(self._map),
            "gets": self.gets,
            "hits": self.hits,
            "evictions": self.evictions,
        }
