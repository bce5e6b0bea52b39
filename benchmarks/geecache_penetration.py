"""Cache breakdown and penetration: getter calls per 10,000 requests.

- Breakdown: 10,000 concurrent requests for one cold key. With singleflight the
  getter runs once; a naive read-through cache (check, then load) runs it for
  every request that arrives before the first load returns.
- Penetration: 10,000 requests for keys that do not exist, the same key each time
  (negative caching answers all but the first) and all different keys (negative
  caching cannot help; the Bloom filter of existing keys refuses them, but for its
  false positives).

    python benchmarks/geecache_penetration.py [--requests 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from geecache import BloomFilter, Group, KeyNotFound

from common import header

EXISTING = {f"user-{i}": f"{i}".encode() for i in range(10_000)}


class Database:
    """The slow store behind the cache: counts every query."""

    def __init__(self) -> None:
        self.queries = 0

    async def load(self, key: str) -> bytes:
        self.queries += 1
        await asyncio.sleep(0.01)  # the query's latency, so that concurrent requests overlap
        if key not in EXISTING:
            raise KeyNotFound("users", key)
        return EXISTING[key]


class NaiveCache:
    """Read-through with no protection: the baseline."""

    def __init__(self, load: Callable[[str], Awaitable[bytes]]):
        self.values: dict[str, bytes] = {}
        self.load = load

    async def get(self, key: str) -> bytes:
        if key in self.values:
            return self.values[key]
        value = await self.load(key)
        self.values[key] = value
        return value


async def count(make: Callable[[Database], Callable[[str], Awaitable[object]]], keys: list[str]) -> int:
    db = Database()
    get = make(db)

    async def one(key: str) -> None:
        with contextlib.suppress(KeyNotFound):
            await get(key)

    await asyncio.gather(*(one(k) for k in keys))
    return db.queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args()
    n = args.requests
    scenarios = {
        "one cold key": ["user-1"] * n,
        "one missing key": ["nobody"] * n,
        "all different missing keys": [f"attacker-{i}" for i in range(n)],
    }
    caches: dict[str, Callable[[Database], Callable[[str], Awaitable[object]]]] = {
        "naive read-through": lambda db: NaiveCache(db.load).get,
        "geecache Group": lambda db: Group("users", 64 << 20, db.load).get,
        "geecache Group + Bloom filter": lambda db: (
            Group("users", 64 << 20, db.load, bloom=BloomFilter(len(EXISTING), 0.01, keys=EXISTING)).get
        ),
    }
    print(header([]))
    print()
    print(f"| getter calls per {n:,} concurrent requests | " + " | ".join(scenarios) + " |")
    print("|---|" + "---|" * len(scenarios))
    for name, make in caches.items():
        calls = [asyncio.run(count(make, keys)) for keys in scenarios.values()]
        print(f"| {name} | " + " | ".join(f"{c:,}" for c in calls) + " |")


if __name__ == "__main__":
    main()
