"""Where INT8 time goes: ONNX Runtime's own profile of a model in fp32, fully INT8, and INT8 convolutions only.

Exports the run's best checkpoint, quantizes it twice (static QDQ, 32 training slices; once every operator ONNX
Runtime can quantize, once only ``Conv``), then for one 256x208 slice prints the milliseconds per operator type
(ONNX Runtime's profiler, mean of 5 runs) and each file's latency (medians of interleaved rounds).

    python benchmarks/freqseg_int8_profile.py runs/gfunet-small
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import statistics
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort

from freqseg.complexity import cpu_latency
from freqseg.export import calibration_slices, export_onnx, quantize_int8

from common import header, interleaved

OUT = Path("runs/int8-profile")


def op_times(path: Path, image: np.ndarray, threads: int, runs: int = 5) -> dict[str, float]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_profiling = True
    options.profile_file_prefix = str(OUT / "profile")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    session.run(None, {"image": image})  # warm-up, profiled too: subtracted below by counting runs + 1
    for _ in range(runs):
        session.run(None, {"image": image})
    trace = json.loads(Path(session.end_profiling()).read_text())
    totals: collections.Counter[str] = collections.Counter()
    for event in trace:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            totals[event["args"]["op_name"]] += event["dur"]
    return {op: micros / (runs + 1) / 1e3 for op, micros in totals.most_common()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a training run folder holding best.pt")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the quantizer's per-weight notes
    OUT.mkdir(parents=True, exist_ok=True)
    fp32 = OUT / "fp32.onnx"
    report = export_onnx(args.run / "best.pt", fp32)
    calibration = calibration_slices(report, 32)
    files = {"fp32": fp32, "int8 (all)": OUT / "int8.onnx", "int8 (Conv only)": OUT / "int8-conv.onnx"}
    quantize_int8(fp32, files["int8 (all)"], calibration)
    quantize_int8(fp32, files["int8 (Conv only)"], calibration, op_types=["Conv"])
    image = np.random.default_rng(0).random((1, 1, 256, 208), dtype=np.float32)
    profiles = {name: op_times(path, image, args.threads) for name, path in files.items()}
    engines = {}
    for name, path in files.items():
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        engines[name] = partial(cpu_latency, partial(session.run, None, {"image": image}), 3)
    times = {k: statistics.median(v) * 1e3 for k, v in interleaved(engines, args.rounds).items()}
    print(header(["onnxruntime"]))
    print(f"model: {args.run}; threads: {args.threads}; one 256x208 slice\n")
    print("| file | latency ms | " + " | ".join(f"top op {i}" for i in range(1, 7)) + " |")
    print("|---|---|" + "---|" * 6)
    for name, ops in profiles.items():
        top = [f"{op} {ms:.1f}" for op, ms in list(ops.items())[:6]]
        print(f"| {name} | {times[name]:.1f} | " + " | ".join(top) + " |")
    quantize_ms = {n: ops.get("QuantizeLinear", 0.0) + ops.get("DequantizeLinear", 0.0) for n, ops in profiles.items()}
    print(f"\nQuantizeLinear + DequantizeLinear ms: {json.dumps({k: round(v, 1) for k, v in quantize_ms.items()})}")


if __name__ == "__main__":
    main()
