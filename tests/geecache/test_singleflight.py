import asyncio
import threading

import pytest

from geecache import SingleFlight, ThreadSingleFlight


def test_concurrent_calls_share_one_execution():
    calls = 0

    async def main() -> list[tuple[int, bool]]:
        flight: SingleFlight[int] = SingleFlight()
        release = asyncio.Event()

        async def work() -> int:
            nonlocal calls
            calls += 1
            await release.wait()
            return 42

        tasks = [asyncio.ensure_future(flight.do("k", work)) for _ in range(100)]
        await asyncio.sleep(0)
        release.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(main())
    assert calls == 1
    assert {value for value, _ in results} == {42}
    assert sum(1 for _, shared in results if not shared) == 1


def test_exception_reaches_every_waiter_and_frees_the_key():
    async def main() -> None:
        flight: SingleFlight[int] = SingleFlight()
        gate = asyncio.Event()

        async def fail() -> int:
            await gate.wait()
            raise ValueError("boom")

        tasks = [asyncio.ensure_future(flight.do("k", fail)) for _ in range(5)]
        await asyncio.sleep(0)
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, ValueError) for r in results)
        assert flight.in_flight() == 0

        async def ok() -> int:
            return 7

        assert await flight.do("k", ok) == (7, False)

    asyncio.run(main())


def test_a_cancelled_caller_does_not_cancel_the_others():
    async def main() -> None:
        flight: SingleFlight[str] = SingleFlight()
        gate = asyncio.Event()

        async def work() -> str:
            await gate.wait()
            return "done"

        first = asyncio.ensure_future(flight.do("k", work))
        second = asyncio.ensure_future(flight.do("k", work))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
        gate.set()
        assert await second == ("done", True)
        with pytest.raises(asyncio.CancelledError):
            await first
        assert flight.in_flight() == 0

    asyncio.run(main())


def test_threads_share_one_execution_and_errors():
    flight: ThreadSingleFlight[int] = ThreadSingleFlight()
    started = threading.Event()
    release = threading.Event()
    calls = 0

    def work() -> int:
        nonlocal calls
        calls += 1
        started.set()
        release.wait()
        return 5

    results: list[tuple[int, bool]] = []
    leader = threading.Thread(target=lambda: results.append(flight.do("k", work)))
    leader.start()
    started.wait()
    followers = [threading.Thread(target=lambda: results.append(flight.do("k", work))) for _ in range(8)]
    for t in followers:
        t.start()
    # Release the leader's call only once every follower is waiting on it.
    while flight.waiters("k") < 8:
        pass
    release.set()
    for t in [leader, *followers]:
        t.join()
    assert calls == 1 and [v for v, _ in results] == [5] * 9

    def fail() -> int:
        raise KeyError("x")

    with pytest.raises(KeyError):
        flight.do("k", fail)
    assert flight.do("k", lambda: 1) == (1, False)
