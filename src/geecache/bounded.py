"""What every eviction policy of geecache shares: bounds, counters, stats, a lock for threads, and the rule for
durations."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sized
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

V = TypeVar("V", bound=Sized)


def check_ttl(ttl: float, what: str = "ttl") -> float:
    """``ttl`` if it is a finite number of seconds above 0, else a clear error.

    0 is refused, never read as "no expiry": groupcache forks that took ``ttl=0`` (or an unparsed ``?ttl=``) for
    "forever" kept values that their callers meant not to keep at all. No expiry is spelled ``None``; negative,
    NaN and infinite durations are refused too.
    """
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise TypeError(f"{what} must be a number of seconds, not {type(ttl).__name__}")
    if not 0 < ttl < math.inf:  # also false for NaN
        raise ValueError(f"{what} must be a finite number of seconds above 0 (None: no expiry), not {ttl!r}")
    return float(ttl)


@dataclass
class CacheStats:
    """groupcache's ``CacheStats``: one cache's size and counters."""

    bytes: int
    items: int
    gets: int
    hits: int
    evictions: int


class BoundedCache(Generic[V]):
    """``max_bytes`` (``len(key) + len(value)``, as groupcache counts) and ``max_entries`` bound
    the cache; 0 leaves a bound off. ``on_evicted(key, value)`` hears of every entry that
    leaves, replaced ones included. ``ttl`` (seconds, see ``check_ttl``) makes an entry expire."""

    __slots__ = ("_bytes", "_map", "evictions", "hits", "max_bytes", "max_entries", "misses", "on_evicted")

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

    def stats(self) -> CacheStats:
        return CacheStats(self.nbytes, len(self._map), self.gets, self.hits, self.evictions)


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
