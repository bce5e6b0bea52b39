"""Segment a new image with a trained checkpoint: the same windowing, resampling and padding as training.

The label map comes back on the input's own grid (resampled with nearest neighbours), so a NIfTI result shares
the input's affine and overlays it in any viewer; a PNG input gets a PNG label map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from freqseg.data import resample_in_plane, window
from freqseg.evaluate import load_checkpoint
from freqseg.io import DataError, Volume, read_image, write_nifti
from freqseg.train import model_stride, pick_device


def segment_volume(
    model: torch.nn.Module, volume: Volume, window_hu: tuple[float, float] | None, spacing: tuple[float, float],
    batch_size: int = 8,
) -> np.ndarray:  # fmt: skip
    """Label map [x, y, z] (uint8) of ``volume``, slice by slice. ``window_hu`` None: pixels are already in [0, 1]."""
    pixels = window(volume.array, *window_hu) if window_hu is not None else volume.array.astype(np.float32)
    resampled = resample_in_plane(pixels, volume.spacing[:2], spacing, label=False)
    stride = model_stride(model)
    height, width = resampled.shape[:2]
    pad_h, pad_w = (-height) % stride, (-width) % stride
    device = next(model.parameters()).device
    labels = np.zeros(resampled.shape, np.uint8)
    with torch.no_grad():
        for start in range(0, resampled.shape[2], batch_size):
            chunk = torch.from_numpy(
                np.ascontiguousarray(resampled[:, :, start : start + batch_size].transpose(2, 0, 1))
            )
            chunk = F.pad(chunk[:, None], (0, pad_w, 0, pad_h)).to(device)
            prediction = model(chunk).argmax(1)[:, :height, :width].cpu().numpy().astype(np.uint8)
            labels[:, :, start : start + batch_size] = prediction.transpose(1, 2, 0)
    if tuple(labels.shape[:2]) == tuple(volume.shape[:2]):
        return labels
    back = torch.from_numpy(labels.transpose(2, 0, 1).astype(np.float32))[:, None]
    restored = F.interpolate(back, size=volume.shape[:2], mode="nearest")[:, 0].numpy()
    return restored.transpose(1, 2, 0).astype(np.uint8)


def predict(checkpoint: str | Path, image: str | Path, out: str | Path, batch_size: int = 8) -> dict[str, Any]:
    """Segment ``image`` (NIfTI, DICOM folder/file or PNG) and write the label map to ``out`` (.nii.gz or .png).

    PNG inputs are taken as already windowed grey levels (0-255 -> 0-1) at the model's spacing; CT volumes are
    windowed with the checkpoint's Hounsfield window and resampled to its spacing.
    """
    out = Path(out)
    if not out.name.endswith((".nii", ".nii.gz", ".png")):
        raise DataError(f"{out}: write the label map as .nii.gz, .nii or .png")
    model, config, classes = load_checkpoint(checkpoint, pick_device("auto"))
    volume = read_image(image)
    is_png = Path(image).name.lower().endswith(".png")
    if is_png:
        volume = Volume(volume.array / 255.0, (*config.spacing, 1.0), volume.affine)
    labels = segment_volume(model, volume, None if is_png else config.window, config.spacing, batch_size)
    if out.name.endswith(".png"):
        if labels.shape[2] != 1:
            raise DataError(f"{image} has {labels.shape[2]} slices; write a volume's label map as .nii.gz")
        from PIL import Image

        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(labels[:, :, 0].T[::-1, ::-1])).save(out)
    else:
        write_nifti(out, labels, volume.affine)
    voxel_mm3 = float(np.prod(volume.spacing))
    counts = np.bincount(labels.ravel(), minlength=len(classes))
    found = {name: {"voxels": int(counts[i]), "mm3": round(float(counts[i]) * voxel_mm3, 1)}
             for i, name in enumerate(classes) if i and counts[i]}  # fmt: skip
    return {"image": str(image), "out": str(out), "shape": list(labels.shape), "classes": found}
