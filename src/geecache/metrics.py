"""A group's counters for people and for Prometheus: the JSON snapshot, and a ``prometheus_client`` collector.

The collector reads each group's ``Stats`` and cache stats when scraped, so nothing is counted twice, and
``prometheus_client`` writes the exposition format (escaping label values, types, help). Metric names:
``geecache_<stat>_total{group}`` for every ``Stats`` counter, ``geecache_cache_bytes`` and
``geecache_cache_items`` gauges and ``geecache_cache_{gets,hits,evictions}_total`` counters, labelled
``{group, cache}`` with cache ``main`` or ``hot``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, fields
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

import gee
from geecache.group import Group, Stats

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"  # what generate_latest writes
CACHE_GAUGES = {"bytes": "bytes held (len(key) + len(value))", "items": "entries held"}
CACHE_COUNTERS = {"gets": "lookups", "hits": "lookups that found a value", "evictions": "entries evicted"}


def snapshot(group: Group) -> dict[str, Any]:
    """groupcache's counters, and bytes, items, gets, hits and evictions per cache, as JSON-ready data."""
    return {
        "group": group.name,
        "cache_bytes": group.cache_bytes,
        "counters": asdict(group.stats),
        "main_cache": asdict(group.main_cache.stats()),
        "hot_cache": asdict(group.hot_cache.stats()),
        "negative_cache": asdict(group.negative_cache.stats()),
        "in_flight": group.load_group.in_flight(),
    }


class GroupCollector(Collector):
    """The groups that ``groups()`` returns at each scrape, as Prometheus metric families.

    ``Stats.cache_hits`` (per group) and the caches' ``hits`` (per group and cache) are both
    ``geecache_cache_hits_total``: one family, whose samples carry ``{group}`` or ``{group, cache}``.
    """

    def __init__(self, groups: Callable[[], Iterable[Group]]):
        self._groups = groups

    def collect(self) -> Iterator[Metric]:
        groups = list(self._groups())
        families: dict[str, Metric] = {}

        def sample(name: str, kind: str, help: str, labels: dict[str, str], value: float) -> None:
            family = families.get(name)
            if family is None:
                family = families[name] = Metric(name, help, kind)
            family.add_sample(name + ("_total" if kind == "counter" else ""), labels, value)

        for stat in fields(Stats):
            for group in groups:
                value = getattr(group.stats, stat.name)
                sample(f"geecache_{stat.name}", "counter", stat.metadata["help"], {"group": group.name}, value)
        for group in groups:
            for which, cache in (("main", group.main_cache), ("hot", group.hot_cache)):
                stats, labels = cache.stats(), {"group": group.name, "cache": which}
                for name, help in CACHE_GAUGES.items():
                    sample(f"geecache_cache_{name}", "gauge", f"cache {help}", labels, getattr(stats, name))
                for name, help in CACHE_COUNTERS.items():
                    sample(f"geecache_cache_{name}", "counter", f"cache {help}", labels, getattr(stats, name))
        yield from families.values()


def mount(engine: gee.Engine, groups: Callable[[], Iterable[Group]]) -> None:
    """Serve ``GET /metrics`` on ``engine``: the groups' metrics in Prometheus' text format 0.0.4."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GroupCollector(groups))

    async def metrics(c: gee.Context) -> None:
        c.data(200, TEXT_FORMAT, generate_latest(registry))

    engine.get("/metrics", metrics)
