"""The model grid: an image turned into the planes a 2-D model runs on, and its labels turned back, exactly.

``to_model`` orients the image onto RAS+ (``geometry``), maps its values to [0, 1] (``intensity``), and resamples
each axial plane to the model's spacing; ``pad_to_stride`` pads a batch for the network. ``labels_to_input`` is
the inverse for a label map: nearest-neighbour back to the input's plane size, then the inverse orientation, so
the labels lie on the input's own voxel grid and share its affine.

Resampling uses Pillow's resize (bilinear for values, nearest for labels; both treat a pixel as an area, so a
resize and its inverse map the image's edges onto each other). Training, evaluation, ``freqseg predict`` and the
service all come here, so one scan gives one model input whichever of them reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from medimage.cpus import in_slabs
from medimage.errors import UnreadableImage, UnusableImage
from medimage.geometry import Orientation, canonical, orientation
from medimage.image import F32, Image
from medimage.intensity import model_values
from medimage.limits import Limits
from medimage.modelfile import ModelSpec

U8 = npt.NDArray[np.uint8]
PAIRING_MM = 0.05  # affines of an image and its label map that differ by less are one grid


@dataclass(frozen=True)
class ModelInput:
    """An image on the model's grid, and what is needed to bring labels back.

    Attributes:
        planes: float32 ``[Z, X', Y']`` in [0, 1]: RAS+ axial planes at the model's spacing (not padded).
        orientation: input axes -> RAS+.
        ras_shape: ``(X, Y, Z)`` of the oriented input, before resampling.
        spacing: ``(x, y)`` mm per pixel of the oriented input's planes.
        ras_affine: voxel -> RAS+ mm of the oriented input (before resampling).
    """

    planes: F32
    orientation: Orientation
    ras_shape: tuple[int, int, int]
    spacing: tuple[float, float]
    ras_affine: npt.NDArray[np.float64]

    @property
    def grid(self) -> tuple[int, int]:
        return int(self.planes.shape[1]), int(self.planes.shape[2])


def grid_size(shape: tuple[int, int], spacing: tuple[float, float], target: tuple[float, float]) -> tuple[int, int]:
    """The plane size at the model's spacing: ``round(n * spacing / target)`` per axis, at least 1."""
    out = []
    for n, have, want in zip(shape, spacing, target, strict=True):
        out.append(n if abs(have - want) < 1e-3 * want else max(1, round(n * have / want)))
    return out[0], out[1]


def to_model(image: Image, spec: ModelSpec, limits: Limits | None = None) -> ModelInput:
    """``image`` as model planes; see the module. Pictures without a spacing are taken at the model's spacing.

    Raises:
        UnusableImage (422): oblique, a lone non-axial plane, another modality than the model's, a NIfTI without
            an orientation (neither sform nor qform), or a plane shrunk to a few pixels (a wrong, tiny voxel size).
        ImageTooLarge (413): the model grid over ``limits`` (e.g. a wrong, huge voxel size).
    """
    limits = limits or Limits()
    if image.detail.get("affine_source") == "pixdim":
        raise UnusableImage(
            "the NIfTI header declares no orientation (sform_code and qform_code are both 0), so the patient's left "
            "and right are unknown; write the sform or qform (nibabel, 3D Slicer or fslorient) and send it again"
        )
    turn = orientation(image)
    ras = turn.to_ras(image.array)  # a view
    x, y, z = ras.shape
    if image.spacing_source == "unknown":
        spacing = spec.spacing
    else:
        sx, sy, _ = turn.ras_spacing(image.spacing)
        spacing = (sx, sy)
    grid = grid_size((x, y), spacing, spec.spacing)
    limits.check_grid(grid, z, spacing, (x, y))
    model_values(image, spec.modality, spec.window, ras[:1, :1, :1])  # the modality check, before any work
    planes: F32 = np.empty((z, *grid), np.float32)

    def slab(start: int, stop: int) -> None:
        values = model_values(image, spec.modality, spec.window, ras[:, :, start:stop])
        planes[start:stop] = resample(np.ascontiguousarray(values.transpose(2, 0, 1)), grid, labels=False)

    in_slabs(z, slab)
    return ModelInput(planes, turn, (x, y, z), spacing, turn.ras_affine(image.affine, image.shape))


