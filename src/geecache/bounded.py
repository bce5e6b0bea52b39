"""What every eviction policy of geecache shares: bounds, counters, stats, and a lock for threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sized
from typing import Any, Generic, TypeVar

V = TypeVar("V", bound=Sized)


class BoundedCache(Generic[V]):
    """``max_bytes`` (``len(key) + len(value)``, as groupcache counts) and ``max_entries`` bound
    the cache; 0 leaves a bound off. ``on_evicted(key, value)`` hears of every entry that
    leaves, replaced ones included."""

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
        self._map: dict[str, Any] = {}
        self._bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    @property
    def nbytes(self) -> int:
        """Bytes held: ``len(key) + len(value)`` summed over the entries."""
        return self._bytes

    @property
    def gets(self) -> int:
        return self.hits + self.misses

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, key: str) -> bool:
        return key in self._map

    def stats(self) -> dict[str, int]:
        return {
            "bytes": self.nbytes,
            "items": len(self._map),
            "gets": self.gets,
            "hits": self.hits,
            "evictions": self.evictions,
        }


class Locked(Generic[V]):
    """Mixin: every public operation of the cache runs under one lock, for use from threads."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            return super().get(key)  # type: ignore[misc,no-any-return]

    def add(self, key: str, value: V, ttl: float | None = None) -> None:
        with self._lock:
            super().add(key, value, ttl)  # type: ignore[misc]

    def remove(self, key: str) -> bool:
        with self._lock:
            return super().remove(key)  # type: ignore[misc,no-any-return]

    def remove_oldest(self) -> bool:
        with self._lock:
            return super().remove_oldest()  # type: ignore[misc,no-any-return]

    def clear(self) -> None:
        with self._lock:
            super().clear()  # type: ignore[misc]

    def ordered_keys(self) -> list[str]:
        with self._lock:
            return super().ordered_keys()  # type: ignore[misc,no-any-return]
