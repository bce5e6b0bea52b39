"""Training: one loop for CPU, one GPU, or several GPUs under torchrun (DistributedDataParallel).

Each epoch trains on the training slices, scores Dice on the validation slices
(MONAI's DiceMetric), appends a row to ``metrics.csv``, redraws ``curves.png``, and
saves ``last.pt`` (everything needed to resume) and ``best.pt`` (the weights with
the best validation Dice). Seeds are fixed. On a GPU the forward pass runs in
bfloat16 autocast; on the CPU the code path is the same, in float32.
"""

from __future__ import annotations

import csv
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import (
    ConcatDataset,
    DataLoader,
    DistributedSampler,
    RandomSampler,
    Sampler,
    WeightedRandomSampler,
)

from freqseg.checkpoint import build_model, load_checkpoint, model_stride, pick_device
from freqseg.config import TrainConfig
from freqseg.data import Preprocessing, SliceDataset, augmentation, load_dataset
from freqseg.errors import DataError
from freqseg.losses import DiceCELoss, MarginalDiceCELoss, PartialBinaryDiceBCELoss

HEAD = ("head", "backbone.head", "task_proj", "class_codes", "visual_proj", "controller")
DECODER = ("up_blocks", "stem", "backbone.up_blocks", "backbone.stem")


