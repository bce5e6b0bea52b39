"""The notes' deployment table, measured: each model's Dice, ONNX Runtime latency (fp32 and static INT8, batch 1
and 8), PyTorch latency, params and FLOPs, on 256x208 slices (the prepared CT's slice size at 1.5 mm).

Exports every run's best checkpoint (``python -m freqseg export``, parity-checked) and quantizes it (static QDQ,
32 training slices), scores fp32 and INT8 with ONNX Runtime on the test slices, then times every engine in the same
process, interleaved over rounds (medians). The GPU column needs an execution provider that this machine has:
``--provider CUDAExecutionProvider`` or ``TensorrtExecutionProvider``; otherwise it says why it is empty.

    python benchmarks/freqseg_deploy.py runs/gfunet-small runs/gfunet-small-pruned runs/gfunet-tiny-distilled runs/unet
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from freqseg.checkpoint import load_checkpoint
from freqseg.complexity import count_flops, cpu_latency, parameters
from freqseg.evaluate import evaluate_onnx
from freqseg.export import calibration_slices, export_onnx, quantize_int8

from common import header, interleaved

OUT = Path("runs/deploy")


def session(path: Path, provider: str, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=[provider])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--provider", default="CPUExecutionProvider", help="the GPU column's execution provider")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="export parity bound (the table shows each)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the quantizer's per-weight notes
    torch.set_num_threads(args.threads)
    OUT.mkdir(parents=True, exist_ok=True)
    gpu = args.provider != "CPUExecutionProvider"
    if gpu and args.provider not in ort.get_available_providers():
        raise SystemExit(f"{args.provider} is not available here: {ort.get_available_providers()}")
    shape = (256, 208)
    rows: dict[str, dict[str, Any]] = {}
    engines: dict[str, Any] = {}
    for run in args.runs:
        name = run.name
        fp32, int8 = OUT / f"{name}.onnx", OUT / f"{name}-int8.onnx"
        report = export_onnx(run / "best.pt", fp32, tolerance=args.tolerance)
        calibration = calibration_slices(report, 32)
        quantize_int8(fp32, int8, calibration)
        model, config, _ = load_checkpoint(run / "best.pt", torch.device("cpu"))
        dataset = config.dataset
        rows[name] = {
            "model": report["architecture"],
            "params": parameters(model),
            "gflops": count_flops(model, torch.randn(1, 1, *shape)) / 1e9,
            "dice_fp32": evaluate_onnx(fp32, dataset, OUT / f"eval-{name}")["mean_dice"],
            "dice_int8": evaluate_onnx(int8, dataset, OUT / f"eval-{name}-int8")["mean_dice"],
            "parity": report["max_abs_diff"],
            "mb_fp32": fp32.stat().st_size / 1e6,
            "mb_int8": int8.stat().st_size / 1e6,
        }
        for batch in (1, 8):
            x = np.random.default_rng(0).random((batch, 1, *shape), dtype=np.float32)
            tx = torch.from_numpy(x)
            engines[f"{name}|torch|{batch}"] = partial(cpu_latency, partial(torch.no_grad()(model), tx), 3)
            for kind, path in (("fp32", fp32), ("int8", int8)):
                sess = session(path, "CPUExecutionProvider", args.threads)
                engines[f"{name}|{kind}|{batch}"] = partial(cpu_latency, partial(sess.run, None, {"image": x}), 3)
            if gpu:
                sess = session(fp32, args.provider, args.threads)
                engines[f"{name}|gpu|{batch}"] = partial(cpu_latency, partial(sess.run, None, {"image": x}), 10)
    times = {k: statistics.median(v) * 1e3 for k, v in interleaved(engines, args.rounds).items()}
    print(header(["torch", "onnxruntime"]))
    print(f"threads: {args.threads}; input {shape[0]}x{shape[1]}; Dice: mean over organs, test slices\n")
    print("| model | params | GFLOPs | ONNX vs PyTorch | Dice fp32 | Dice INT8 | ORT fp32 b1 / b8 ms | "
          "ORT INT8 b1 / b8 ms | PyTorch b1 / b8 ms | fp32/PyTorch | INT8 speed-up | GPU b1 / b8 ms | "
          "MB fp32 / INT8 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        t = {kind: [times[f"{name}|{kind}|{b}"] for b in (1, 8)] for kind in ("torch", "fp32", "int8")}
        row.update(latency_ms=t, fp32_over_torch=t["fp32"][0] / t["torch"][0], int8_speedup=t["fp32"][0] / t["int8"][0])
        gpu_cell = (
            " / ".join(f"{times[f'{name}|gpu|{b}']:.1f}" for b in (1, 8))
            if gpu
            else "not measured: no GPU execution provider on this machine"
        )
        print(
            f"| {name} ({row['model']}) | {row['params']:,} | {row['gflops']:.2f} | {row['parity']:.1e} | "
            f"{row['dice_fp32']:.3f} | "
            f"{row['dice_int8']:.3f} | {t['fp32'][0]:.1f} / {t['fp32'][1]:.1f} | "
            f"{t['int8'][0]:.1f} / {t['int8'][1]:.1f} | {t['torch'][0]:.1f} / {t['torch'][1]:.1f} | "
            f"{row['fp32_over_torch']:.2f} | {row['int8_speedup']:.2f}x"
            f" | {gpu_cell} | {row['mb_fp32']:.1f} / {row['mb_int8']:.1f} |"
        )
    (OUT / "deploy.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
