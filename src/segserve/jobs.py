"""Jobs: volumes that answer at once with an id, then report progress until their label map is ready.

A whole CT volume takes seconds to minutes on a CPU, longer than a client should hold a request open; so it becomes
a job. A job's id is its result's key (``keys.ResultKey``): the same input submitted again is the same job, and
once done, any node of the cluster answers for it from the cache. This module keeps the jobs this node runs: their
state, the changes a client follows (server-sent events), and the bounds on how many there may be.

States: ``queued`` -> ``running`` -> ``done``, or ``failed`` / ``cancelled`` from any state before
``done``. Finished jobs are kept ``keep`` seconds (and fewer when ``max_jobs`` is reached: oldest finished first);
a cancelled job is kept as such, so that asking for its result says it was cancelled rather than unknown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from segserve.errors import ServiceError
from segserve.keys import ResultKey

TERMINAL = frozenset({"done", "failed", "cancelled"})
HEARTBEAT = 15.0
"""Seconds between keep-alive events on a quiet stream (proxies close idle connections after 30-60 s)."""


@dataclass
class Job:
    """One volume's state. ``input`` and ``views`` are filled once the input is read; ``error`` on failure."""

    key: ResultKey
    status: str = "queued"
    done: int = 0
    total: int = 0
    error: dict[str, Any] | None = None
    input: dict[str, Any] | None = None
    views: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)  # ms: read, model, finish, publish (this node's run)
    finished: float | None = None
    task: asyncio.Task[None] | None = None
    version: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)  # set, then replaced, at each change

    @property
    def id(self) -> str:
        return str(self.key)

    def update(self, **changes: Any) -> None:
        """Change fields and wake every client that follows the job."""
        for name, value in changes.items():
            setattr(self, name, value)
        if self.status in TERMINAL and self.finished is None:
            self.finished = time.monotonic()
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def describe(self) -> dict[str, Any]:
        base = f"/v1/jobs/{self.id}"
        return {
            "id": self.id,
            "status": self.status,
            "done": self.done,
            "total": self.total,
            "error": self.error,
            "input": self.input,
            "views": self.views,
            "timings_ms": {name[:-3]: round(ms, 1) for name, ms in self.timings.items()},
            "urls": {
                "self": base,
                "events": f"{base}/events",
                "result": f"{base}/result",
                "image": f"{base}/image/{{plane}}/{{index}}",
                "labels": f"{base}/labels/{{plane}}/{{index}}",
            },
        }

    async def changes(self) -> AsyncIterator[dict[str, Any] | None]:
        """The job's state now, then after every change until a terminal state; None every ``HEARTBEAT`` seconds
        of quiet (for a keep-alive)."""
        seen = -1
        while True:
            if self.version != seen:
                seen = self.version
                yield self.describe()
                if self.status in TERMINAL:
                    return
                continue
            try:
                await asyncio.wait_for(self._changed.wait(), HEARTBEAT)
            except TimeoutError:
                yield None


class Jobs:
    """This node's jobs, at most ``max_jobs`` kept and ``max_running`` unfinished at once."""

    def __init__(self, *, max_jobs: int = 256, max_running: int = 4, keep: float = 3600.0) -> None:
        if max_running < 1 or max_jobs < max_running:
            raise ValueError(f"need 1 <= max_running <= max_jobs, not {max_running} and {max_jobs}")
        self.max_jobs = max_jobs
        self.max_running = max_running
        self.keep = keep
        self._jobs: dict[str, Job] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    @property
    def running(self) -> int:
        return sum(1 for job in self._jobs.values() if job.status not in TERMINAL)

    def get(self, job_id: str) -> Job | None:
        self._expire()
        return self._jobs.get(job_id)

    def admit(self, key: ResultKey, running: bool = True) -> tuple[Job, bool]:
        """The job for ``key``: the one kept (unless it failed or was cancelled, which start anew), or a new one;
        the flag says whether it is new. Raises ServiceError 503 when ``max_running`` jobs are unfinished and this
        one would run (``running=False``: a record of a job done elsewhere)."""
        self._expire()
        job = self._jobs.get(str(key))
        if job is not None and job.status not in ("failed", "cancelled"):
            return job, False
        if running and self.running >= self.max_running:
            raise ServiceError(
                503,
                "overloaded",
                f"{self.running} volumes are being segmented on this node, its limit; retry in a minute",
                retry_after=60,
            )
        self._jobs.pop(str(key), None)
        while len(self._jobs) >= self.max_jobs:
            oldest = min((j for j in self._jobs.values() if j.finished is not None), key=lambda j: j.finished or 0.0)
            del self._jobs[oldest.id]
        job = Job(key)
        self._jobs[job.id] = job
        return job, True

    def _expire(self) -> None:
        now = time.monotonic()
        for job in [j for j in self._jobs.values() if j.finished is not None and now - j.finished > self.keep]:
            del self._jobs[job.id]

    def cancel_all(self) -> None:
        for job in self._jobs.values():
            if job.task is not None and not job.task.done():
                job.task.cancel()
