"""Orientation: an image's voxel axes turned onto RAS+ (the axes a model's planes are cut along), and back.

The model segments axial planes ``[x, y]`` of a RAS+ array, as training arrays were laid out (nibabel's
``as_closest_canonical``). Turning the input's axes onto RAS+ is a permutation and flips only (``io_orientation``
from the affine), so it is exact and its inverse is exact: a label map comes back on the input's own grid.

Planes that are not within ``OBLIQUE_LIMIT_DEG`` of an axis would be treated as axial when they are not: such an
image is refused with the angle, never silently mis-oriented. So is a single plane that is not axial (a lone
sagittal or coronal slice has no axial plane to segment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from medimage.errors import UnusableImage
from medimage.image import Image

OBLIQUE_LIMIT_DEG = 20.0  # gantry tilts and small obliquities pass; resample steeper planes to axial first
AXIS_NAMES = ("left-right", "posterior-anterior", "inferior-superior")


@dataclass(frozen=True)
class Orientation:
    """How the input's axes map onto RAS+: ``ornt`` in nibabel's form (per input axis: RAS axis, flip)."""

    ornt: npt.NDArray[np.float64]

    def to_ras(self, array: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """``array`` on the input's axes [i, j, k] -> RAS+ [x, y, z] (a view where possible)."""
        from nibabel.orientations import apply_orientation

        return np.asarray(apply_orientation(array, self.ornt))

    def from_ras(self, array: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """The exact inverse of ``to_ras``."""
        from nibabel.orientations import apply_orientation, axcodes2ornt, ornt_transform

        return np.asarray(apply_orientation(array, ornt_transform(axcodes2ornt("RAS"), self.ornt)))

    def ras_affine(self, affine: npt.NDArray[np.float64], shape: tuple[int, int, int]) -> npt.NDArray[np.float64]:
        """The voxel-to-RAS+ affine of the oriented array (``to_ras(array)``) of an input with ``affine``."""
        from nibabel.orientations import inv_ornt_aff

        return np.asarray(affine @ inv_ornt_aff(self.ornt, shape), dtype=np.float64)

    def ras_spacing(self, spacing: tuple[float, float, float]) -> tuple[float, float, float]:
        """The input's per-axis spacing reordered to RAS+ x, y, z."""
        out = [0.0, 0.0, 0.0]
        for axis, (target, _) in enumerate(self.ornt):
            out[int(target)] = spacing[axis]
        return out[0], out[1], out[2]


def orientation(image: Image) -> Orientation:
    """The permutation and flips that bring ``image`` onto RAS+, after checking it can be segmented in axial planes.

    Raises:
        UnusableImage (422): an axis more than ``OBLIQUE_LIMIT_DEG`` off the nearest patient axis, or a single
            plane that is not axial.
    """
    from nibabel.orientations import io_orientation

    linear = image.affine[:3, :3]
    directions = linear / np.linalg.norm(linear, axis=0)
    for axis in range(3):
        cosine = float(np.abs(directions[:, axis]).max())
        angle = math.degrees(math.acos(min(1.0, cosine)))
        if angle > OBLIQUE_LIMIT_DEG:
            raise UnusableImage(
                f"the image's voxel axis {axis} runs {angle:.0f} degrees off the nearest patient axis (limit "
                f"{OBLIQUE_LIMIT_DEG:g}): its planes are oblique; resample it to an axial grid first (e.g. with "
                "3D Slicer or SimpleITK) and send that",
                angle_deg=round(angle, 1),
            )
    ornt = io_orientation(image.affine)
    if np.isnan(ornt).any():
        raise UnusableImage("the image's axes do not map one-to-one onto patient axes; resample it to an axial grid")
    result = Orientation(ornt)
    if image.shape[2] == 1 and int(ornt[2, 0]) != 2:
        normal = AXIS_NAMES[int(ornt[2, 0])]
        raise UnusableImage(
            f"this single plane is {'sagittal' if normal == 'left-right' else 'coronal'} (its normal runs "
            f"{normal}); the model segments axial planes: send the whole series, or an axial slice",
        )
    return result


def canonical(image: Image) -> Image:
    """``image`` with its voxels turned onto RAS+ (``array[x, y, z]``) and the affine to match, as nibabel's
    ``as_closest_canonical`` does; the same checks as ``orientation``."""
    turn = orientation(image)
    array = np.ascontiguousarray(turn.to_ras(image.array))
    return replace(image, array=array, affine=turn.ras_affine(image.affine, image.shape))
