"""Segment a new image with a trained checkpoint, through the same image contract as training and the service.

The image is read, oriented, windowed and resampled by ``medimage`` (as ``segserve`` does with the exported model),
and the label map comes back on the input's own grid: a NIfTI result shares the input's affine and overlays it in
any viewer (a DICOM series gets its geometry as a NIfTI affine), a picture gets a PNG label map of its own size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from freqseg.checkpoint import load_checkpoint, model_spec, pick_device
from freqseg.errors import DataError
from medimage import (
    Image,
    Limits,
    ModelInput,
    ModelSpec,
    encode_png,
    labels_to_input,
    pad_to_stride,
    postprocess,
    read_path,
    to_model,
    write_nifti,
)


def segment_image(
    model: torch.nn.Module, image: Image, spec: ModelSpec, batch_size: int = 8, limits: Limits | None = None
) -> tuple[np.ndarray, ModelInput]:
    """Label map ``[i, j, k]`` (uint8, on ``image``'s own grid) and the model input it was computed from."""
    model_input = to_model(image, spec, limits)
    planes = model_input.planes
    device = next(model.parameters()).device
    labels = np.zeros(planes.shape, np.uint8)
    x, y = model_input.grid
    with torch.no_grad():
        for start in range(0, len(planes), batch_size):
            chunk = torch.from_numpy(pad_to_stride(planes[start : start + batch_size], spec.stride)[:, None])
            logits = model(chunk.to(device))[:, :, :x, :y]
            labels[start : start + batch_size] = logits.argmax(1).cpu().numpy().astype(np.uint8)
    return labels_to_input(postprocess(labels, spec.postprocess), model_input), model_input


def predict(checkpoint: str | Path, image: str | Path, out: str | Path, batch_size: int = 8) -> dict[str, Any]:
    """Segment ``image`` (NIfTI, a DICOM file, folder or zip, PNG or JPEG) and write the label map to ``out``
    (.nii.gz, .nii or .png). Pictures are grey levels already windowed, at the model's spacing; CT is windowed with
    the checkpoint's window and resampled to its spacing."""
    out = Path(out)
    if not out.name.endswith((".nii", ".nii.gz", ".png")):
        raise DataError(f"{out}: write the label map as .nii.gz, .nii or .png")
    model, config, classes = load_checkpoint(checkpoint, pick_device("auto"))
    spec = model_spec(model, config, classes)
    volume = read_path(image)
    labels, _ = segment_image(model, volume, spec, batch_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.name.endswith(".png"):
        if labels.shape[2] != 1:
            raise DataError(f"{image} has {labels.shape[2]} slices; write a volume's label map as .nii.gz")
        out.write_bytes(encode_png(labels[:, :, 0].T))  # [i = column, j = row] -> [rows, columns]
    else:
        out.write_bytes(write_nifti(labels, volume.affine, compress=out.name.endswith(".gz")))
    voxel_mm3 = float(np.prod(volume.spacing))
    counts = np.bincount(labels.ravel(), minlength=len(classes))
    found = {name: {"voxels": int(counts[i]), "mm3": round(float(counts[i]) * voxel_mm3, 1)}
             for i, name in enumerate(classes) if i and counts[i]}  # fmt: skip
    return {"image": str(image), "out": str(out), "shape": list(labels.shape), "classes": found}
