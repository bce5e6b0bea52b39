"""A Bloom filter of keys known to exist: queries for impossible keys are refused without a load."""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterable


class BloomFilter:
    """Sized for ``capacity`` keys at a false-positive rate of ``error_rate``.

    Indexes come from one 128-bit BLAKE2b digest split into two 64-bit halves,
    combined as ``h1 + i * h2`` (Kirsch and Mitzenmacher), so each key costs one
    hash however many bit positions it sets. A false positive only costs a load;
    there are never false negatives, so existing keys are always served.
    """

    def __init__(self, capacity: int, error_rate: float = 0.01, keys: Iterable[str] = ()):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, not {capacity}")
        if not 0 < error_rate < 1:
            raise ValueError(f"error_rate must be between 0 and 1, not {error_rate}")
        self.capacity = capacity
        self.error_rate = error_rate
        self.bits = max(8, math.ceil(-capacity * math.log(error_rate) / math.log(2) ** 2))
        self.hashes = max(1, round(self.bits / capacity * math.log(2)))
        self._array = bytearray((self.bits + 7) // 8)
        self._lock = threading.Lock()
        self.count = 0
        for key in keys:
            self.add(key)

    def _positions(self, key: str) -> list[int]:
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        h1 = int.from_bytes(digest[:8], "little")
        h2 = int.from_bytes(digest[8:], "little") | 1
        return [(h1 + i * h2) % self.bits for i in range(self.hashes)]

    def add(self, key: str) -> None:
        positions = self._positions(key)
        with self._lock:
            for position in positions:
                self._array[position >> 3] |= 1 << (position & 7)
            self.count += 1

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        array = self._array
        return all(array[p >> 3] & (1 << (p & 7)) for p in self._positions(key))
