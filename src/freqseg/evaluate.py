"""Evaluation on held-out slices: per-class Dice and HD95 (MONAI metrics), tables and overlay images."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.utils.data import DataLoader

from freqseg.checkpoint import load_checkpoint, model_stride, pick_device
from freqseg.data import Preprocessing, SliceDataset, load_dataset
from freqseg.statistics import F64, bootstrap_interval
from medimage import postprocess

Predictor = Callable[[torch.Tensor], torch.Tensor]  # images [B, 1, H, W] -> label maps [B, H, W]


def evaluate(
    checkpoint: str | Path,
    out: str | Path,
    split: str = "test",
    dataset: str | None = None,
    postprocess: str | None = None,
) -> dict[str, Any]:
    """Score a checkpoint on a split (``score``) with its own post-processing, or ``postprocess`` if given."""
    device = pick_device("auto")
    model, config, classes = load_checkpoint(checkpoint, device)

    def predict(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(images.to(device)).argmax(1).cpu()

    prep = Preprocessing(config.window, config.spacing, model_stride(model))
    result = score(predict, classes, prep, dataset or config.dataset, split, out, postprocess or config.postprocess)
    return {"checkpoint": str(checkpoint), **result}


def evaluate_onnx(
    onnx_path: str | Path, dataset: str, out: str | Path, split: str = "test", provider: str = "CPUExecutionProvider"
) -> dict[str, Any]:
    """The same scores for an exported model, run by ONNX Runtime (fp32 or INT8) with the file's own metadata."""
    import onnxruntime as ort

    from medimage import INPUT_NAME, OUTPUT_NAME, ModelSpec

    session = ort.InferenceSession(str(onnx_path), providers=[provider])
    spec = ModelSpec.from_metadata(dict(session.get_modelmeta().custom_metadata_map), str(onnx_path))

    def predict(images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})[0]).argmax(1)

    prep = Preprocessing.from_spec(spec)
    result = score(predict, list(spec.classes), prep, dataset, split, out, spec.postprocess)
    return {"model": str(onnx_path), **result}


