"""mario's own bounded pool: a burst of levels answers 503 with Retry-After at once and never starves the host.

The HTTP tests serve a real uvicorn on 127.0.0.1 (the ``serve`` fixture). Levels are slow by their length alone:
128 columns take about 1.5 s on one idle core, far longer than the deadlines asserted for what must be prompt.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

import gee
import gee.handlers
from mario import web

SLOW = {"prompt": "many pipes", "columns": "128"}
QUICK = {"prompt": "some blocks", "columns": "8"}
PROMPT = 1.0  # seconds: what "at once" means for a refusal or a health check, with room for a busy machine


async def timed_get(
    client: httpx.AsyncClient, path: str, params: dict[str, str] | None = None, timeout: float = 60
) -> tuple:
    """The response, how long it took, and when it came back (``perf_counter``)."""
    start = time.perf_counter()
    r = await client.get(path, params=params, timeout=timeout)
    end = time.perf_counter()
    return r, end - start, end


def test_the_pool_refuses_past_workers_plus_queue_and_frees_its_slots() -> None:
    async def main() -> None:
        pool = web.LevelPool(workers=1, queue=1)
        gate = threading.Event()
        held = [asyncio.create_task(pool.run(gate.wait, 10)) for _ in range(2)]
        await asyncio.sleep(0)  # both admitted: one running, one waiting
        with pytest.raises(web.GeneratorBusy) as info:
            await pool.run(time.sleep, 0)
        assert info.value.retry_after >= 1 and f"retry after {info.value.retry_after} s" in str(info.value)
        gate.set()
        assert await asyncio.gather(*held) == [True, True]
        assert await pool.run(sum, [1, 2]) == 3  # the slots came back

    asyncio.run(main())


@pytest.mark.parametrize("workers, queue", [(0, 1), (1, -1)])
def test_register_refuses_a_pool_that_cannot_work(workers: int, queue: int) -> None:
    with pytest.raises(ValueError, match=f"workers={workers} and queue={queue}"):
        web.register(gee.Engine(), workers=workers, queue=queue)


def test_a_full_queue_answers_503_with_retry_after_at_once(serve) -> None:
    host = gee.Engine()
    web.register(host, workers=1, queue=1)
    paths = ["/mario/level.json", "/mario/level.png", "/mario", "/mario/level.json", "/mario/level.json"]

    async def burst(url: str) -> list[tuple]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            return await asyncio.gather(*(timed_get(client, p, {**SLOW, "seed": str(i)}) for i, p in enumerate(paths)))

    with serve(host) as url:
        answers = asyncio.run(burst(url))
        again = httpx.get(f"{url}/mario/level.json", params=QUICK, timeout=30)

    statuses = [r.status_code for r, _, _ in answers]
    assert sorted(statuses) == [200, 200, 503, 503, 503], statuses  # one made, one waited, the rest refused
    for r, seconds, _ in answers:
        if r.status_code != 503:
            continue
        assert seconds < PROMPT, f"{r.url.path} was refused after {seconds:.2f} s"
        retry = int(r.headers["retry-after"])
        error = (
            f"the level generator is busy (1 levels being made and 1 waiting, the most it takes); retry after {retry} s"
        )
        assert retry >= 1
        if r.url.path == "/mario":
            assert r.headers["content-type"].startswith("text/html") and error in r.text and "<form" in r.text
        else:
            assert r.json() == {"error": error, "retry_after": retry}
    assert again.status_code == 200 and again.json()["columns"] == 8  # the slots were given back


def test_a_busy_generator_leaves_the_hosts_plain_routes_alone(serve) -> None:
    """41 levels at once (the burst that once held a node's /healthz for 33 s): /healthz still answers at once."""
    host = gee.Engine()
    host.get("/healthz", lambda c: c.json(200, {"status": "ok"}))  # plain, as segserve registers it
    web.register(host, workers=2, queue=0)

    async def scenario(url: str) -> tuple[list[tuple], list[tuple]]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            levels = [
                asyncio.create_task(timed_get(client, "/mario/level.json", {**SLOW, "seed": str(i)})) for i in range(41)
            ]
            deadline = time.monotonic() + 10
            while sum(t.done() for t in levels) < 39 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            probes = [await timed_get(client, "/healthz") for _ in range(5)]
            return await asyncio.gather(*levels), probes

    with serve(host) as url:
        levels, probes = asyncio.run(scenario(url))

    made = [end for r, _, end in levels if r.status_code == 200]
    assert len(made) == 2 and sum(r.status_code == 503 for r, _, _ in levels) == 39
    for r, seconds, end in probes:
        assert r.status_code == 200 and seconds < PROMPT, f"/healthz took {seconds:.2f} s"
        assert end < min(made), "the probe came after a level was done: the workers were not busy any more"


def test_mario_answers_while_gees_shared_pool_is_full(serve) -> None:
    """Every thread of gee's shared pool held by a plain handler of the host: mario's async handlers still answer."""
    size = gee.handlers._pool._max_workers
    release = threading.Event()
    held = [0]
    lock = threading.Lock()

    def hold(c: gee.Context) -> None:
        with lock:
            held[0] += 1
        release.wait(timeout=30)
        c.string(200, "released")

    host = gee.Engine()
    host.get("/hold", hold)
    web.register(host)

    async def scenario(url: str) -> list[tuple]:
        limits = httpx.Limits(max_connections=size + 4)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            holds = [asyncio.create_task(client.get("/hold")) for _ in range(size)]
            try:
                deadline = time.monotonic() + 10
                while held[0] < size and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                assert held[0] == size, f"only {held[0]} of gee's {size} threads were held"
                # A short timeout: a handler that needed gee's pool would wait for the holds (30 s) and time out.
                return [
                    await timed_get(client, path, params, timeout=5)
                    for path, params in [("/mario/level.json", QUICK), ("/mario/level.png", QUICK), ("/mario", QUICK)]
                ]
            finally:
                release.set()
                await asyncio.gather(*holds)

    with serve(host) as url:
        answers = asyncio.run(scenario(url))

    for r, seconds, _ in answers:
        assert r.status_code == 200 and seconds < 5, f"{r.url} took {seconds:.2f} s with gee's pool full"
