"""Singleflight: concurrent calls for one key share a single execution.

``SingleFlight`` is for coroutines. The work runs as its own task and every caller
awaits it through ``asyncio.shield``, so a cancelled caller neither cancels the work
for the others nor leaves the key wedged. A task belongs to its event loop, so calls
are shared among the callers on one loop: callers on another loop (another thread)
get their own execution instead of "attached to a different loop". ``forget(key)``
(Go's x/sync singleflight ``Forget``) makes later calls start afresh while the one in
flight finishes for its waiters: what a write does, so that no get that follows it
joins a load that began before it. ``ThreadSingleFlight`` does the same for threads.
An exception reaches every waiter, and the key is freed either way, so the next call
starts afresh.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()  # do runs on every loop's thread, forget on any thread
        self._calls: dict[str, dict[asyncio.AbstractEventLoop, asyncio.Task[T]]] = {}

    async def do(self, key: str, fn: Callable[[], Coroutine[Any, Any, T]]) -> tuple[T, bool]:
        """Run ``fn`` once for all concurrent callers of ``key`` on this loop; returns (value, shared)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            calls = self._calls.setdefault(key, {})
            task = calls.get(loop)
            shared = task is not None
            if task is None:
                task = calls[loop] = loop.create_task(fn())
                task.add_done_callback(lambda done: self._done(key, loop, done))
        return await asyncio.shield(task), shared

    def forget(self, key: str) -> None:
        """Later calls for ``key`` run ``fn`` afresh; the executions in flight finish for their own waiters."""
        with self._lock:
            self._calls.pop(key, None)

    def _done(self, key: str, loop: asyncio.AbstractEventLoop, task: asyncio.Task[T]) -> None:
        with self._lock:
            calls = self._calls.get(key)
            if calls is not None and calls.get(loop) is task:
                del calls[loop]
                if not calls:
                    del self._calls[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: every waiter may have gone

    def in_flight(self) -> int:
        with self._lock:
            return sum(len(calls) for calls in self._calls.values())


class _Call:
    __slots__ = ("done", "error", "value", "waiters")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.waiters = 0
        self.value: Any = None
        self.error: BaseException | None = None


class ThreadSingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, _Call] = {}

    def do(self, key: str, fn: Callable[[], T]) -> tuple[T, bool]:
        """Run ``fn`` once for all threads calling with ``key`` meanwhile; returns (value, shared)."""
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = _Call()
            else:
                call.waiters += 1
        if not leader:
            call.done.wait()
            if call.error is not None:
                raise call.error
            return call.value, True
        try:
            call.value = fn()
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            with self._lock:
                del self._calls[key]
            call.done.set()
        return call.value, False

    def waiters(self, key: str) -> int:
        """How many threads wait on the execution in flight for ``key`` (0 if none)."""
        with self._lock:
            call = self._calls.get(key)
            return 0 if call is None else call.waiters
