"""The universal model's experiment: partially labelled datasets, four ways to learn from them, one table.

Three datasets made from the prepared CT (``python -m freqseg partial``) each label a different organ subset. On
the fully labelled held-out slices (validation + test, never trained on; every model's last epoch, so no model is
picked on them), compare:

  (a) one softmax GFUNet per dataset, each answering for its own organs
  (b) one softmax GFUNet on all three, unlabelled classes merged into background (marginal loss)
  (c) the universal network conditioned on one-hot class codes: side branch, or written into image channels
  (d) the universal network conditioned on text-prompt embeddings (MiniLM)

and the add-a-class result: a universal model that never saw a pancreas label, before and after fine-tuning its
head on a dataset that labels only the pancreas. Train first (each config under configs/partial/), then:

    python benchmarks/freqseg_partial.py
"""

from __future__ import annotations

import argparse
import json
import statistics
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from freqseg.checkpoint import load_checkpoint, model_stride, score
from freqseg.complexity import count_flops, cpu_latency, parameters
from freqseg.data import Preprocessing, load_dataset

from common import header, interleaved

RUNS = Path("runs/partial")
HELD_OUT = "validation+test"
SINGLE = ("single-organs", "single-kidneys", "single-vessels")
VARIANTS = {
    "(a) one network per dataset": SINGLE,
    "(b) softmax, marginal loss": ("softmax-marginal",),
    "(c) one-hot, side branch": ("onehot-branch",),
    "(c) one-hot, image channels": ("onehot-channel",),
    "(d) text prompts (universal)": ("universal-text",),
}


class PerDatasetNetworks(nn.Module):
    """(a) as one model: each network speaks only for the classes its dataset labels. A pixel is background with the
    product of the networks' background probabilities; class k takes its own network's probability."""

    def __init__(self, networks: list[nn.Module], labelled: list[list[bool]]):
        super().__init__()
        self.networks = nn.ModuleList(networks)
        self.labelled = labelled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = None
        background = 0
        for network, mask in zip(self.networks, self.labelled, strict=True):
            log_probs = F.log_softmax(network(x), dim=1)
            if scores is None:
                scores = torch.full_like(log_probs, -1e9)
            background = background + log_probs[:, 0]
            for k, own in enumerate(mask):
                if own:
                    scores[:, k + 1] = log_probs[:, k + 1]
        assert scores is not None
        scores[:, 0] = background
        return scores


def load(names: tuple[str, ...]) -> tuple[nn.Module, Preprocessing, list[str]]:
    models, masks = [], []
    for name in names:
        model, config, classes = load_checkpoint(RUNS / name / "last.pt", torch.device("cpu"))
        models.append(model)
        masks.append(load_dataset(config.datasets[0]).labelled_mask if config.datasets else [True] * (len(classes) - 1))
    model = models[0] if len(models) == 1 else PerDatasetNetworks(models, masks)
    return model.eval(), Preprocessing(config.window, config.spacing, model_stride(models[0])), classes


def evaluate(model: nn.Module, prep: Preprocessing, classes: list[str], out: Path) -> dict[str, float]:
    def predict(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(images).argmax(1)

    result = score(predict, classes, prep, "data/btcv", HELD_OUT, out)
    dice = {row["class"]: row["dice"] for row in result["classes"]}
    return {name: dice.get(name, float("nan")) for name in classes[1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x = torch.randn(1, 1, 256, 208)
    rows, models = {}, {}
    for label, names in VARIANTS.items():
        if not all((RUNS / n / "last.pt").exists() for n in names):
            print(f"skipping {label}: train {', '.join(names)} first")
            continue
        model, prep, classes = load(names)
        dice = evaluate(model, prep, classes, RUNS / names[0] / "eval-heldout")
        minutes = sum(json.loads((RUNS / n / "summary.json").read_text())["seconds"] for n in names) / 60
        rows[label] = {"dice": dice, "params": parameters(model), "gflops": count_flops(model, x) / 1e9,
                       "train_minutes": minutes, "networks": len(names)}  # fmt: skip
        models[label] = model
    times = interleaved({k: partial(cpu_latency, partial(m, x), 3) for k, m in models.items()}, args.rounds)
    print(header(["torch", "monai"]))
    print(f"held-out slices: {HELD_OUT}; threads: {args.threads}\n")
    organs = list(next(iter(rows.values()))["dice"]) if rows else []
    short = [o.replace("_", " ").replace("portal vein and splenic vein", "portal/splenic v.") for o in organs]
    print("| variant | " + " | ".join(short) + " | **mean** | params | GFLOPs | CPU ms | training min |")
    print("|---|" + "---|" * (len(organs) + 5))
    for label, row in rows.items():
        row["cpu_ms"] = statistics.median(times[label]) * 1e3
        values = list(row["dice"].values())
        row["mean_dice"] = sum(v for v in values if v == v) / max(1, sum(v == v for v in values))
        cells = " | ".join(f"{v:.3f}" for v in values)
        print(f"| {label} | {cells} | **{row['mean_dice']:.3f}** | {row['params']:,} | {row['gflops']:.2f} | "
              f"{row['cpu_ms']:.1f} | {row['train_minutes']:.1f} |")  # fmt: skip
    add_class = {}
    for step in ("addclass-base", "addclass-finetune"):
        if (RUNS / step / "last.pt").exists():
            model, prep, classes = load((step,))
            add_class[step] = evaluate(model, prep, classes, RUNS / step / "eval-heldout")
    if len(add_class) == 2:
        print("\n| add a class (pancreas) | pancreas Dice | mean Dice, the 11 old classes |\n|---|---|---|")
        for step, dice in add_class.items():
            old = [v for k, v in dice.items() if k != "pancreas" and v == v]
            print(f"| {step} | {dice['pancreas']:.3f} | {sum(old) / len(old):.3f} |")
    (RUNS / "compare.json").write_text(json.dumps({"variants": rows, "add_class": add_class}, indent=2))


if __name__ == "__main__":
    main()
