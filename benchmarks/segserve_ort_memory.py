"""ONNX Runtime's memory per model run, with the bundled model: the default arena, segserve's setting (the arena
shrunk after each run), and no arena.

Each configuration runs in a fresh process: the model loaded, one run on a large plane (``--side``, 2048 by
default), then the process's peak RSS (``VmHWM``) and the RSS it still holds; then the median latency of small runs
(1x256x256) in interleaved rounds. Bytes per pixel (peak minus loaded, over the plane's pixels) is what
``medimage.Limits.max_run_pixels`` budgets with.

    python benchmarks/segserve_ort_memory.py [--side 2048] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import header

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "src" / "segserve" / "assets" / "default.onnx"
CONFIGS = {
    "default arena": "arena",
    "arena shrunk after each run (segserve)": "shrink",
    "no arena": "none",
}


def rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def worker(config: str, side: int, small_runs: int) -> None:
    """One configuration in this process; prints one JSON line."""
    import numpy as np
    import onnxruntime as ort

    from medimage import available_cpus

    options = ort.SessionOptions()
    options.intra_op_num_threads = available_cpus()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = config != "none"
    run_options = ort.RunOptions()
    if config == "shrink":
        run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    session = ort.InferenceSession(str(MODEL), sess_options=options, providers=["CPUExecutionProvider"])
    small = np.random.default_rng(0).random((1, 1, 256, 256), dtype=np.float32)
    session.run(["logits"], {"image": small}, run_options)
    loaded = rss_mib("VmRSS")
    large = np.random.default_rng(1).random((1, 1, side, side), dtype=np.float32)
    start = time.perf_counter()
    session.run(["logits"], {"image": large}, run_options)
    large_s = time.perf_counter() - start
    peak, held = rss_mib("VmHWM"), rss_mib("VmRSS")
    times = []
    for _ in range(small_runs):
        start = time.perf_counter()
        session.run(["logits"], {"image": small}, run_options)
        times.append(time.perf_counter() - start)
    print(json.dumps({"loaded": loaded, "peak": peak, "held": held, "large_s": large_s, "small": times}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small-runs", type=int, default=15)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.side, args.small_runs)
        return
    results: dict[str, list[dict[str, float]]] = {name: [] for name in CONFIGS}
    names = list(CONFIGS)
    for round_index in range(args.rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            command = [sys.executable, __file__, "--worker", CONFIGS[name], "--side", str(args.side),
                       "--small-runs", str(args.small_runs)]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
            results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(header(["onnxruntime", "numpy"]))
    print(f"\none run on 1x1x{args.side}x{args.side}, then {args.small_runs} on 1x1x256x256; medians of {args.rounds} "
          "interleaved rounds, each configuration in a fresh process\n")  # fmt: skip
    print(f"| configuration | loaded MiB | peak MiB | held after MiB | bytes per pixel | {args.side}² s | 256² ms |")
    print("|---|---|---|---|---|---|---|")
    pixels = args.side * args.side
    for name, runs in results.items():
        loaded = statistics.median(r["loaded"] for r in runs)
        peak = statistics.median(r["peak"] for r in runs)
        held = statistics.median(r["held"] for r in runs)
        large = statistics.median(r["large_s"] for r in runs)
        small = statistics.median(t for r in runs for t in r["small"]) * 1000
        per_pixel = (peak - loaded) * (1 << 20) / pixels
        print(f"| {name} | {loaded:.0f} | {peak:.0f} | {held:.0f} | {per_pixel:.0f} | {large:.1f} | {small:.1f} |")


if __name__ == "__main__":
    main()
