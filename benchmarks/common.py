"""Helpers shared by the benchmarks: interleaved rounds, medians, and a header for the record."""

from __future__ import annotations

import datetime
import platform
import statistics
import sys
from collections.abc import Callable
from importlib import metadata


def header(packages: list[str]) -> str:
    """Command, date, machine and versions: what docs/benchmarks.md records beside each figure."""
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return "\n".join(
        [
            f"command: {' '.join([sys.executable.rsplit('/', 1)[-1], *sys.argv])}",
            f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}",
            f"machine: {cpu}, {platform.system()} {platform.release()}",
            f"python: {platform.python_version()}; {', '.join(versions)}",
        ]
    )


def interleaved(candidates: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run every candidate once per round, rotating the order, so drift hits all alike."""
    names = list(candidates)
    results: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(candidates[name]())
    return results


def median(values: list[float]) -> float:
    return statistics.median(values)
