"""geecache: a distributed read-through cache in the manner of groupcache, with peers served by gee.

import geecache

scores = geecache.new_group("scores", 64 << 20, load_score)  # load_score(key) -> bytes
pool = geecache.HTTPPool("http://127.0.0.1:8001")
pool.set_peers("http://127.0.0.1:8001", "http://127.0.0.1:8002")
pool.register(scores)
value = await scores.get("Tom")  # a ByteView
"""

from geecache.bloom import BloomFilter
from geecache.byteview import ByteView
from geecache.errors import KeyNotFound, PeerError
from geecache.group import Group, Stats, drop_group, get_group, groups, new_group
from geecache.http import HTTPPeer, HTTPPool, prometheus_text
from geecache.lru import LockedLRUCache, LRUCache
from geecache.ring import Ring, crc32_ieee
from geecache.s3fifo import LockedS3FIFOCache, S3FIFOCache
from geecache.singleflight import SingleFlight, ThreadSingleFlight

__all__ = [
    "BloomFilter",
    "ByteView",
    "Group",
    "HTTPPeer",
    "HTTPPool",
    "KeyNotFound",
    "LRUCache",
    "LockedLRUCache",
    "LockedS3FIFOCache",
    "PeerError",
    "Ring",
    "S3FIFOCache",
    "SingleFlight",
    "Stats",
    "ThreadSingleFlight",
    "crc32_ieee",
    "drop_group",
    "get_group",
    "groups",
    "new_group",
    "prometheus_text",
]
