"""Overload: a full inference pool answers 503 with Retry-After at once, and memory stays flat."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from segserve.pool import InferencePool, Overloaded

from tests.imagefiles import png_bytes
from tests.segserve.conftest import Node


def test_pool_refuses_past_workers_plus_queue() -> None:
    async def main() -> None:
        pool = InferencePool(workers=1, queue=1)
        gate = asyncio.Event()
        loop = asyncio.get_running_loop()

        def wait() -> int:
            asyncio.run_coroutine_threadsafe(gate.wait(), loop).result()
            return 1

        first = asyncio.create_task(pool.run(wait))
        second = asyncio.create_task(pool.run(wait))
        await asyncio.sleep(0)
        with pytest.raises(Overloaded) as info:
            await pool.run(wait)
        assert info.value.status == 503 and info.value.retry_after >= 1 and pool.rejected == 1
        gate.set()
        assert await first + await second == 2
        assert await pool.run(lambda: 3) == 3
        pool.shutdown()

    asyncio.run(main())


@pytest.fixture
def slow_node(slow_standin: pathlib.Path) -> Iterator[Node]:
    node = Node(slow_standin, "--workers", "1", "--queue", "1").start()
    try:
        yield node
    finally:
        node.stop()


async def burst(url: str, bodies: list[bytes]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=len(bodies))) as client:
        return await asyncio.gather(*(client.post(f"{url}/v1/segment", content=b) for b in bodies))


def test_overload_answers_503_and_memory_stays_flat(slow_node: Node) -> None:
    rng = np.random.default_rng(0)
    images = [png_bytes(rng.integers(0, 255, (256, 256), np.uint8)) for _ in range(24)]
    answers = asyncio.run(burst(slow_node.url, images))
    statuses = [a.status_code for a in answers]
    assert set(statuses) == {200, 503} and statuses.count(200) >= 2
    refused = next(a for a in answers if a.status_code == 503)
    assert int(refused.headers["retry-after"]) >= 1 and refused.json()["error"]["code"] == "overloaded"
    for _ in range(3):  # warm-up: the allocator's per-thread arenas fill over the first bursts (more under load)
        asyncio.run(burst(slow_node.url, [png_bytes(rng.integers(0, 255, (256, 256), np.uint8)) for _ in range(24)]))
    before = slow_node.rss_kib()
    for _ in range(4):
        more = [png_bytes(rng.integers(0, 255, (256, 256), np.uint8)) for _ in range(24)]
        asyncio.run(burst(slow_node.url, more))
    grown_mib = (slow_node.rss_kib() - before) / 1024
    assert grown_mib < 40, f"RSS grew {grown_mib:.1f} MiB under overload"
    assert slow_node.metric("segserve_pool_rejected_total") >= 24
    assert httpx.get(f"{slow_node.url}/healthz").status_code == 200
