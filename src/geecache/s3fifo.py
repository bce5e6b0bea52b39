"""S3-FIFO: an eviction policy with a better hit ratio than LRU on skewed workloads.

From "FIFO queues are all you need for cache eviction" (Yang et al., SOSP 2023).
New keys enter a small FIFO queue (10 % of the space); most are requested once and
leave from there without disturbing the main queue, into a ghost list of their
keys alone. A key requested again while in the small queue, or re-inserted while
remembered by the ghost list, goes to the main FIFO queue, where a key requested
since it last reached the head gets another lap instead of leaving.

A hit only bumps a small counter (no list surgery, unlike LRU), which is why it is
also fast. The interface matches ``LRUCache``, so a Group can use either.

Every eviction ends with the bounds held: when the small queue's head entries have all
been read, evicting from it only promotes them, and the eviction goes on in the main
queue (the paper's loop) instead of giving up over the bound. A removed or replaced
entry leaves its queue lazily, but lets go of its value at once, and the queues are
compacted once they hold more dead slots than live ones, so memory follows the bound too.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from geecache.bounded import BoundedCache, Locked, V, check_ttl

MAX_FREQ = 3


class _Item:
    __slots__ = ("alive", "expires", "freq", "in_main", "key", "size", "value")

    def __init__(self, key: str, value: Any, size: int, expires: float, in_main: bool):
        self.key = key
        self.value = value
        self.size = size
        self.expires = expires
        self.freq = 0  # hits since it entered its queue or last went round, capped at MAX_FREQ
        self.in_main = in_main
        self.alive = True


class S3FIFOCache(BoundedCache[V]):
    """Small and main FIFO queues plus a ghost list of recently evicted keys."""

    def __init__(
        self,
        max_bytes: int = 0,
        max_entries: int = 0,
        on_evicted: Callable[[str, V], None] | None = None,
        small_ratio: float = 0.1,
    ):
        super().__init__(max_bytes, max_entries, on_evicted)
        if not 0 < small_ratio < 1:
            raise ValueError(f"small_ratio must be between 0 and 1, not {small_ratio}")
        self.small_ratio = small_ratio
        self._map: dict[str, _Item] = {}
        self._small: deque[_Item] = deque()
        self._main: deque[_Item] = deque()
        # Oldest first; OrderedDict pops its oldest in O(1), where a plain dict rescans deleted slots.
        self._ghost: OrderedDict[str, None] = OrderedDict()
        self._small_bytes = 0
        self._main_bytes = 0
        self._small_items = 0
        self._dead = 0  # removed items still queued (see _bury)

    @property
    def nbytes(self) -> int:
        return self._small_bytes + self._main_bytes

    def get(self, key: str) -> V | None:
        item = self._map.get(key)
        if item is None:
            self.misses += 1
            return None
        if item.expires and item.expires <= time.monotonic():
            self.misses += 1
            self._bury(item)
            return None
        self.hits += 1
        if item.freq < MAX_FREQ:
            item.freq += 1
        return item.value  # type: ignore[no-any-return]

    def add(self, key: str, value: V, ttl: float | None = None) -> None:
        size = len(key) + len(value)
        old = self._map.get(key)
        if old is not None:
            self._bury(old)
        remembered = key in self._ghost
        expires = time.monotonic() + check_ttl(ttl) if ttl is not None else 0.0
        item = self._map[key] = _Item(key, value, size, expires, remembered)
        if remembered:
            del self._ghost[key]
            self._main.append(item)
            self._main_bytes += size
        else:
            self._small.append(item)
            self._small_bytes += size
            self._small_items += 1
        while (self.max_bytes and self.nbytes > self.max_bytes) or (
            self.max_entries and len(self._map) > self.max_entries
        ):
            if not self._evict():
                break

    def remove(self, key: str) -> bool:
        item = self._map.get(key)
        if item is None:
            return False
        self._bury(item)
        return True

    def remove_oldest(self) -> bool:
        """Evict one entry by the policy (what a shared byte budget uses)."""
        return self._evict()

    def clear(self) -> None:
        for item in list(self._map.values()):
            self._unlink(item)
        self._small.clear()
        self._main.clear()
        self._ghost.clear()
        self._dead = 0

    def ordered_keys(self) -> list[str]:
        """Keys in eviction order: the small queue's, then the main queue's."""
        return [item.key for item in (*self._small, *self._main) if item.alive]

    def _bury(self, item: _Item) -> None:
        """Unlink an item that stays queued: its slot is dropped when it reaches the head, or when the queues are
        compacted, which happens once they hold more dead slots than live ones (so O(1) amortized)."""
        self._unlink(item)
        self._dead += 1
        if self._dead > len(self._map) + 16:
            self._small = deque(i for i in self._small if i.alive)
            self._main = deque(i for i in self._main if i.alive)
            self._dead = 0

    def _unlink(self, item: _Item) -> None:
        """Take an item out of the map and the byte counts, and let go of its value."""
        item.alive = False
        del self._map[item.key]
        if item.in_main:
            self._main_bytes -= item.size
        else:
            self._small_bytes -= item.size
            self._small_items -= 1
        if self.on_evicted is not None:
            self.on_evicted(item.key, item.value)
        item.value = None  # a dead queue slot may linger; its value must not

    def _evict(self) -> bool:
        """Evict one entry; False only when none is left. A small queue whose entries were all read promotes
        them all and evicts nothing, so the main queue is tried after it, and the other way round."""
        total = self.nbytes if self.max_bytes else len(self._map)
        small = self._small_bytes if self.max_bytes else self._small_items
        if self._small and (small >= self.small_ratio * total or not self._main):
            return self._evict_small() or self._evict_main()
        return self._evict_main() or self._evict_small()

    def _evict_small(self) -> bool:
        while self._small:
            item = self._small.popleft()
            if not item.alive:
                self._dead -= 1
                continue
            if item.freq > 0:  # requested again while on probation: promote to the main queue
                self._small_bytes -= item.size
                self._small_items -= 1
                self._main_bytes += item.size
                item.freq = 0
                item.in_main = True
                self._main.append(item)
                continue
            self._ghost[item.key] = None
            if len(self._ghost) > max(len(self._map), 1):  # remember about as many keys as the cache holds
                self._ghost.popitem(last=False)
            self.evictions += 1
            self._unlink(item)
            return True
        return False

    def _evict_main(self) -> bool:
        while self._main:
            item = self._main.popleft()
            if not item.alive:
                self._dead -= 1
                continue
            if item.freq > 0:  # used since its last lap: another lap
                item.freq -= 1
                self._main.append(item)
                continue
            self.evictions += 1
            self._unlink(item)
            return True
        return False


class LockedS3FIFOCache(Locked[V], S3FIFOCache[V]):
    """An S3FIFOCache that threads can share."""
