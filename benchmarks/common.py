"""Helpers shared by the benchmarks: interleaved rounds, medians, a header for the record, and a segserve node."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


@contextlib.contextmanager
def node(model: Path, *extra: str, cpus: str | None = None, threads: int = 1) -> Iterator[str]:
    """A ``python -m segserve`` process on 127.0.0.1 (pinned to ``cpus`` with taskset when given); yields its URL
    once it printed its ready line, and stops it after."""
    command = [
        *(["taskset", "-c", cpus] if cpus else []), sys.executable, "-m", "segserve",
        "--model", str(model), "--port", "0", "--tcp-port", "-1", "--threads", str(threads), *extra,
    ]  # fmt: skip
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "ready" not in line:
        process.kill()
        raise SystemExit(f"segserve did not start: {line!r}")
    try:
        yield line.split("http=", 1)[1].split()[0]
    finally:
        process.terminate()
        process.wait(timeout=10)
