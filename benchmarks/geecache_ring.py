"""Consistent hashing: load balance and the keys that move when a peer joins.

For 3 to 10 peers and 50 or 160 virtual nodes per peer: the busiest peer's share
of 100,000 random keys over the mean share (1.00 is perfect balance), and the
fraction of keys that change owner when one more peer joins, beside the ideal
1/(N+1) (a modulo hash would move about N/(N+1) of them).

    python benchmarks/geecache_ring.py [--keys 100000]
"""

from __future__ import annotations

import argparse
import collections
import random

from geecache import Ring

from common import header


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(42)
    keys = [f"user:{rng.getrandbits(64):x}" for _ in range(args.keys)]
    print(header([]))
    print()
    print("| peers | replicas | max / mean keys per peer | moved when one joins | ideal 1/(N+1) | modulo hash moves |")
    print("|---|---|---|---|---|---|")
    for replicas in (50, 160):
        for count in range(3, 11):
            peers = [f"http://10.0.0.{i}:8001" for i in range(1, count + 1)]
            ring = Ring(replicas, peers=peers)
            owners = [ring.get(k) for k in keys]
            load = collections.Counter(owners)
            imbalance = max(load.values()) / (len(keys) / count)
            ring.add(f"http://10.0.0.{count + 1}:8001")
            moved = sum(ring.get(k) != before for k, before in zip(keys, owners, strict=True)) / len(keys)
            modulo = sum(hash(k) % count != hash(k) % (count + 1) for k in keys) / len(keys)
            print(f"| {count} | {replicas} | {imbalance:.2f} | {moved:.3f} | {1 / (count + 1):.3f} | {modulo:.3f} |")


if __name__ == "__main__":
    main()
