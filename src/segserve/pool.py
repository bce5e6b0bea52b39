"""A bounded inference pool: model runs leave the event loop, and a full queue answers 503.

Inference is CPU-bound and takes milliseconds to seconds, so it runs in worker
threads (ONNX Runtime releases the GIL) while the event loop keeps serving cached
answers, health checks and other clients. Both the number of running jobs
(``workers``) and waiting jobs (``queue``) are bounded: when both are full the pool
refuses at once with ``Overloaded`` (HTTP 503 with ``Retry-After``) instead of
queueing without bound and growing memory until the process dies.

Optional micro-batching (``batch_window`` > 0) gathers concurrent single-slice jobs
of the same shape for up to that many seconds and runs them as one batch.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from segserve.errors import ServiceError

T = TypeVar("T")
F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]


class Overloaded(ServiceError):
    """Every worker is busy and the queue is full: come back after ``retry_after`` seconds."""

    def __init__(self, retry_after: int, workers: int, queue: int) -> None:
        super().__init__(
            503,
            "overloaded",
            f"all {workers} inference workers are busy and {queue} requests are queued; retry after {retry_after} s",
            retry_after=retry_after,
        )
        self.retry_after = retry_after


class InferencePool:
    """At most ``workers`` jobs run and ``queue`` wait; beyond that, ``Overloaded``."""

    def __init__(self, workers: int = 1, queue: int = 16) -> None:
        if workers < 1 or queue < 0:
            raise ValueError(f"workers must be >= 1 and queue >= 0, not {workers} and {queue}")
        self.workers = workers
        self.queue = queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segserve-infer")
        self.admitted = 0  # running + waiting now
        self.running = 0
        self.rejected = 0
        self.completed = 0
        self.failed = 0
        self.busy_seconds = 0.0
        self._mean_seconds = 0.05  # running mean of a job's duration, for Retry-After
        self._lock = threading.Lock()  # admitted and running change on the loop and on worker threads

    @property
    def waiting(self) -> int:
        return self.admitted - self.running

    def retry_after(self) -> int:
        """Seconds until the queue has probably drained: queued jobs x mean duration / workers."""
        return max(1, math.ceil((self.admitted + 1) * self._mean_seconds / self.workers))

    async def run(self, fn: Callable[..., T], *args: object, wait: bool = False) -> T:
        """Run ``fn(*args)`` in a worker thread, or refuse at once when the pool is full.

        ``wait=True``: wait for a worker however full the queue is; for callers that bound their own number of
        jobs (a volume's runs, one at a time per volume job), which must not fail half-way. A caller cancelled
        while its job runs stops waiting at once; the job's slot is given back when the thread is done with it,
        so the counts never include a job twice or lose one that still runs.
        """
        if not wait and self.admitted >= self.workers + self.queue:
            self.rejected += 1
            raise Overloaded(self.retry_after(), self.workers, self.queue)
        with self._lock:
            self.admitted += 1
        future = self._executor.submit(self._timed, fn, args)
        future.add_done_callback(self._release)  # on the worker thread, or at once if cancelled before it ran
        return await asyncio.wrap_future(future)

    def _release(self, _: Future[Any]) -> None:
        with self._lock:
            self.admitted -= 1

    def _timed(self, fn: Callable[..., T], args: tuple[object, ...]) -> T:
        with self._lock:
            self.running += 1
        start = time.perf_counter()
        try:
            result = fn(*args)
        except BaseException:
            self.failed += 1
            raise
        finally:
            elapsed = time.perf_counter() - start
            with self._lock:
                self.running -= 1
            self.busy_seconds += elapsed
            self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * elapsed
        self.completed += 1
        return result

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class MicroBatcher:
    """Gathers concurrent single-slice predictions of one shape into one model run.

    The first slice of a shape opens a batch and waits ``window`` seconds (or until
    ``max_batch`` slices arrived); then the whole batch goes through the pool as one
    job. One batch costs one pool slot, so batching also raises what the bounded
    queue can absorb.
    """

    def __init__(self, pool: InferencePool, predict: Callable[[F32], U8], window: float, max_batch: int) -> None:
        self.pool = pool
        self.predict = predict
        self.window = window
        self.max_batch = max(1, max_batch)
        self._open: dict[tuple[int, int], list[tuple[F32, asyncio.Future[U8]]]] = {}
        self.batches = 0
        self._tasks: set[asyncio.Task[None]] = set()  # running batches, kept alive until done

    async def submit(self, plane: F32) -> U8:
        shape = (int(plane.shape[0]), int(plane.shape[1]))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[U8] = loop.create_future()
        batch = self._open.get(shape)
        if batch is None:
            batch = self._open[shape] = []
            loop.call_later(self.window, self._flush, shape, batch)
        batch.append((plane, future))
        if len(batch) >= self.max_batch:
            self._flush(shape, batch)
        return await future

    def _flush(self, shape: tuple[int, int], batch: list[tuple[F32, asyncio.Future[U8]]]) -> None:
        if self._open.get(shape) is batch:
            del self._open[shape]
        if batch:  # empty when max_batch already flushed it
            task = asyncio.ensure_future(self._run(list(batch)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            batch.clear()

    async def _run(self, batch: list[tuple[F32, asyncio.Future[U8]]]) -> None:
        self.batches += 1
        stacked = np.stack([plane for plane, _ in batch])
        try:
            labels = await self.pool.run(self.predict, stacked)
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), plane_labels in zip(batch, labels, strict=True):
            if not future.done():
                future.set_result(plane_labels)
