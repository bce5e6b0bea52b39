"""Consistent hashing on a 2^32 ring with virtual nodes, as golang/groupcache's consistenthash.

Each peer appears ``replicas`` times on the ring, at ``hash(str(i) + peer)``; a key
belongs to the first virtual node clockwise from ``hash(key)``. Keeping groupcache's
exact recipe (CRC-32 IEEE, the same strings, the same tie-breaking: on a hash
collision the peer added last wins, and ``bisect_left`` is Go's ``sort.Search``)
means a ring of Python and Go peers agrees on every key's owner.
"""

from __future__ import annotations

import bisect
import zlib
from collections.abc import Callable, Iterable

HashFn = Callable[[bytes], int]


def crc32_ieee(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


class Ring:
    def __init__(self, replicas: int = 50, hash_fn: HashFn | None = None, peers: Iterable[str] = ()):
        if replicas < 1:
            raise ValueError(f"replicas must be >= 1, not {replicas}")
        self.replicas = replicas
        self.hash_fn = hash_fn or crc32_ieee
        self._peers: list[str] = []
        self._points: list[int] = []
        self._owner: dict[int, str] = {}
        self.add(*peers)

    @property
    def peers(self) -> list[str]:
        return list(self._peers)

    def __len__(self) -> int:
        return len(self._peers)

    def add(self, *peers: str) -> None:
        """Add peers (in order: on a collision the later one owns the point, as in Go)."""
        for peer in peers:
            if peer in self._peers:
                continue
            self._peers.append(peer)
            for i in range(self.replicas):
                point = self.hash_fn(f"{i}{peer}".encode())
                self._points.append(point)
                self._owner[point] = peer
        self._points.sort()

    def remove(self, *peers: str) -> None:
        """Remove peers; the ring is rebuilt from the rest in their order, as Go's HTTPPool.Set does."""
        remaining = [p for p in self._peers if p not in peers]
        self._peers, self._points, self._owner = [], [], {}
        self.add(*remaining)

    def get(self, key: str) -> str | None:
        """The peer that owns ``key``; None on an empty ring."""
        points = self._points
        if not points:
            return None
        index = bisect.bisect_left(points, self.hash_fn(key.encode()))
        if index == len(points):
            index = 0
        return self._owner[points[index]]
