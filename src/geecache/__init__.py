"""geecache: a distributed read-through cache in the manner of groupcache, with peers served by gee.

import geecache

scores = geecache.Group("scores", 64 << 20, load_score)  # load_score(key) -> bytes
pool = geecache.HTTPPool("http://127.0.0.1:8001", auth=geecache.PeerAuth(secret))
pool.set_peers("http://127.0.0.1:8001", "http://127.0.0.1:8002")
pool.register(scores)  # the pool's groups are the groups its node serves
value = await scores.get("Tom")  # a ByteView
"""

from geecache.auth import PeerAuth
from geecache.bloom import BloomFilter
from geecache.bounded import CacheStats
from geecache.byteview import ByteView
from geecache.errors import KeyNotFound, PeerError
from geecache.group import Group, Stats
from geecache.http import HTTPPeer, HTTPPool
from geecache.lru import LockedLRUCache, LRUCache
from geecache.metrics import GroupCollector
from geecache.ring import Ring, crc32_ieee
from geecache.s3fifo import LockedS3FIFOCache, S3FIFOCache
from geecache.singleflight import SingleFlight, ThreadSingleFlight

__all__ = [
    "BloomFilter",
    "ByteView",
    "CacheStats",
    "Group",
    "GroupCollector",
    "HTTPPeer",
    "HTTPPool",
    "KeyNotFound",
    "LRUCache",
    "LockedLRUCache",
    "LockedS3FIFOCache",
    "PeerAuth",
    "PeerError",
    "Ring",
    "S3FIFOCache",
    "SingleFlight",
    "Stats",
    "ThreadSingleFlight",
    "crc32_ieee",
]
