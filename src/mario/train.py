"""Train the GPT on CPU: random 32-column windows of the levels, each with the prompt measured on it.

Writes to ``--out`` (``runs/mario``): ``last.pt`` (resumable), ``best.pt`` (lowest validation loss),
``log.jsonl``, ``thresholds.json`` and ``model.npz`` (the best weights as float16 for ``mario.sampler``);
``--export DIR`` also copies ``model.npz`` and ``thresholds.json`` there (``src/mario/assets`` for the commit).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from mario import data, prompts
from mario.model import GPTConfig, MarioGPT
from mario.prepare import load_full_level
from mario.tiles import HEIGHT, Level, encode, strip_path


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    batch_size: int = 12
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 30
    weight_decay: float = 0.1
    eval_every: int = 100
    max_minutes: float = 18.0
    seed: int = 0
    threads: int = 2
    device: str = "cpu"  # "cuda" for the larger run a GPU allows (docs/mario.md)


@dataclass
class Split:
    tokens: torch.Tensor  # (N, T + 1) windows of context_columns + 1 columns, cut to T + 1 tokens
    prompts: torch.Tensor  # (N, 384)
    labels: list[int]  # prompt index per window


def build_split(
    rows: Level, cfg: GPTConfig, thresholds: data.Thresholds, table: np.ndarray, *, validation: bool, stride: int
) -> Split:
    span = cfg.context_columns + 1
    tokens = encode(rows)
    starts = data.window_starts(len(rows[0]), span, validation=validation, stride=stride)
    seqs, labels = [], []
    for s in starts:
        seqs.append(tokens[s * HEIGHT : s * HEIGHT + cfg.block_size + 1])
        window = [r[s : s + cfg.context_columns] for r in rows]
        labels.append(prompts.from_attributes(data.measure(window, thresholds)).index)
    return Split(
        tokens=torch.as_tensor(np.stack(seqs)),
        prompts=torch.as_tensor(table[labels], dtype=torch.float32),
        labels=labels,
    )


@torch.no_grad()
def evaluate(model: MarioGPT, split: Split, batch: int = 32) -> dict[str, float]:
    """Validation loss and next-tile accuracy on non-air targets (the paper's tile-prediction figure)."""
    model.eval()
    device = next(model.parameters()).device
    losses, correct, total = [], 0, 0
    for i in range(0, len(split.tokens), batch):
        seq = split.tokens[i : i + batch].to(device)
        logits = model(seq[:, :-1], split.prompts[i : i + batch].to(device))
        target = seq[:, 1:]
        losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1)).item() * len(seq))
        solid = target != 0
        correct += int(((logits.argmax(-1) == target) & solid).sum())
        total += int(solid.sum())
    model.train()
    return {"val_loss": sum(losses) / len(split.tokens), "val_acc_nonair": correct / max(total, 1)}


def train(
    out: Path,
    cfg: GPTConfig | None = None,
    tc: TrainConfig | None = None,
    *,
    resume: bool = False,
    export: Path | None = None,
) -> dict[str, float]:
    cfg = cfg or GPTConfig()
    tc = tc or TrainConfig()
    torch.manual_seed(tc.seed)
    torch.set_num_threads(tc.threads)
    rng = np.random.default_rng(tc.seed)
    out.mkdir(parents=True, exist_ok=True)
    rows = strip_path(load_full_level())
    thresholds = data.fit_thresholds(data.windows(rows, cfg.context_columns, validation=False), cfg.context_columns)
    thresholds.save(out / "thresholds.json")
    table = prompts.embedding_table()
    train_split = build_split(rows, cfg, thresholds, table, validation=False, stride=1)
    val_split = build_split(rows, cfg, thresholds, table, validation=True, stride=4)
    mean = table.mean(axis=0)
    scale = table.std(axis=0) + 1e-3  # per dimension: the prompts differ in a few directions only
    model = MarioGPT(cfg, prompt_mean=mean, prompt_scale=scale).to(tc.device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": tc.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=tc.lr
    )
    step, best = 0, math.inf
    if resume and (out / "last.pt").exists():
        state = torch.load(out / "last.pt", weights_only=False, map_location=tc.device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, best = state["step"], state["best"]
    print(
        f"train windows {len(train_split.tokens)}, validation windows {len(val_split.tokens)}, "
        f"parameters {sum(p.numel() for p in model.parameters()):,}, context {cfg.block_size} tokens"
    )
    start = time.monotonic()
    log = (out / "log.jsonl").open("a")
    metrics: dict[str, float] = {}
    bar = tqdm(total=tc.steps, initial=step, desc="mario train", unit="step")
    while step < tc.steps:
        if (time.monotonic() - start) / 60 >= tc.max_minutes:
            print(f"stopping at step {step}: the {tc.max_minutes} minute budget is spent")
            break
        elapsed = (time.monotonic() - start) / 60
        lr = lr_at(step, tc, elapsed)
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.as_tensor(rng.integers(0, len(train_split.tokens), tc.batch_size))
        seq = train_split.tokens[idx].to(tc.device)
        logits = model(seq[:, :-1], train_split.prompts[idx].to(tc.device))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), seq[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.1e}")
        out_of_time = (time.monotonic() - start) / 60 >= tc.max_minutes
        if step % tc.eval_every == 0 or step == tc.steps or out_of_time:
            metrics = evaluate(model, val_split)
            metrics.update(step=step, train_loss=loss.item(), minutes=(time.monotonic() - start) / 60)
            log.write(json.dumps(metrics) + "\n")
            log.flush()
            bar.write(json.dumps(metrics))
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "best": best}
            state["config"] = cfg.to_json()
            if metrics["val_loss"] < best:
                best = state["best"] = metrics["val_loss"]
                torch.save(state, out / "best.pt")
                model.export(out / "model.npz")
            torch.save(state, out / "last.pt")
    bar.close()
    log.close()
    if not (out / "model.npz").exists():
        model.export(out / "model.npz")
    if export is not None:
        export.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "model.npz", export / "model.npz")
        shutil.copy(out / "thresholds.json", export / "thresholds.json")
        print(f"exported model.npz and thresholds.json to {export}")
    return metrics


def lr_at(step: int, tc: TrainConfig, minutes: float = 0.0) -> float:
    """Warm-up, then a cosine to ``min_lr`` over the steps or the time budget, whichever runs out first.

    On a shared machine the speed per step varies several-fold; following the clock as well lets a run that
    is stopped by its budget still end at the low learning rate.
    """
    if step < tc.warmup:
        return tc.lr * (step + 1) / tc.warmup
    progress = max((step - tc.warmup) / max(1, tc.steps - tc.warmup), minutes / tc.max_minutes)
    progress = min(1.0, progress)
    return tc.min_lr + 0.5 * (tc.lr - tc.min_lr) * (1 + math.cos(math.pi * progress))
