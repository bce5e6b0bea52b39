"""How many CPUs this process may use: its affinity mask and its cgroup's CPU quota, not the machine's count.

``os.cpu_count()`` counts the machine's CPUs; a process started under ``taskset`` or in a container with a CPU
quota may use fewer, and a thread pool sized to the machine then oversubscribes them (ONNX Runtime's default even
pins a thread to a CPU outside the process's mask).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
SLAB_PLANES = 8
"""Planes per thread at least: below that, a thread costs more than it saves."""


def available_cpus() -> int:
    """The CPUs this process may run on: the affinity mask's size, capped by a cgroup v2 ``cpu.max`` or cgroup v1
    ``cpu.cfs_quota_us / cpu.cfs_period_us`` quota (rounded up); at least 1."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return max(1, count)


def in_slabs(planes: int, work: Callable[[int, int], T]) -> list[T]:
    """``work(start, stop)`` over slabs of ``planes`` planes, one thread per usable CPU (at most one per
    ``SLAB_PLANES`` planes), the results in slab order. For numpy and Pillow work on a volume, which releases the
    GIL: a volume's reading and writing back use every core the process may, and the result does not depend on the
    slabs when ``work`` treats planes independently."""
    workers = 1 if planes < 2 * SLAB_PLANES else max(1, min(available_cpus(), planes // SLAB_PLANES))
    size = -(-planes // workers) if planes else 1
    slabs = [(start, min(planes, start + size)) for start in range(0, planes, size)] or [(0, 0)]
    if len(slabs) == 1:
        return [work(*slabs[0])]
    with ThreadPoolExecutor(len(slabs), thread_name_prefix="medimage-slab") as pool:
        return list(pool.map(lambda slab: work(*slab), slabs))


def _cgroup_quota() -> float | None:
    """CPUs the cgroup quota allows, or ``None`` without a quota."""
    try:
        fields = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if len(fields) == 2 and fields[0] != "max":
            return int(fields[0]) / int(fields[1])
        return None
    except (OSError, ValueError):
        pass
    for root in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"):
        try:
            quota = int(Path(root, "cpu.cfs_quota_us").read_text())
            period = int(Path(root, "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return quota / period if quota > 0 and period > 0 else None
    return None
