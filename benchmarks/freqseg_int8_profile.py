"""Where INT8 time goes: ONNX Runtime's own profile of a model in fp32, fully INT8, and INT8 convolutions only.

Exports the run's best checkpoint, quantizes it twice (static QDQ, 32 training slices; once every operator ONNX
Runtime can quantize, once only ``Conv``), then for one 256x208 slice prints the milliseconds per operator type
(ONNX Runtime's profiler, mean of 5 runs) and each file's latency (medians of interleaved rounds).

    python benchmarks/freqseg_int8_profile.py runs/gfunet-small

``--variants`` needs no run: it builds the small model untrained in each of ``VARIANTS``' designs (norms and
upsampling, ``GFUNetConfig``), sets its BatchNorm statistics on a few training slices, exports and quantizes it the
same way, and prints each design's fp32 and INT8 latency at batch 1 and 8 (medians of interleaved rounds; speed does
not depend on the weights) and the per-operator profile of each file at batch 1.

    python benchmarks/freqseg_int8_profile.py --variants
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import statistics
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from freqseg.complexity import cpu_latency
from freqseg.config import TrainConfig
from freqseg.data import load_dataset
from freqseg.export import calibration_slices, export_model, export_onnx, quantize_int8
from freqseg.models.gfunet import GFUNet, config_for

from common import header, interleaved

OUT = Path("runs/int8-profile")
# name -> GFUNetConfig options for --variants: the trained default's design first (no BatchNorm: its export gives
# the calibration slices the others' BatchNorm statistics are set on), then BatchNorm, the MLP's ReLU and the
# decoder's upsampling one at a time. "batch+relu" is models/gfunet.py's "small-int8".
VARIANTS: dict[str, dict[str, str]] = {
    "current": {},
    "batch": {"norm": "batch"},
    "batch+relu": {"norm": "batch", "activation": "relu"},
    "batch+relu+nearest": {"norm": "batch", "activation": "relu", "upsample": "nearest"},
    "batch+relu+transpose": {"norm": "batch", "activation": "relu", "upsample": "transpose"},
}


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


def session_runner(path: Path, image: np.ndarray, threads: int) -> Callable[[], float]:
    """Median seconds of 3 runs of ``path`` on ``image`` (after one warm-up), with ``threads`` intra-op threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return partial(cpu_latency, partial(session.run, None, {"image": image}), 3)


def variants(threads: int, rounds: int) -> None:
    """Every design of ``VARIANTS``, untrained: fp32 and INT8 latency at batch 1 and 8, and each file's profile."""
    config = TrainConfig.from_file("configs/gfunet-small.toml")
    classes = load_dataset(config.dataset).classes
    calibration: list[np.ndarray] = []
    files: dict[str, Path] = {}
    for name, options in VARIANTS.items():
        torch.manual_seed(0)
        model = GFUNet(config_for(config.size, num_classes=len(classes), position_embedding=False, **options))
        if calibration:  # BatchNorm's running statistics on training slices, as training would leave them
            model.train()
            with torch.no_grad():
                for start in range(0, len(calibration), 8):
                    model(torch.from_numpy(np.stack(calibration[start : start + 8])))
        model.eval()
        fp32 = OUT / f"{name}.onnx"
        report = export_model(model, config, classes, fp32, name)
        calibration = calibration or calibration_slices(report, 32)
        files[f"{name}|fp32"] = fp32
        files[f"{name}|int8"] = OUT / f"{name}-int8.onnx"
        quantize_int8(fp32, files[f"{name}|int8"], calibration)
    images = {b: np.random.default_rng(0).random((b, 1, 256, 208), dtype=np.float32) for b in (1, 8)}
    profiles = {key: op_times(path, images[1], threads) for key, path in files.items()}
    engines = {f"{key}|{b}": session_runner(path, images[b], threads) for key, path in files.items() for b in (1, 8)}
    times = {k: statistics.median(v) * 1e3 for k, v in interleaved(engines, rounds).items()}
    print(header(["onnxruntime", "torch"]))
    print(f"untrained GFUNet-small designs; threads: {threads}; 256x208 slices; medians of {rounds} rounds\n")
    print("| design | fp32 b1 ms | INT8 b1 ms | speed-up b1 | fp32 b8 ms | INT8 b8 ms | speed-up b8 |")
    print("|---|---|---|---|---|---|---|")
    for name in VARIANTS:
        cells = []
        for b in (1, 8):
            fp32_ms, int8_ms = times[f"{name}|fp32|{b}"], times[f"{name}|int8|{b}"]
            cells.append(f"{fp32_ms:.1f} | {int8_ms:.1f} | {fp32_ms / int8_ms:.2f}x")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nms per operator type at batch 1 (ONNX Runtime's profiler, mean of 5 runs):\n")
    for key, ops in profiles.items():
        print(f"- {key.replace('|', ' ')}: total {sum(ops.values()):.1f}; " + ", ".join(
            f"{op} {ms:.1f}" for op, ms in ops.items() if ms >= 0.3))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, nargs="?", help="a training run folder holding best.pt")
    parser.add_argument("--variants", action="store_true", help="compare the untrained designs of VARIANTS instead")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if (args.run is None) == (not args.variants):
        parser.error("give a run folder or --variants")
    logging.disable(logging.WARNING)  # the quantizer's per-weight notes
    OUT.mkdir(parents=True, exist_ok=True)
    if args.variants:
        variants(args.threads, args.rounds)
        return
    fp32 = OUT / "fp32.onnx"
    report = export_onnx(args.run / "best.pt", fp32)
    calibration = calibration_slices(report, 32)
    files = {"fp32": fp32, "int8 (all)": OUT / "int8.onnx", "int8 (Conv only)": OUT / "int8-conv.onnx"}
    quantize_int8(fp32, files["int8 (all)"], calibration)
    quantize_int8(fp32, files["int8 (Conv only)"], calibration, op_types=["Conv"])
    image = np.random.default_rng(0).random((1, 1, 256, 208), dtype=np.float32)
    profiles = {name: op_times(path, image, args.threads) for name, path in files.items()}
    engines = {name: session_runner(path, image, args.threads) for name, path in files.items()}
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
