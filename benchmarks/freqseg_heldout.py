"""Models compared on the held-out scan B: per-class Dice and HD95, seeds' spread, bootstrap intervals, label noise.

Each model is given as NAME=RUN[,RUN...] (one training run per seed, each a folder holding best.pt and summary.json
from ``python -m freqseg train --config configs/X.toml --seed S --out RUN``). Every run's best checkpoint (chosen on
scan A's validation blocks) is scored once on the test split, scan B; the table gives, per model, the mean and
standard deviation over its seeds of each class's Dice, of the mean over the five target organs and of the mean over
all eight of B's classes, with parameters, FLOPs for one 256x208 slice and training minutes. The first run of the
first model also gets the per-class table with 95 % bootstrap intervals over B's slices, beside the label-noise
ceiling: how far TotalSegmentator's own three label maps of scan A's slices 82-111 agree with each other.

    python benchmarks/freqseg_heldout.py gfunet=runs/gfunet-s0,runs/gfunet-s1,runs/gfunet-s2 unet=runs/unet-s0,...
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from freqseg.checkpoint import load_checkpoint
from freqseg.complexity import count_flops, parameters
from freqseg.evaluate import evaluate, interval
from freqseg.prepare import CLASSES, NOISE, SCANS, btcv_labels, fetch
from freqseg.statistics import seed_spread
from medimage import POSTPROCESSING, read_path

from common import header

TARGET = ("spleen", "liver", "stomach", "aorta", "inferior_vena_cava")


def label_noise(cache: Path) -> dict[str, float]:
    """Per class, the lowest pairwise volume Dice among TotalSegmentator's three label maps of A's slices 82-111."""
    folder = fetch(cache)
    maps = [btcv_labels(read_path(folder / name).array, SCANS["A"].codes) for name in NOISE[1:]]
    maps = [m[:, :, 82:112] if m.shape[2] > 30 else m for m in maps]  # force_split covers all of A
    ceiling = {}
    for index, name in enumerate(CLASSES[1:], start=1):
        scores = []
        for a, b in itertools.combinations(maps, 2):
            x, y = a == index, b == index
            if x.any() or y.any():
                scores.append(2 * (x & y).sum() / (x.sum() + y.sum()))
        if scores:
            ceiling[name] = float(min(scores))
    return ceiling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="NAME=RUN[,RUN...]: one training run per seed")
    parser.add_argument("--cache", default=".cache/freqseg", help="where prepare put the sdist")
    parser.add_argument("--out", default="runs/heldout.json")
    parser.add_argument("--postprocess", choices=POSTPROCESSING, help="for every run (default: each run's own)")
    args = parser.parse_args()
    x = torch.randn(1, 1, 256, 208)
    results: dict[str, dict[str, object]] = {}
    for spec in args.models:
        name, _, runs = spec.partition("=")
        seeds = []
        for run in map(Path, runs.split(",")):
            model, config, _ = load_checkpoint(run / "best.pt", torch.device("cpu"))
            summary = json.loads((run / "summary.json").read_text())
            scored = evaluate(run / "best.pt", run / "eval-test", split="test", postprocess=args.postprocess)
            seeds.append({"run": str(run), "seed": config.seed, "minutes": summary["seconds"] / 60, **scored})
        results[name] = {
            "architecture": f"{config.model} ({config.size})" if config.model != "unet" else "MONAI UNet",
            "params": parameters(model),
            "gflops": count_flops(model, x) / 1e9,
            "seeds": seeds,
        }
    ceiling = label_noise(Path(args.cache))
    classes = [row["class"] for row in results[next(iter(results))]["seeds"][0]["classes"]]  # type: ignore[index]
    print(header(["torch", "monai"]))
    print()
    columns = ["model", "seeds", "params", "GFLOPs", "train min", *classes, "mean (5 targets)", "mean (all)"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for name, entry in results.items():
        seeds = entry["seeds"]
        per_class = {c: [next(r["dice"] for r in s["classes"] if r["class"] == c) for s in seeds] for c in classes}
        target = [np.mean([per_class[c][i] for c in TARGET]) for i in range(len(seeds))]
        overall = [s["mean_dice"] for s in seeds]
        cells = [name, str(len(seeds)), f"{entry['params']:,}", f"{entry['gflops']:.2f}"]
        cells.append(f"{np.mean([s['minutes'] for s in seeds]):.1f}")
        cells += [spread(per_class[c]) for c in classes]
        cells += [f"**{spread(target)}**", spread(overall)]
        entry["target_mean"] = target
        print("| " + " | ".join(cells) + " |")
    first = results[next(iter(results))]["seeds"][0]
    print(f"\nPer class, {first['run']} (95 % bootstrap intervals over B's {first['slices']} slices):\n")
    print("| class | slices | Dice (95 % CI) | HD95 mm (95 % CI) | label-noise ceiling (Dice) |")
    print("|---|---|---|---|---|")
    for row in first["classes"]:
        noise = ceiling.get(row["class"])
        print(
            f"| {row['class']} | {row['slices']} | {interval(row['dice'], row['dice_ci'], 3)} | "
            f"{interval(row['hd95_mm'], row['hd95_ci_mm'], 1)} | {f'{noise:.3f}' if noise is not None else '-'} |"
        )
    print(
        f"| **mean** | | **{interval(first['mean_dice'], first['mean_dice_ci'], 3)}** | "
        f"**{interval(first['mean_hd95_mm'], first['mean_hd95_ci_mm'], 1)}** | |"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"models": results, "label_noise": ceiling}, indent=2, default=float))


def spread(values: list[float]) -> str:
    mean, sd = seed_spread(values)
    return f"{mean:.3f} ± {sd:.3f}" if len(values) > 1 else f"{mean:.3f}"


if __name__ == "__main__":
    main()
