"""Intensity: modality values to the model's [0, 1] input, with the modality checked first.

A CT model's window is in Hounsfield units; MR or PET values are not Hounsfield units and windowing them as such
gives a confident wrong answer, so an image whose DICOM Modality differs from the model's is refused. Pictures
(PNG, JPEG) hold grey levels already windowed for display and pass unchanged; NIfTI does not say its modality, so
its values are taken as the model's.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from medimage.errors import UnusableImage
from medimage.image import F32, Image

WINDOWS: dict[str, tuple[float, float]] = {
    "abdomen": (40.0, 400.0),
    "liver": (60.0, 160.0),
    "bone": (400.0, 1800.0),
    "lung": (-600.0, 1500.0),
}
"""Display presets, level and width in HU, as CT viewers name them (Radiopaedia, "Windowing (CT)"; 3D Slicer's and
OHIF's presets are within a few HU of these). The first is the default."""


def window(values: npt.NDArray[np.floating], low: float, high: float) -> F32:
    """Clip to [low, high] and scale to [0, 1] (float32). NaN (no data) becomes 0, the bottom of the window.

    Args:
        values: any shape, in the modality's units (Hounsfield units for CT).
        low, high: the window's bounds; ``high > low``. A window given as level L and width W is
            ``(L - W / 2, L + W / 2)``.
    """
    if not high > low:
        raise ValueError(f"window [{low}, {high}] is empty: the upper bound must exceed the lower one")
    out: F32 = np.clip(values, low, high).astype(np.float32, copy=False)  # one new array, then in place
    out -= np.float32(low)
    out *= np.float32(1.0 / (high - low))
    np.copyto(out, np.float32(0.0), where=np.isnan(out))  # clipping left no infinity; NaN stays NaN until here
    return out


def level_width(level: float, width: float) -> tuple[float, float]:
    """A window given as level and width (HU) as its bounds ``(level - width / 2, level + width / 2)``.

    Raises:
        ValueError: a width that is not a finite number above 0, or a level that is not finite.
    """
    if not (np.isfinite(level) and np.isfinite(width) and width > 0):
        raise ValueError(f"window level {level:g} / width {width:g}: the width must be above 0 and both finite")
    return level - width / 2, level + width / 2


def model_values(
    image: Image, modality: str, window_bounds: tuple[float, float], values: npt.NDArray[np.floating] | None = None
) -> F32:
    """``image.array`` (or ``values``, a part of it) as the model's input values in [0, 1].

    Raises:
        UnusableImage (422): a DICOM whose Modality is not ``modality`` (e.g. MR for a CT model).
    """
    values = image.array if values is None else values
    if image.intensity == "grey":
        return np.asarray(values, dtype=np.float32)
    if image.modality is not None and image.modality != modality:
        raise UnusableImage(
            f"the image is {image.modality} (DICOM Modality), and this model takes {modality}: its window "
            f"{window_bounds[0]:g}..{window_bounds[1]:g} would not mean anything for these values; send a "
            f"{modality} image",
            modality=image.modality,
        )
    return window(values, *window_bounds)
