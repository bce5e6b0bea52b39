"""Jobs: volumes that answer at once with an id, then report progress until their label map is ready.

A whole CT volume takes seconds to minutes on a CPU, longer than a client should hold a request open; so it becomes
a job. Two things are kept apart:

- a ``Run`` computes one result (one ``keys.ResultKey``: model, spacing, input) once on this node, whoever asked;
- a ``Job`` is one submission of it: its id is ``{result key}~{16 hex digits}``, its own. The same input sent twice
  is two jobs on one run (one model run); cancelling a job stops the run only when no other job still wants it,
  so one client cannot cancel another's work. Since the id holds the result key, any node of the cluster answers
  for a done job from the cache.

States: ``queued`` -> ``running`` -> ``done``, or ``failed`` / ``cancelled``. Finished runs are kept ``keep``
seconds, and jobs as long as their run (and fewer when ``max_jobs`` is reached: the oldest finished first); a
cancelled job is kept as such, so asking for its result says it was cancelled rather than unknown.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from segserve.errors import ServiceError
from segserve.keys import ResultKey, not_a_job

TERMINAL = frozenset({"done", "failed", "cancelled"})
HEARTBEAT = 15.0
"""Seconds between keep-alive events on a quiet stream (proxies close idle connections after 30-60 s)."""


@dataclass
class Run:
    """One result's computation on this node: ``input`` and ``views`` are filled once the input is read, ``error``
    on failure; ``jobs`` are the ids of the jobs that still want it."""

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
    jobs: set[str] = field(default_factory=set)
    version: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)  # set, then replaced, at each change

    def update(self, **changes: Any) -> None:
        """Change fields and wake every client that follows one of the run's jobs."""
        for name, value in changes.items():
            setattr(self, name, value)
        if self.status in TERMINAL and self.finished is None:
            self.finished = time.monotonic()
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def changed(self) -> bool:
        """Wait for the next change: True, or False after ``HEARTBEAT`` seconds without one."""
        try:
            await asyncio.wait_for(self._changed.wait(), HEARTBEAT)
        except TimeoutError:
            return False
        return True


@dataclass
class Job:
    """One submission of a run."""

    id: str
    run: Run
    cancelled: bool = False

    @property
    def key(self) -> ResultKey:
        return self.run.key

    @property
    def status(self) -> str:
        return "cancelled" if self.cancelled else self.run.status

    def describe(self) -> dict[str, Any]:
        run, base = self.run, f"/v1/jobs/{self.id}"
        return {
            "id": self.id,
            "status": self.status,
            "done": run.done,
            "total": run.total,
            "error": run.error,
            "input": run.input,
            "views": run.views,
            "timings_ms": {name[:-3]: round(ms, 1) for name, ms in run.timings.items()},
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
            if self.run.version != seen:
                seen = self.run.version
                yield self.describe()
                if self.status in TERMINAL:
                    return
                continue
            if not await self.run.changed():
                yield None


def job_id(key: ResultKey) -> str:
    return f"{key}~{secrets.token_hex(8)}"


def key_of(job: str) -> ResultKey:
    """The result key a job id holds; a text that is no job id answers 404 ``unknown_job``."""
    key, tilde, nonce = job.rpartition("~")
    if not tilde or len(nonce) != 16 or not all(c in "0123456789abcdef" for c in nonce):
        raise not_a_job(job)
    return ResultKey.parse(key)


class Jobs:
    """This node's runs and jobs: at most ``max_running`` unfinished runs and ``max_jobs`` jobs kept."""

    def __init__(self, *, max_jobs: int = 256, max_running: int = 4, keep: float = 3600.0) -> None:
        if max_running < 1 or max_jobs < max_running:
            raise ValueError(f"need 1 <= max_running <= max_jobs, not {max_running} and {max_jobs}")
        self.max_jobs = max_jobs
        self.max_running = max_running
        self.keep = keep
        self._runs: dict[str, Run] = {}
        self._jobs: dict[str, Job] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    @property
    def running(self) -> int:
        return sum(1 for run in self._runs.values() if run.status not in TERMINAL)

    def get(self, job: str) -> Job | None:
        self._expire()
        return self._jobs.get(job)

    def run_of(self, key: ResultKey) -> Run | None:
        """The run kept for ``key`` that a new job may join (not failed or cancelled)."""
        self._expire()
        run = self._runs.get(str(key))
        return run if run is not None and run.status not in ("failed", "cancelled") else None

    def check_capacity(self) -> None:
        """Raises ServiceError 503 when ``max_running`` runs are unfinished: before any work on a new input."""
        if self.running >= self.max_running:
            raise ServiceError(
                503,
                "overloaded",
                f"{self.running} volumes are being segmented on this node, its limit; retry in a minute",
                retry_after=60,
            )

    def admit(self, key: ResultKey, adopt: str | None = None) -> tuple[Job, bool]:
        """A new job on the run kept for ``key``, or on a new run; the flag says whether the run is new. Raises
        ServiceError 503 when a new run would exceed ``max_running``. ``adopt``: the id of a job made by another
        node, whose run is done there: recorded here under that id, running nothing."""
        run = self.run_of(key)
        new = run is None
        if run is None:
            if adopt is None:
                self.check_capacity()
            run = Run(key)
            self._runs[str(key)] = run
        self._make_room()
        job = Job(adopt or job_id(key), run)
        run.jobs.add(job.id)
        self._jobs[job.id] = job
        return job, new

    def cancel(self, job: Job) -> bool:
        """Cancel one job; its run stops when no other job wants it (True then)."""
        job.cancelled = True
        run = job.run
        run.jobs.discard(job.id)
        stop = not run.jobs and run.status not in TERMINAL
        if stop and run.task is not None:
            run.task.cancel()
        run.update()  # wake this job's followers: it ended
        return stop

    def _make_room(self) -> None:
        while len(self._jobs) >= self.max_jobs:
            finished = [j for j in self._jobs.values() if j.cancelled or j.run.finished is not None]
            if not finished:
                raise ServiceError(
                    503, "overloaded", f"{len(self._jobs)} jobs are kept, all unfinished; retry later", retry_after=60
                )
            oldest = min(finished, key=lambda j: j.run.finished or 0.0)
            self._forget(oldest)

    def _forget(self, job: Job) -> None:
        del self._jobs[job.id]
        run = job.run
        run.jobs.discard(job.id)
        if run.finished is not None and not any(j.run is run for j in self._jobs.values()):
            del self._runs[str(run.key)]

    def _expire(self) -> None:
        now = time.monotonic()
        for key, run in list(self._runs.items()):
            if run.finished is not None and now - run.finished > self.keep:
                del self._runs[key]
                for job in [j for j in self._jobs.values() if j.run is run]:
                    del self._jobs[job.id]

    def cancel_all(self) -> None:
        for run in self._runs.values():
            if run.task is not None and not run.task.done():
                run.task.cancel()
