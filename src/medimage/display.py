"""Display: a volume and its label map cut into the planes a radiologist reads, as 8-bit pictures.

A viewer shows axial, coronal and sagittal planes in the radiological convention whatever order the file stored
its voxels in: the patient's right on the screen's left; anterior up on axial planes; superior up on coronal and
sagittal planes, with anterior on the left of a sagittal plane (as 3D Slicer and OHIF show them). So the volume is
turned onto RAS+ first (``geometry.orientation``, exact: permutations and flips) and every plane is cut from that.
Pixels keep the voxel grid; ``aspect`` says how tall a pixel is against its width in millimetres, so a viewer can
stretch a coronal plane of 5 mm slices to its true shape.

    >>> import numpy as np
    >>> from medimage import Image, Volume
    >>> ct = Image(np.zeros((4, 3, 2), np.float32), np.diag([-0.7, -0.7, 5.0, 1.0]), "dicom", "CT", "hu", "dicom")
    >>> volume = Volume(ct)
    >>> volume.planes["coronal"].count, volume.planes["coronal"].size, volume.planes["coronal"].aspect
    (3, (4, 2), 7.142857142857143)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from medimage.geometry import orientation
from medimage.image import Image
from medimage.intensity import window

U8 = npt.NDArray[np.uint8]
PLANES = ("axial", "coronal", "sagittal")


@dataclass(frozen=True)
class Plane:
    """One viewing direction: ``count`` planes of ``size`` = (width, height) pixels, each pixel ``aspect`` times
    as tall as it is wide (mm / mm)."""

    count: int
    size: tuple[int, int]
    aspect: float

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "width": self.size[0], "height": self.size[1], "aspect": round(self.aspect, 6)}


class Volume:
    """An ``Image`` on RAS+ for display, and optionally its label map.

    Args:
        image: any ``Image`` (the checks of ``geometry.orientation`` apply: oblique planes are refused).
        labels: uint8 class indices on the image's own grid ``[i, j, k]``, or None (set later by ``with_labels``).

    ``len(volume)`` is the bytes it holds, so a byte-bounded cache can hold volumes.
    """

    def __init__(self, image: Image, labels: U8 | None = None) -> None:
        self._turn = orientation(image)
        self.intensity = image.intensity
        self.values = self._turn.to_ras(image.array)  # [x, y, z]: a view (flips and a transpose), no copy
        self.labels: U8 | None = None if labels is None else self._oriented(labels)
        nx, ny, nz = self.values.shape
        sx, sy, sz = self._turn.ras_spacing(image.spacing)
        self.planes = {
            "axial": Plane(nz, (nx, ny), sy / sx),
            "coronal": Plane(ny, (nx, nz), sz / sx),
            "sagittal": Plane(nx, (ny, nz), sz / sy),
        }

    def __len__(self) -> int:
        return int(self.values.nbytes + (0 if self.labels is None else self.labels.nbytes))

    def _oriented(self, labels: U8) -> U8:
        oriented: U8 = self._turn.to_ras(labels)
        return oriented

    def with_labels(self, labels: U8) -> None:
        """Attach the label map (uint8 ``[i, j, k]`` on the image's own grid)."""
        oriented = self._oriented(labels)
        if oriented.shape != self.values.shape:
            raise ValueError(f"labels of shape {labels.shape} do not lie on this image's grid")
        self.labels = oriented

    def cut(self, array: npt.NDArray[Any], plane: str, index: int) -> npt.NDArray[Any]:
        """Plane ``index`` of ``array`` ([x, y, z] on RAS+) as displayed: [rows, cols], rows from the top."""
        if plane not in self.planes:
            raise KeyError(f"plane {plane!r} is not one of {', '.join(PLANES)}")
        if not 0 <= index < self.planes[plane].count:
            raise IndexError(f"{plane} plane {index} is outside 0..{self.planes[plane].count - 1}")
        if plane == "axial":  # rows: anterior -> posterior; columns: patient's right -> left
            cut = array[::-1, ::-1, index].T
        elif plane == "coronal":  # rows: superior -> inferior; columns: right -> left
            cut = array[::-1, index, ::-1].T
        else:  # sagittal; rows: superior -> inferior; columns: anterior -> posterior
            cut = array[index, ::-1, ::-1].T
        return np.ascontiguousarray(cut)

    def picture(self, plane: str, index: int, bounds: tuple[float, float]) -> U8:
        """The image's plane as 8-bit grey: values windowed to ``bounds`` (HU) for CT and other stored values;
        pictures (already windowed grey levels) as they are."""
        values = self.cut(self.values, plane, index)
        scaled = values if self.intensity == "grey" else window(values, *bounds)
        out: U8 = np.round(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)
        return out

    def label_picture(self, plane: str, index: int) -> U8:
        """The label map's plane, its values class indices; raises LookupError before labels are attached."""
        if self.labels is None:
            raise LookupError("this volume has no label map yet")
        out: U8 = self.cut(self.labels, plane, index)
        return out
