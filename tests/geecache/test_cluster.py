"""A cluster of three node processes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from geecache import Ring

from tests.geecache.cluster import python_cluster


async def ask_all(requests: list[tuple[str, str]], concurrency: int) -> list[httpx.Response]:
    """GET /api?key=K on the given node APIs, ``concurrency`` clients at a time."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(api: str, key: str) -> httpx.Response:
            async with semaphore:
                return await client.get(f"{api}/api", params={"key": key})

        return await asyncio.gather(*(one(api, key) for api, key in requests))


@pytest.mark.parametrize("servers", [None, ["granian", "uvicorn", "granian"]], ids=["uvicorn", "granian-and-uvicorn"])
def test_cold_keys_are_loaded_exactly_once_in_the_whole_cluster(servers):
    keys = [f"cold-{i}" for i in range(20)]
    with python_cluster(3, delay=0.05, servers=servers) as nodes:
        requests = [(random.choice(nodes).api, key) for key in keys for _ in range(10)]
        random.shuffle(requests)
        responses = asyncio.run(ask_all(requests, concurrency=200))
        assert all(r.status_code == 200 for r in responses)
        assert all(r.content == f"py:{key}".encode() for r, (_, key) in zip(responses, requests, strict=True))
        stats = [node.stats()["counters"] for node in nodes]
        assert sum(s["local_loads"] for s in stats) == len(keys)
        # and each key was loaded by its owner
        ring = Ring(50, peers=[n.url for n in nodes])
        for node, counters in zip(nodes, stats, strict=True):
            assert counters["local_loads"] == sum(ring.get(k) == node.url for k in keys)


def test_one_mib_values_cross_the_cluster():
    with python_cluster(3) as nodes:
        ring = Ring(50, peers=[n.url for n in nodes])
        key = "big-1"
        asker = next(n for n in nodes if ring.get(key) != n.url)
        response = httpx.get(f"{asker.api}/api", params={"key": key}, timeout=30)
        assert response.status_code == 200 and len(response.content) == 1 << 20
        assert response.content == (b"big-1" * (1 << 20))[: 1 << 20]
        assert asker.stats()["counters"]["peer_loads"] == 1


def test_a_killed_owner_makes_the_others_load_locally_and_a_restarted_one_rejoins():
    with python_cluster(3) as nodes:
        ring = Ring(50, peers=[n.url for n in nodes])
        victim = nodes[0]
        survivors = nodes[1:]
        keys = [f"k-{i}" for i in range(200) if ring.get(f"k-{i}") == victim.url][:20]
        first = asyncio.run(ask_all([(random.choice(survivors).api, k) for k in keys[:10]], concurrency=20))
        assert all(r.status_code == 200 for r in first)
        victim.kill()
        # Mid-run: the owner is gone; the survivors answer every key, loading the new ones themselves.
        requests = [(s.api, k) for k in keys for s in survivors]
        second = asyncio.run(ask_all(requests, concurrency=40))
        assert [r.status_code for r in second] == [200] * len(second)
        assert [r.content for r in second] == [f"py:{k}".encode() for _, k in requests]
        errors = sum(s.stats()["counters"]["peer_errors"] for s in survivors)
        assert errors > 0
        victim.start()  # same URL: it rejoins the ring it never left
        fresh = next(f"k-fresh-{i}" for i in range(1000) if ring.get(f"k-fresh-{i}") == victim.url)
        asker = survivors[0]
        before = asker.stats()["counters"]["peer_loads"]
        assert httpx.get(f"{asker.api}/api", params={"key": fresh}).content == f"py:{fresh}".encode()
        assert asker.stats()["counters"]["peer_loads"] == before + 1
        assert victim.stats()["counters"]["local_loads"] == 1


def test_missing_keys_are_404_and_the_node_keeps_serving():
    with python_cluster(2) as nodes:
        for _ in range(3):
            response = httpx.get(f"{nodes[0].api}/api", params={"key": "missing-x"})
            assert response.status_code == 404 and "not found" in response.json()["error"]
        assert httpx.get(f"{nodes[0].api}/api").status_code == 400
        assert httpx.get(f"{nodes[0].api}/api", params={"key": "ok"}).content == b"py:ok"
        owner_loads = sum(n.stats()["counters"]["not_found"] for n in nodes)
        assert owner_loads >= 1
        assert sum(n.stats()["counters"]["negative_hits"] for n in nodes) >= 1


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_a_node_on_a_taken_port_says_so_and_exits(server):
    import socket
    import subprocess
    import sys

    from tests.geecache.cluster import HERE

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        url = f"http://127.0.0.1:{taken.getsockname()[1]}"
        command = [sys.executable, "-m", "geecache", "node", "--self", url, "--peers", url, "--group", "g"]
        command += ["--getter", "cluster_getter:get_value", "--app-dir", str(HERE), "--server", server]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("cannot listen") and "pick another --port" in result.stderr
