"""Singleflight: concurrent calls for one key share a single execution.

``SingleFlight`` is for coroutines. The work runs as its own task and every caller
awaits it through ``asyncio.shield``, so a cancelled caller neither cancels the work
for the others nor leaves the key wedged. ``ThreadSingleFlight`` does the same for
threads. An exception reaches every waiter, and the key is freed either way, so the
next call starts afresh.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._calls: dict[str, asyncio.Task[T]] = {}

    async def do(self, key: str, fn: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """Run ``fn`` once for all concurrent callers of ``key``; returns (value, shared)."""
        task = self._calls.get(key)
        shared = task is not None
        if task is None:
            task = asyncio.ensure_future(fn())
            self._calls[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task), shared

    def _forget(self, key: str, task: asyncio.Task[T]) -> None:
        if self._calls.get(key) is task:
            del self._calls[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: every waiter may have gone

    def in_flight(self) -> int:
        return len(self._calls)


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
