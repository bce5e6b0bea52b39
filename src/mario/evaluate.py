"""The recorded figures: prompt adherence, playability, novelty, and next-tile accuracy on non-air tiles.

Everything runs on the numpy sampler and the committed checkpoint, so it measures exactly what is served.
Adherence compares, per attribute, the word asked with the word measured on the generated level (counts
scaled to the thresholds' window); its chance level is what a level would score against a prompt drawn at
random from the same grid. Novelty is the column-level edit distance from each generated level to the nearest
training window of the same width, over the width (0: a copy; MarioGPT reports the same kind of figure).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mario import agent, data
from mario.levelinfo import CANDIDATES, Report, best, describe
from mario.prepare import load_full_level
from mario.prompts import Prompt, embedding_table, prompt_grid
from mario.sampler import DEFAULT_GUIDANCE, DEFAULT_TEMPERATURE, NumpyGPT, default_model, generate_many
from mario.tiles import AIR, HEIGHT, TILES, Level, encode, strip_path, width


def wilson(successes: int, n: int, z: float = 1.96) -> list[float]:
    """The Wilson score interval of a share (95% for z = 1.96; Wilson 1927), as [low, high]."""
    if n == 0:
        return [0.0, 1.0]
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)]


def adherence(prompts: Sequence[Prompt], levels: Sequence[Level], thresholds: data.Thresholds) -> dict[str, object]:
    """Per attribute: the share of levels measuring as asked (``match``, with its Wilson ``ci95``) and ``chance``."""
    measured = [data.measure(level, thresholds) for level in levels]
    out: dict[str, object] = {}
    for attr in data.ATTRIBUTES:
        asked = [getattr(q, attr) for q in prompts]
        got = [m[attr] for m in measured]
        hits = sum(a == g for a, g in zip(asked, got, strict=True))
        fa, fg = Counter(asked), Counter(got)
        chance = sum(fa[w] / len(asked) * fg[w] / len(got) for w in fa)
        out[attr] = {"match": round(hits / len(asked), 3), "ci95": wilson(hits, len(asked)), "chance": round(chance, 3)}
    all_four = np.mean(
        [all(m[a] == getattr(q, a) for a in data.ATTRIBUTES) for q, m in zip(prompts, measured, strict=True)]
    )
    out["all_four"] = round(float(all_four), 3)
    return out


def _column_ids(levels: Sequence[Level]) -> list[np.ndarray]:
    vocab: dict[str, int] = {}
    out = []
    for rows in levels:
        cols = ["".join(r[c] for r in rows) for c in range(width(rows))]
        out.append(np.array([vocab.setdefault(col, len(vocab)) for col in cols], dtype=np.int32))
    return out


def nearest_edit_distance(level: np.ndarray, corpus: np.ndarray) -> int:
    """Levenshtein distance (in columns) from ``level`` to its nearest row of ``corpus``, all rows at once."""
    n, m = len(level), corpus.shape[1]
    prev = np.tile(np.arange(m + 1, dtype=np.int32), (len(corpus), 1))
    for i in range(1, n + 1):
        cur = np.empty_like(prev)
        cur[:, 0] = i
        sub = prev[:, :-1] + (corpus != level[i - 1])
        dele = prev[:, 1:] + 1
        best = np.minimum(sub, dele)
        for j in range(1, m + 1):  # insertions chain along the row
            cur[:, j] = np.minimum(best[:, j - 1], cur[:, j - 1] + 1)
        prev = cur
    return int(prev[:, m].min())


def novelty(levels: Sequence[Level], training: Level, stride: int = 2) -> dict[str, float]:
    w = width(levels[0])
    starts = data.window_starts(width(training), w, validation=False, stride=stride)
    windows = [[r[s : s + w] for r in training] for s in starts]
    ids = _column_ids([*levels, *windows])
    corpus = np.stack(ids[len(levels) :])
    dist = np.array([nearest_edit_distance(ids[i], corpus) / w for i in range(len(levels))])
    return {
        "mean": round(float(dist.mean()), 3),
        "min": round(float(dist.min()), 3),
        "share_below_0.1": round(float((dist < 0.1).mean()), 3),
        "training_windows": len(windows),
    }


def load_run(directory: Path) -> tuple[NumpyGPT, data.Thresholds]:
    """The model and thresholds a training run wrote (``python -m mario train --out DIRECTORY``)."""
    return NumpyGPT.load(directory / "model.npz"), data.Thresholds.load(directory / "thresholds.json")


def tile_accuracy(
    model: NumpyGPT, rows: Level, thresholds: data.Thresholds, batch: int = 16, resamples: int = 2000
) -> dict[str, object]:
    """Teacher-forced next-tile accuracy on validation windows, over targets that are not air (as the paper), beside
    the baseline that repeats the tile one column back (same row): both over the targets after each window's first
    column, where the baseline has a column to copy. ``on_changed_tiles`` is the model's accuracy where the tile
    differs from the one a column back, where the baseline is always wrong; ``changed_by_tile`` splits those by
    the tile to predict (count and accuracy), which says where the accuracy left is.

    ``difference_ci95`` is a 95% interval of accuracy minus baseline by the bootstrap over the validation blocks
    (``data.SPLIT_BLOCK`` columns each, drawn with replacement ``resamples`` times): windows in one block overlap
    and share its structures, so the block, not the tile, is the independent unit.
    """
    from mario.prompts import from_attributes

    cfg = model.cfg
    span = cfg.context_columns + 1
    tokens = encode(rows)
    starts = data.window_starts(width(rows), span, validation=True, stride=4)
    table = embedding_table()
    per_window = []  # (correct, copied, total, changed, changed_correct) per window
    by_tile = np.zeros((len(TILES), 2), np.int64)  # changed targets per tile: (count, correct)
    for i in range(0, len(starts), batch):
        chunk = starts[i : i + batch]
        seqs = np.stack([tokens[s * HEIGHT : s * HEIGHT + cfg.block_size + 1] for s in chunk])
        labels = [data.measure([r[s : s + cfg.context_columns] for r in rows], thresholds) for s in chunk]
        vecs = table[[from_attributes(words).index for words in labels]]
        pred = model.forward(seqs[:, :-1], vecs).argmax(-1)[:, HEIGHT - 1 :]
        target = seqs[:, HEIGHT:]  # targets with a column to their left in the window
        left = seqs[:, : seqs.shape[1] - HEIGHT]  # the token HEIGHT back: same row, a column to the left
        solid = target != TILES.index(AIR)
        differs = solid & (left != target)
        hit = pred == target
        np.add.at(by_tile, (target[differs], 0), 1)
        np.add.at(by_tile, (target[differs & hit], 1), 1)
        per_window.append(
            np.stack(
                [(hit & solid).sum(1), ((left == target) & solid).sum(1), solid.sum(1), differs.sum(1),
                 (hit & differs).sum(1)],
                axis=1,
            )
        )  # fmt: skip
    counts = np.concatenate(per_window)
    blocks = np.array(starts) // data.SPLIT_BLOCK
    by_block = np.stack([counts[blocks == b].sum(0) for b in np.unique(blocks)])
    correct, copied, total, changed, changed_correct = (int(v) for v in by_block.sum(0))
    draws = by_block[np.random.default_rng(0).integers(0, len(by_block), (resamples, len(by_block)))].sum(1)
    difference = (draws[:, 0] - draws[:, 1]) / np.maximum(draws[:, 2], 1)
    low, high = np.quantile(difference, [0.025, 0.975])
    return {
        "nonair_accuracy": round(correct / max(total, 1), 4),
        "copy_previous_column_baseline": round(copied / max(total, 1), 4),
        "difference_ci95": [round(float(low), 4), round(float(high), 4)],
        "on_changed_tiles": round(changed_correct / max(changed, 1), 4),
        "on_repeated_tiles": round((correct - changed_correct) / max(copied, 1), 4),
        "changed_by_tile": {
            TILES[t]: [int(n), round(int(ok) / int(n), 3)] for t, (n, ok) in enumerate(by_tile) if n > 0
        },
        "nonair_targets": total,
        "windows": len(starts),
        "validation_blocks": len(by_block),
    }


def evaluate(
    levels_per_prompt: int = 1,
    columns: int = 48,
    seed: int = 0,
    temperature: float = DEFAULT_TEMPERATURE,
    candidates: int = CANDIDATES,
    guidance: float | None = None,
    checkpoint: Path | None = None,
) -> dict[str, object]:
    """The figures of the model alone (the first candidate of each prompt) and of the levels served (the ``best`` of
    ``candidates``, as ``levelinfo.generate_level`` chooses); of the committed checkpoint, or of a training run's
    directory (its ``model.npz`` and ``thresholds.json``)."""
    started = time.monotonic()
    scale = DEFAULT_GUIDANCE if guidance is None else guidance
    if checkpoint is None:
        model, thresholds = default_model(), data.default_thresholds()
    else:
        model, thresholds = load_run(checkpoint)
    rows = strip_path(load_full_level())
    grid = [q for q in prompt_grid() for _ in range(levels_per_prompt)]
    asked = [q for q in grid for _ in range(candidates)]
    drawn: list[Level] = []
    for i in range(0, len(asked), 64):
        drawn += generate_many(
            asked[i : i + 64], columns, temperature=temperature, seed=seed + i, model=model, guidance=scale
        )
    reports = [describe(q, level, thresholds) for q, level in zip(asked, drawn, strict=True)]
    alone = reports[::candidates]
    served = [best(reports[i : i + candidates]) for i in range(0, len(reports), candidates)]
    real = data.windows(rows, columns, validation=False, stride=columns)

    def figures(chosen: list[Report]) -> dict[str, object]:
        levels = [r.rows for r in chosen]
        return {
            "adherence": adherence(grid, levels, thresholds),
            "playability": round(float(np.mean([r.playable for r in chosen])), 3),
            "playability_ci95": wilson(sum(r.playable for r in chosen), len(chosen)),
            "novelty": novelty(levels, rows),
        }

    return {
        "levels": len(grid),
        "temperature": temperature,
        "guidance": scale if model.cfg.guided(scale) else None,
        "columns": columns,
        "prompts": len(prompt_grid()),
        "model_alone": figures(alone),
        f"served_best_of_{candidates}": figures(served),
        "playability_of_training_windows": round(float(np.mean([agent.is_playable(w) for w in real])), 3),
        "novelty_of_validation_windows": novelty(data.windows(rows, columns, validation=True, stride=8), rows),
        "tiles": tile_accuracy(model, rows, thresholds),
        "seconds": round(time.monotonic() - started, 1),
    }
