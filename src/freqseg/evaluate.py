"""Evaluation on held-out slices: per-class Dice and HD95 (MONAI metrics), tables and overlay images."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from freqseg.checkpoint import load_checkpoint, model_stride, pick_device
from freqseg.data import Preprocessing, SliceDataset, load_dataset

Predictor = Callable[[torch.Tensor], torch.Tensor]  # images [B, 1, H, W] -> label maps [B, H, W]


def evaluate(
    checkpoint: str | Path, out: str | Path, split: str = "test", dataset: str | None = None
) -> dict[str, Any]:
    device = pick_device("auto")
    model, config, classes = load_checkpoint(checkpoint, device)

    def predict(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(images.to(device)).argmax(1).cpu()

    prep = Preprocessing(config.window, config.spacing, model_stride(model))
    result = score(predict, classes, prep, dataset or config.dataset, split, out)
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
    result = score(predict, list(spec.classes), prep, dataset, split, out)
    return {"model": str(onnx_path), **result}


def score(
    predict: Predictor, classes: list[str], prep: Preprocessing, dataset: str, split: str, out: str | Path
) -> dict[str, Any]:
    """Per-class Dice and HD95 (MONAI) of ``predict`` on a split's slices; writes results.md/json and overlays."""
    from monai.metrics.hausdorff_distance import HausdorffDistanceMetric
    from monai.metrics.meandice import DiceMetric

    spec = load_dataset(dataset)
    if spec.classes != classes:
        raise ValueError(f"the model's classes {classes} differ from the dataset's {spec.classes}")
    unknown = [part for part in split.split("+") if part not in spec.cases]
    if unknown:
        raise ValueError(f"unknown split {unknown[0]!r}; use training, validation, test or a sum like validation+test")
    slices = SliceDataset([c for part in split.split("+") for c in spec.cases[part]], len(classes), prep)
    dice = DiceMetric(include_background=False, reduction="none", ignore_empty=True)
    hd95 = HausdorffDistanceMetric(include_background=False, percentile=95, reduction="none")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shown = 0
    for images, labels in DataLoader(slices, batch_size=8):
        prediction = predict(images)
        pred_1h = nn.functional.one_hot(prediction, len(classes)).permute(0, 3, 1, 2)
        true_1h = nn.functional.one_hot(labels, len(classes)).permute(0, 3, 1, 2)
        dice(y_pred=pred_1h, y=true_1h)
        hd95(y_pred=pred_1h, y=true_1h, spacing=list(prep.spacing))
        for i in range(len(images)):
            if shown < 4 and labels[i].any():
                save_overlay(
                    images[i, 0].numpy(), labels[i].numpy(), prediction[i].numpy(), out / f"overlay_{shown}.png"
                )
                shown += 1
    dice_scores = _per_class(dice.get_buffer())
    hd_scores = _per_class(hd95.get_buffer())
    rows = [
        {"class": name, "dice": dice_scores[i], "hd95_mm": hd_scores[i]}
        for i, name in enumerate(classes[1:])
        if not math.isnan(dice_scores[i])
    ]
    result = {
        "split": split,
        "slices": len(slices),
        "mean_dice": float(np.mean([r["dice"] for r in rows])) if rows else float("nan"),
        "mean_hd95_mm": float(np.nanmean([r["hd95_mm"] for r in rows])) if rows else float("nan"),
        "classes": rows,
    }
    (out / "results.json").write_text(json.dumps(result, indent=2))
    lines = ["| class | Dice | HD95 (mm) |", "|---|---|---|"]
    lines += [f"| {r['class']} | {r['dice']:.3f} | {r['hd95_mm']:.1f} |" for r in rows]
    lines.append(f"| **mean** | **{result['mean_dice']:.3f}** | **{result['mean_hd95_mm']:.1f}** |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    return result


def _per_class(buffer: torch.Tensor) -> list[float]:
    """Mean over slices per class, skipping slices where the class is absent (NaN) or undefined (inf)."""
    values = buffer.float().numpy()
    scores = []
    for column in values.T:
        finite = column[np.isfinite(column)]
        scores.append(float(finite.mean()) if finite.size else float("nan"))
    return scores


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