def labels_to_input(labels: U8, model_input: ModelInput) -> U8:
    """Labels ``[Z, X', Y']`` on the model grid -> ``[i, j, k]`` on the input's own grid (nearest neighbour)."""
    x, y, z = model_input.ras_shape
    back: U8 = np.empty((z, x, y), np.uint8)

    def slab(start: int, stop: int) -> None:
        back[start:stop] = resample(labels[start:stop], (x, y), labels=True)

    in_slabs(z, slab)
    return np.ascontiguousarray(model_input.orientation.from_ras(back.transpose(1, 2, 0)))


def same_grid(shape: tuple[int, ...], affine: npt.NDArray[np.float64], other_shape: tuple[int, ...],
              other_affine: npt.NDArray[np.float64]) -> bool:  # fmt: skip
    """Do two RAS+ voxel grids coincide (same shape, affines within ``PAIRING_MM``)?"""
    return tuple(shape) == tuple(other_shape) and bool(np.allclose(affine, other_affine, atol=PAIRING_MM))


def pair_labels(image: Image, label_image: Image) -> tuple[Image, Image]:
    """An image and its label map, both turned onto RAS+ (``canonical``), checked to share one voxel grid.

    The pairing goes through the affines, never the array order: a DICOM series (LPS, rows first) and a label NIfTI
    stored LAS with its own axis order land voxel for voxel on each other.

    Raises:
        UnreadableImage: the two grids differ after orientation (the message gives both).
    """
    image, label_image = canonical(image), canonical(label_image)
    if not same_grid(label_image.shape, label_image.affine, image.shape, image.affine):
        raise UnreadableImage(
            f"the label map's grid (shape {label_image.shape} oriented to RAS, affine "
            f"{label_image.affine[:3].round(2).tolist()}) differs from its image's (shape {image.shape}, affine "
            f"{image.affine[:3].round(2).tolist()}); a label map must lie on its image's voxel grid"
        )
    return image, label_image


def labels_to_model(label_image: Image, model_input: ModelInput) -> U8:
    """A reference label map (read like any image) onto ``model_input``'s grid: ``[Z, X', Y']`` uint8.

    The label image is paired with its image through the geometry, not the array order: it is oriented by its
    own affine, so a label file stored with other axes than its image still lands on the right voxels.

    Raises:
        UnreadableImage: the label map lies on another grid than the image, or holds values that are not labels.
    """
    turn = orientation(label_image)
    values = turn.to_ras(label_image.array)
    affine = turn.ras_affine(label_image.affine, label_image.shape)
    if not same_grid(values.shape, affine, model_input.ras_shape, model_input.ras_affine):
        raise UnreadableImage(
            f"the label map's grid (shape {values.shape} oriented to RAS, affine {affine[:3].round(2).tolist()}) "
            f"differs from its image's (shape {model_input.ras_shape}, affine "
            f"{model_input.ras_affine[:3].round(2).tolist()}); a label map must lie on its image's voxel grid"
        )
    if values.min() < 0 or values.max() > 255 or not np.array_equal(values, np.round(values)):
        raise UnreadableImage("the label map holds values that are not class indexes 0..255")
    planes = np.ascontiguousarray(values.transpose(2, 0, 1), dtype=np.uint8)
    return resample(planes, model_input.grid, labels=True)


def pad_to_stride(batch: npt.NDArray[Any], stride: int) -> npt.NDArray[Any]:
    """Pad ``[..., X, Y]`` at the high end of X and Y to multiples of ``stride`` with 0 (the window's bottom, air;
    background for labels). Crop a result back with ``[..., :X, :Y]``."""
    px, py = -batch.shape[-2] % stride, -batch.shape[-1] % stride
    if not px and not py:
        return batch
    return np.pad(batch, [(0, 0)] * (batch.ndim - 2) + [(0, px), (0, py)])


def resample(planes: npt.NDArray[Any], size: tuple[int, int], labels: bool) -> npt.NDArray[Any]:
    """Every plane of ``[Z, X, Y]`` resized to ``size`` = (X', Y'): bilinear for float32 values, nearest for uint8
    labels. Returns ``planes`` itself when the size already matches."""
    from PIL import Image as PILImage

    if planes.shape[1:] == tuple(size):
        return planes
    mode, method = ("L", PILImage.Resampling.NEAREST) if labels else ("F", PILImage.Resampling.BILINEAR)
    out = np.empty((planes.shape[0], *size), planes.dtype)
    for index, plane in enumerate(planes):
        # Pillow's width is the array's second axis.
        resized = PILImage.fromarray(np.ascontiguousarray(plane), mode=mode).resize((size[1], size[0]), method)
        out[index] = np.asarray(resized, dtype=planes.dtype)
    return out
