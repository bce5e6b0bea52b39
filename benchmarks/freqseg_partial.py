"""The universal model's experiment: partially labelled datasets, ways to learn from them, scored on scan B.

Four training sets label different organs: three made from scan A's training blocks (``python -m freqseg partial``:
organs, kidneys, vessels) and scan C (``prepare``: its aorta). Every variant has the same recipe (configs under
configs/partial/) and is scored on the held-out scan B with its last epoch's weights (so no model is picked on B):

  (a) one softmax GFUNet per dataset, each answering for its own organs
  (b) one softmax GFUNet on all four, unlabelled classes merged into background (marginal loss)
  (c) the universal network conditioned on one-hot class codes through the side branch
  (d) the universal network conditioned on text-prompt embeddings (MiniLM)

Runs are folders ``runs/partial/NAME-sS`` (NAME a config under configs/partial/, S a seed); every seed found is
used, and the table gives mean and standard deviation over them. Then the add-a-class result: a universal model that
never saw an inferior vena cava label, before and after fine-tuning with that class's dataset and a replay of the
old ones.

    python benchmarks/freqseg_partial.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from freqseg.checkpoint import load_checkpoint, model_stride
from freqseg.complexity import count_flops, parameters
from freqseg.data import Preprocessing, load_dataset
from freqseg.evaluate import score
from freqseg.statistics import seed_spread

from common import header

SINGLE = ("single-organs", "single-kidneys", "single-vessels", "single-aorta")
VARIANTS = {
    "(a) one network per dataset": SINGLE,
    "(b) softmax, marginal loss": ("softmax-marginal",),
    "(c) one-hot, side branch": ("onehot-branch",),
    "(d) text prompts (universal)": ("universal-text",),
}
NEW_CLASS = "inferior_vena_cava"


class PerDatasetNetworks(nn.Module):
    """(a) as one model. Each network speaks for the classes its dataset labels: its background is the sum of its
    background and unlabelled classes' probabilities (what it was trained to call background); a pixel is
    background with the product of the networks' background probabilities, and class k takes the highest
    probability among the networks that label it."""

    def __init__(self, networks: list[nn.Module], labelled: list[list[bool]]):
        super().__init__()
        self.networks = nn.ModuleList(networks)
        self.labelled = labelled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores: torch.Tensor | None = None
        background = torch.zeros(())
        for network, mask in zip(self.networks, self.labelled, strict=True):
            log_probs = F.log_softmax(network(x), dim=1)
            if scores is None:
                scores = torch.full_like(log_probs, -1e9)
            unlabelled = [0, *(k + 1 for k, own in enumerate(mask) if not own)]
            background = background + torch.logsumexp(log_probs[:, unlabelled], dim=1)
            for k, own in enumerate(mask):
                if own:
                    scores[:, k + 1] = torch.maximum(scores[:, k + 1], log_probs[:, k + 1])
        assert scores is not None
        scores[:, 0] = background
        return scores


def load(runs: Path, names: list[str]) -> tuple[nn.Module, Preprocessing, list[str]]:
    models, masks = [], []
    for name in names:
        model, config, classes = load_checkpoint(runs / name / "last.pt", torch.device("cpu"))
        models.append(model)
        masks.append(load_dataset(config.datasets[0]).labelled_mask if config.datasets else [True] * (len(classes) - 1))
    model = models[0] if len(models) == 1 else PerDatasetNetworks(models, masks)
    return model.eval(), Preprocessing(config.window, config.spacing, model_stride(models[0])), classes


def on_b(model: nn.Module, prep: Preprocessing, classes: list[str], out: Path) -> dict[str, float]:
    def predict(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(images).argmax(1)

    result = score(predict, classes, prep, "data/btcv", "test", out)
    return {row["class"]: row["dice"] for row in result["classes"]}


def seeds_of(runs: Path, name: str) -> list[int]:
    return sorted(int(p.name.rsplit("-s", 1)[1]) for p in runs.glob(f"{name}-s*") if (p / "summary.json").exists())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="runs/partial", help="the folder holding NAME-sS run folders")
    args = parser.parse_args()
    runs = Path(args.runs)
    x = torch.randn(1, 1, 256, 208)
    rows: dict[str, dict[str, object]] = {}
    for label, names in VARIANTS.items():
        seeds = sorted(set.intersection(*(set(seeds_of(runs, n)) for n in names)))
        if not seeds:
            print(f"skipping {label}: train {', '.join(names)} first")
            continue
        per_seed = []
        for seed in seeds:
            model, prep, classes = load(runs, [f"{n}-s{seed}" for n in names])
            per_seed.append(on_b(model, prep, classes, runs / f"{names[0]}-s{seed}" / "eval-b"))
        minutes = sum(json.loads((runs / f"{n}-s{seeds[0]}" / "summary.json").read_text())["seconds"] for n in names)
        rows[label] = {"seeds": seeds, "dice": per_seed, "params": parameters(model),
                       "gflops": count_flops(model, x) / 1e9, "train_minutes": minutes / 60}  # fmt: skip
    print(header(["torch", "monai"]))
    print("scored on: scan B (held out), last epoch of every run\n")
    organs = list(next(iter(rows.values()))["dice"][0]) if rows else []  # type: ignore[index]
    short = [o.replace("_", " ").replace("portal vein and splenic vein", "portal/splenic v.") for o in organs]
    print("| variant | seeds | " + " | ".join(short) + " | **mean** | params | GFLOPs | training min |")
    print("|---|---|" + "---|" * (len(organs) + 4))
    for label, row in rows.items():
        per_seed: list[dict[str, float]] = row["dice"]  # type: ignore[no-redef,assignment]
        means = [float(np.mean(list(d.values()))) for d in per_seed]
        row["mean_dice"] = seed_spread(means)
        cells = " | ".join(cell([d[o] for d in per_seed]) for o in organs)
        print(f"| {label} | {len(per_seed)} | {cells} | **{cell(means)}** | {row['params']:,} | "
              f"{row['gflops']:.2f} | {row['train_minutes']:.1f} |")  # fmt: skip
    add_class = {}
    for step in ("addclass-base", "addclass-finetune"):
        seeds = seeds_of(runs, step)
        if seeds:
            model, prep, classes = load(runs, [f"{step}-s{seeds[0]}"])
            add_class[step] = on_b(model, prep, classes, runs / f"{step}-s{seeds[0]}" / "eval-b")
    if len(add_class) == 2:
        print(f"\n| add a class ({NEW_CLASS}) | its Dice on B | mean Dice on B, the old classes |\n|---|---|---|")
        for step, dice in add_class.items():
            old = [v for k, v in dice.items() if k != NEW_CLASS]
            print(f"| {step} | {dice[NEW_CLASS]:.3f} | {np.mean(old):.3f} |")
    (runs / "compare.json").write_text(json.dumps({"variants": rows, "add_class": add_class}, indent=2))


def cell(values: list[float]) -> str:
    mean, sd = seed_spread(values)
    return f"{mean:.3f} ± {sd:.3f}" if len(values) > 1 else f"{mean:.3f}"


if __name__ == "__main__":
    main()
