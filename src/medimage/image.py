"""``Image``: what every reader returns, the one shape the rest of the contract works on.

Voxels stay on the input's own axes, so an answer can be written back on the input's own grid; the affine says
where each voxel lies in the patient. Conventions (those of NIfTI-1 and of dcm2niix for DICOM):

- ``array[i, j, k]``: for DICOM and pictures ``i`` is the column index (along a row), ``j`` the row index and ``k``
  the slice or frame; for NIfTI the file's own voxel order.
- ``affine`` maps ``(i, j, k, 1)`` to RAS+ millimetres (+x towards the patient's right, +y anterior, +z
  superior: NIfTI-1's world space). DICOM's LPS+ coordinates become RAS+ by negating x and y.
- The spacing is the length of the affine's first three columns: the geometry actually used, never a second field
  that might disagree with it (NIfTI-1: pixdim can differ from the sform's scale).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

FORMATS = ("png", "jpeg", "dicom", "nifti")
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class Image:
    """A decoded image and its geometry.

    Attributes:
        array: float32 ``[i, j, k]`` voxel values: Hounsfield units for CT (after the Modality LUT), grey levels
            scaled to [0, 1] for pictures, the stored values otherwise.
        affine: 4x4 float64, voxel index -> RAS+ mm.
        format: one of ``FORMATS``.
        modality: DICOM Modality (0008,0060), e.g. ``"CT"`` or ``"MR"``; ``None`` where the file does not say
            (NIfTI, pictures).
        intensity: ``"hu"`` (Hounsfield units), ``"grey"`` (already windowed, [0, 1]) or ``"raw"``.
        spacing_source: where the in-plane spacing came from: ``"dicom"``, ``"nifti"``, ``"parameter"`` or
            ``"unknown"`` (pictures; a 1 mm placeholder then stands in the affine).
        detail: format specifics worth reporting (transfer syntax, NIfTI version, affine source, ...).
    """

    array: F32
    affine: F64
    format: str
    modality: str | None
    intensity: str
    spacing_source: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        i, j, k = self.array.shape
        return i, j, k

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Millimetres per voxel along i, j and k (the affine's column lengths)."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return float(norms[0]), float(norms[1]), float(norms[2])

    def with_spacing(self, spacing: tuple[float, float]) -> Image:
        """The same image with the in-plane spacing (mm along i, then j) given by the caller."""
        affine = self.affine.copy()
        for axis, mm in enumerate(spacing):
            affine[:3, axis] *= mm / np.linalg.norm(affine[:3, axis])
        return replace(self, affine=affine, spacing_source="parameter")


def checked_affine(affine: npt.ArrayLike, where: str) -> F64:
    """``affine`` as float64 4x4 if it is a usable voxel-to-world transform; else an UnreadableImage naming
    ``where`` it came from (a NaN, an all-zero or a singular 3x3 part gives no geometry)."""
    from medimage.errors import UnreadableImage

    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.isfinite(matrix).all():
        raise UnreadableImage(f"the {where} holds a non-finite value (NaN or infinity); the file's geometry is broken")
    linear = matrix[:3, :3]
    norms = np.linalg.norm(linear, axis=0)
    if norms.min() <= 0 or abs(np.linalg.det(linear / norms)) < 1e-3:
        raise UnreadableImage(
            f"the {where} is not a usable voxel-to-world transform ({'all zero' if not linear.any() else 'singular'}"
            "); the file's geometry is broken: rewrite it with a valid one (e.g. nibabel, 3D Slicer or dcm2niix)"
        )
    return matrix
