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


def window(values: npt.NDArray[np.floating], low: float, high: float) -> F32:
    """Clip to [low, high] and scale to [0, 1] (float32). NaN (no data) becomes 0, the bottom of the window.

    Args:
        values: any shape, in the modality's units (Hounsfield units for CT).
        low, high: the window's bounds; ``high > low``. A window given as level L and width W is
            ``(L - W / 2, L + W / 2)``.
    """
    if not high > low:
        raise ValueError(f"window [{low}, {high}] is empty: the upper bound must exceed the lower one")
    scaled = (np.clip(values, low, high) - np.float32(low)) / np.float32(high - low)
    out: F32 = np.nan_to_num(scaled.astype(np.float32, copy=False), nan=0.0)
    return out


def model_values(image: Image, modality: str, window_bounds: tuple[float, float]) -> F32:
    """``image.array`` as the model's input values in [0, 1].

    Raises:
        UnusableImage (422): a DICOM whose Modality is not ``modality`` (e.g. MR for a CT model).
    """
    if image.intensity == "grey":
        return image.array
    if image.modality is not None and image.modality != modality:
        raise UnusableImage(
            f"the image is {image.modality} (DICOM Modality), and this model takes {modality}: its window "
            f"{window_bounds[0]:g}..{window_bounds[1]:g} would not mean anything for these values; send a "
            f"{modality} image",
            modality=image.modality,
        )
    return window(image.array, *window_bounds)