def freeze(model: nn.Module, trainable: str) -> list[nn.Parameter]:
    """Leave only the ``trainable`` part learning (all, head, head+decoder); returns the parameters that do."""
    prefixes = {"all": ("",), "head": HEAD, "head+decoder": HEAD + DECODER}[trainable]
    learning = []
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(any(name == p or name.startswith(p + ".") or not p for p in prefixes))
        if parameter.requires_grad:
            learning.append(parameter)
    return learning


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Distributed:
    """torchrun's environment, or a single process."""

    def __init__(self, device: torch.device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = device
        if self.world > 1:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            if device.type == "cuda":
                torch.cuda.set_device(local)
                self.device = torch.device("cuda", local)
            torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        if self.world == 1:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def close(self) -> None:
        if self.world > 1:
            torch.distributed.destroy_process_group()


def evaluate_dice(model: nn.Module, loader: DataLoader[Any], num_classes: int, device: torch.device) -> list[float]:
    """Mean Dice per foreground class over the loader's slices (classes absent everywhere are NaN)."""
    from monai.metrics.meandice import DiceMetric

    metric = DiceMetric(include_background=False, reduction="mean_batch", ignore_empty=True)
    model.eval()
    with torch.no_grad():
        for images, labels in loader:
            logits = model(images.to(device))
            prediction = nn.functional.one_hot(logits.argmax(1), num_classes).permute(0, 3, 1, 2)
            truth = nn.functional.one_hot(labels.to(device), num_classes).permute(0, 3, 1, 2)
            metric(y_pred=prediction, y=truth)
    aggregate = metric.aggregate()
    assert isinstance(aggregate, torch.Tensor)  # reduction="mean_batch" gives one tensor
    scores = aggregate.cpu().tolist()
    return [float(s) for s in scores]


def plot_curves(rows: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [r["train_loss"] for r in rows], label="training loss (Dice + CE)")
    left.set_xlabel("epoch")
    left.legend()
    right.plot(epochs, [r["val_dice"] for r in rows], label="validation mean Dice", color="tab:green")
    right.set_xlabel("epoch")
    right.set_ylim(0, 1)
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def pick_loss(config: TrainConfig, partial: bool) -> Any:
    """(logits, labels, labelled) -> loss. Sigmoid per class for the universal model; softmax otherwise, with
    unlabelled classes merged into background when the data is partially labelled."""
    if config.model == "universal":
        binary = PartialBinaryDiceBCELoss(config.dice_weight, config.ce_weight)
        return lambda logits, labels, labelled: binary(logits[:, 1:], labels, labelled)  # channel 0: fixed zero
    if partial:
        return MarginalDiceCELoss(config.dice_weight, config.ce_weight)
    full = DiceCELoss(config.dice_weight, config.ce_weight)
    return lambda logits, labels, labelled: full(logits, labels)


def epoch_sampler(
    config: TrainConfig,
    train_set: ConcatDataset[tuple[torch.Tensor, ...]],
    dist: Distributed,
    generator: torch.Generator,
) -> Sampler[int]:
    """Which training items an epoch visits (each crop is drawn anew, so a slice may come back).

    By default every slice ``samples_per_slice`` times, shuffled (under torchrun, dealt across the processes). With
    ``dataset_weights`` or ``epoch_crops`` (one process): ``epoch_crops`` draws, each dataset's share set by its
    weight (or its slice count), slices within a dataset equally likely.
    """
    if dist.world > 1:
        return DistributedSampler(train_set, seed=config.seed)
    if not config.dataset_weights and not config.epoch_crops:
        return RandomSampler(train_set, generator=generator)
    sizes = [len(part) for part in train_set.datasets]  # type: ignore[arg-type]  # SliceDatasets have a length
    shares = config.dataset_weights or tuple(float(n) for n in sizes)
    weights = [share / n / sum(shares) for n, share in zip(sizes, shares, strict=True) for _ in range(n)]
    return WeightedRandomSampler(weights, config.epoch_crops or len(train_set), replacement=True, generator=generator)


def train(config: TrainConfig, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train as configured; returns the summary also written to ``summary.json``."""
    from tqdm import tqdm

    seed_everything(config.seed)
    spec = load_dataset(config.dataset)
    num_classes = len(spec.classes)
    train_specs = [load_dataset(d) for d in config.datasets] or [spec]
    for other in train_specs:
        if other.classes != spec.classes:
            raise DataError(f"{other.root}: classes {other.classes} differ from {spec.root}'s {spec.classes}")
    partial = any(s.labelled is not None for s in train_specs)
    dist = Distributed(pick_device(config.device))
    device = dist.device
    model = build_model(config, spec.classes).to(device)
    if config.init:
        initial = torch.load(config.init, map_location=device, weights_only=False)
        try:
            model.load_state_dict(initial["model"])
        except RuntimeError as exc:  # torch lists every mismatched tensor; the first says enough
            detail = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
            raise DataError(
                f"config field 'init': {config.init} does not fit this config's model ({detail}); it needs the same "
                "model, size, decoder_dims, classes and prompt embedding width"
            ) from exc
    learning = freeze(model, config.trainable)
    prep = Preprocessing(config.window, config.spacing, model_stride(model))
    if config.crop % model_stride(model):
        raise ValueError(f"config field 'crop' ({config.crop}) must be a multiple of {model_stride(model)}")
    transform = None
    if config.augment:
        enhance = {"classes": spec.classes, "window": config.window} if config.enhance else {}
        transform = augmentation(config.seed, config.crop, **enhance)  # type: ignore[arg-type]
    repeats = config.samples_per_slice if config.augment else 1
    parts = [
        SliceDataset(s.cases["training"], num_classes, prep, transform, repeats, s.labelled_mask) for s in train_specs
    ]
    train_set: ConcatDataset[tuple[torch.Tensor, ...]] = ConcatDataset(parts)
    val_cases = spec.cases["validation"] or spec.cases["training"]
    val_set = SliceDataset(val_cases, num_classes, prep)
    generator = torch.Generator().manual_seed(config.seed)
    sampler = epoch_sampler(config, train_set, dist, generator)
    train_loader = DataLoader(
        train_set,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.num_workers,
        generator=generator,
        drop_last=len(train_set) > config.batch_size,
    )
    val_loader = DataLoader(val_set, batch_size=config.batch_size)
    net = dist.wrap(model)
    optimizer = torch.optim.AdamW(learning, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    loss_fn = pick_loss(config, partial)
    teacher = None
    if config.teacher:
        teacher, _, teacher_classes = load_checkpoint(config.teacher, device)
        if teacher_classes != spec.classes:
            raise DataError(f"the teacher {config.teacher} knows {teacher_classes}, the dataset {spec.classes}")
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    start_epoch, best, rows = 1, -1.0, []
    if resume and (out / "last.pt").exists():
        state = torch.load(out / "last.pt", map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, best, rows = state["epoch"] + 1, state["best"], state["rows"]
    (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    )
    started = time.perf_counter()
    for epoch in range(start_epoch, config.epochs + 1):
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        net.train()
        losses = []
        batches = tqdm(train_loader, desc=f"epoch {epoch}/{config.epochs}", disable=not (progress and dist.main))
        for images, labels, labelled in batches:
            images, labels, labelled = images.to(device), labels.to(device), labelled.to(device)
            with autocast:
                logits = net(images)
            loss = loss_fn(logits.float(), labels, labelled)
            if teacher is not None:
                with torch.no_grad():
                    soft = (teacher(images).float() / config.temperature).softmax(dim=1)
                student = (logits.float() / config.temperature).log_softmax(dim=1)
                distill = nn.functional.kl_div(student, soft, reduction="none").sum(dim=1).mean()
                loss = loss + config.distill_weight * config.temperature**2 * distill
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            batches.set_postfix(loss=f"{loss.item():.3f}")
        scheduler.step()
        if not dist.main:
            continue
        per_class = evaluate_dice(model, val_loader, num_classes, device)
        present = [s for s in per_class if s == s]  # NaN: the class is absent from the validation slices
        val_dice = float(np.mean(present)) if present else 0.0
        rows.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "val_dice": val_dice,
                     "lr": scheduler.get_last_lr()[0], "seconds": time.perf_counter() - started})  # fmt: skip
        if val_dice > best:
            best = val_dice
            torch.save({"model": model.state_dict(), "config": config.to_dict(), "classes": spec.classes},
                       out / "best.pt")  # fmt: skip
        torch.save(
            {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "epoch": epoch, "best": best, "rows": rows, "config": config.to_dict(), "classes": spec.classes},
            out / "last.pt",
        )  # fmt: skip
        with open(out / "metrics.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        plot_curves(rows, out / "curves.png")
    summary = {"best_val_dice": best, "epochs": config.epochs, "seconds": time.perf_counter() - started,
               "parameters": sum(p.numel() for p in model.parameters()), "classes": spec.classes}  # fmt: skip
    if dist.main:
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
    dist.close()
    return summary
