"""The comparison of the freqseg issue: global filter vs MONAI UNet vs self-attention, same data and budget.

Reads finished training runs (``python -m freqseg train --config configs/NAME.toml``), evaluates each best
checkpoint on the test slices, and measures parameters, FLOPs and CPU latency of one 256x208 slice (batch 1)
in the same process, interleaved over rounds.

    python benchmarks/freqseg_compare.py runs/gfunet-small runs/unet runs/attention-small
"""

from __future__ import annotations

import argparse
import json
import statistics
from functools import partial
from pathlib import Path

import torch

from freqseg.checkpoint import load_checkpoint
from freqseg.complexity import count_flops, cpu_latency, parameters
from freqseg.evaluate import evaluate

from common import header, interleaved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="training output folders holding best.pt and summary.json")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x = torch.randn(1, 1, 256, 208)
    models = {}
    rows = {}
    for run in map(Path, args.runs):
        model, config, _ = load_checkpoint(run / "best.pt", torch.device("cpu"))
        summary = json.loads((run / "summary.json").read_text())
        result = evaluate(run / "best.pt", run / "eval-test")
        models[run.name] = model
        rows[run.name] = {
            "model": f"{config.model} ({config.size})" if config.model != "unet" else "MONAI UNet",
            "params": parameters(model),
            "gflops": count_flops(model, x) / 1e9,
            "train_minutes": summary["seconds"] / 60,
            "epochs": summary["epochs"],
            "val_dice": summary["best_val_dice"],
            "test_dice": result["mean_dice"],
            "test_hd95": result["mean_hd95_mm"],
        }
    times = interleaved({name: partial(cpu_latency, partial(m, x), 3) for name, m in models.items()}, args.rounds)
    print(header(["torch", "monai"]))
    print(f"threads: {args.threads}\n")
    columns = ["run", "model", "params", "GFLOPs (256x208)", "CPU ms (batch 1)", "training min", "val Dice"]
    columns += ["test Dice", "test HD95 mm"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        ms = statistics.median(times[name]) * 1e3
        row["cpu_ms"] = ms
        print(
            f"| {name} | {row['model']} | {row['params']:,} | {row['gflops']:.2f} | {ms:.1f} | "
            f"{row['train_minutes']:.1f} ({row['epochs']} epochs) | {row['val_dice']:.3f} | {row['test_dice']:.3f} | "
            f"{row['test_hd95']:.1f} |"
        )
    Path("runs").mkdir(exist_ok=True)
    Path("runs/compare.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