class SliceScores:
    """Per-class Dice and HD95 over axial slices, summarised with 95 % bootstrap intervals over the slices.

    Dice is pooled over the slices (twice the overlap over the sum of the sizes): the volume Dice of a scan. HD95 is
    MONAI's 95th-percentile Hausdorff distance in mm, per slice (in-plane), averaged over the slices where the class
    is in both label and prediction. A class absent from every label is left out; the mean is over the classes
    present. ``freqseg evaluate`` scores on the model grid; ``benchmarks/segserve_heldout.py`` scores the service's
    answer on the scan's own grid with the same code.

    Args:
        num_classes: label values run 0..num_classes-1, 0 being background.
        spacing: (row, column) mm per pixel of the slices given to ``add``.
    """

    def __init__(self, num_classes: int, spacing: tuple[float, float]):
        from monai.metrics.hausdorff_distance import HausdorffDistanceMetric

        self.num_classes = num_classes
        self.spacing = spacing
        self.hd95 = HausdorffDistanceMetric(include_background=False, percentile=95, reduction="none")
        self.counts: list[npt.NDArray[np.float64]] = []  # per batch: [B, 3, K] overlap, predicted, labelled

    def add(self, prediction: torch.Tensor, truth: torch.Tensor) -> None:
        """One batch of label maps, prediction and reference, each ``[B, H, W]`` integer."""
        pred_1h = nn.functional.one_hot(prediction.long(), self.num_classes).permute(0, 3, 1, 2)
        true_1h = nn.functional.one_hot(truth.long(), self.num_classes).permute(0, 3, 1, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # MONAI warns for every class absent from a slice
            self.hd95(y_pred=pred_1h, y=true_1h, spacing=list(self.spacing))
        p, t = pred_1h[:, 1:].flatten(2), true_1h[:, 1:].flatten(2)
        self.counts.append(torch.stack([(p * t).sum(2), p.sum(2), t.sum(2)], dim=1).double().numpy())

    def summary(self, classes: list[str]) -> dict[str, Any]:
        """Per class (present in some label): Dice, HD95, their intervals and the slices holding it; the means."""
        table = np.concatenate(self.counts)  # [slices, 3, K]
        distances = self.hd95.get_buffer().double().numpy()  # [slices, K]; NaN/inf: absent from one side
        distances[~np.isfinite(distances)] = np.nan
        present = table[:, 2].sum(0) > 0

        def dice(idx: npt.NDArray[np.int64]) -> F64:
            overlap, predicted, labelled = table[idx].sum(0)
            with np.errstate(all="ignore"):
                values = np.where(labelled > 0, 2 * overlap / (predicted + labelled), np.nan)
            return np.append(values, np.nanmean(values[present]))

        def distance(idx: npt.NDArray[np.int64]) -> F64:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a redraw may hold no slice with the class
                values = np.nanmean(distances[idx], axis=0)
                return np.append(values, np.nanmean(values[present]))

        everything = np.arange(len(table))
        point_dice, point_hd = dice(everything), distance(everything)
        dice_low, dice_high = bootstrap_interval(dice, len(table))
        hd_low, hd_high = bootstrap_interval(distance, len(table))
        rows = [
            {"class": name, "dice": point_dice[k], "dice_ci": [dice_low[k], dice_high[k]], "hd95_mm": point_hd[k],
             "hd95_ci_mm": [hd_low[k], hd_high[k]], "slices": int((table[:, 2, k] > 0).sum())}
            for k, name in enumerate(classes[1:])
            if present[k]
        ]  # fmt: skip
        result = {
            "slices": len(table),
            "mean_dice": point_dice[-1],
            "mean_dice_ci": [dice_low[-1], dice_high[-1]],
            "mean_hd95_mm": point_hd[-1],
            "mean_hd95_ci_mm": [hd_low[-1], hd_high[-1]],
            "classes": rows,
        }
        converted: dict[str, Any] = json.loads(json.dumps(result, default=float))  # numpy scalars -> floats
        return converted


def markdown(result: dict[str, Any]) -> str:
    """``SliceScores.summary`` as a table: class, slices, Dice and HD95 with their intervals, the mean."""
    lines = ["| class | slices | Dice (95 % CI) | HD95 mm (95 % CI) |", "|---|---|---|---|"]
    lines += [
        f"| {r['class']} | {r['slices']} | {interval(r['dice'], r['dice_ci'], 3)} | "
        f"{interval(r['hd95_mm'], r['hd95_ci_mm'], 1)} |"
        for r in result["classes"]
    ]
    lines.append(
        f"| **mean** | | **{interval(result['mean_dice'], result['mean_dice_ci'], 3)}** | "
        f"**{interval(result['mean_hd95_mm'], result['mean_hd95_ci_mm'], 1)}** |"
    )
    return "\n".join(lines) + "\n"


def score(
    predict: Predictor,
    classes: list[str],
    prep: Preprocessing,
    dataset: str,
    split: str,
    out: str | Path,
    post: str = "none",
) -> dict[str, Any]:
    """``SliceScores`` of ``predict`` on a split's slices (on the model grid), each case's labels post-processed as a
    volume (``post``: ``medimage.POSTPROCESSING``); writes results.json, results.md and overlay images to ``out``."""
    spec = load_dataset(dataset)
    if spec.classes != classes:
        raise ValueError(f"the model's classes {classes} differ from the dataset's {spec.classes}")
    unknown = [part for part in split.split("+") if part not in spec.cases]
    if unknown:
        raise ValueError(f"unknown split {unknown[0]!r}; use training, validation, test or a sum like validation+test")
    scores = SliceScores(len(classes), prep.spacing)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shown = 0
    for case in (c for part in split.split("+") for c in spec.cases[part]):
        slices = SliceDataset([case], len(classes), prep)
        batches = [(images, labels, predict(images)) for images, labels in DataLoader(slices, batch_size=8)]
        raw = torch.cat([prediction for _, _, prediction in batches]).numpy().astype(np.uint8)
        volume = torch.from_numpy(postprocess(raw, post).astype(np.int64))
        images, labels = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
        scores.add(volume, labels)
        for i in range(len(images)):
            if shown < 4 and labels[i].any():
                save_overlay(images[i, 0].numpy(), labels[i].numpy(), volume[i].numpy(), out / f"overlay_{shown}.png")
                shown += 1
    result = {"split": split, "postprocess": post, **scores.summary(classes)}
    (out / "results.json").write_text(json.dumps(result, indent=2))
    (out / "results.md").write_text(markdown(result))
    return result


def interval(value: float, bounds: list[float], digits: int) -> str:
    """``0.912 (0.880-0.931)``; ``-`` for an undefined value."""
    if not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f} ({bounds[0]:.{digits}f}-{bounds[1]:.{digits}f})"


def save_overlay(image: np.ndarray, label: np.ndarray, prediction: np.ndarray, path: Path) -> None:
    """Image with the label (left) and the prediction (right) overlaid, one colour per class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(8, 4))
    for axis, mask, title in zip(axes, (label, prediction), ("label", "prediction"), strict=True):
        axis.imshow(image.T, cmap="gray", origin="lower")
        axis.imshow(np.ma.masked_equal(mask.T, 0), cmap="tab20", alpha=0.5, origin="lower", vmin=0, vmax=19)
        axis.set_title(title)
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
